package policy

import (
	"fmt"
	"strings"

	"istio.io/istio/pkg/config/mesh"
)

// DefaultRevision is the revision whose mesh config is the ConfigMap "istio".
const DefaultRevision = "default"

// MeshConfig is what one revision's mesh config says about outbound traffic, Istio's defaults
// applied where a field is unset.
type MeshConfig struct {
	// Revision is "default" for ConfigMap istio, else the suffix of istio-<revision>.
	Revision string `json:"revision"`
	// Source names the ConfigMap, e.g. "istio-system/istio"; "" when there is none and Istio's
	// defaults apply.
	Source string `json:"source,omitempty"`
	// Mode is outboundTrafficPolicy.mode: ALLOW_ANY, REGISTRY_ONLY or ALLOW_ANY_DYNAMIC_DNS.
	Mode string `json:"mode"`
	// ModeSet tells whether the mode was written in the mesh config or is Istio's default.
	ModeSet bool `json:"modeSet"`
	// RootNamespace holds the mesh-wide Sidecar (meshConfig.rootNamespace).
	RootNamespace string `json:"rootNamespace"`
	// DefaultExportTo is meshConfig.defaultServiceExportTo: where a ServiceEntry without
	// exportTo is visible.
	DefaultExportTo []string `json:"defaultServiceExportTo"`
}

// ParseMeshConfig reads the value of a mesh ConfigMap's "mesh" key with Istio's own code, so
// defaults are Istio's. The YAML is user input: errors say what was wrong with it.
func ParseMeshConfig(revision, source, yaml string) (MeshConfig, error) {
	mc, err := mesh.ApplyMeshConfigDefaults(yaml)
	if err != nil {
		return MeshConfig{}, fmt.Errorf("mesh config %s is not valid: %w", source, err)
	}
	out := MeshConfig{
		Revision:        revision,
		Source:          source,
		Mode:            mc.GetOutboundTrafficPolicy().GetMode().String(),
		RootNamespace:   mc.GetRootNamespace(),
		DefaultExportTo: mc.GetDefaultServiceExportTo(),
		ModeSet:         strings.Contains(yaml, "outboundTrafficPolicy"),
	}
	if len(out.DefaultExportTo) == 0 {
		out.DefaultExportTo = []string{"*"}
	}
	return out, nil
}

// DefaultMeshConfig is what applies when a revision has no mesh ConfigMap at all.
func DefaultMeshConfig(revision string) MeshConfig {
	mc, _ := ParseMeshConfig(revision, "", "")
	mc.Source = ""
	return mc
}

// ConfigMapRevision is the revision a mesh ConfigMap's name stands for: "istio" is the default
// one, "istio-canary" is canary's. Only ConfigMaps with a "mesh" key are mesh configs: the
// caller checks that (istio-ca-root-cert and istio-sidecar-injector have none).
func ConfigMapRevision(name string) (string, bool) {
	switch {
	case name == "istio":
		return DefaultRevision, true
	case strings.HasPrefix(name, "istio-") && len(name) > len("istio-"):
		return strings.TrimPrefix(name, "istio-"), true
	}
	return "", false
}
