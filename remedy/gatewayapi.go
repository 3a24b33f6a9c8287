package remedy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kubectl-egress/kubectl-egress/inspect"

	networking "istio.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/discovery"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// GatewayAPIGroup is the Kubernetes Gateway API's group.
const GatewayAPIGroup = "gateway.networking.k8s.io"

// GatewayAPIVersion is the version of it the plans write and istiod watches.
const GatewayAPIVersion = GatewayAPIGroup + "/v1"

// GatewayClassIstio is the class istiod deploys a gateway for (PILOT_GATEWAY_API_DEFAULT_GATEWAYCLASS_NAME).
const GatewayClassIstio = "istio"

// GatewayAPI is what a cluster serves of the Gateway API at gateway.networking.k8s.io/v1.
type GatewayAPI struct {
	Gateways, HTTPRoutes, TLSRoutes bool
}

// Served tells whether an egress gateway can be written with the Gateway API at all.
func (g GatewayAPI) Served() bool { return g.Gateways && g.HTTPRoutes }

// serves tells whether kind of the Gateway API is served.
func (g GatewayAPI) serves(kind string) bool {
	switch kind {
	case "Gateway":
		return g.Gateways
	case "HTTPRoute":
		return g.HTTPRoutes
	case "TLSRoute":
		return g.TLSRoutes
	}
	return false
}

// DiscoverGatewayAPI asks the API server which Gateway API kinds it serves at v1 (TLSRoute is
// v1 from Gateway API v1.5; older CRDs serve it as v1alpha2 only, which istiod does not watch).
func DiscoverGatewayAPI(d discovery.DiscoveryInterface) (GatewayAPI, error) {
	list, err := d.ServerResourcesForGroupVersion(GatewayAPIVersion)
	if apierrors.IsNotFound(err) {
		return GatewayAPI{}, nil
	}
	if err != nil {
		return GatewayAPI{}, fmt.Errorf("failed to discover %s: %w", GatewayAPIVersion, err)
	}
	var g GatewayAPI
	for _, r := range list.APIResources {
		switch r.Name {
		case "gateways":
			g.Gateways = true
		case "httproutes":
			g.HTTPRoutes = true
		case "tlsroutes":
			g.TLSRoutes = true
		}
	}
	return g, nil
}

// ErrGatewayAPIAbsent is returned when an egress gateway is asked for in the Gateway API's form
// and the cluster does not serve it.
var ErrGatewayAPIAbsent = errors.New("the cluster serves no Gateway API (gateway.networking.k8s.io/v1 gateways and httproutes)")

// GatewayAPIEgressOptions are the choices of `kubectl egress route-via-gateway HOST --api gateway`.
type GatewayAPIEgressOptions struct {
	// AppPorts is what inspect observed the app sending to the host: plain HTTP goes through
	// the gateway as HTTP (port 80), TLS by SNI (port 443); none observed is TLS on 443.
	AppPorts []Port
}

// GatewayAPIServiceName is the Service (and Deployment) istiod's gateway deployment controller
// creates for a Gateway of class istio: NAME-istio.
func GatewayAPIServiceName(gateway string) string { return gateway + "-" + GatewayClassIstio }

// gatewayAPIName names the plan's Gateway so that its Service, NAME-istio, is still a DNS-1035
// label of at most 63 characters.
func gatewayAPIName(host string) string {
	suffix := "-" + GatewayClassIstio
	return strings.TrimSuffix(ObjectName(host, suffix), suffix)
}

