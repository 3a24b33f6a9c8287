package remedy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kubectl-egress/kubectl-egress/inspect"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Ambient mode's names (istio.io/latest/docs/ambient/usage/egress-gateway): a ServiceEntry
// labelled use-waypoint is reached through that waypoint, which ztunnel tunnels its connections
// to; the waypoint is a Gateway of class istio-waypoint, for which istiod deploys an Envoy.
const (
	// LabelUseWaypoint binds a ServiceEntry (or a namespace, for all of its services) to a waypoint.
	LabelUseWaypoint = "istio.io/use-waypoint"
	// LabelUseWaypointNamespace names the waypoint's namespace when it is not the object's.
	LabelUseWaypointNamespace = "istio.io/use-waypoint-namespace"
	// LabelWaypointFor is the traffic a waypoint takes: service, workload, all or none.
	LabelWaypointFor = "istio.io/waypoint-for"
	// GatewayClassWaypoint is the class of Istio's waypoints.
	GatewayClassWaypoint = "istio-waypoint"
	// DefaultWaypointName is the name `istioctl waypoint apply` gives a namespace's waypoint.
	DefaultWaypointName = "waypoint"
)

// Waypoint is the waypoint the ServiceEntries of an ambient namespace are bound to.
type Waypoint struct {
	Namespace, Name string
	// Create writes it with the plan: a Gateway of class istio-waypoint in the target namespace,
	// for service traffic, as `istioctl waypoint apply --for service` does.
	Create bool
}

func (w Waypoint) String() string { return w.Namespace + "/" + w.Name }

// bindToWaypoint turns a sidecar plan into its ambient form (called by finish when the target
// has a waypoint): every ServiceEntry is labelled to use the waypoint, the objects are exported
// to the waypoint's namespace as well (the waypoint is the proxy that reads them), and the
// waypoint is written when it does not exist yet. Only registering and TLS origination have an
// ambient form: in ambient mode the waypoint is the egress gateway.
func (p *Plan) bindToWaypoint(t Target) error {
	w := t.Waypoint
	switch p.Fix {
	case inspect.FixRegister, inspect.FixTLSOrigination:
	default:
		return fmt.Errorf("namespace %s is in ambient mode, where %s has no form: register %s or enable TLS origination, which bind it to the waypoint %s (the waypoint is the egress gateway in ambient mode)",
			t.Namespace, p.Fix, t.Host, w)
	}
	for _, obj := range p.Objects {
		switch o := obj.(type) {
		case *networkingv1.ServiceEntry:
			o.Labels[LabelUseWaypoint] = w.Name
			if w.Namespace != t.Namespace {
				o.Labels[LabelUseWaypointNamespace] = w.Namespace
			}
			o.Spec.ExportTo = withNamespace(o.Spec.ExportTo, t.Namespace, w.Namespace)
		case *networkingv1.DestinationRule:
			if o.Spec.WorkloadSelector != nil {
				return fmt.Errorf("a workload selector on the DestinationRule for %s would pick the app's pods, but in ambient mode the waypoint %s originates TLS: give a CA file instead of a credential and selector", t.Host, w)
			}
			o.Spec.ExportTo = withNamespace(o.Spec.ExportTo, t.Namespace, w.Namespace)
		case *networkingv1.VirtualService:
			o.Spec.ExportTo = withNamespace(o.Spec.ExportTo, t.Namespace, w.Namespace)
		}
	}
	if w.Create {
		gw := &gatewayv1.Gateway{ObjectMeta: p.meta(w.Name)}
		gw.Labels[LabelWaypointFor] = "service"
		gw.Spec.GatewayClassName = GatewayClassWaypoint
		gw.Spec.Listeners = []gatewayv1.Listener{{Name: "mesh", Port: 15008, Protocol: "HBONE"}}
		p.Objects = append(p.Objects, gw)
		p.notef("istiod deploys the waypoint for Gateway %s as Deployment and Service %s; undo removes it with the last ServiceEntry that uses it", w, w)
	}
	p.notef("the pods of %s reach %s through the waypoint %s: ztunnel tunnels their connections to it", t.Namespace, t.Host, w)
	return nil
}

// proxy names the proxy that handles the host for the target's pods.
func (t Target) proxy() string {
	if t.Waypoint != nil {
		return "the waypoint " + t.Waypoint.String()
	}
	return "the sidecar"
}

// UsesWaypoint is the waypoint a ServiceEntry's labels bind it to, as NAMESPACE/NAME, or "".
func UsesWaypoint(namespace string, labels map[string]string) string {
	name := labels[LabelUseWaypoint]
	if name == "" || name == "none" {
		return ""
	}
	if ns := labels[LabelUseWaypointNamespace]; ns != "" {
		namespace = ns
	}
	return namespace + "/" + name
}

