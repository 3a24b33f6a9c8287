package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	networking "istio.io/api/networking/v1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	networkingk8s "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubectl-egress/kubectl-egress/inspect"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func sidecar(ns, name string, age int, selector map[string]string, mode string, hosts ...string) *networkingv1.Sidecar {
	sc := &networkingv1.Sidecar{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(age) * time.Minute))}}
	if selector != nil {
		sc.Spec.WorkloadSelector = &networking.WorkloadSelector{Labels: selector}
	}
	if mode != "" {
		sc.Spec.OutboundTrafficPolicy = &networking.OutboundTrafficPolicy{Mode: modeOf(mode)}
	}
	if len(hosts) > 0 {
		sc.Spec.Egress = []*networking.IstioEgressListener{{Hosts: hosts}}
	}
	return sc
}

func serviceEntry(ns, name string, exportTo []string, hosts []string, addresses []string, ports ...uint32) *networkingv1.ServiceEntry {
	se := &networkingv1.ServiceEntry{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	se.Spec.Hosts, se.Spec.ExportTo, se.Spec.Addresses = hosts, exportTo, addresses
	for _, p := range ports {
		se.Spec.Ports = append(se.Spec.Ports, &networking.ServicePort{Number: p, Name: "p", Protocol: "TLS"})
	}
	return se
}

// Istio's precedence (push_context.go doGetSidecarScope, initSidecarScopes): selector matches in
// the pod's namespace first, oldest first; then the namespace's selector-less Sidecar, oldest
// first; then the root namespace's; the order ignores a Sidecar's mode.
func TestSidecarFor(t *testing.T) {
	all := []*networkingv1.Sidecar{
		sidecar("shop", "default", 0, nil, "REGISTRY_ONLY"),
		sidecar("shop", "default-newer", 5, nil, "ALLOW_ANY"),
		sidecar("shop", "web-newer", 9, map[string]string{"app": "web"}, "ALLOW_ANY"),
		sidecar("shop", "web", 3, map[string]string{"app": "web"}, "REGISTRY_ONLY"),
		sidecar("shop", "canary", 1, map[string]string{"app": "web", "track": "canary"}, "ALLOW_ANY"),
		sidecar("istio-system", "default", 0, nil, "REGISTRY_ONLY"),
		sidecar("istio-system", "scoped", 0, map[string]string{"app": "web"}, "ALLOW_ANY"),
	}
	tests := []struct {
		name      string
		ns        string
		labels    map[string]string
		wantName  string
		wantScope string
	}{
		{"the oldest matching selector", "shop", map[string]string{"app": "web"}, "shop/web", ScopeWorkload},
		{"a narrower selector, older, wins by age", "shop", map[string]string{"app": "web", "track": "canary"}, "shop/canary", ScopeWorkload},
		{"no selector matches: the namespace's oldest", "shop", map[string]string{"app": "db"}, "shop/default", ScopeNamespace},
		{"no Sidecar in the namespace: the root's, not its scoped one", "blog", map[string]string{"app": "web"}, "istio-system/default", ScopeRoot},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, scope := SidecarFor(all, tt.ns, tt.labels, "istio-system")
			got := ""
			if sc != nil {
				got = sc.Namespace + "/" + sc.Name
			}
			if got != tt.wantName || scope != tt.wantScope {
				t.Errorf("got %s (%s), want %s (%s)", got, scope, tt.wantName, tt.wantScope)
			}
		})
	}
	if sc, _ := SidecarFor(all[:5], "blog", nil, "istio-system"); sc != nil {
		t.Errorf("no Sidecar anywhere for blog: got %s", sc.Name)
	}
}

func TestCovers(t *testing.T) {
	shopOnly := sidecar("shop", "default", 0, nil, "", "./*", "istio-system/*")
	tests := []struct {
		name string
		se   *networkingv1.ServiceEntry
		sc   *networkingv1.Sidecar
		host string
		port uint32
		want coverage
	}{
		{"exported everywhere by the mesh default", serviceEntry("other", "a", nil, []string{"httpbin.org"}, nil, 443), nil, "httpbin.org", 443, coverYes},
		{"exported to its own namespace only", serviceEntry("other", "a", []string{"."}, []string{"httpbin.org"}, nil, 443), nil, "httpbin.org", 443, coverHidden},
		{"exported to the workload's namespace by name", serviceEntry("other", "a", []string{"shop"}, []string{"httpbin.org"}, nil, 443), nil, "httpbin.org", 443, coverYes},
		{"another port", serviceEntry("shop", "a", nil, []string{"httpbin.org"}, nil, 80), nil, "httpbin.org", 443, coverOtherPort},
		{"a wildcard host", serviceEntry("shop", "a", nil, []string{"*.example.com"}, nil, 443), nil, "api.example.com", 443, coverYes},
		{"an IP among the addresses", serviceEntry("shop", "a", nil, []string{"198-51-100-7.ip.external"}, []string{"198.51.100.0/24"}, 8443), nil, "198.51.100.7", 8443, coverYes},
		{"the Sidecar imports only its own and istio-system's", serviceEntry("other", "a", []string{"*"}, []string{"httpbin.org"}, nil, 443), shopOnly, "httpbin.org", 443, coverHidden},
		{"imported from istio-system", serviceEntry("istio-system", "a", []string{"*"}, []string{"httpbin.org"}, nil, 443), shopOnly, "httpbin.org", 443, coverYes},
		{"not about the host", serviceEntry("shop", "a", nil, []string{"example.org"}, nil, 443), nil, "httpbin.org", 443, coverNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := covers(tt.se, tt.host, tt.port, "shop", tt.sc, []string{"*"})
			if got != tt.want {
				t.Errorf("coverage %d (%s), want %d", got, why, tt.want)
			}
		})
	}
}

