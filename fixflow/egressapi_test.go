package fixflow

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	discoveryfake "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-egress/kubectl-egress/inspect"
	"github.com/kubectl-egress/kubectl-egress/remedy"
)

// fakeApplier connects to a cluster that serves Istio's networking API, the Gateway API when
// gatewayAPI is set, and holds objs.
func fakeApplier(t *testing.T, gatewayAPI bool, objs ...runtime.Object) *remedy.Applier {
	t.Helper()
	d := &discoveryfake.FakeDiscovery{Fake: &clienttesting.Fake{}}
	var istio []metav1.APIResource
	for _, r := range []string{"serviceentries", "destinationrules", "gateways", "virtualservices", "sidecars"} {
		istio = append(istio, metav1.APIResource{Name: r, Namespaced: true})
	}
	d.Resources = []*metav1.APIResourceList{{GroupVersion: remedy.NetworkingV1, APIResources: istio}}
	if gatewayAPI {
		d.Resources = append(d.Resources, &metav1.APIResourceList{GroupVersion: remedy.GatewayAPIVersion, APIResources: []metav1.APIResource{
			{Name: "gateways", Namespaced: true}, {Name: "httproutes", Namespaced: true}, {Name: "tlsroutes", Namespaced: true}}})
	}
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{{Version: "v1", Resource: "services"}: "ServiceList"}, objs...)
	a, err := remedy.Connect(client, d)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestEgressAPI(t *testing.T) {
	classic := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"namespace": "istio-system", "name": "istio-egressgateway"}}}
	tests := []struct {
		name       string
		gatewayAPI bool
		objs       []runtime.Object
		req        Request
		want       EgressAPI
		err        string
	}{
		{"auto: Gateway API and no classic gateway", true, nil, Request{}, EgressAPIGateway, ""},
		{"auto: a classic gateway is there", true, []runtime.Object{classic}, Request{}, EgressAPIIstio, ""},
		{"auto: no Gateway API", false, nil, Request{}, EgressAPIIstio, ""},
		{"auto: --lock is for the classic gateway", true, nil, Request{Lock: true}, EgressAPIIstio, ""},
		{"auto: origination at the gateway is classic", true, nil, Request{GatewayTLSOrigination: true}, EgressAPIIstio, ""},
		{"asked: istio", true, nil, Request{EgressAPI: EgressAPIIstio}, EgressAPIIstio, ""},
		{"asked: gateway with a classic gateway there", true, []runtime.Object{classic}, Request{EgressAPI: EgressAPIGateway}, EgressAPIGateway, ""},
		{"asked: gateway with --lock", true, nil, Request{EgressAPI: EgressAPIGateway, Lock: true}, "",
			"--lock and --tls-origination are written for the classic egress gateway only, not for a Gateway API gateway: use --api istio"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New(noCluster(), Config{})
			f.applier = fakeApplier(t, tt.gatewayAPI, tt.objs...)
			tt.req.Host, tt.req.Fix = "httpbin.org", inspect.FixEgressGateway
			got, err := f.egressAPI(context.Background(), tt.req)
			if tt.err != "" || err != nil {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// A gateway request in the Gateway API's form plans from what was observed: HTTP and TLS.
func TestPlanRequestGatewayAPI(t *testing.T) {
	ex := remedy.Existing{
		GatewayAPI:     remedy.GatewayAPI{Gateways: true, HTTPRoutes: true, TLSRoutes: true},
		GatewayClasses: []*gatewayv1.GatewayClass{{ObjectMeta: metav1.ObjectMeta{Name: remedy.GatewayClassIstio}}},
	}
	p, err := PlanRequest(Request{Host: "httpbin.org", Fix: inspect.FixEgressGateway, EgressAPI: EgressAPIGateway},
		Inputs{Target: remedy.Target{Namespace: "shop"}, Observation: observed, Existing: ex})
	if err != nil {
		t.Fatal(err)
	}
	us, err := p.Unstructured()
	if err != nil {
		t.Fatal(err)
	}
	var objs []string
	for _, u := range us {
		objs = append(objs, u.GetAPIVersion()+" "+u.GetKind()+"/"+u.GetName())
	}
	if diff := cmp.Diff([]string{
		"networking.istio.io/v1 ServiceEntry/egress-httpbin-org",
		"gateway.networking.k8s.io/v1 Gateway/egress-httpbin-org",
		"gateway.networking.k8s.io/v1 HTTPRoute/egress-httpbin-org",
		"gateway.networking.k8s.io/v1 HTTPRoute/egress-httpbin-org-gw",
		"gateway.networking.k8s.io/v1 TLSRoute/egress-httpbin-org",
		"gateway.networking.k8s.io/v1 TLSRoute/egress-httpbin-org-gw",
	}, objs); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
}