// PlanGatewayAPIEgress plans Istio's egress-gateway task in its Gateway API form for host, all
// in the target namespace: a ServiceEntry; a Gateway of class istio, for which istiod deploys
// the gateway (Deployment and Service NAME-istio), with a listener per protocol the app was
// seen using (HTTP on 80, TLS passthrough on 443) for host only; routes from the sidecars to
// the gateway's Service, attached to the ServiceEntry (an HTTPRoute, a TLSRoute); and routes on
// the Gateway out to host (backend kind Hostname of networking.istio.io).
func PlanGatewayAPIEgress(t Target, o GatewayAPIEgressOptions, ex Existing) (*Plan, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	if err := checkDNSHost("routing through a Gateway API egress gateway", t.Host); err != nil {
		return nil, err
	}
	if isWildcard(t.Host) {
		return nil, fmt.Errorf("cannot route the wildcard %s through a Gateway API egress gateway: its routes send to one host; name the host", t.Host)
	}
	if !t.Route.Empty() || !t.Traffic.Empty() {
		return nil, fmt.Errorf("timeouts, retries and connection settings for %s are not written in the Gateway API form: use --api istio", t.Host)
	}
	if !ex.GatewayAPI.Served() {
		return nil, fmt.Errorf("%w: install the Gateway API CRDs, or use --api istio", ErrGatewayAPIAbsent)
	}
	var classUnread bool
	for _, r := range ex.GatewayAPIUnread {
		if r != "gatewayclasses" {
			return nil, fmt.Errorf("cannot list %s.%s in namespace %s (forbidden), so a collision with the plan's objects cannot be ruled out: "+
				"get the read and write roles of docs/rbac.yaml in the namespace", r, GatewayAPIGroup, t.Namespace)
		}
		classUnread = true
	}
	if !classUnread && !slices.ContainsFunc(ex.GatewayClasses, func(c *gatewayv1.GatewayClass) bool { return c.Name == GatewayClassIstio }) {
		return nil, fmt.Errorf("GatewayClass %s not found: istiod creates it when the Gateway API CRDs are installed before it starts "+
			"(restart istiod), or use --api istio", GatewayClassIstio)
	}
	httpPorts, tlsPorts, err := splitGatewayPorts(t.Host, o.AppPorts)
	if err != nil {
		return nil, err
	}
	if len(tlsPorts) > 0 && !ex.GatewayAPI.TLSRoutes {
		return nil, fmt.Errorf("routing TLS to %s through a Gateway API gateway needs TLSRoute, which this cluster does not serve as %s: "+
			"install the Gateway API CRDs v1.5 or newer, or use --api istio", t.Host, GatewayAPIVersion)
	}

	p := newPlan(t, inspect.FixEgressGateway)
	p.Warnings = append(p.Warnings, ex.Warnings...)
	if classUnread {
		p.warnf("cannot list gatewayclasses (forbidden): not checked that GatewayClass %s exists; without it istiod deploys no gateway", GatewayClassIstio)
	}
	name := ObjectName(t.Host, "")
	gwName := gatewayAPIName(t.Host)
	svc := GatewayAPIServiceName(gwName)
	host := gatewayv1.Hostname(t.Host)

	gw := &gatewayv1.Gateway{ObjectMeta: p.meta(gwName)}
	// The gateway serves the mesh only: no load balancer for it (the task's annotation).
	gw.Annotations["networking.istio.io/service-type"] = "ClusterIP"
	gw.Spec.GatewayClassName = GatewayClassIstio
	same := &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: new(gatewayv1.NamespacesFromSame)}}
	seRef := gatewayv1.ParentReference{Group: new(gatewayv1.Group(NetworkingGroup)), Kind: new(gatewayv1.Kind("ServiceEntry")), Name: gatewayv1.ObjectName(name)}
	gwRef := gatewayv1.ParentReference{Name: gatewayv1.ObjectName(gwName)}
	hostRef := func(port uint32) gatewayv1.BackendRef {
		return backendRef(NetworkingGroup, "Hostname", t.Host, port)
	}

	var routes []Object
	for _, port := range httpPorts {
		gw.Spec.Listeners = append(gw.Spec.Listeners, gatewayv1.Listener{
			Name: "http", Hostname: &host, Port: 80, Protocol: gatewayv1.HTTPProtocolType, AllowedRoutes: same,
		})
		toGateway := &gatewayv1.HTTPRoute{ObjectMeta: p.meta(name)}
		toGateway.Spec.ParentRefs = []gatewayv1.ParentReference{seRef}
		toGateway.Spec.Rules = []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: backendRef("", "", svc, 80)}}}}
		out := &gatewayv1.HTTPRoute{ObjectMeta: p.meta(ObjectName(t.Host, "-gw"))}
		out.Spec.ParentRefs = []gatewayv1.ParentReference{gwRef}
		out.Spec.Hostnames = []gatewayv1.Hostname{host}
		out.Spec.Rules = []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: hostRef(port.Number)}}}}
		routes = append(routes, toGateway, out)
		p.notef("traffic from %s to http://%s:%d now leaves through the egress gateway %s/%s", t.Namespace, t.Host, port.Number, t.Namespace, svc)
	}
	for _, port := range tlsPorts {
		gw.Spec.Listeners = append(gw.Spec.Listeners, gatewayv1.Listener{
			Name: "tls", Hostname: &host, Port: 443, Protocol: gatewayv1.TLSProtocolType,
			TLS: &gatewayv1.ListenerTLSConfig{Mode: new(gatewayv1.TLSModePassthrough)}, AllowedRoutes: same,
		})
		toGateway := &gatewayv1.TLSRoute{ObjectMeta: p.meta(name)}
		toGateway.Spec.ParentRefs = []gatewayv1.ParentReference{seRef}
		toGateway.Spec.Hostnames = []gatewayv1.Hostname{host}
		toGateway.Spec.Rules = []gatewayv1.TLSRouteRule{{BackendRefs: []gatewayv1.BackendRef{backendRef("", "", svc, 443)}}}
		out := &gatewayv1.TLSRoute{ObjectMeta: p.meta(ObjectName(t.Host, "-gw"))}
		out.Spec.ParentRefs = []gatewayv1.ParentReference{gwRef}
		out.Spec.Hostnames = []gatewayv1.Hostname{host}
		out.Spec.Rules = []gatewayv1.TLSRouteRule{{BackendRefs: []gatewayv1.BackendRef{hostRef(port.Number)}}}
		routes = append(routes, toGateway, out)
		p.notef("traffic from %s to %s:%d now leaves through the egress gateway %s/%s; the app keeps calling https://%s",
			t.Namespace, t.Host, port.Number, t.Namespace, svc, t.Host)
	}
	p.Objects = append(p.Objects, p.serviceEntry(&networking.ServiceEntry{
		Hosts:      []string{t.Host},
		Ports:      servicePorts(slices.Concat(httpPorts, tlsPorts)),
		Resolution: networking.ServiceEntry_DNS,
		ExportTo:   t.exportTo(),
	}), gw)
	p.Objects = append(p.Objects, routes...)
	p.notef("istiod deploys the gateway for Gateway %s/%s as Deployment and Service %s/%s; undo removes them with the Gateway",
		t.Namespace, gwName, t.Namespace, svc)
	if err := p.finish(ex, t); err != nil {
		return nil, err
	}
	return p, nil
}

// backendRef refers to name:port of kind in group ("" and "" is a Service).
func backendRef(group, kind, name string, port uint32) gatewayv1.BackendRef {
	ref := gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
		Name: gatewayv1.ObjectName(name), Port: new(gatewayv1.PortNumber(port)),
	}}
	if group != "" {
		ref.Group = new(gatewayv1.Group(group))
	}
	if kind != "" {
		ref.Kind = new(gatewayv1.Kind(kind))
	}
	return ref
}