func TestImportsHonoursListenerPortsAndExclusions(t *testing.T) {
	sc := sidecar("shop", "s", 0, nil, "")
	sc.Spec.Egress = []*networking.IstioEgressListener{
		{Port: &networking.SidecarPort{Number: 443, Protocol: "TLS", Name: "tls"}, Hosts: []string{"*/httpbin.org"}},
		{Hosts: []string{"~/*"}},
	}
	if !imports(sc, "shop", "other", "httpbin.org", 443) || imports(sc, "shop", "other", "httpbin.org", 80) {
		t.Errorf("a listener on 443 imports httpbin.org on 443 only")
	}
	if imports(sc, "shop", "shop", "api.example.com", 443) {
		t.Errorf("~/* imports nothing")
	}
}

func pod(ns, name, workload string, labels map[string]string, mode string, dests ...inspect.Destination) inspect.PodReport {
	p := inspect.Pod{Namespace: ns, Name: name, Workload: workload, Labels: labels}
	for i := range dests {
		dests[i].Pods = []string{p.Key()}
	}
	return inspect.PodReport{Pod: p, Facts: inspect.PodFacts{Namespace: ns, Name: name, Workload: workload, OutboundMode: mode}, Destinations: dests}
}

func passthrough(host string, port uint32, proto string, conns int64) inspect.Destination {
	last := t0
	return inspect.Destination{Host: host, Port: port, Protocol: proto, Disposition: inspect.DispositionPassthrough,
		Signals: []inspect.Signal{inspect.SignalAccessLog}, Counts: inspect.Counts{Connections: conns}, LastSeen: &last}
}

func mustMesh(t *testing.T, rev, source, y string) MeshConfig {
	t.Helper()
	mc, err := ParseMeshConfig(rev, source, y)
	if err != nil {
		t.Fatal(err)
	}
	return mc
}

