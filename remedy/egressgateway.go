package remedy

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/kubectl-egress/kubectl-egress/inspect"

	networking "istio.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// EgressGateway describes the egress gateway a host is routed through, as read from its Service
// and the pods of its namespace (Applier.EgressGateway reads it; tests write it).
type EgressGateway struct {
	// Namespace and Name of the gateway's Service, e.g. istio-system/istio-egressgateway.
	Namespace, Name string
	// Selector is the Service's pod selector; the Gateway object selects the same pods.
	Selector map[string]string
	// ServicePorts are the Service's port numbers; empty skips the port check.
	ServicePorts []uint32
	// PodLabels are the labels of the pods in Namespace, to prove the selector matches a pod.
	PodLabels []map[string]string
	// ClusterDomain is the cluster's DNS suffix; "" means cluster.local.
	ClusterDomain string
}

func (g EgressGateway) host() string {
	domain := g.ClusterDomain
	if domain == "" {
		domain = "cluster.local"
	}
	return fmt.Sprintf("%s.%s.svc.%s", g.Name, g.Namespace, domain)
}

// EgressGatewayOptions are the choices of `kubectl egress route-via-gateway HOST`.
type EgressGatewayOptions struct {
	Gateway EgressGateway
	// TLSOrigination makes the gateway originate TLS: the app calls http://HOST, the sidecar sends
	// it to the gateway over mTLS, the gateway sends TLS to HOST:443. Without it the app's TLS
	// passes through the gateway untouched (SNI routing).
	TLSOrigination bool
	// CACertificates (a path in the gateway pod) or CredentialName (a Secret in the gateway's
	// namespace) verify the host's certificate when the gateway originates TLS.
	CACertificates, CredentialName string
	// AppPorts is what inspect observed the app sending to the host (for the double-TLS guard).
	AppPorts []Port
}

