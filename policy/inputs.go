package policy

import (
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	networkingk8s "k8s.io/api/networking/v1"

	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// Inputs are everything the effective policy is read from. Gather fills them from a cluster;
// tests write them by hand.
type Inputs struct {
	// MeshConfigs by revision; a revision without one gets Istio's defaults.
	MeshConfigs map[string]MeshConfig
	// NamespaceLabels by namespace (istio.io/rev, istio-injection).
	NamespaceLabels map[string]map[string]string
	Sidecars        []*networkingv1.Sidecar
	ServiceEntries  []*networkingv1.ServiceEntry
	// NetworkPolicies of the namespaces read.
	NetworkPolicies []*networkingk8s.NetworkPolicy
	// Pods are the proxies read, each with its report and identity (labels, annotations).
	Pods []inspect.PodReport
	// Gateway is the egress gateway the namespaces should leave through (for NetworkPolicy
	// checks); nil when unknown.
	Gateway *GatewayPods
	// Warnings say what could not be read (a forbidden list, a missing ConfigMap).
	Warnings []string
}

// GatewayPods identifies the egress gateway's pods for NetworkPolicy evaluation.
type GatewayPods struct {
	Namespace       string
	NamespaceLabels map[string]string
	PodLabels       map[string]string
}

// RevisionOf is the control-plane revision a pod belongs to: its istio.io/rev label, else its
// namespace's, else the default revision.
func (in Inputs) RevisionOf(p inspect.Pod) string {
	if r := p.Labels["istio.io/rev"]; r != "" {
		return r
	}
	if r := in.NamespaceLabels[p.Namespace]["istio.io/rev"]; r != "" {
		return r
	}
	return DefaultRevision
}

// MeshConfigOf is the mesh config of a revision, Istio's defaults when it has none.
func (in Inputs) MeshConfigOf(revision string) MeshConfig {
	if mc, ok := in.MeshConfigs[revision]; ok {
		return mc
	}
	return DefaultMeshConfig(revision)
}
