// Package policy answers, for each workload, which outbound traffic policy applies and what a
// switch to REGISTRY_ONLY would break. It reads the policy from three places side by side: the
// mesh config of the pod's revision (the istio or istio-<revision> ConfigMap, Istio's defaults
// where unset), the Sidecar that applies to the pod (Istio's precedence: a workloadSelector match
// in its namespace, oldest first, else the namespace's selector-less Sidecar, else the root
// namespace's), and the proxy's own listeners (inspect's PodFacts.OutboundMode). Where they
// disagree, a note says why.
//
// Readiness is a passthrough destination that no ServiceEntry visible to the workload covers:
// visible means exported to its namespace (the entry's exportTo, else the mesh's
// defaultServiceExportTo) and imported by its Sidecar's egress hosts, on the port the traffic
// used. Registered hosts that nobody called are listed as candidates to drop.
//
//	in, err := policy.Gather(ctx, getter, reading, opts) // I/O: ConfigMaps, Sidecars, ServiceEntries, namespaces, NetworkPolicies
//	report := policy.Evaluate(in, now)                  // pure
//
// policy imports inspect (the proxies' reports); it never imports remedy, fixflow or plugin.
package policy
