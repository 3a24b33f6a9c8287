package remedy

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"
)

func TestDiscoverGatewayAPI(t *testing.T) {
	tests := []struct {
		name     string
		versions []string
		want     GatewayAPI
	}{
		{"not installed", []string{NetworkingV1}, GatewayAPI{}},
		{"v1 with TLSRoute", []string{NetworkingV1, GatewayAPIVersion}, GatewayAPI{Gateways: true, HTTPRoutes: true, TLSRoutes: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DiscoverGatewayAPI(fakeDiscovery(tc.versions...))
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	d := fakeDiscovery(GatewayAPIVersion)
	d.Resources[0].APIResources = d.Resources[0].APIResources[:2] // gateways, httproutes: before v1.5
	if got, _ := DiscoverGatewayAPI(d); !got.Served() || got.TLSRoutes {
		t.Errorf("Gateway API without TLSRoute v1: %+v", got)
	}
}

// The Gateway API form goes through the same applier as the rest: Existing reads the classes,
// ApplyAll has the API server judge the Gateway API objects by a dry run before writing
// anything, writes them at gateway.networking.k8s.io/v1 in apply order, List shows them and Undo
// deletes the routes, then the Gateway, then the ServiceEntry.
func TestGatewayAPIApplyListUndo(t *testing.T) {
	ctx := context.Background()
	client := newFakeCluster(t, NetworkingV1, object("gateway.networking.k8s.io/v1", "GatewayClass", "", GatewayClassIstio, nil, nil, nil))
	a, err := Connect(client, fakeDiscovery(NetworkingV1, GatewayAPIVersion))
	if err != nil {
		t.Fatal(err)
	}
	ex, err := a.Existing(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	p, err := PlanGatewayAPIEgress(Target{Host: "edition.cnn.com", Namespace: "demo", APIVersion: a.APIVersion()},
		GatewayAPIEgressOptions{AppPorts: []Port{{80, "HTTP"}}}, ex)
	if err != nil {
		t.Fatal(err)
	}
	client.ClearActions()
	results, err := a.Apply(ctx, p, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{
		"serviceentry.networking.istio.io/egress-edition-cnn-com created",
		"gateway.gateway.networking.k8s.io/egress-edition-cnn-com created",
		"httproute.gateway.networking.k8s.io/egress-edition-cnn-com created",
		"httproute.gateway.networking.k8s.io/egress-edition-cnn-com-gw created",
	}, resultLines(results)); diff != "" {
		t.Errorf("Apply (-want +got):\n%s", diff)
	}
	var patches []string
	for _, act := range client.Actions() {
		if pa, ok := act.(clienttesting.PatchActionImpl); ok {
			mode := "apply"
			if len(pa.GetPatchOptions().DryRun) > 0 {
				mode = "dry-run"
			}
			patches = append(patches, mode+" "+pa.GetResource().GroupResource().String()+"/"+pa.GetName())
		}
	}
	if diff := cmp.Diff([]string{
		"dry-run gateways.gateway.networking.k8s.io/egress-edition-cnn-com",
		"dry-run httproutes.gateway.networking.k8s.io/egress-edition-cnn-com",
		"dry-run httproutes.gateway.networking.k8s.io/egress-edition-cnn-com-gw",
		"apply serviceentries.networking.istio.io/egress-edition-cnn-com",
		"apply gateways.gateway.networking.k8s.io/egress-edition-cnn-com",
		"apply httproutes.gateway.networking.k8s.io/egress-edition-cnn-com",
		"apply httproutes.gateway.networking.k8s.io/egress-edition-cnn-com-gw",
	}, patches); diff != "" {
		t.Errorf("server calls (-want +got):\n%s", diff)
	}

	listed, err := a.List(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, m := range listed {
		refs = append(refs, m.Ref())
	}
	if diff := cmp.Diff([]string{
		"serviceentry.networking.istio.io/egress-edition-cnn-com",
		"gateway.gateway.networking.k8s.io/egress-edition-cnn-com",
		"httproute.gateway.networking.k8s.io/egress-edition-cnn-com",
		"httproute.gateway.networking.k8s.io/egress-edition-cnn-com-gw",
	}, refs); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	undone, err := a.Undo(ctx, UndoOptions{Host: "edition.cnn.com"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{
		"httproute.gateway.networking.k8s.io/egress-edition-cnn-com deleted",
		"httproute.gateway.networking.k8s.io/egress-edition-cnn-com-gw deleted",
		"gateway.gateway.networking.k8s.io/egress-edition-cnn-com deleted",
		"serviceentry.networking.istio.io/egress-edition-cnn-com deleted",
	}, resultLines(undone)); diff != "" {
		t.Errorf("Undo (-want +got):\n%s", diff)
	}
}

// A cluster without the Gateway API CRDs: List and Undo do not ask for its kinds (the API
// server would answer 404), and a Gateway API plan is refused before anything is sent.
func TestGatewayAPIKindsSkippedWhenNotServed(t *testing.T) {
	ctx := context.Background()
	a, client := newTestApplier(t)
	if _, err := a.List(ctx, ""); err != nil {
		t.Fatal(err)
	}
	for _, act := range client.Actions() {
		if act.GetResource().Group == GatewayAPIGroup {
			t.Errorf("List asked for %s", act.GetResource())
		}
	}
	p, err := PlanGatewayAPIEgress(Target{Host: "edition.cnn.com", Namespace: "demo"}, GatewayAPIEgressOptions{}, gatewayAPIExisting())
	if err != nil {
		t.Fatal(err)
	}
	client.ClearActions()
	_, err = a.Apply(ctx, p, ApplyOptions{})
	want := "the plan for edition.cnn.com writes a Gateway, which this cluster does not serve as gateway.networking.k8s.io/v1: install the Gateway API CRDs, or use --api istio"
	if err == nil || err.Error() != want {
		t.Errorf("Apply = %v, want %q", err, want)
	}
	if n := len(client.Actions()); n != 0 {
		t.Errorf("%d calls sent", n)
	}
}

// A user bound by RoleBinding cannot list the cluster-scoped GatewayClasses: every fix still
// plans, the Gateway API form with a warning that the class was not checked; a namespace whose
// Gateway API routes cannot be read refuses that form only, in one line.
func TestGatewayAPIForbiddenReads(t *testing.T) {
	ctx := context.Background()
	forbid := func(resources ...string) Existing {
		t.Helper()
		client := newFakeCluster(t, NetworkingV1)
		for _, r := range resources {
			client.PrependReactor("list", r, func(action clienttesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewForbidden(action.GetResource().GroupResource(), "", errors.New("RBAC"))
			})
		}
		a, err := Connect(client, fakeDiscovery(NetworkingV1, GatewayAPIVersion))
		if err != nil {
			t.Fatal(err)
		}
		ex, err := a.Existing(ctx, "demo")
		if err != nil {
			t.Fatalf("Existing with %v forbidden: %v", resources, err)
		}
		return ex
	}
	edition := Target{Host: "edition.cnn.com", Namespace: "demo", APIVersion: NetworkingV1}
	http80 := []Port{{80, "HTTP"}}

	ex := forbid("gatewayclasses")
	p, err := PlanGatewayAPIEgress(edition, GatewayAPIEgressOptions{AppPorts: http80}, ex)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"cannot list gatewayclasses (forbidden): not checked that GatewayClass istio exists; without it istiod deploys no gateway"}
	if diff := cmp.Diff(want, p.Warnings); diff != "" {
		t.Errorf("Gateway API plan warnings (-want +got):\n%s", diff)
	}
	if p, err = PlanRegister(edition, RegisterOptions{Ports: http80}, ex); err != nil || len(p.Warnings) != 0 {
		t.Errorf("register with gatewayclasses forbidden: %v, warnings %q", err, p.Warnings)
	}

	ex = forbid("httproutes")
	_, err = PlanGatewayAPIEgress(edition, GatewayAPIEgressOptions{AppPorts: http80}, ex)
	wantErr := "cannot list httproutes.gateway.networking.k8s.io in namespace demo (forbidden), so a collision with the plan's objects cannot be ruled out: " +
		"get the read and write roles of docs/rbac.yaml in the namespace"
	if err == nil || err.Error() != wantErr {
		t.Errorf("PlanGatewayAPIEgress = %v, want %q", err, wantErr)
	}
	if _, err = PlanRegister(edition, RegisterOptions{Ports: http80}, ex); err != nil {
		t.Errorf("register with httproutes forbidden: %v", err)
	}
}
