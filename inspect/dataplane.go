package inspect

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// DataplaneModeLabel enrols a namespace or a pod in Istio's ambient mode (value "ambient"); a
// pod's own value wins over its namespace's, and "none" opts a pod out (istio-cni's rule).
const DataplaneModeLabel = "istio.io/dataplane-mode"

// The data planes a pod's report names (PodFacts.Dataplane).
const (
	// DataplaneSidecar: the pod's own Envoy (istio-proxy) handles its traffic.
	DataplaneSidecar = "sidecar"
	// DataplaneAmbient: no sidecar; the ztunnel of its node carries its traffic at L4.
	DataplaneAmbient = "ambient"
	// DataplaneAmbientWaypoint: ambient, and a waypoint handles some of its traffic: its own
	// (the workload uses a waypoint) or an external host's (an egress waypoint).
	DataplaneAmbientWaypoint = "ambient+waypoint"
)

// IsAmbientDataplane tells whether a report's data plane (PodFacts.Dataplane) is ambient mode's.
func IsAmbientDataplane(d string) bool { return d == DataplaneAmbient || d == DataplaneAmbientWaypoint }

// IsAmbient tells whether a pod without a sidecar is in ambient mode by its own label, as
// ResolveTargets leaves it once the namespace's label was looked at.
func IsAmbient(p *corev1.Pod) bool {
	return !HasSidecar(p) && p.Labels[DataplaneModeLabel] == "ambient"
}

// ambientNamespaces remembers which namespaces enrol their pods in ambient mode.
type ambientNamespaces struct {
	client kubernetes.Interface
	seen   map[string]bool
}

// markAmbient gives a pod with no sidecar and no dataplane-mode label of its own its
// namespace's mode, so the fetch side sees it on the pod. A namespace that cannot be read (get
// namespaces forbidden) enrols nothing: its pods stay skipped as having no sidecar.
func (a *ambientNamespaces) markAmbient(ctx context.Context, p *corev1.Pod) {
	if HasSidecar(p) {
		return
	}
	if _, own := p.Labels[DataplaneModeLabel]; own {
		return
	}
	ambient, ok := a.seen[p.Namespace]
	if !ok {
		ns, err := a.client.CoreV1().Namespaces().Get(ctx, p.Namespace, metav1.GetOptions{})
		ambient = err == nil && ns.Labels[DataplaneModeLabel] == "ambient"
		a.seen[p.Namespace] = ambient
	}
	if !ambient {
		return
	}
	labels := make(map[string]string, len(p.Labels)+1)
	for k, v := range p.Labels {
		labels[k] = v
	}
	labels[DataplaneModeLabel] = "ambient"
	p.Labels = labels
}