// PlanEgressGateway plans the istio.io egress-gateway task for host: a ServiceEntry, a Gateway on
// the egress gateway's pods, a DestinationRule for the gateway service with a subset for host, and
// a VirtualService bound to the mesh and the gateway. The objects the gateway must see (the
// ServiceEntry, the VirtualService and, with origination, the host's DestinationRule) are also
// exported to the gateway's namespace: a VirtualService exported to "." only is invisible to a
// gateway in another namespace. The host's DestinationRule (TLS SIMPLE on 443) is exported to the
// gateway's namespace only, so the app's own sidecars never wrap an https:// call in a second TLS.
func PlanEgressGateway(t Target, o EgressGatewayOptions, ex Existing) (*Plan, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	if err := checkDNSHost("routing through an egress gateway", t.Host); err != nil {
		return nil, err
	}
	g := o.Gateway
	if g.Namespace == "" || g.Name == "" {
		return nil, fmt.Errorf("no egress gateway given for %s: name its Service, e.g. istio-system/istio-egressgateway", t.Host)
	}
	if err := GuardGatewaySelector(g); err != nil {
		return nil, err
	}
	// What the app was seen sending is what goes through the gateway: plain HTTP as HTTP (the
	// egress-gateway task's HTTP recipe, gateway port 80), TLS by SNI (gateway port 443). With
	// nothing observed, or with origination at the gateway, the recipe is the task's TLS one.
	var httpPorts, tlsPorts []Port
	if !o.TLSOrigination {
		var err error
		httpPorts, tlsPorts, err = splitGatewayPorts(t.Host, o.AppPorts)
		if err != nil {
			return nil, err
		}
	}
	var gwPorts []uint32
	switch {
	case o.TLSOrigination:
		gwPorts = []uint32{80}
	default:
		if len(httpPorts) > 0 {
			gwPorts = append(gwPorts, 80)
		}
		if len(tlsPorts) > 0 {
			gwPorts = append(gwPorts, 443)
		}
	}
	for _, gwPort := range gwPorts {
		if len(g.ServicePorts) > 0 && !slices.Contains(g.ServicePorts, gwPort) {
			return nil, fmt.Errorf("egress gateway service %s/%s has no port %d, which this route needs; add it to the gateway's Service",
				g.Namespace, g.Name, gwPort)
		}
	}
	if !t.Route.Empty() && !o.TLSOrigination && len(httpPorts) == 0 {
		return nil, fmt.Errorf("cannot set a timeout or retries for %s through the gateway in TLS passthrough: the gateway "+
			"cannot read the app's TLS; add TLS origination at the gateway", t.Host)
	}
	if o.TLSOrigination {
		if err := GuardDoubleTLS(t.Host, 80, o.AppPorts); err != nil {
			return nil, err
		}
		if o.CACertificates != "" && o.CredentialName != "" {
			return nil, fmt.Errorf("give either a CA file or a credential name for %s, not both: Istio takes only one", t.Host)
		}
	}

	p := newPlan(t, inspect.FixEgressGateway)
	p.Warnings = append(p.Warnings, ex.Warnings...)
	name := ObjectName(t.Host, "")
	subset := subsetName(t.Host)
	gwHost := g.host()
	// The plan's Gateway object, referenced by the VirtualService from the same namespace.
	gwRef := name
	seen := withNamespace(t.exportTo(), t.Namespace, g.Namespace)

	subsetSpec := &networking.Subset{Name: subset}
	vs := &networking.VirtualService{
		Hosts:    []string{t.Host},
		Gateways: []string{"mesh", gwRef},
		ExportTo: seen,
	}
	seSpec := &networking.ServiceEntry{
		Hosts:      []string{t.Host},
		Ports:      servicePorts(slices.Concat(httpPorts, tlsPorts)),
		Resolution: networking.ServiceEntry_DNS,
		ExportTo:   seen,
	}
	var gwServers []*networking.Server

	if o.TLSOrigination {
		seSpec.Ports = servicePorts([]Port{{80, "HTTP"}, {443, "HTTPS"}})
		gwServers = append(gwServers, &networking.Server{
			Port:  &networking.Port{Number: 80, Name: "https", Protocol: "HTTPS"},
			Hosts: []string{t.Host},
			Tls:   &networking.ServerTLSSettings{Mode: networking.ServerTLSSettings_ISTIO_MUTUAL},
		})
		subsetSpec.TrafficPolicy = &networking.TrafficPolicy{
			PortLevelSettings: []*networking.TrafficPolicy_PortTrafficPolicy{portTLS(80, &networking.ClientTLSSettings{
				Mode: networking.ClientTLSSettings_ISTIO_MUTUAL,
				Sni:  t.Host,
			})},
		}
		vs.Http = []*networking.HTTPRoute{
			httpRoute([]*networking.HTTPMatchRequest{{Gateways: []string{"mesh"}, Port: 80}},
				destination(gwHost, 80, subset), 0, RoutePolicy{}),
			httpRoute([]*networking.HTTPMatchRequest{{Gateways: []string{gwRef}, Port: 80}},
				destination(t.Host, 443, ""), 100, t.Route),
		}
	} else {
		if len(httpPorts) > 0 {
			gwServers = append(gwServers, &networking.Server{
				Port:  &networking.Port{Number: 80, Name: "http", Protocol: "HTTP"},
				Hosts: []string{t.Host},
			})
		}
		if len(tlsPorts) > 0 {
			gwServers = append(gwServers, &networking.Server{
				Port:  &networking.Port{Number: 443, Name: "tls", Protocol: "TLS"},
				Hosts: []string{t.Host},
				Tls:   &networking.ServerTLSSettings{Mode: networking.ServerTLSSettings_PASSTHROUGH},
			})
		}
		for _, port := range httpPorts {
			vs.Http = append(vs.Http,
				httpRoute([]*networking.HTTPMatchRequest{{Gateways: []string{"mesh"}, Port: port.Number}},
					destination(gwHost, 80, subset), 0, RoutePolicy{}),
				httpRoute([]*networking.HTTPMatchRequest{{Gateways: []string{gwRef}, Port: 80}},
					destination(t.Host, port.Number, ""), 100, t.Route))
		}
		for _, port := range tlsPorts {
			vs.Tls = append(vs.Tls,
				&networking.TLSRoute{
					Match: []*networking.TLSMatchAttributes{{Gateways: []string{"mesh"}, Port: port.Number, SniHosts: []string{t.Host}}},
					Route: []*networking.RouteDestination{{Destination: destination(gwHost, 443, subset)}},
				},
				&networking.TLSRoute{
					Match: []*networking.TLSMatchAttributes{{Gateways: []string{gwRef}, Port: 443, SniHosts: []string{t.Host}}},
					Route: []*networking.RouteDestination{{Destination: destination(t.Host, port.Number, ""), Weight: 100}},
				})
		}
	}

	if !t.Traffic.Empty() {
		// The sidecars' connections to the gateway for this host: the gateway subset's policy.
		if subsetSpec.TrafficPolicy == nil {
			subsetSpec.TrafficPolicy = &networking.TrafficPolicy{}
		}
		t.Traffic.apply(subsetSpec.TrafficPolicy, o.TLSOrigination || len(httpPorts) > 0, len(tlsPorts) > 0)
		p.guardTrafficPolicy(t.Traffic, false, o.TLSOrigination || len(httpPorts) > 0)
	}
	p.Objects = append(p.Objects,
		p.serviceEntry(seSpec),
		p.gateway(&networking.Gateway{Selector: maps.Clone(g.Selector), Servers: gwServers}),
		p.destinationRule(ObjectName(t.Host, "-gw"), &networking.DestinationRule{
			Host:     gwHost,
			ExportTo: t.exportTo(),
			Subsets:  []*networking.Subset{subsetSpec},
		}),
		p.virtualService(vs),
	)
	if o.TLSOrigination {
		p.Objects = append(p.Objects, p.destinationRule(name, &networking.DestinationRule{
			Host:     t.Host,
			ExportTo: []string{exportName(g.Namespace, t.Namespace)},
			TrafficPolicy: &networking.TrafficPolicy{
				PortLevelSettings: []*networking.TrafficPolicy_PortTrafficPolicy{
					portTLS(443, clientTLS(t.Host, o.CACertificates, o.CredentialName)),
				},
			},
		}))
		if o.CACertificates == "" && o.CredentialName == "" {
			p.warnf("DestinationRule %s/%s originates TLS to %s at the gateway without caCertificates or credentialName "+
				"(istioctl analyze IST0129): the server is checked only against the gateway's default roots", t.Namespace, name, t.Host)
		}
		if o.CredentialName != "" {
			p.notef("the gateway reads credential %s from its own namespace %s: create the Secret there", o.CredentialName, g.Namespace)
		}
		p.notef("tell the app owner: call http://%s (port 80), not https://: the egress gateway %s/%s now does TLS to %s:443",
			t.Host, g.Namespace, g.Name, t.Host)
	} else {
		for _, port := range httpPorts {
			p.notef("traffic from %s to http://%s:%d now leaves through the egress gateway %s/%s",
				t.Namespace, t.Host, port.Number, g.Namespace, g.Name)
		}
		for _, port := range tlsPorts {
			p.notef("traffic from %s to %s:%d now leaves through the egress gateway %s/%s; the app keeps calling https://%s",
				t.Namespace, t.Host, port.Number, g.Namespace, g.Name, t.Host)
		}
	}
	if err := p.finish(ex, t); err != nil {
		return nil, err
	}
	return p, nil
}

