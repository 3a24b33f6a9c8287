package remedy

import (
	"strings"
	"testing"
	"time"

	"github.com/kubectl-egress/kubectl-egress/inspect"

	networking "istio.io/api/networking/v1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func serviceEntry(ns, name string, labels map[string]string, exportTo []string, hosts []string, ports ...Port) *networkingv1.ServiceEntry {
	se := &networkingv1.ServiceEntry{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}}
	spec := &networking.ServiceEntry{Hosts: hosts, ExportTo: exportTo, Resolution: networking.ServiceEntry_DNS}
	for _, p := range ports {
		spec.Ports = append(spec.Ports, &networking.ServicePort{Number: p.Number, Protocol: p.Protocol, Name: portName(p)})
	}
	spec.DeepCopyInto(&se.Spec)
	return se
}

func k8sService(ns, name, portName string, port int32) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{ClusterIP: "10.96.0.10", Ports: []corev1.ServicePort{{Name: portName, Port: port}}},
	}
}

// Each case must be refused, with an error that says why and what to do.
func TestGuardsRefuse(t *testing.T) {
	demo := func(host string) Target { return Target{Host: host, Namespace: "demo", Istio: istio131} }
	tests := []struct {
		name string
		plan func() (*Plan, error)
		want []string // substrings of the one-line refusal
	}{
		{"double TLS: origination on the port the app speaks TLS on", func() (*Plan, error) {
			return PlanTLSOrigination(demo("httpbin.org"), TLSOriginationOptions{Port: 443, TargetPort: 8443,
				AppPorts: []Port{{443, "TLS"}}}, Existing{})
		}, []string{"refusing TLS origination on httpbin.org:443", "istio#23489", "call http://httpbin.org"}},
		{"double TLS: origination port equals the TLS port", func() (*Plan, error) {
			return PlanTLSOrigination(demo("httpbin.org"), TLSOriginationOptions{Port: 443}, Existing{})
		}, []string{"refusing TLS origination on httpbin.org:443", "such as 80"}},
		{"double TLS: gateway origination while the app speaks TLS on 80", func() (*Plan, error) {
			return PlanEgressGateway(demo("httpbin.org"), EgressGatewayOptions{Gateway: gatewayFixture(), TLSOrigination: true,
				AppPorts: []Port{{80, "TLS"}}}, Existing{})
		}, []string{"refusing TLS origination on httpbin.org:80"}},
		{"name taken by an unmanaged ServiceEntry", func() (*Plan, error) {
			return PlanRegister(demo("httpbin.org"), RegisterOptions{Ports: []Port{{443, "TLS"}}}, Existing{
				ServiceEntries: []*networkingv1.ServiceEntry{serviceEntry("demo", "egress-httpbin-org", nil, []string{"."}, []string{"httpbin.org"}, Port{443, "TLS"})},
			})
		}, []string{"refusing to replace ServiceEntry demo/egress-httpbin-org", "not managed by kubectl-egress", "--force"}},
		{"name taken by an unmanaged DestinationRule", func() (*Plan, error) {
			dr := &networkingv1.DestinationRule{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "egress-httpbin-org"}}
			return PlanTLSOrigination(demo("httpbin.org"), TLSOriginationOptions{}, Existing{DestinationRules: []*networkingv1.DestinationRule{dr}})
		}, []string{"refusing to replace DestinationRule demo/egress-httpbin-org"}},
		{"name managed for another host", func() (*Plan, error) {
			se := serviceEntry("demo", "egress-api-v2-example-com", managedLabels(), []string{"."}, []string{"api.v2.example.com"}, Port{443, "TLS"})
			se.Annotations = managedAnnotations("api.v2.example.com", inspect.FixRegister)
			return PlanRegister(demo("api-v2.example.com"), RegisterOptions{Ports: []Port{{443, "TLS"}}},
				Existing{ServiceEntries: []*networkingv1.ServiceEntry{se}})
		}, []string{"manages it for host api.v2.example.com"}},
		{"same host, other protocol on the same port (IST0177)", func() (*Plan, error) {
			return PlanTLSOrigination(demo("httpbin.org"), TLSOriginationOptions{}, Existing{
				ServiceEntries: []*networkingv1.ServiceEntry{serviceEntry("shop", "legacy", nil, nil, []string{"httpbin.org"}, Port{443, "TLS"})},
			})
		}, []string{"refusing to declare httpbin.org port 443 as HTTPS", "shop/legacy declares it as TLS", "istio#51466", "IST0177"}},
		{"MySQL port shared with an HTTP service (istio#16458)", func() (*Plan, error) {
			return PlanRegister(demo("db.example.com"), RegisterOptions{Ports: []Port{{3306, "MYSQL"}}}, Existing{
				Services: []*corev1.Service{k8sService("web", "admin", "http-admin", 3306)},
			})
		}, []string{"refusing to declare db.example.com port 3306 as MYSQL", "Service web/admin declares port 3306 as HTTP", "istio#16458"}},
		{"TLS port shared with an HTTP ServiceEntry on old Istio (istio#16458)", func() (*Plan, error) {
			return PlanRegister(Target{Host: "httpbin.org", Namespace: "demo", Istio: IstioVersion{1, 3}},
				RegisterOptions{Ports: []Port{{443, "TLS"}}}, Existing{
					ServiceEntries: []*networkingv1.ServiceEntry{serviceEntry("demo", "other", nil, nil, []string{"other.example.com"}, Port{443, "HTTP"})},
				})
		}, []string{"refusing to declare httpbin.org port 443 as TLS", "ServiceEntry demo/other declares port 443 as HTTP"}},
		{"gateway selector matches no pod (istio#45854)", func() (*Plan, error) {
			g := gatewayFixture()
			g.PodLabels = []map[string]string{{"app": "istio-egress", "istio": "egress"}}
			return PlanEgressGateway(demo("edition.cnn.com"), EgressGatewayOptions{Gateway: g}, Existing{})
		}, []string{"egress gateway selector app=istio-egressgateway,istio=egressgateway (from service istio-system/istio-egressgateway) matches no pod in istio-system", "istio#45854"}},
		{"gateway service lacks the port", func() (*Plan, error) {
			g := gatewayFixture()
			g.ServicePorts = []uint32{443}
			return PlanEgressGateway(demo("edition.cnn.com"), EgressGatewayOptions{Gateway: g, TLSOrigination: true}, Existing{})
		}, []string{"has no port 80"}},
		{"route policy on TLS-only ports", func() (*Plan, error) {
			t := demo("httpbin.org")
			t.Route.Timeout = 5e9
			return PlanRegister(t, RegisterOptions{Ports: []Port{{443, "TLS"}}}, Existing{})
		}, []string{"cannot set a timeout or retries for httpbin.org", "enable-tls-origination"}},
		{"route policy through a passthrough gateway", func() (*Plan, error) {
			t := demo("edition.cnn.com")
			t.Route.Retries = ptr(int32(2))
			return PlanEgressGateway(t, EgressGatewayOptions{Gateway: gatewayFixture()}, Existing{})
		}, []string{"TLS passthrough"}},
		{"plain TCP has no host the gateway can route by", func() (*Plan, error) {
			return PlanEgressGateway(demo("db.example.com"), EgressGatewayOptions{Gateway: gatewayFixture(), AppPorts: []Port{{5432, "TCP"}}}, Existing{})
		}, []string{"cannot route db.example.com port 5432/TCP through the egress gateway", "kubectl egress register db.example.com"}},
		{"HTTP seen but the gateway service has no port 80", func() (*Plan, error) {
			g := gatewayFixture()
			g.ServicePorts = []uint32{443}
			return PlanEgressGateway(demo("edition.cnn.com"), EgressGatewayOptions{Gateway: g, AppPorts: []Port{{80, "HTTP"}}}, Existing{})
		}, []string{"egress gateway service istio-system/istio-egressgateway has no port 80"}},
		{"credential without a workload selector is ignored at sidecars", func() (*Plan, error) {
			return PlanTLSOrigination(demo("httpbin.org"), TLSOriginationOptions{CredentialName: "ca"}, Existing{})
		}, []string{"credential ca for httpbin.org would be ignored", "workload selector"}},
		{"wildcard TLS origination", func() (*Plan, error) {
			return PlanTLSOrigination(demo("*.example.com"), TLSOriginationOptions{}, Existing{})
		}, []string{"one concrete host, not the wildcard *.example.com"}},
		{"no ports to register", func() (*Plan, error) {
			return PlanRegister(demo("httpbin.org"), RegisterOptions{}, Existing{})
		}, []string{"no ports for httpbin.org"}},
		{"Istio rejects an unknown protocol", func() (*Plan, error) {
			return PlanRegister(demo("httpbin.org"), RegisterOptions{Ports: []Port{{8080, "QUIC-ISH"}}}, Existing{})
		}, []string{"istio rejects ServiceEntry demo/egress-httpbin-org", "unsupported protocol"}},
		{"Gateway API: CRDs not served", func() (*Plan, error) {
			return PlanGatewayAPIEgress(demo("edition.cnn.com"), GatewayAPIEgressOptions{}, Existing{})
		}, []string{"serves no Gateway API", "install the Gateway API CRDs", "--api istio"}},
		{"Gateway API: no istio GatewayClass", func() (*Plan, error) {
			ex := gatewayAPIExisting()
			ex.GatewayClasses = nil
			return PlanGatewayAPIEgress(demo("edition.cnn.com"), GatewayAPIEgressOptions{}, ex)
		}, []string{"GatewayClass istio not found", "restart istiod", "--api istio"}},
		{"Gateway API: TLS without TLSRoute", func() (*Plan, error) {
			ex := gatewayAPIExisting()
			ex.GatewayAPI.TLSRoutes = false
			return PlanGatewayAPIEgress(demo("edition.cnn.com"), GatewayAPIEgressOptions{AppPorts: []Port{{443, "TLS"}}}, ex)
		}, []string{"needs TLSRoute", "v1.5 or newer", "--api istio"}},
		{"Gateway API: plain TCP has no host to route by", func() (*Plan, error) {
			return PlanGatewayAPIEgress(demo("db.example.com"), GatewayAPIEgressOptions{AppPorts: []Port{{5432, "TCP"}}}, gatewayAPIExisting())
		}, []string{"plain TCP carries no host name", "register it instead"}},
		{"Gateway API: a timeout is not written in that form", func() (*Plan, error) {
			t := demo("edition.cnn.com")
			t.Route.Timeout = 5 * time.Second
			return PlanGatewayAPIEgress(t, GatewayAPIEgressOptions{AppPorts: []Port{{80, "HTTP"}}}, gatewayAPIExisting())
		}, []string{"not written in the Gateway API form", "--api istio"}},
		{"Gateway API: name taken by an unmanaged HTTPRoute", func() (*Plan, error) {
			ex := gatewayAPIExisting()
			ex.HTTPRoutes = []*gatewayv1.HTTPRoute{{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "egress-edition-cnn-com-gw"}}}
			return PlanGatewayAPIEgress(demo("edition.cnn.com"), GatewayAPIEgressOptions{AppPorts: []Port{{80, "HTTP"}}}, ex)
		}, []string{"refusing to replace HTTPRoute demo/egress-edition-cnn-com-gw", "--force"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.plan()
			if err == nil {
				t.Fatalf("planned %d objects, want a refusal", len(p.Objects))
			}
			if p != nil {
				t.Errorf("a refused plan was still returned")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("refusal is not one line: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("refusal %q does not say %q", msg, w)
				}
			}
		})
	}
}

