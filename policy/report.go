package policy

import (
	"time"

	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// ReportKind identifies `kubectl egress policy -o json|yaml`.
const ReportKind = "EgressPolicy"

// Report is the effective outbound policy of the workloads read, and what REGISTRY_ONLY would
// break. Field names are a contract like the inspect report's.
type Report struct {
	Kind        string    `json:"kind"`
	APIVersion  string    `json:"apiVersion"`
	GeneratedAt time.Time `json:"generatedAt"`
	// MeshConfigs are the mesh configs of the revisions the workloads use.
	MeshConfigs []MeshConfig      `json:"meshConfigs"`
	Namespaces  []NamespacePolicy `json:"namespaces"`
	Warnings    []string          `json:"warnings,omitempty"`
}

// NamespacePolicy is one namespace's workloads and what is registered there for nothing.
type NamespacePolicy struct {
	Namespace string           `json:"namespace"`
	Workloads []WorkloadPolicy `json:"workloads"`
	// Unused are ServiceEntry hosts visible here that no pod of the namespace called: candidates
	// to drop (or traffic the read window did not see).
	Unused []RegisteredHost `json:"unused,omitempty"`
	// NetworkPolicy says whether a NetworkPolicy restricts the namespace's egress, and which
	// observed destinations it cuts.
	NetworkPolicy NetworkPolicyStatus `json:"networkPolicy"`
}

// WorkloadPolicy is one workload's outbound policy from each source, side by side.
type WorkloadPolicy struct {
	// Workload is deploy/NAME (or the pod when it has no controller).
	Workload string   `json:"workload"`
	Pods     []string `json:"pods"`
	Revision string   `json:"revision"`
	// Mesh is the mode of the revision's mesh config.
	Mesh PolicySource `json:"mesh"`
	// Sidecar is the Sidecar that applies, nil when none does.
	Sidecar *SidecarSource `json:"sidecar,omitempty"`
	// Configured is the mode the configuration gives the workload: the Sidecar's, else the mesh's.
	Configured string `json:"configured"`
	// Proxies are the modes the pods' own virtualOutbound listeners enforce.
	Proxies []ProxyMode `json:"proxies"`
	// Proxy is the proxies' mode when they agree; "mixed" or "" (not read) otherwise.
	Proxy string `json:"proxy"`
	// Notes say, one line each, why the sources disagree.
	Notes []string `json:"notes,omitempty"`
	// Exclusions are capture exclusions: traffic that no outbound policy governs.
	Exclusions []inspect.Bypass `json:"exclusions,omitempty"`
	// WouldBreak are the destinations seen in passthrough that REGISTRY_ONLY would block; empty
	// for a workload already in REGISTRY_ONLY.
	WouldBreak []Finding `json:"wouldBreak"`
	// Ready is true when the workload is in REGISTRY_ONLY, or nothing would break.
	Ready bool `json:"ready"`
	// Ambient is true for a workload in ambient mode: ztunnel enforces no outbound traffic
	// policy, so REGISTRY_ONLY (the mesh's or a Sidecar's) does not apply to it, and WouldBreak
	// lists the hosts it calls that no ServiceEntry registers.
	Ambient bool `json:"ambient,omitempty"`
}

// PolicySource is one source's outbound mode.
type PolicySource struct {
	Mode string `json:"mode"`
	// From names where it was read: "istio-system/istio", or "Istio's default".
	From string `json:"from"`
}

// SidecarSource is the Sidecar that applies to a workload.
type SidecarSource struct {
	Name string `json:"name"` // namespace/name
	// Scope is workload (selector match), namespace or root.
	Scope string `json:"scope"`
	// Mode is its outboundTrafficPolicy.mode, "" when it leaves the mesh config in charge.
	Mode        string   `json:"mode,omitempty"`
	EgressHosts []string `json:"egressHosts,omitempty"`
	// Managed tells whether kubectl-egress wrote it (lockdown).
	Managed bool `json:"managed,omitempty"`
}

// ProxyMode is one pod's proxy.
type ProxyMode struct {
	Pod  string `json:"pod"`
	Mode string `json:"mode"`
}

// Finding is one destination REGISTRY_ONLY would block, with the evidence.
type Finding struct {
	Host     string   `json:"host"`
	Port     uint32   `json:"port"`
	Protocol string   `json:"protocol"`
	Pods     []string `json:"pods"`
	// Calls are the connections and requests seen.
	Calls    inspect.Counts `json:"calls"`
	LastSeen *time.Time     `json:"lastSeen,omitempty"`
	// Reason says why no ServiceEntry covers it: none, hidden by exportTo or a Sidecar, or
	// another port.
	Reason string `json:"reason"`
}

// RegisteredHost is a ServiceEntry host visible to a namespace.
type RegisteredHost struct {
	ServiceEntry string   `json:"serviceEntry"`
	Host         string   `json:"host"`
	Ports        []uint32 `json:"ports"`
}

// NetworkPolicyStatus is what the namespace's NetworkPolicies do to its egress.
type NetworkPolicyStatus struct {
	// Restricted tells whether some NetworkPolicy selects pods for Egress.
	Restricted bool     `json:"restricted"`
	Policies   []string `json:"policies,omitempty"`
	// Cuts are observed destinations the policies would not let out.
	Cuts []string `json:"cuts,omitempty"`
}