func TestEvaluate(t *testing.T) {
	in := Inputs{
		MeshConfigs: map[string]MeshConfig{
			"default": mustMesh(t, "default", "istio-system/istio", "outboundTrafficPolicy: {mode: ALLOW_ANY}\n"),
			"canary":  mustMesh(t, "canary", "istio-system/istio-canary", "outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n"),
		},
		NamespaceLabels: map[string]map[string]string{"legacy": {"istio.io/rev": "canary"}},
		Sidecars: []*networkingv1.Sidecar{
			sidecar("locked", "default", 0, nil, "REGISTRY_ONLY", "./*", "istio-system/*"),
			sidecar("locked", "canary", 1, map[string]string{"app": "api"}, "ALLOW_ANY", "./*"),
		},
		ServiceEntries: []*networkingv1.ServiceEntry{
			serviceEntry("shop", "httpbin", nil, []string{"httpbin.org"}, nil, 443),
			serviceEntry("elsewhere", "stripe", []string{"elsewhere"}, []string{"api.stripe.com"}, nil, 443),
			serviceEntry("istio-system", "googleapis", nil, []string{"www.googleapis.com"}, nil, 443),
			serviceEntry("shop", "unused", []string{"."}, []string{"old.example.com"}, nil, 443),
		},
		Pods: []inspect.PodReport{
			pod("shop", "web-0", "deploy/web", map[string]string{"app": "web"}, "ALLOW_ANY",
				passthrough("httpbin.org", 443, "TLS", 3), // registered since: covered
				passthrough("api.stripe.com", 443, "TLS", 2),
				passthrough("edition.cnn.com", 80, "HTTP", 1),
				passthrough("unknown", 0, "TCP", 4),
			),
			pod("locked", "billing-0", "deploy/billing", map[string]string{"app": "billing"}, "REGISTRY_ONLY"),
			pod("locked", "api-0", "deploy/api", map[string]string{"app": "api"}, "ALLOW_ANY",
				passthrough("www.googleapis.com", 443, "TLS", 1)), // hidden by its Sidecar's ./*
			pod("legacy", "job-0", "deploy/job", map[string]string{"app": "job"}, "ALLOW_ANY"),
		},
	}
	r := Evaluate(in, t0.Add(time.Hour))
	type row struct {
		Workload, Revision, Mesh, Sidecar, Configured, Proxy string
		Ready                                                bool
		Notes                                                []string
		Breaks                                               []string
	}
	var got []row
	for _, ns := range r.Namespaces {
		for _, w := range ns.Workloads {
			rw := row{Workload: ns.Namespace + "/" + w.Workload, Revision: w.Revision, Mesh: w.Mesh.Mode, Configured: w.Configured, Proxy: w.Proxy, Ready: w.Ready, Notes: w.Notes}
			if w.Sidecar != nil {
				rw.Sidecar = w.Sidecar.Name + " " + w.Sidecar.Scope
			}
			for _, f := range w.WouldBreak {
				rw.Breaks = append(rw.Breaks, f.Host+" "+f.Reason)
			}
			got = append(got, rw)
		}
	}
	want := []row{
		{Workload: "legacy/deploy/job", Revision: "canary", Mesh: "REGISTRY_ONLY", Configured: "REGISTRY_ONLY", Proxy: "ALLOW_ANY", Ready: true, Notes: []string{
			"the proxies enforce ALLOW_ANY, the mode of revision default's mesh config (istio-system/istio), not their own revision canary's REGISTRY_ONLY: another control plane serves them, or the istio.io/rev label is wrong"}},
		{Workload: "locked/deploy/api", Revision: "default", Mesh: "ALLOW_ANY", Sidecar: "locked/canary workload", Configured: "ALLOW_ANY", Proxy: "ALLOW_ANY", Ready: false,
			Breaks: []string{"www.googleapis.com ServiceEntry istio-system/googleapis registers www.googleapis.com but Sidecar locked/canary's egress hosts do not import it"}},
		{Workload: "locked/deploy/billing", Revision: "default", Mesh: "ALLOW_ANY", Sidecar: "locked/default namespace", Configured: "REGISTRY_ONLY", Proxy: "REGISTRY_ONLY", Ready: true, Notes: []string{
			"Sidecar locked/default (namespace scope) sets REGISTRY_ONLY, shadowing the mesh config's ALLOW_ANY: change the Sidecar, not the ConfigMap (istio#37064)"}},
		{Workload: "shop/deploy/web", Revision: "default", Mesh: "ALLOW_ANY", Configured: "ALLOW_ANY", Proxy: "ALLOW_ANY", Ready: false, Breaks: []string{
			"api.stripe.com ServiceEntry elsewhere/stripe registers api.stripe.com but is not exported to namespace shop (exportTo)",
			"edition.cnn.com no ServiceEntry registers it",
			"unknown no host known for this traffic (TCP without SNI and no access-log line): turn access logging on (kubectl egress logging on -n shop) to name it",
		}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("workloads (-want +got):\n%s", diff)
	}
	// Registered hosts visible to shop that its pod never called.
	var unused []string
	for _, ns := range r.Namespaces {
		if ns.Namespace == "shop" {
			for _, u := range ns.Unused {
				unused = append(unused, u.ServiceEntry+" "+u.Host)
			}
		}
	}
	if diff := cmp.Diff([]string{"shop/unused old.example.com", "istio-system/googleapis www.googleapis.com"}, unused); diff != "" {
		t.Errorf("unused (-want +got):\n%s", diff)
	}
}

// A lockdown NetworkPolicy lets pods reach pods (the egress gateway among them) and DNS, and
// cuts every destination that leaves directly.
func TestNetworkPolicyCuts(t *testing.T) {
	udp := corev1.ProtocolUDP
	port53 := intOrString(53)
	np := &networkingk8s.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "egress-lockdown"},
		Spec: networkingk8s.NetworkPolicySpec{
			PolicyTypes: []networkingk8s.PolicyType{networkingk8s.PolicyTypeEgress},
			Egress: []networkingk8s.NetworkPolicyEgressRule{
				{To: []networkingk8s.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}},
				{Ports: []networkingk8s.NetworkPolicyPort{{Protocol: &udp, Port: &port53}}},
			},
		}}
	gw := inspect.Destination{Host: "edition.cnn.com", Port: 443, Disposition: inspect.DispositionEgressGateway, Signals: []inspect.Signal{inspect.SignalConfig}}
	reg := inspect.Destination{Host: "httpbin.org", Port: 443, Disposition: inspect.DispositionRegistered, Addresses: []string{"203.0.113.10:443"}, Signals: []inspect.Signal{inspect.SignalAccessLog}}
	in := Inputs{
		NetworkPolicies: []*networkingk8s.NetworkPolicy{np},
		Gateway:         &GatewayPods{Namespace: "istio-system", NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "istio-system"}, PodLabels: map[string]string{"istio": "egressgateway"}},
		Pods:            []inspect.PodReport{pod("shop", "web-0", "deploy/web", map[string]string{"app": "web"}, "ALLOW_ANY", gw, reg, passthrough("api.stripe.com", 443, "TLS", 1))},
	}
	st := Evaluate(in, t0).Namespaces[0].NetworkPolicy
	want := NetworkPolicyStatus{Restricted: true, Policies: []string{"egress-lockdown"},
		Cuts: []string{"api.stripe.com:443 (passthrough)", "httpbin.org:443 (registered)"}}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// An ipBlock that holds the registered host's address lets it out.
	np.Spec.Egress = append(np.Spec.Egress, networkingk8s.NetworkPolicyEgressRule{To: []networkingk8s.NetworkPolicyPeer{{IPBlock: &networkingk8s.IPBlock{CIDR: "203.0.113.0/24"}}}})
	if st := Evaluate(in, t0).Namespaces[0].NetworkPolicy; len(st.Cuts) != 1 || st.Cuts[0] != "api.stripe.com:443 (passthrough)" {
		t.Errorf("with the ipBlock: %v", st.Cuts)
	}
}

