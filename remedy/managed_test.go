package remedy

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"
)

// seedCluster holds two managed fixes (one in demo, one in shop) and an unmanaged
// ServiceEntry for the same host, which List and Undo must never touch.
func seedCluster(t *testing.T) (*Applier, func() []string) {
	t.Helper()
	ctx := context.Background()
	a, client := newTestApplier(t, object(NetworkingV1, "ServiceEntry", "demo", "httpbin-by-hand", nil,
		map[string]string{AnnotationHost: "httpbin.org"}, map[string]any{"hosts": []any{"httpbin.org"}}))
	for _, p := range []*Plan{
		tlsOriginationPlan(t),
		mustPlan(PlanEgressGateway(Target{Host: "edition.cnn.com", Namespace: "shop", APIVersion: NetworkingV1},
			EgressGatewayOptions{Gateway: gatewayFixture()}, Existing{})),
	} {
		if _, err := a.Apply(ctx, p, ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	client.ClearActions()
	deletes := func() []string {
		var out []string
		for _, act := range client.Actions() {
			if d, ok := act.(clienttesting.DeleteActionImpl); ok {
				out = append(out, d.GetResource().Resource+"/"+d.GetNamespace()+"/"+d.GetName())
			}
		}
		return out
	}
	return a, deletes
}

func mustPlan(p *Plan, err error) *Plan {
	if err != nil {
		panic(err)
	}
	return p
}

func TestList(t *testing.T) {
	a, _ := seedCluster(t)
	got, err := a.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, m := range got {
		lines = append(lines, strings.Join([]string{m.Namespace, m.Host, string(m.Fix), m.Ref()}, " "))
	}
	want := []string{
		"demo httpbin.org tls-origination serviceentry.networking.istio.io/egress-httpbin-org",
		"demo httpbin.org tls-origination destinationrule.networking.istio.io/egress-httpbin-org",
		"shop edition.cnn.com egress-gateway serviceentry.networking.istio.io/egress-edition-cnn-com",
		"shop edition.cnn.com egress-gateway destinationrule.networking.istio.io/egress-edition-cnn-com-gw",
		"shop edition.cnn.com egress-gateway gateway.networking.istio.io/egress-edition-cnn-com",
		"shop edition.cnn.com egress-gateway virtualservice.networking.istio.io/egress-edition-cnn-com",
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	got, err = a.List(context.Background(), "demo")
	if err != nil || len(got) != 2 {
		t.Errorf("List(demo) = %d objects, %v; want 2", len(got), err)
	}
}

func TestUndoHostDeletesOnlyManagedObjectsRoutingFirst(t *testing.T) {
	a, deletes := seedCluster(t)
	got, err := a.Undo(context.Background(), UndoOptions{Host: "edition.cnn.com"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"virtualservice.networking.istio.io/egress-edition-cnn-com deleted",
		"gateway.networking.istio.io/egress-edition-cnn-com deleted",
		"destinationrule.networking.istio.io/egress-edition-cnn-com-gw deleted",
		"serviceentry.networking.istio.io/egress-edition-cnn-com deleted",
	}
	if diff := cmp.Diff(want, resultLines(got)); diff != "" {
		t.Errorf("Undo (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{
		"virtualservices/shop/egress-edition-cnn-com",
		"gateways/shop/egress-edition-cnn-com",
		"destinationrules/shop/egress-edition-cnn-com-gw",
		"serviceentries/shop/egress-edition-cnn-com",
	}, deletes()); diff != "" {
		t.Errorf("delete calls (-want +got):\n%s", diff)
	}
}

func TestUndoAllKeepsUnmanaged(t *testing.T) {
	a, _ := seedCluster(t)
	if _, err := a.Undo(context.Background(), UndoOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	if left := names(t, a, "ServiceEntry", ""); !cmp.Equal(left, []string{"httpbin-by-hand"}) {
		t.Errorf("ServiceEntries after undo all: %v, want only the unmanaged one", left)
	}
	if left, _ := a.List(context.Background(), ""); len(left) != 0 {
		t.Errorf("managed objects left: %v", left)
	}
}

func TestUndoDryRunAndNothingToUndo(t *testing.T) {
	a, deletes := seedCluster(t)
	got, err := a.Undo(context.Background(), UndoOptions{Host: "httpbin.org", Namespace: "demo", DryRun: DryRunClient})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].String() != "destinationrule.networking.istio.io/egress-httpbin-org deleted (dry run)" {
		t.Errorf("dry-run undo = %v", resultLines(got))
	}
	if d := deletes(); len(d) != 0 {
		t.Errorf("client dry run deleted %v", d)
	}
	_, err = a.Undo(context.Background(), UndoOptions{Host: "nowhere.example.com"})
	if !errors.Is(err, ErrNothingToUndo) || err.Error() != "no objects managed by kubectl-egress match host nowhere.example.com" {
		t.Errorf("undo of an unknown host: %v", err)
	}
	if _, err := a.Undo(context.Background(), UndoOptions{}); err == nil {
		t.Errorf("undo without host or all succeeded")
	}
}

func TestExistingAndEgressGatewayRead(t *testing.T) {
	ctx := context.Background()
	svc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"namespace": "istio-system", "name": "istio-egressgateway"},
		"spec": map[string]any{
			"selector": map[string]any{"istio": "egressgateway"},
			"ports":    []any{map[string]any{"name": "http2", "port": int64(80)}, map[string]any{"name": "https", "port": int64(443)}},
		},
	}}
	pod := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"namespace": "istio-system", "name": "istio-egressgateway-0", "labels": map[string]any{"istio": "egressgateway"}},
	}}
	legacy := object(NetworkingV1, "ServiceEntry", "shop", "legacy", nil, nil, map[string]any{
		"hosts": []any{"httpbin.org"}, "ports": []any{map[string]any{"number": int64(443), "name": "tls", "protocol": "TLS"}}})
	a, client := newTestApplier(t, svc, pod, legacy)

	g, err := a.EgressGateway(ctx, "istio-system", "istio-egressgateway")
	if err != nil {
		t.Fatal(err)
	}
	want := EgressGateway{Namespace: "istio-system", Name: "istio-egressgateway", Selector: map[string]string{"istio": "egressgateway"},
		ServicePorts: []uint32{80, 443}, PodLabels: []map[string]string{{"istio": "egressgateway"}}}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("EgressGateway (-want +got):\n%s", diff)
	}
	if _, err := a.EgressGateway(ctx, "istio-system", "missing"); err == nil || !strings.Contains(err.Error(), "egress gateway service istio-system/missing not found") {
		t.Errorf("missing gateway: %v", err)
	}

	ex, err := a.Existing(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.ServiceEntries) != 1 || ex.ServiceEntries[0].Spec.Ports[0].Protocol != "TLS" || len(ex.Services) != 1 {
		t.Fatalf("Existing read %d ServiceEntries, %d Services", len(ex.ServiceEntries), len(ex.Services))
	}
	// What was read feeds the guards: TLS origination would redeclare 443 as HTTPS.
	if _, err := PlanTLSOrigination(Target{Host: "httpbin.org", Namespace: "demo"}, TLSOriginationOptions{}, ex); err == nil {
		t.Errorf("the guard did not see the ServiceEntry read from the cluster")
	}

	// Without the right to list every namespace, Existing reads its own and says so.
	client.PrependReactor("list", "serviceentries", func(action clienttesting.Action) (bool, runtime.Object, error) {
		if action.GetNamespace() == "" {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: NetworkingGroup, Resource: "serviceentries"}, "", errors.New("rbac"))
		}
		return false, nil, nil
	})
	ex, err = a.Existing(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.ServiceEntries) != 0 || len(ex.Warnings) != 1 || !strings.Contains(ex.Warnings[0], "cannot list serviceentries in all namespaces") {
		t.Errorf("forbidden fallback: %d ServiceEntries, warnings %q", len(ex.ServiceEntries), ex.Warnings)
	}
}
