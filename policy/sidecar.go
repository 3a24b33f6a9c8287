package policy

import (
	"slices"
	"strings"

	networking "istio.io/api/networking/v1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Sidecar scopes: where the Sidecar that applies to a pod was found.
const (
	ScopeWorkload  = "workload"  // a workloadSelector in the pod's namespace matches it
	ScopeNamespace = "namespace" // the namespace's Sidecar without a selector
	ScopeRoot      = "root"      // the root namespace's Sidecar without a selector
)

// SidecarFor is the Sidecar that applies to a pod of namespace ns with labels podLabels, and
// its scope, following istiod (pilot/pkg/model push_context.go initSidecarScopes and
// doGetSidecarScope): the pod's namespace's Sidecars with a workloadSelector, oldest first (ties
// by name), the first whose selector's labels the pod has; else that namespace's Sidecars
// without a selector, oldest first; else the root namespace's oldest Sidecar without a
// selector. nil when none applies: the mesh config decides alone.
func SidecarFor(sidecars []*networkingv1.Sidecar, ns string, podLabels map[string]string, rootNamespace string) (*networkingv1.Sidecar, string) {
	sorted := slices.Clone(sidecars)
	slices.SortStableFunc(sorted, func(a, b *networkingv1.Sidecar) int {
		if c := a.CreationTimestamp.Time.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Namespace, b.Namespace)
	})
	for _, sc := range sorted {
		if sc.Namespace != ns || sc.Spec.GetWorkloadSelector() == nil {
			continue
		}
		if labels.SelectorFromSet(sc.Spec.GetWorkloadSelector().GetLabels()).Matches(labels.Set(podLabels)) {
			return sc, ScopeWorkload
		}
	}
	for _, sc := range sorted {
		if sc.Namespace == ns && sc.Spec.GetWorkloadSelector() == nil {
			return sc, ScopeNamespace
		}
	}
	for _, sc := range sorted {
		if sc.Namespace == rootNamespace && sc.Spec.GetWorkloadSelector() == nil {
			return sc, ScopeRoot
		}
	}
	return nil, ""
}

// sidecarMode is the outbound mode a Sidecar sets, "" when it leaves it to the mesh config.
func sidecarMode(sc *networkingv1.Sidecar) string {
	if sc == nil || sc.Spec.GetOutboundTrafficPolicy() == nil {
		return ""
	}
	return sc.Spec.GetOutboundTrafficPolicy().GetMode().String()
}

// egressHosts are a Sidecar's egress listeners' hosts; a Sidecar without egress imports "*/*".
func egressHosts(sc *networkingv1.Sidecar) []string {
	if sc == nil {
		return nil
	}
	var out []string
	for _, e := range sc.Spec.GetEgress() {
		out = append(out, e.GetHosts()...)
	}
	return out
}

// imports tells whether a Sidecar applied in namespace ns lets its proxies see a service of
// namespace svcNS named host on port, as istiod's egress listeners select services
// (pilot/pkg/model sidecar.go selectServices): each host is NAMESPACE/DNSNAME, where NAMESPACE
// is "*" (any), "." (the Sidecar's own), "~" (none) or a name, and DNSNAME is "*", a "*.suffix"
// wildcard or a name; a listener with a port imports only that port. No Sidecar, or one without
// egress, imports everything.
func imports(sc *networkingv1.Sidecar, ns, svcNS, host string, port uint32) bool {
	if sc == nil || len(sc.Spec.GetEgress()) == 0 {
		return true
	}
	for _, l := range sc.Spec.GetEgress() {
		if p := l.GetPort().GetNumber(); p != 0 && port != 0 && p != port {
			continue
		}
		if listenerImports(l, ns, svcNS, host) {
			return true
		}
	}
	return false
}

func listenerImports(l *networking.IstioEgressListener, ns, svcNS, host string) bool {
	for _, h := range l.GetHosts() {
		hostNS, name, ok := strings.Cut(h, "/")
		if !ok {
			continue
		}
		switch hostNS {
		case "~":
			continue
		case ".":
			hostNS = ns
		}
		if hostNS != "*" && hostNS != svcNS {
			continue
		}
		if hostMatches(name, host) {
			return true
		}
	}
	return false
}

// hostMatches tells whether a host pattern ("*", "*.example.com", "api.example.com") covers a
// name; a wildcard name is covered by a pattern as wide or wider.
func hostMatches(pattern, name string) bool {
	pattern, name = strings.ToLower(pattern), strings.ToLower(name)
	switch {
	case pattern == "*" || pattern == name:
		return true
	case strings.HasPrefix(pattern, "*."):
		suffix := pattern[1:] // ".example.com"
		if strings.HasPrefix(name, "*.") {
			return strings.HasSuffix(name[1:], suffix)
		}
		return strings.HasSuffix(name, suffix)
	}
	return false
}