// The same situations with the way out taken are planned.
func TestGuardsAllow(t *testing.T) {
	demo := Target{Host: "httpbin.org", Namespace: "demo", Istio: istio131}
	unmanaged := serviceEntry("demo", "egress-httpbin-org", nil, []string{"."}, []string{"httpbin.org"}, Port{443, "TLS"})
	managed := serviceEntry("demo", "egress-httpbin-org", managedLabels(), []string{"."}, []string{"httpbin.org"}, Port{443, "TLS"})
	managed.Annotations = managedAnnotations("httpbin.org", inspect.FixRegister)
	forced := demo
	forced.Force = true
	tests := []struct {
		name string
		plan func() (*Plan, error)
		warn string // a warning the plan must carry, if any
	}{
		{"force takes over an unmanaged name", func() (*Plan, error) {
			return PlanRegister(forced, RegisterOptions{Ports: []Port{{443, "TLS"}}}, Existing{ServiceEntries: []*networkingv1.ServiceEntry{unmanaged}})
		}, ""},
		{"own managed object is replaced (register then TLS origination)", func() (*Plan, error) {
			return PlanTLSOrigination(demo, TLSOriginationOptions{AppPorts: []Port{{443, "TLS"}}}, Existing{ServiceEntries: []*networkingv1.ServiceEntry{managed}})
		}, ""},
		{"other protocol in a namespace that cannot see ours", func() (*Plan, error) {
			return PlanTLSOrigination(demo, TLSOriginationOptions{}, Existing{ServiceEntries: []*networkingv1.ServiceEntry{
				serviceEntry("shop", "legacy", nil, []string{"."}, []string{"httpbin.org"}, Port{443, "TLS"})}})
		}, ""},
		{"same protocol elsewhere", func() (*Plan, error) {
			return PlanRegister(demo, RegisterOptions{Ports: []Port{{443, "tls"}}}, Existing{ServiceEntries: []*networkingv1.ServiceEntry{
				serviceEntry("shop", "legacy", nil, nil, []string{"httpbin.org"}, Port{443, "TLS"})}})
		}, ""},
		{"TLS next to an HTTP service on current Istio: merged, warned", func() (*Plan, error) {
			return PlanRegister(demo, RegisterOptions{Ports: []Port{{443, "TLS"}}}, Existing{
				Services: []*corev1.Service{k8sService("web", "legacy", "http-legacy", 443)}})
		}, "shares the 0.0.0.0:443 listener with Service web/legacy (HTTP)"},
		{"HTTP next to a TCP Service with its own cluster IP", func() (*Plan, error) {
			return PlanRegister(demo, RegisterOptions{Ports: []Port{{80, "HTTP"}}}, Existing{
				Services: []*corev1.Service{k8sService("db", "pg", "tcp-pg", 80)}})
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.plan()
			if err != nil {
				t.Fatal(err)
			}
			if tc.warn != "" && !strings.Contains(strings.Join(p.Warnings, "\n"), tc.warn) {
				t.Errorf("warnings %q lack %q", p.Warnings, tc.warn)
			}
		})
	}
}

