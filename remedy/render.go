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
	"sigs.k8s.io/yaml"
)

// kindInfo is a kind a plan writes: its API group and resource, and the version it is written
// as when that is not the plan's networking.istio.io version.
type kindInfo struct {
	Kind, Group, Resource string
	// Version is fixed for kinds outside networking.istio.io; "" follows Plan.APIVersion.
	Version string
}

// Kinds a plan writes, in the order they are applied: routing (VirtualService) after the hosts
// and subsets it routes to; the Sidecar that switches to REGISTRY_ONLY after the ServiceEntries
// that keep traffic going; the NetworkPolicy last. Undo deletes in reverse.
var kinds = []kindInfo{
	{"ServiceEntry", NetworkingGroup, "serviceentries", ""},
	{"DestinationRule", NetworkingGroup, "destinationrules", ""},
	{"Gateway", NetworkingGroup, "gateways", ""},
	{"VirtualService", NetworkingGroup, "virtualservices", ""},
	{"Sidecar", NetworkingGroup, "sidecars", ""},
	{"Telemetry", TelemetryGroup, "telemetries", "v1"},
	{"NetworkPolicy", "networking.k8s.io", "networkpolicies", "v1"},
}

// TelemetryGroup is the API group of Istio's Telemetry.
const TelemetryGroup = "telemetry.istio.io"

func kindOf(obj Object) string {
	switch obj.(type) {
	case *networkingv1.ServiceEntry:
		return "ServiceEntry"
	case *networkingv1.DestinationRule:
		return "DestinationRule"
	case *networkingv1.VirtualService:
		return "VirtualService"
	case *networkingv1.Gateway:
		return "Gateway"
	case *networkingv1.Sidecar:
		return "Sidecar"
	case *telemetryv1.Telemetry:
		return "Telemetry"
	case *networkingk8s.NetworkPolicy:
		return "NetworkPolicy"
	}
	return fmt.Sprintf("%T", obj)
}

func infoOf(kind string) (kindInfo, bool) {
	for _, k := range kinds {
		if k.Kind == kind {
			return k, true
		}
	}
	return kindInfo{}, false
}

// apiVersionOf is the apiVersion an object of kind is written as in a plan of planVersion.
func apiVersionOf(kind, planVersion string) string {
	if k, ok := infoOf(kind); ok && k.Version != "" {
		return k.Group + "/" + k.Version
	}
	return planVersion
}

func kindOrder(kind string) int {
	for i, k := range kinds {
		if k.Kind == kind {
			return i
		}
	}
	return len(kinds)
}

func gvrFor(apiVersion, kind string) (schema.GroupVersionResource, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return schema.GroupVersionResource{}, err
	}
	if k, ok := infoOf(kind); ok {
		return gv.WithResource(k.Resource), nil
	}
	return schema.GroupVersionResource{}, fmt.Errorf("kind %s is not written by kubectl-egress", kind)
}

// Ref is kubectl's name for an object: "serviceentry.networking.istio.io/egress-httpbin-org".
func Ref(kind, name string) string {
	group := NetworkingGroup
	if k, ok := infoOf(kind); ok {
		group = k.Group
	}
	return strings.ToLower(kind) + "." + group + "/" + name
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
	kind := kindOf(obj)
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("failed to encode %s %s/%s: %w", kind, obj.GetNamespace(), obj.GetName(), err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("failed to encode %s %s/%s: %w", kind, obj.GetNamespace(), obj.GetName(), err)
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	m["apiVersion"] = apiVersionOf(kind, apiVersion)
	m["kind"] = kind
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
			return fmt.Errorf("failed to render %s as YAML: %w", Ref(u.GetKind(), u.GetName()), err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	_, err = w.Write(buf.Bytes())
	return err
}
