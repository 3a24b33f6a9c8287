package inspect

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// gatewayNameLabel is the label istiod's deployment controller gives a Gateway's pods (a
// waypoint's included): the Gateway's name.
const gatewayNameLabel = "gateway.networking.k8s.io/gateway-name"

// waypointsOf are the waypoints (NAMESPACE/NAME) an ambient pod's external hosts went through.
func waypointsOf(r PodReport) []string {
	var out []string
	for _, d := range r.Destinations {
		if d.Disposition == DispositionEgressWaypoint && d.Gateway != "" && !slices.Contains(out, d.Gateway) {
			out = append(out, d.Gateway)
		}
	}
	return out
}

// AttachWaypoint folds what a waypoint's own report says of the hosts an ambient pod reaches
// through it into the pod's report: the waypoint's clusters for those hosts, which carry the
// fix (the ServiceEntry's ports, the DestinationRule's TLS); tls-origination for a host whose
// cluster on that port originates TLS; and the waypoint's request metrics of the pod's
// workload, the L7 view ztunnel does not have. It does no I/O.
func AttachWaypoint(rep *PodReport, name string, wp PodReport) {
	for i, d := range rep.Destinations {
		if d.Disposition != DispositionEgressWaypoint || d.Gateway != name {
			continue
		}
		for _, c := range wp.Clusters {
			if !sendsOut(c.Direction) || !c.External || c.Port != d.Port || !ClusterServes(d.Host, c) {
				continue
			}
			if !slices.ContainsFunc(rep.Clusters, func(o Cluster) bool { return o.Name == c.Name && o.Waypoint == name }) {
				c.Waypoint, c.Pods = name, []string{rep.Pod.Key()}
				rep.Clusters = append(rep.Clusters, c)
			}
			if c.OriginatesTLS() {
				rep.Destinations[i].Disposition = DispositionTLSOrigination
				rep.Destinations[i].Protocol = "HTTP"
			}
		}
	}
	workload := rep.Facts.Workload
	if _, after, ok := strings.Cut(workload, "/"); ok {
		workload = after
	}
	for _, s := range wp.Metrics {
		if s.Name == metricRequests && s.Labels["reporter"] == "waypoint" &&
			s.Labels["source_workload"] == workload && s.Labels["source_workload_namespace"] == rep.Pod.Namespace {
			rep.Metrics = append(rep.Metrics, s)
		}
	}
}

// attachWaypoints reads, once each, the waypoints the ambient pods' hosts went through (or
// takes their reports from this read when it holds them), and folds each into the pods'
// reports. A waypoint that cannot be read is named in the pod's facts; its hosts stay
// egress-waypoint.
func (r *Reader) attachWaypoints(ctx context.Context, f *Fetcher, reports []PodReport) {
	read := map[string]*PodReport{}
	failed := map[string]string{}
	for i := range reports {
		for _, name := range waypointsOf(reports[i]) {
			if read[name] == nil && failed[name] == "" {
				wp, err := r.readWaypoint(ctx, f, name, reports)
				if err != nil {
					failed[name] = err.Error()
				} else {
					read[name] = &wp
				}
			}
			if wp := read[name]; wp != nil {
				AttachWaypoint(&reports[i], name, *wp)
			} else {
				reports[i].Facts.WaypointsUnread = append(reports[i].Facts.WaypointsUnread, name+": "+failed[name])
			}
		}
	}
}

// readWaypoint reads a running pod of the waypoint NAMESPACE/NAME as the Envoy it is.
func (r *Reader) readWaypoint(ctx context.Context, f *Fetcher, name string, reports []PodReport) (PodReport, error) {
	ns, gw, _ := strings.Cut(name, "/")
	pods, err := r.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: gatewayNameLabel + "=" + gw})
	if err != nil {
		return PodReport{}, fmt.Errorf("failed to list its pods: %w", err)
	}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
			continue
		}
		for _, rep := range reports {
			if rep.Pod.Namespace == p.Namespace && rep.Pod.Name == p.Name && len(rep.Errors) == 0 {
				return rep, nil
			}
		}
		src, finish := f.Fetch(ctx, &p)
		rep, err := Inspect(src, r.now())
		_ = finish() // only the waypoint's clusters and metrics are folded: a log cut at its cap does not matter
		if err != nil {
			return PodReport{}, fmt.Errorf("pod %s/%s: %w", p.Namespace, p.Name, err)
		}
		if len(rep.Errors) > 0 {
			return PodReport{}, fmt.Errorf("%s", rep.Errors[0])
		}
		return rep, nil
	}
	return PodReport{}, fmt.Errorf("no running pod (label %s=%s in namespace %s)", gatewayNameLabel, gw, ns)
}
