package remedy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	telemetryv1 "istio.io/client-go/pkg/apis/telemetry/v1"
	networkingk8s "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"
)

// kindInfo is a kind a plan writes: its API group and resource, and the version it is written
// as when that is not the plan's networking.istio.io version. Two kinds share the name Gateway
// (Istio's and the Gateway API's): a kind is known by its group and name together.
type kindInfo struct {
	Kind, Group, Resource string
	// Version is fixed for kinds outside networking.istio.io; "" follows Plan.APIVersion.
	Version string
}

// Kinds a plan writes, in the order they are applied: routing (VirtualService) after the hosts
// and subsets it routes to; the Gateway API's Gateway before the routes whose backend is the
// Service istiod deploys for it; the Sidecar that switches to REGISTRY_ONLY after the
// ServiceEntries that keep traffic going; the NetworkPolicy last. Undo deletes in reverse.
var kinds = []kindInfo{
	{"ServiceEntry", NetworkingGroup, "serviceentries", ""},
	{"DestinationRule", NetworkingGroup, "destinationrules", ""},
	{"Gateway", NetworkingGroup, "gateways", ""},
	{"VirtualService", NetworkingGroup, "virtualservices", ""},
	{"Gateway", GatewayAPIGroup, "gateways", "v1"},
	{"HTTPRoute", GatewayAPIGroup, "httproutes", "v1"},
	{"TLSRoute", GatewayAPIGroup, "tlsroutes", "v1"},
	{"Sidecar", NetworkingGroup, "sidecars", ""},
	{"Telemetry", TelemetryGroup, "telemetries", "v1"},
	{"NetworkPolicy", "networking.k8s.io", "networkpolicies", "v1"},
}

// TelemetryGroup is the API group of Istio's Telemetry.
const TelemetryGroup = "telemetry.istio.io"

func kindOf(obj Object) kindInfo {
	kind, group := fmt.Sprintf("%T", obj), NetworkingGroup
	switch obj.(type) {
	case *networkingv1.ServiceEntry:
		kind = "ServiceEntry"
	case *networkingv1.DestinationRule:
		kind = "DestinationRule"
	case *networkingv1.VirtualService:
		kind = "VirtualService"
	case *networkingv1.Gateway:
		kind = "Gateway"
	case *networkingv1.Sidecar:
		kind = "Sidecar"
	case *telemetryv1.Telemetry:
		kind, group = "Telemetry", TelemetryGroup
	case *networkingk8s.NetworkPolicy:
		kind, group = "NetworkPolicy", "networking.k8s.io"
	case *gatewayv1.Gateway:
		kind, group = "Gateway", GatewayAPIGroup
	case *gatewayv1.HTTPRoute:
		kind, group = "HTTPRoute", GatewayAPIGroup
	case *gatewayv1.TLSRoute:
		kind, group = "TLSRoute", GatewayAPIGroup
	}
	if k, ok := infoOf(group, kind); ok {
		return k
	}
	return kindInfo{Kind: kind, Group: group}
}

// infoOf finds a kind by group and name; group "" takes the first kind of that name, Istio's
// before the Gateway API's.
func infoOf(group, kind string) (kindInfo, bool) {
	for _, k := range kinds {
		if k.Kind == kind && (group == "" || k.Group == group) {
			return k, true
		}
	}
	return kindInfo{}, false
}

// istio tells whether Istio's own validation judges the kind; the API server judges the others.
func (k kindInfo) istio() bool { return k.Group == NetworkingGroup || k.Group == TelemetryGroup }

// apiVersion is the apiVersion the kind is written as in a plan of planVersion.
func (k kindInfo) apiVersion(planVersion string) string {
	if k.Version != "" {
		return k.Group + "/" + k.Version
	}
	return planVersion
}

// order is the kind's place in the apply order.
func (k kindInfo) order() int {
	for i, o := range kinds {
		if o == k {
			return i
		}
	}
	return len(kinds)
}