// keepUsedWaypoints adjusts what an undo deletes for waypoints it wrote: one that a ServiceEntry
// left after the undo still uses stays, and one that nothing left uses goes, whichever host's
// fix wrote it. kept are the waypoints that stay although the undo matched them.
func keepUsedWaypoints(all, matched []ManagedObject) (out, kept []ManagedObject) {
	deleted := func(m ManagedObject) bool {
		return slices.ContainsFunc(matched, func(d ManagedObject) bool { return d.Ref() == m.Ref() && d.Namespace == m.Namespace })
	}
	used := map[string]bool{}
	for _, m := range all {
		if m.Waypoint != "" && !deleted(m) {
			used[m.Waypoint] = true
		}
	}
	for _, m := range matched {
		if m.IsWaypoint && used[m.Namespace+"/"+m.Name] {
			kept = append(kept, m)
			continue
		}
		out = append(out, m)
	}
	for _, m := range all {
		if m.IsWaypoint && !deleted(m) && !used[m.Namespace+"/"+m.Name] && wasUsedBy(m, matched) {
			out = append(out, m)
		}
	}
	return out, kept
}

// wasUsedBy tells whether a deleted ServiceEntry used the waypoint.
func wasUsedBy(wp ManagedObject, deleted []ManagedObject) bool {
	return slices.ContainsFunc(deleted, func(m ManagedObject) bool { return m.Waypoint == wp.Namespace+"/"+wp.Name })
}

// ChooseWaypoint picks the waypoint an ambient namespace's ServiceEntries are bound to: the one
// asked for (NAME, or NAMESPACE/NAME), else the one the namespace is enrolled in (its
// use-waypoint label, given as asked), else the namespace's own waypoint, else a new one named
// waypoint, written with the plan. gateways are the Gateway API Gateways of namespace; lookup
// reads one of another namespace (nil when absent). nsLabels are namespace's labels.
func ChooseWaypoint(namespace, asked string, nsLabels map[string]string, gateways []*gatewayv1.Gateway,
	lookup func(namespace, name string) (*gatewayv1.Gateway, error)) (*Waypoint, error) {
	if asked == "" {
		var own []*gatewayv1.Gateway
		for _, g := range gateways {
			if string(g.Spec.GatewayClassName) == GatewayClassWaypoint && takesServices(g) {
				own = append(own, g)
			}
		}
		switch {
		case len(own) == 0:
			return &Waypoint{Namespace: namespace, Name: DefaultWaypointName, Create: true}, nil
		case len(own) == 1:
			return &Waypoint{Namespace: namespace, Name: own[0].Name}, nil
		}
		for _, g := range own {
			if g.Name == DefaultWaypointName {
				return &Waypoint{Namespace: namespace, Name: g.Name}, nil
			}
		}
		return nil, fmt.Errorf("namespace %s has %d waypoints for services and none is named %s: choose one with --waypoint NAME", namespace, len(own), DefaultWaypointName)
	}
	ns, name, ok := strings.Cut(asked, "/")
	if !ok {
		ns, name = namespace, asked
	}
	var g *gatewayv1.Gateway
	if ns == namespace {
		for _, x := range gateways {
			if x.Name == name {
				g = x
			}
		}
		if g == nil {
			return &Waypoint{Namespace: ns, Name: name, Create: true}, nil
		}
	} else {
		var err error
		if g, err = lookup(ns, name); err != nil {
			return nil, err
		}
		if g == nil {
			return nil, fmt.Errorf("waypoint %s/%s not found: create it (istioctl waypoint apply -n %s --name %s), or use one in namespace %s", ns, name, ns, name, namespace)
		}
	}
	w := &Waypoint{Namespace: ns, Name: name}
	switch {
	case string(g.Spec.GatewayClassName) != GatewayClassWaypoint:
		return nil, fmt.Errorf("the Gateway %s is of class %s, not %s: it is not a waypoint", w, g.Spec.GatewayClassName, GatewayClassWaypoint)
	case !takesServices(g):
		return nil, fmt.Errorf("waypoint %s takes %s traffic, not services' (label %s): use a waypoint for service or all", w, g.Labels[LabelWaypointFor], LabelWaypointFor)
	case ns != namespace && !acceptsNamespace(g, nsLabels):
		return nil, fmt.Errorf("waypoint %s does not accept services of namespace %s (its HBONE listener's allowedRoutes): set allowedRoutes.namespaces.from to All or a selector of %s on it, or use a waypoint in %s", w, namespace, namespace, namespace)
	}
	return w, nil
}

// takesServices tells whether a waypoint takes service traffic (istio.io/waypoint-for service,
// the default, or all).
func takesServices(g *gatewayv1.Gateway) bool {
	switch g.Labels[LabelWaypointFor] {
	case "", "service", "all":
		return true
	}
	return false
}

// acceptsNamespace tells whether the waypoint's HBONE listener lets services of a namespace with
// nsLabels attach, the way istiod decides (allowedRoutes From All, or a matching Selector;
// Same, the default, only its own).
func acceptsNamespace(g *gatewayv1.Gateway, nsLabels map[string]string) bool {
	for _, l := range g.Spec.Listeners {
		if l.Protocol != "HBONE" || l.AllowedRoutes == nil || l.AllowedRoutes.Namespaces == nil || l.AllowedRoutes.Namespaces.From == nil {
			continue
		}
		switch *l.AllowedRoutes.Namespaces.From {
		case gatewayv1.NamespacesFromAll:
			return true
		case gatewayv1.NamespacesFromSelector:
			if sel, err := metav1.LabelSelectorAsSelector(l.AllowedRoutes.Namespaces.Selector); err == nil && sel.Matches(labels.Set(nsLabels)) {
				return true
			}
		}
	}
	return false
}
