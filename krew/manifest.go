// Package krew holds the krew plugin manifest of kubectl-egress: the template in egress.yaml,
// the names of the release archives it points at, its rendering for a release, and a checker
// that applies krew's published rules to a manifest before anyone submits it to krew-index.
package krew

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// APIVersion and Kind are the only ones krew accepts (krew pkg/constants).
const (
	APIVersion = "krew.googlecontainertools.github.com/v1alpha2"
	Kind       = "Plugin"
)

// Plugin is a krew plugin manifest, with krew's field names (krew pkg/index/types.go).
type Plugin struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   Metadata   `json:"metadata"`
	Spec       PluginSpec `json:"spec"`
}

// Metadata is the manifest's metadata: only the name means anything to krew.
type Metadata struct {
	Name string `json:"name"`
}

// PluginSpec describes the plugin and where each platform's archive is.
type PluginSpec struct {
	Version          string     `json:"version,omitempty"`
	ShortDescription string     `json:"shortDescription,omitempty"`
	Description      string     `json:"description,omitempty"`
	Caveats          string     `json:"caveats,omitempty"`
	Homepage         string     `json:"homepage,omitempty"`
	Platforms        []Platform `json:"platforms,omitempty"`
}

// Platform is one downloadable archive and how krew installs it on the os/arch its selector
// matches.
type Platform struct {
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	URI      string                `json:"uri,omitempty"`
	SHA256   string                `json:"sha256,omitempty"`
	Files    []FileOperation       `json:"files,omitempty"`
	Bin      string                `json:"bin,omitempty"`
}

// FileOperation copies the archive paths matching the glob From to To in the install directory.
type FileOperation struct {
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// Parse decodes a manifest strictly: an unknown or misspelt field is an error, because krew
// would silently ignore it.
func Parse(b []byte) (Plugin, error) {
	var p Plugin
	if err := yaml.UnmarshalStrict(b, &p); err != nil {
		return Plugin{}, fmt.Errorf("failed to parse krew manifest: %w", err)
	}
	return p, nil
}
