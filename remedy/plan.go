package remedy

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/kubectl-egress/kubectl-egress/inspect"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	telemetryv1 "istio.io/client-go/pkg/apis/telemetry/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Object is one typed object of a plan: Istio's (*networkingv1.ServiceEntry, DestinationRule,
// VirtualService, Gateway, ...), whose spec types are the same for v1 and v1beta1 (only the
// apiVersion written differs, chosen by Plan.APIVersion), or the Gateway API's
// (*gatewayv1.Gateway, HTTPRoute, TLSRoute), always written as gateway.networking.k8s.io/v1.
type Object interface {
	metav1.Object
	runtime.Object
}

// Plan is what a fix will write: objects in apply order, all in Namespace.
type Plan struct {
	// Fix is what the plan does, in the report's vocabulary; it is recorded on every object as AnnotationFix.
	Fix       inspect.Fix
	Host      string
	Namespace string
	// APIVersion is the networking.istio.io version the objects are written as.
	APIVersion string
	Objects    []Object
	// Warnings are for the operator (stderr): weaker-than-ideal choices the plan had to make.
	Warnings []string
	// Notes are what the application owner must know or change, in plain words.
	Notes []string
}

// Target is what every planner needs: the host, where the objects go, and the mesh they go to.
type Target struct {
	// Host is the external host: a DNS name, a wildcard "*.example.com" or, for register only, an IP.
	Host string
	// Namespace receives the objects; the fix applies to the pods of this namespace.
	Namespace string
	// ExportTo limits who sees the objects; nil means ["."], this namespace only.
	ExportTo []string
	// Istio is the control plane version; it picks recipes (pre-1.8 TLS origination, DYNAMIC_DNS).
	Istio IstioVersion
	// APIVersion overrides the networking.istio.io version to write ("" = from discovery or Istio).
	APIVersion string
	// Force replaces objects of the same name that kubectl-egress does not manage.
	Force bool
	// Route adds a timeout and retries for the host (a VirtualService); HTTP only.
	Route RoutePolicy
	// Traffic is the connection pool and outlier detection for the host (a DestinationRule).
	Traffic TrafficPolicy
	// Waypoint, for a namespace in ambient mode, is the waypoint its ServiceEntries are bound
	// to; nil is sidecar mode.
	Waypoint *Waypoint
}

// RoutePolicy is the --timeout / --retries route policy for the external host.
type RoutePolicy struct {
	Timeout time.Duration
	// Retries is the number of retry attempts; nil leaves Istio's default, 0 disables retries.
	Retries *int32
	// PerTryTimeout bounds each attempt; zero leaves it unset.
	PerTryTimeout time.Duration
	// RetryOn is Envoy's retry condition list, e.g. "connect-failure,refused-stream,5xx".
	RetryOn string
}

// Empty tells whether no route policy was asked for.
func (r RoutePolicy) Empty() bool {
	return r.Timeout == 0 && r.Retries == nil && r.PerTryTimeout == 0 && r.RetryOn == ""
}

// Port is a port of the external host with its protocol as Istio names it (HTTP, HTTPS, TLS, TCP,
// GRPC, HTTP2, MONGO...), as observed by inspect or given on the command line.
type Port struct {
	Number   uint32
	Protocol string
}

func (p Port) String() string { return fmt.Sprintf("%d/%s", p.Number, p.Protocol) }

// Existing is what the cluster already holds, as far as the guards need to know. Tests build it
// by hand; Applier.Existing reads it from the cluster.
type Existing struct {
	// ServiceEntries visible from the target namespace (all namespaces when readable).
	ServiceEntries []*networkingv1.ServiceEntry
	// DestinationRules, VirtualServices and Gateways of the target namespace.
	DestinationRules []*networkingv1.DestinationRule
	VirtualServices  []*networkingv1.VirtualService
	Gateways         []*networkingv1.Gateway
	// Sidecars and Telemetries of the target namespace: a lockdown or logging plan must not
	// replace one it does not manage.
	Sidecars    []*networkingv1.Sidecar
	Telemetries []*telemetryv1.Telemetry
	// Services are Kubernetes Services (all namespaces when readable): their HTTP ports matter.
	Services []*corev1.Service
	// GatewayAPI is what the cluster serves of the Gateway API; the Gateways (KubeGateways),
	// HTTPRoutes and TLSRoutes of the target namespace, and the GatewayClasses, are read when
	// it is served.
	GatewayAPI     GatewayAPI
	KubeGateways   []*gatewayv1.Gateway
	HTTPRoutes     []*gatewayv1.HTTPRoute
	TLSRoutes      []*gatewayv1.TLSRoute
	GatewayClasses []*gatewayv1.GatewayClass
	// GatewayAPIUnread are the Gateway API resources the user may not list (forbidden).
	GatewayAPIUnread []string
	// Warnings say what could not be read (for example ServiceEntries of other namespaces).
	Warnings []string
}

func (t Target) exportTo() []string {
	if len(t.ExportTo) == 0 {
		return []string{"."}
	}
	return slices.Clone(t.ExportTo)
}

func (t Target) apiVersion() string {
	if t.APIVersion != "" {
		return t.APIVersion
	}
	return apiVersionFor(t.Istio)
}

// check refuses a target no planner can use; what each fix accepts as a host is checked by it.
func (t Target) check() error {
	if strings.TrimSpace(t.Host) == "" {
		return fmt.Errorf("no host given: name the external host, e.g. httpbin.org")
	}
	if t.Namespace == "" {
		return fmt.Errorf("no namespace given for the objects of %s", t.Host)
	}
	switch t.apiVersion() {
	case NetworkingV1, NetworkingV1beta1, NetworkingV1alpha3:
	default:
		return fmt.Errorf("unsupported API version %q: want one of %s, %s, %s", t.APIVersion,
			NetworkingV1, NetworkingV1beta1, NetworkingV1alpha3)
	}
	if t.Route.Timeout < 0 || t.Route.PerTryTimeout < 0 || t.Route.Retries != nil && *t.Route.Retries < 0 {
		return fmt.Errorf("timeouts and retries must not be negative")
	}
	return t.Traffic.check()
}

func isWildcard(host string) bool { return strings.HasPrefix(host, "*") }

func isIP(host string) bool { return net.ParseIP(host) != nil }

func newPlan(t Target, fix inspect.Fix) *Plan {
	return &Plan{Fix: fix, Host: t.Host, Namespace: t.Namespace, APIVersion: t.apiVersion()}
}

func (p *Plan) meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:        name,
		Namespace:   p.Namespace,
		Labels:      managedLabels(),
		Annotations: managedAnnotations(p.Host, p.Fix),
	}
}

func (p *Plan) warnf(format string, args ...any) {
	p.Warnings = append(p.Warnings, fmt.Sprintf(format, args...))
}

func (p *Plan) notef(format string, args ...any) {
	p.Notes = append(p.Notes, fmt.Sprintf(format, args...))
}