// kindOrder is the apply order of kind in group ("" as for infoOf).
func kindOrder(group, kind string) int {
	k, ok := infoOf(group, kind)
	if !ok {
		return len(kinds)
	}
	return k.order()
}

func gvrFor(apiVersion, kind string) (schema.GroupVersionResource, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return schema.GroupVersionResource{}, err
	}
	if k, ok := infoOf(gv.Group, kind); ok {
		return gv.WithResource(k.Resource), nil
	}
	return schema.GroupVersionResource{}, fmt.Errorf("kind %s is not written by kubectl-egress", kind)
}

// Ref is kubectl's name for an object: "serviceentry.networking.istio.io/egress-httpbin-org",
// "gateway.gateway.networking.k8s.io/egress-httpbin-org". Group "" is as for infoOf.
func Ref(group, kind, name string) string {
	if k, ok := infoOf(group, kind); ok {
		group = k.Group
	}
	if group == "" {
		group = NetworkingGroup
	}
	return strings.ToLower(kind) + "." + group + "/" + name
}

// refOf is Ref for an unstructured object.
func refOf(u *unstructured.Unstructured) string {
	return Ref(u.GroupVersionKind().Group, u.GetKind(), u.GetName())
}

// Unstructured renders the plan's objects as they are sent: apiVersion from the plan, no status,
// no creationTimestamp, and the enum defaults of the recipes spelled out.
func (p *Plan) Unstructured() ([]*unstructured.Unstructured, error) {
	out := make([]*unstructured.Unstructured, 0, len(p.Objects))
	for _, obj := range p.Objects {
		u, err := toUnstructured(obj, p.APIVersion)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

func toUnstructured(obj Object, apiVersion string) (*unstructured.Unstructured, error) {
	k := kindOf(obj)
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("failed to encode %s %s/%s: %w", k.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("failed to encode %s %s/%s: %w", k.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	m["apiVersion"] = k.apiVersion(apiVersion)
	m["kind"] = k.Kind
	spec, _ := m["spec"].(map[string]any)
	if spec == nil {
		spec = map[string]any{}
		m["spec"] = spec
	}
	spellOutDefaults(obj, spec)
	return &unstructured.Unstructured{Object: m}, nil
}

// spellOutDefaults writes enum fields whose value is the proto zero value, which JSON encoding
// drops: a reader of the YAML (and of the recipes) expects "location: MESH_EXTERNAL",
// "resolution: NONE", "mode: PASSTHROUGH" and a Sidecar's "mode: REGISTRY_ONLY" to be visible.
func spellOutDefaults(obj Object, spec map[string]any) {
	switch o := obj.(type) {
	case *networkingv1.ServiceEntry:
		spec["location"] = o.Spec.Location.String()
		spec["resolution"] = o.Spec.Resolution.String()
	case *networkingv1.Sidecar:
		if otp, ok := spec["outboundTrafficPolicy"].(map[string]any); ok && o.Spec.GetOutboundTrafficPolicy() != nil {
			otp["mode"] = o.Spec.GetOutboundTrafficPolicy().GetMode().String()
		}
	case *networkingv1.Gateway:
		servers, _ := spec["servers"].([]any)
		for i, s := range servers {
			server, _ := s.(map[string]any)
			tls, ok := server["tls"].(map[string]any)
			if ok && i < len(o.Spec.Servers) && o.Spec.Servers[i].GetTls() != nil {
				tls["mode"] = o.Spec.Servers[i].GetTls().GetMode().String()
			}
		}
	}
}

// WriteYAML writes the plan as multi-document YAML for GitOps: one document per object, in apply
// order, keys sorted, so the same plan always gives the same bytes.
func WriteYAML(w io.Writer, p *Plan) error {
	objs, err := p.Unstructured()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	for i, u := range objs {
		b, err := yaml.Marshal(u.Object)
		if err != nil {
			return fmt.Errorf("failed to render %s as YAML: %w", refOf(u), err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	_, err = w.Write(buf.Bytes())
	return err
}