func TestGuardDoubleTLS(t *testing.T) {
	tests := []struct {
		port    uint32
		app     []Port
		refused bool
	}{
		{80, []Port{{443, "TLS"}}, false},
		{80, []Port{{80, "HTTP"}}, false},
		{443, []Port{{443, "TLS"}}, true},
		{443, []Port{{443, "https"}}, true},
		{8443, nil, false},
	}
	for _, tc := range tests {
		err := GuardDoubleTLS("httpbin.org", tc.port, tc.app)
		if (err != nil) != tc.refused {
			t.Errorf("port %d, app %v: refused=%v, want %v (%v)", tc.port, tc.app, err != nil, tc.refused, err)
		}
	}
}

func TestValidateRefusesInvalidObjects(t *testing.T) {
	tests := []struct {
		name string
		obj  *unstructured.Unstructured
		want string
	}{
		{"duplicate port", object(NetworkingV1, "ServiceEntry", "demo", "bad", nil, nil, map[string]any{
			"hosts": []any{"httpbin.org"}, "resolution": "DNS",
			"ports": []any{map[string]any{"number": 443, "name": "a", "protocol": "TLS"}, map[string]any{"number": 443, "name": "b", "protocol": "TLS"}},
		}), "istio rejects ServiceEntry demo/bad: service entry port 443 already defined"},
		{"DestinationRule without host", object(NetworkingV1, "DestinationRule", "demo", "bad", nil, nil, map[string]any{}),
			"istio rejects DestinationRule demo/bad"},
		{"misspelt hosts field", object(NetworkingV1beta1, "VirtualService", "demo", "bad", nil, nil, map[string]any{"hostz": []any{"x"}}),
			"VirtualService demo/bad"},
		{"kind we do not write", object(NetworkingV1, "WorkloadEntry", "demo", "bad", nil, nil, map[string]any{}),
			"kubectl-egress does not write"},
		{"an empty Sidecar", object(NetworkingV1, "Sidecar", "demo", "bad", nil, nil, map[string]any{}),
			"istio rejects Sidecar demo/bad: sidecar: empty configuration provided"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Validate(tc.obj)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