func TestParseMeshConfig(t *testing.T) {
	mc := mustMesh(t, "default", "istio-system/istio", "accessLogFile: /dev/stdout\n")
	if mc.Mode != "ALLOW_ANY" || mc.ModeSet || mc.RootNamespace != "istio-system" || !cmp.Equal(mc.DefaultExportTo, []string{"*"}) {
		t.Errorf("Istio's defaults: %+v", mc)
	}
	mc = mustMesh(t, "canary", "istio-system/istio-canary", "rootNamespace: mesh-root\noutboundTrafficPolicy:\n  mode: REGISTRY_ONLY\ndefaultServiceExportTo: [\".\"]\n")
	if mc.Mode != "REGISTRY_ONLY" || !mc.ModeSet || mc.RootNamespace != "mesh-root" || !cmp.Equal(mc.DefaultExportTo, []string{"."}) {
		t.Errorf("set: %+v", mc)
	}
	if _, err := ParseMeshConfig("default", "istio-system/istio", "outboundTrafficPolicy: {mode: SOMETIMES}\n"); err == nil {
		t.Errorf("an unknown mode parses")
	}
	for name, want := range map[string]string{"istio": "default", "istio-canary": "canary", "istio-1-24-3": "1-24-3", "kube-root-ca.crt": ""} {
		if got, _ := ConfigMapRevision(name); got != want {
			t.Errorf("ConfigMapRevision(%s) = %q, want %q", name, got, want)
		}
	}
}

func intOrString(i int) intstr.IntOrString { return intstr.FromInt32(int32(i)) }

func modeOf(mode string) networking.OutboundTrafficPolicy_Mode {
	if mode == "REGISTRY_ONLY" {
		return networking.OutboundTrafficPolicy_REGISTRY_ONLY
	}
	return networking.OutboundTrafficPolicy_ALLOW_ANY
}

// ztunnel enforces no outbound traffic policy (istio#54281): an ambient workload's unregistered
// hosts are listed, but REGISTRY_ONLY is not the way to block them, and the mesh-wide advice for
// a namespace of ambient workloads only is to register them.
func TestEvaluateAmbient(t *testing.T) {
	cart := pod("demo-ambient", "cart-0", "deploy/cart", map[string]string{"app": "cart"}, "",
		passthrough("203.0.113.60", 80, "", 3))
	cart.Facts.Dataplane = inspect.DataplaneAmbient
	in := Inputs{
		MeshConfigs: map[string]MeshConfig{"default": mustMesh(t, "default", "istio-system/istio", "outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n")},
		Pods:        []inspect.PodReport{cart},
	}
	r := Evaluate(in, t0)
	w := r.Namespaces[0].Workloads[0]
	if !w.Ambient || w.Ready || len(w.WouldBreak) != 1 || w.WouldBreak[0].Host != "203.0.113.60" {
		t.Errorf("ambient workload: %+v", w)
	}
	if len(w.Notes) == 0 || !strings.Contains(w.Notes[len(w.Notes)-1], "ztunnel enforces no outbound traffic policy") {
		t.Errorf("notes %q do not say REGISTRY_ONLY does not apply", w.Notes)
	}
	var b strings.Builder
	if err := PrintMeshWide(&b, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "kubectl egress register HOST -n demo-ambient") || strings.Contains(b.String(), "lockdown -n demo-ambient") {
		t.Errorf("mesh-wide advice for an ambient namespace:\n%s", b.String())
	}
}
