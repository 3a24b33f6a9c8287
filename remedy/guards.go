package remedy

import (
	"fmt"
	"slices"
	"strings"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Each guard refuses a plan that would break traffic, in one line: what is wrong, why, and the
// way out. They compare the plan with Existing only, so tests need no cluster.

// GuardDoubleTLS refuses TLS origination on a port where the app already speaks TLS to host: the
// sidecar would wrap TLS in TLS (istio#23489, "SSL23_GET_SERVER_HELLO:unknown protocol").
// appPorts is what inspect observed the app sending to host.
func GuardDoubleTLS(host string, port uint32, appPorts []Port) error {
	for _, ap := range appPorts {
		if ap.Number == port && isTLSProtocol(ap.Protocol) {
			return fmt.Errorf("refusing TLS origination on %s:%d: the app already speaks TLS there and TLS on top of TLS fails "+
				"(istio#23489); originate on port 80 and have the app call http://%s instead", host, port, host)
		}
	}
	return nil
}

// GuardOwnership refuses to overwrite an object of the same kind, namespace and name that
// kubectl-egress does not manage, or manages for another host, unless force is set.
func GuardOwnership(p *Plan, ex Existing, force bool) error {
	if force {
		return nil
	}
	for _, obj := range p.Objects {
		k := kindOf(obj)
		for _, live := range ex.objectsOf(k) {
			if live.GetNamespace() != obj.GetNamespace() || live.GetName() != obj.GetName() {
				continue
			}
			ref := fmt.Sprintf("%s %s/%s", k.Kind, live.GetNamespace(), live.GetName())
			if !isManaged(live.GetLabels()) {
				return fmt.Errorf("refusing to replace %s: it exists and is not managed by kubectl-egress; "+
					"remove it, or pass --force to take it over", ref)
			}
			if h := live.GetAnnotations()[AnnotationHost]; h != "" && h != p.Host {
				return fmt.Errorf("refusing to replace %s: kubectl-egress manages it for host %s, not %s; "+
					"undo %s first, or pass --force", ref, h, p.Host, h)
			}
		}
	}
	return nil
}

// GuardProtocolConflict refuses to declare a port of host with a protocol other than the one
// another ServiceEntry visible to the same namespaces gives that host and port: istiod keeps one,
// and the traffic of the other is blackholed (istio#51466, IST0177).
func GuardProtocolConflict(p *Plan, ex Existing) error {
	for _, mine := range p.serviceEntries() {
		for _, other := range ex.ServiceEntries {
			if sameObject(mine, other) || !visibleTogether(mine, other) {
				continue
			}
			for _, h := range mine.Spec.Hosts {
				if !containsFold(other.Spec.Hosts, h) {
					continue
				}
				for _, mp := range mine.Spec.Ports {
					for _, op := range other.Spec.Ports {
						if mp.Number == op.Number && !strings.EqualFold(mp.Protocol, op.Protocol) {
							return fmt.Errorf("refusing to declare %s port %d as %s: ServiceEntry %s/%s declares it as %s, "+
								"and one host with two protocols on a port blackholes traffic (istio#51466, IST0177); "+
								"use %s, or change %s/%s", h, mp.Number, mp.Protocol, other.Namespace, other.Name,
								strings.ToUpper(op.Protocol), strings.ToUpper(op.Protocol), other.Namespace, other.Name)
						}
					}
				}
			}
		}
	}
	return nil
}

// GuardHTTPPortCollision checks the ports the plan shares with HTTP services. An HTTP service and
// a TLS/TCP service without addresses both live on the sidecar's 0.0.0.0:PORT listener. The Istio
// of istio#16458 (2019) kept only one of them; current istiod (pilot's outbound listener
// conflict handling) merges them behind protocol sniffing, except MongoDB and MySQL, whose
// listener is dropped. The guard refuses what breaks (and everything on Istio older than 1.4, a
// conservative cut for the old behaviour) and warns, on the plan, about what only changes.
func GuardHTTPPortCollision(p *Plan, ex Existing, v IstioVersion) error {
	for _, mine := range p.serviceEntries() {
		for _, mp := range mine.Spec.Ports {
			for _, c := range portNeighbours(mine, ex) {
				if c.port != mp.Number {
					continue
				}
				var httpSide, otherSide string
				switch {
				case isHTTPProtocol(mp.Protocol) && !isHTTPProtocol(c.protocol) && c.wildcardBind:
					httpSide, otherSide = mp.Protocol, c.protocol
				case !isHTTPProtocol(mp.Protocol) && len(mine.Spec.Addresses) == 0 && isHTTPProtocol(c.protocol):
					httpSide, otherSide = c.protocol, mp.Protocol
				default:
					continue
				}
				serverFirst := strings.EqualFold(otherSide, "MONGO") || strings.EqualFold(otherSide, "MYSQL")
				if serverFirst || v.Before(1, 4) {
					return fmt.Errorf("refusing to declare %s port %d as %s: %s declares port %d as %s, and the sidecar's "+
						"0.0.0.0:%d listener cannot carry both (istio#16458); give %s its addresses, or use another port",
						p.Host, mp.Number, mp.Protocol, c.ref, mp.Number, c.protocol, mp.Number, p.Host)
				}
				p.warnf("port %d: %s shares the 0.0.0.0:%d listener with %s (%s): istiod merges them behind protocol "+
					"sniffing, so %s connections on it pass through an HTTP inspector (istio#16458)",
					mp.Number, p.Host, mp.Number, c.ref, httpSide, otherSide)
			}
		}
	}
	return nil
}

// neighbour is another service's port that may share a listener with the plan's.
type neighbour struct {
	ref      string
	port     uint32
	protocol string
	// wildcardBind: the port is served on 0.0.0.0:PORT (no address of its own).
	wildcardBind bool
}

func portNeighbours(mine *networkingv1.ServiceEntry, ex Existing) []neighbour {
	var out []neighbour
	for _, se := range ex.ServiceEntries {
		if sameObject(mine, se) || !visibleTogether(mine, se) {
			continue
		}
		for _, sp := range se.Spec.Ports {
			out = append(out, neighbour{
				ref:          fmt.Sprintf("ServiceEntry %s/%s", se.Namespace, se.Name),
				port:         sp.Number,
				protocol:     strings.ToUpper(sp.Protocol),
				wildcardBind: len(se.Spec.Addresses) == 0,
			})
		}
	}
	for _, svc := range ex.Services {
		if !serviceVisibleIn(svc, mine.Namespace) {
			continue
		}
		for _, sp := range svc.Spec.Ports {
			proto := serviceProtocol(sp)
			out = append(out, neighbour{
				ref:      fmt.Sprintf("Service %s/%s", svc.Namespace, svc.Name),
				port:     uint32(sp.Port),
				protocol: proto,
				// HTTP services are served on 0.0.0.0:PORT; others on their cluster IP.
				wildcardBind: isHTTPProtocol(proto) || svc.Spec.ClusterIP == corev1.ClusterIPNone,
			})
		}
	}
	return out
}

// serviceProtocol is the protocol Istio reads from a Service port: appProtocol, else the name's
// prefix ("http-web" → HTTP); "" when Istio has to sniff.
func serviceProtocol(sp corev1.ServicePort) string {
	if sp.AppProtocol != nil && *sp.AppProtocol != "" {
		return strings.ToUpper(*sp.AppProtocol)
	}
	name := strings.ToLower(sp.Name)
	prefix, _, _ := strings.Cut(name, "-")
	switch prefix {
	case "http", "http2", "grpc", "grpc-web", "https", "tls", "tcp", "mongo", "mysql", "redis", "udp":
		return strings.ToUpper(prefix)
	}
	return ""
}

func serviceVisibleIn(svc *corev1.Service, ns string) bool {
	v, ok := svc.Annotations["networking.istio.io/exportTo"]
	if !ok || strings.TrimSpace(v) == "" {
		return true
	}
	var list []string
	for _, s := range strings.Split(v, ",") {
		list = append(list, strings.TrimSpace(s))
	}
	return slices.ContainsFunc(scopes(list, svc.Namespace), func(s string) bool { return s == "*" || s == ns })
}

// visibleTogether tells whether some namespace sees both ServiceEntries (exportTo scopes overlap).
func visibleTogether(a, b *networkingv1.ServiceEntry) bool {
	sa, sb := scopes(a.Spec.ExportTo, a.Namespace), scopes(b.Spec.ExportTo, b.Namespace)
	if slices.Contains(sa, "*") || slices.Contains(sb, "*") {
		return true
	}
	return slices.ContainsFunc(sa, func(s string) bool { return slices.Contains(sb, s) })
}

// scopes resolves exportTo to namespaces: "." is ns, empty or "*" is everyone.
func scopes(exportTo []string, ns string) []string {
	if len(exportTo) == 0 {
		return []string{"*"}
	}
	out := make([]string, 0, len(exportTo))
	for _, e := range exportTo {
		if e == "." {
			e = ns
		}
		out = append(out, e)
	}
	return out
}

func sameObject(a, b metav1.Object) bool {
	return a.GetNamespace() == b.GetNamespace() && a.GetName() == b.GetName()
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

func (p *Plan) serviceEntries() []*networkingv1.ServiceEntry {
	var out []*networkingv1.ServiceEntry
	for _, o := range p.Objects {
		if se, ok := o.(*networkingv1.ServiceEntry); ok {
			out = append(out, se)
		}
	}
	return out
}

// objectsOf are the existing objects of kind k.
func (ex Existing) objectsOf(k kindInfo) []metav1.Object {
	switch k.Group + "/" + k.Kind {
	case NetworkingGroup + "/ServiceEntry":
		return asObjects(ex.ServiceEntries)
	case NetworkingGroup + "/DestinationRule":
		return asObjects(ex.DestinationRules)
	case NetworkingGroup + "/VirtualService":
		return asObjects(ex.VirtualServices)
	case NetworkingGroup + "/Gateway":
		return asObjects(ex.Gateways)
	case NetworkingGroup + "/Sidecar":
		return asObjects(ex.Sidecars)
	case TelemetryGroup + "/Telemetry":
		return asObjects(ex.Telemetries)
	case GatewayAPIGroup + "/Gateway":
		return asObjects(ex.KubeGateways)
	case GatewayAPIGroup + "/HTTPRoute":
		return asObjects(ex.HTTPRoutes)
	case GatewayAPIGroup + "/TLSRoute":
		return asObjects(ex.TLSRoutes)
	}
	return nil
}

func asObjects[T metav1.Object](items []T) []metav1.Object {
	out := make([]metav1.Object, len(items))
	for i, o := range items {
		out[i] = o
	}
	return out
}

// finish runs the guards that apply to every plan, then Istio's validation.
func (p *Plan) finish(ex Existing, t Target) error {
	if t.Waypoint != nil {
		if err := p.bindToWaypoint(t); err != nil {
			return err
		}
	}
	slices.SortStableFunc(p.Objects, func(a, b Object) int { return kindOf(a).order() - kindOf(b).order() })
	if err := GuardOwnership(p, ex, t.Force); err != nil {
		return err
	}
	if err := GuardProtocolConflict(p, ex); err != nil {
		return err
	}
	if err := GuardHTTPPortCollision(p, ex, t.Istio); err != nil {
		return err
	}
	return p.validate()
}
