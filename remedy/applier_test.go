package remedy

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kubectl-egress/kubectl-egress/inspect"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"
)

func tlsOriginationPlan(t *testing.T) *Plan {
	t.Helper()
	p, err := PlanTLSOrigination(Target{Host: "httpbin.org", Namespace: "demo", APIVersion: NetworkingV1},
		TLSOriginationOptions{CACertificates: "/etc/ca.pem"}, Existing{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func resultLines(rs []Result) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.String())
	}
	return out
}

func gvrOf(kind string) schema.GroupVersionResource {
	gvr, _ := gvrFor(NetworkingV1, kind)
	return gvr
}

func names(t *testing.T, a *Applier, kind, ns string) []string {
	t.Helper()
	list, err := a.client.Resource(gvrOf(kind)).Namespace(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, u := range list.Items {
		out = append(out, u.GetName())
	}
	return out
}

func TestApplyCreatesThenUnchangedThenConfigured(t *testing.T) {
	ctx := context.Background()
	a, _ := newTestApplier(t)
	p := tlsOriginationPlan(t)

	got, err := a.Apply(ctx, p, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"serviceentry.networking.istio.io/egress-httpbin-org created",
		"destinationrule.networking.istio.io/egress-httpbin-org created",
	}
	if diff := cmp.Diff(want, resultLines(got)); diff != "" {
		t.Errorf("first apply (-want +got):\n%s", diff)
	}

	got, err = a.Apply(ctx, p, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want = []string{
		"serviceentry.networking.istio.io/egress-httpbin-org unchanged",
		"destinationrule.networking.istio.io/egress-httpbin-org unchanged",
	}
	if diff := cmp.Diff(want, resultLines(got)); diff != "" {
		t.Errorf("second apply (-want +got):\n%s", diff)
	}

	p2, err := PlanTLSOrigination(Target{Host: "httpbin.org", Namespace: "demo", APIVersion: NetworkingV1},
		TLSOriginationOptions{CACertificates: "/etc/other-ca.pem"}, Existing{})
	if err != nil {
		t.Fatal(err)
	}
	got, err = a.Apply(ctx, p2, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want = []string{
		"serviceentry.networking.istio.io/egress-httpbin-org unchanged",
		"destinationrule.networking.istio.io/egress-httpbin-org configured",
	}
	if diff := cmp.Diff(want, resultLines(got)); diff != "" {
		t.Errorf("changed apply (-want +got):\n%s", diff)
	}
}

func TestApplyRollsBackCreatedObjects(t *testing.T) {
	a, client := newTestApplier(t)
	failOn(client, "destinationrules")

	_, err := a.Apply(context.Background(), tlsOriginationPlan(t), ApplyOptions{})
	if err == nil {
		t.Fatal("apply succeeded although the DestinationRule was refused")
	}
	for _, want := range []string{
		"failed to apply destinationrule.networking.istio.io/egress-httpbin-org in namespace demo",
		"rolled back: serviceentry.networking.istio.io/egress-httpbin-org deleted",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if left := names(t, a, "ServiceEntry", "demo"); len(left) != 0 {
		t.Errorf("ServiceEntries left behind after rollback: %v", left)
	}
	if left := names(t, a, "DestinationRule", "demo"); len(left) != 0 {
		t.Errorf("DestinationRules left behind after rollback: %v", left)
	}
}

func TestApplyRollbackRestoresPreviousVersion(t *testing.T) {
	ctx := context.Background()
	previous := object(NetworkingV1, "ServiceEntry", "demo", "egress-httpbin-org", managedLabels(),
		managedAnnotations("httpbin.org", inspect.FixRegister), map[string]any{
			"hosts":      []any{"httpbin.org"},
			"ports":      []any{map[string]any{"number": int64(443), "name": "tls", "protocol": "TLS"}},
			"resolution": "DNS",
		})
	a, client := newTestApplier(t, previous)
	failOn(client, "destinationrules")

	_, err := a.Apply(ctx, tlsOriginationPlan(t), ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "rolled back: serviceentry.networking.istio.io/egress-httpbin-org restored") {
		t.Fatalf("want a rollback that restores the ServiceEntry, got %v", err)
	}
	live, err := a.client.Resource(gvrOf("ServiceEntry")).Namespace("demo").Get(ctx, "egress-httpbin-org", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(previous.Object["spec"], live.Object["spec"]); diff != "" {
		t.Errorf("ServiceEntry not restored (-previous +live):\n%s", diff)
	}
	if got := live.GetAnnotations()[AnnotationFix]; got != string(inspect.FixRegister) {
		t.Errorf("fix annotation = %q after rollback, want %q", got, inspect.FixRegister)
	}
}

func TestApplyReportsWhatRollbackLeftBehind(t *testing.T) {
	a, client := newTestApplier(t)
	failOn(client, "destinationrules")
	client.PrependReactor("delete", "serviceentries", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: NetworkingGroup, Resource: "serviceentries"}, "egress-httpbin-org", errors.New("no delete verb"))
	})
	_, err := a.Apply(context.Background(), tlsOriginationPlan(t), ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "rollback failed, left behind: serviceentry.networking.istio.io/egress-httpbin-org") {
		t.Fatalf("want the error to name what was left behind, got %v", err)
	}
}

func TestApplyDryRun(t *testing.T) {
	for _, mode := range []DryRun{DryRunServer, DryRunClient} {
		t.Run(string(mode), func(t *testing.T) {
			a, client := newTestApplier(t)
			got, err := a.Apply(context.Background(), tlsOriginationPlan(t), ApplyOptions{DryRun: mode})
			if err != nil {
				t.Fatal(err)
			}
			suffix := map[DryRun]string{DryRunServer: " (server dry run)", DryRunClient: " (dry run)"}[mode]
			want := []string{
				"serviceentry.networking.istio.io/egress-httpbin-org created" + suffix,
				"destinationrule.networking.istio.io/egress-httpbin-org created" + suffix,
			}
			if diff := cmp.Diff(want, resultLines(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if left := names(t, a, "ServiceEntry", "demo"); len(left) != 0 {
				t.Errorf("dry run stored %v", left)
			}
			for _, act := range client.Actions() {
				if act.GetVerb() == "patch" && mode == DryRunClient {
					t.Errorf("client dry run sent %s %s", act.GetVerb(), act.GetResource().Resource)
				}
				if pa, ok := act.(clienttesting.PatchActionImpl); ok && mode == DryRunServer {
					if o := pa.GetPatchOptions(); len(o.DryRun) == 0 || o.FieldManager != FieldManager {
						t.Errorf("server dry run sent patch options %+v", o)
					}
				}
			}
		})
	}
}

func TestApplyUsesFieldManagerAndForceOnlyWhenAsked(t *testing.T) {
	for _, force := range []bool{false, true} {
		a, client := newTestApplier(t)
		if _, err := a.Apply(context.Background(), tlsOriginationPlan(t), ApplyOptions{Force: force}); err != nil {
			t.Fatal(err)
		}
		for _, act := range client.Actions() {
			if pa, ok := act.(clienttesting.PatchActionImpl); ok {
				o := pa.GetPatchOptions()
				if o.FieldManager != FieldManager || o.Force == nil || *o.Force != force {
					t.Errorf("force=%v: patch options %+v", force, o)
				}
			}
		}
	}
}

func TestDiff(t *testing.T) {
	ctx := context.Background()
	a, _ := newTestApplier(t)
	p := tlsOriginationPlan(t)

	d, err := a.Diff(ctx, p, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"--- live/demo/serviceentry.networking.istio.io/egress-httpbin-org\n+++ planned/demo/serviceentry.networking.istio.io/egress-httpbin-org\n@@ -0,0 +1,",
		"+    targetPort: 443\n",
		"+        caCertificates: /etc/ca.pem\n",
	} {
		if !strings.Contains(d, want) {
			t.Errorf("diff of new objects lacks %q:\n%s", want, d)
		}
	}
	for _, unwanted := range []string{"managedFields", "resourceVersion", "uid:", "creationTimestamp"} {
		if strings.Contains(d, unwanted) {
			t.Errorf("diff shows server field %s:\n%s", unwanted, d)
		}
	}
	if _, err := a.Apply(ctx, p, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if d, err = a.Diff(ctx, p, false); err != nil || d != "" {
		t.Errorf("diff after apply = %q, %v; want empty", d, err)
	}
	p2, _ := PlanTLSOrigination(Target{Host: "httpbin.org", Namespace: "demo", APIVersion: NetworkingV1},
		TLSOriginationOptions{CACertificates: "/etc/other.pem"}, Existing{})
	d, err = a.Diff(ctx, p2, false)
	if err != nil {
		t.Fatal(err)
	}
	want := `--- live/demo/destinationrule.networking.istio.io/egress-httpbin-org
+++ planned/demo/destinationrule.networking.istio.io/egress-httpbin-org
@@ -17,6 +17,6 @@
     - port:
         number: 80
       tls:
-        caCertificates: /etc/ca.pem
+        caCertificates: /etc/other.pem
         mode: SIMPLE
         sni: httpbin.org
`
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("diff of a changed CA (-want +got):\n%s", diff)
	}
}

func TestDiscoverNetworking(t *testing.T) {
	tests := []struct {
		name     string
		versions []string
		want     string
		wantErr  string
	}{
		{"istio 1.22+", []string{NetworkingV1, NetworkingV1beta1, NetworkingV1alpha3}, NetworkingV1, ""},
		{"istio 1.5-1.21", []string{NetworkingV1beta1, NetworkingV1alpha3}, NetworkingV1beta1, ""},
		{"istio before 1.5", []string{NetworkingV1alpha3}, NetworkingV1alpha3, ""},
		{"no istio", nil, "", "Istio CRDs are not installed in this cluster: networking.istio.io/v1 serviceentries not found; check --context, or install Istio"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DiscoverNetworking(fakeDiscovery(tc.versions...))
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr || !errors.Is(err, ErrIstioCRDsAbsent) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := Connect(newFakeCluster(t, NetworkingV1), fakeDiscovery()); !errors.Is(err, ErrIstioCRDsAbsent) {
		t.Errorf("Connect without Istio: %v", err)
	}
}

func TestApplyAsV1beta1(t *testing.T) {
	client := newFakeCluster(t, NetworkingV1beta1)
	a, err := Connect(client, fakeDiscovery(NetworkingV1beta1))
	if err != nil {
		t.Fatal(err)
	}
	p, err := PlanRegister(Target{Host: "httpbin.org", Namespace: "demo", APIVersion: a.APIVersion()},
		RegisterOptions{Ports: []Port{{443, "TLS"}}}, Existing{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Apply(context.Background(), p, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	v1Plan, _ := PlanRegister(Target{Host: "httpbin.org", Namespace: "demo", APIVersion: NetworkingV1},
		RegisterOptions{Ports: []Port{{443, "TLS"}}}, Existing{})
	if _, err := a.Apply(context.Background(), v1Plan, ApplyOptions{}); err == nil || !strings.Contains(err.Error(), "serves networking.istio.io/v1beta1 at most") {
		t.Errorf("a v1 plan on a v1beta1 cluster: %v", err)
	}
	gvr := schema.GroupVersionResource{Group: NetworkingGroup, Version: "v1beta1", Resource: "serviceentries"}
	if _, err := client.Resource(gvr).Namespace("demo").Get(context.Background(), "egress-httpbin-org", metav1.GetOptions{}); err != nil {
		t.Errorf("ServiceEntry not written as v1beta1: %v", err)
	}
}