// splitGatewayPorts sorts the app's observed ports into those routed through the gateway as
// HTTP and those routed by SNI; none observed is the task's TLS on 443. Plain TCP has no host to
// route by at the gateway: it is refused with the way out.
func splitGatewayPorts(host string, app []Port) (httpPorts, tlsPorts []Port, err error) {
	for _, p := range app {
		switch {
		case isHTTPProtocol(p.Protocol):
			httpPorts = append(httpPorts, Port{p.Number, "HTTP"})
		case isTLSProtocol(p.Protocol):
			tlsPorts = append(tlsPorts, Port{p.Number, "TLS"})
		default:
			return nil, nil, fmt.Errorf("cannot route %s port %d/%s through the egress gateway: plain TCP carries no host name the "+
				"gateway can route by; register it instead (kubectl egress register %s)", host, p.Number, strings.ToUpper(p.Protocol), host)
		}
	}
	if len(httpPorts) > 1 {
		return nil, nil, fmt.Errorf("cannot route %s through the egress gateway on several HTTP ports (%s): the gateway serves HTTP on port 80 only",
			host, portList(httpPorts))
	}
	if len(tlsPorts) > 1 {
		return nil, nil, fmt.Errorf("cannot route %s through the egress gateway on several TLS ports (%s): the gateway passes TLS through on port 443 only",
			host, portList(tlsPorts))
	}
	if len(httpPorts)+len(tlsPorts) == 0 {
		tlsPorts = []Port{{443, "TLS"}}
	}
	return httpPorts, tlsPorts, nil
}

// GuardGatewaySelector refuses a gateway whose selector matches none of its namespace's pods:
// the Gateway object would configure nothing and traffic would be dropped (istio#45854, Helm
// installs label the gateway pods differently from istioctl's istio=egressgateway).
func GuardGatewaySelector(g EgressGateway) error {
	if len(g.Selector) == 0 {
		return fmt.Errorf("egress gateway service %s/%s has no pod selector: a Gateway cannot select its pods", g.Namespace, g.Name)
	}
	sel := labels.SelectorFromSet(g.Selector)
	for _, l := range g.PodLabels {
		if sel.Matches(labels.Set(l)) {
			return nil
		}
	}
	return fmt.Errorf("egress gateway selector %s (from service %s/%s) matches no pod in %s (istio#45854): "+
		"check the gateway is installed and its pods' labels", formatSelector(g.Selector), g.Namespace, g.Name, g.Namespace)
}

func formatSelector(m map[string]string) string {
	keys := slices.Collect(maps.Keys(m))
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

// withNamespace adds ns to an exportTo list unless it already reaches it.
func withNamespace(exportTo []string, own, ns string) []string {
	if slices.Contains(exportTo, "*") || slices.Contains(scopes(exportTo, own), ns) {
		return exportTo
	}
	return append(exportTo, ns)
}

// exportName is how an object in own refers to ns in exportTo.
func exportName(ns, own string) string {
	if ns == own {
		return "."
	}
	return ns
}
