package inspect

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Prometheus mode answers the report mesh-wide from Istio's standard metrics as a Prometheus
// already scraped them, without forwarding to any pod. It sees what the sidecars' metrics say
// and nothing more: see PrometheusLimits.

// PrometheusQuery is what ReadPrometheus asks Prometheus.
type PrometheusQuery struct {
	// Namespace is the source namespace; "" asks about every namespace.
	Namespace string
	// Since is the window: traffic counted by increase() over it, destinations seen in it.
	Since time.Duration
}

// PrometheusLimits are what Prometheus cannot tell; the report carries them so a reader of
// -o json is told too.
var PrometheusLimits = []string{
	"TLS and TCP passthrough traffic has no host in Istio's metrics: it is reported as host \"unknown\" (pass --then-forward to read the pods that made it)",
	"metrics carry no destination port: ports are 0",
	"a registered host's TLS origination or egress-gateway routing is in the proxies' configuration, not in metrics: such hosts are reported as registered",
	"bypassed traffic (capture exclusions) never reaches the sidecar, so no metric counts it",
}

// promGroupBy are the labels the report is made of: the source workload, and what the
// classifier reads of a sample. `pod` is there when the scrape config keeps the pod name (as
// Istio's sample config does); --then-forward uses it to find the pods that made a gap.
const promGroupBy = "source_workload, source_workload_namespace, destination_service, destination_service_name, " +
	"request_protocol, response_code, response_flags"

// promExternal selects the samples that can be egress: passthrough and blocked traffic, and
// services whose host is not mesh-internal (isMeshInternalHost, in PromQL).
const promExternal = `reporter="source", destination_service!~".*\\.svc|.*\\.svc\\..*|.*\\.cluster\\.local\\.?"`

// promMetrics are the Istio metrics Prometheus mode reads (connections closed would count the
// same connections twice).
var promMetrics = []string{metricRequests, metricTCPOpened, metricTCPSent, metricTCPReceived}

// PrometheusReading is a report answered from Prometheus: one PodReport per source workload
// (its Pod is the workload: namespace and Istio's source_workload name), and, per workload,
// the pods whose passthrough or blocked traffic Prometheus could not name.
type PrometheusReading struct {
	Workloads []PodReport
	// Gaps maps a workload ("namespace/name") to the pods (names in its namespace) whose
	// metrics carry an unnamed passthrough or blocked destination; a workload with gaps but no
	// pod label in its series maps to nil.
	Gaps     map[string][]string
	Warnings []string
}

// ReadPrometheus asks Prometheus for every external destination of every source workload in
// scope over the window, and classifies them as the forwarding reader classifies the same
// metrics read from a proxy.
func ReadPrometheus(ctx context.Context, api PrometheusAPI, q PrometheusQuery, now time.Time) (PrometheusReading, error) {
	sel := promExternal
	if q.Namespace != "" {
		sel += fmt.Sprintf(`, source_workload_namespace=%q`, q.Namespace)
	}
	window := model.Duration(q.Since).String()
	byWorkload := map[string][]MetricSample{}
	var out PrometheusReading
	for _, m := range promMetrics {
		// A series that appeared in the window with one sample has no increase(): the `or`
		// keeps it, counted 0, so a destination seen once is not lost.
		expr := fmt.Sprintf(`sum by (%[1]s) (increase(%[2]s{%[3]s}[%[4]s])) or sum by (%[1]s) (0 * last_over_time(%[2]s{%[3]s}[%[4]s]))`,
			promGroupBy, m, sel, window)
		vec, warn, err := queryVector(ctx, api, expr, now)
		if err != nil {
			return out, err
		}
		out.Warnings = append(out.Warnings, warn...)
		for _, s := range vec {
			labels := make(map[string]string, len(s.Metric))
			for k, v := range s.Metric {
				labels[string(k)] = string(v)
			}
			key := labels["source_workload_namespace"] + "/" + labels["source_workload"]
			byWorkload[key] = append(byWorkload[key], MetricSample{Name: m, Labels: labels, Value: math.Round(float64(s.Value))})
		}
	}
	gaps, warn, err := promGaps(ctx, api, sel, window, now)
	if err != nil {
		return out, err
	}
	out.Warnings = append(out.Warnings, warn...)
	out.Gaps = gaps
	for _, key := range slices.Sorted(maps.Keys(byWorkload)) {
		ns, name, _ := strings.Cut(key, "/")
		s := Snapshot{Pod: Pod{Namespace: ns, Name: name, Workload: name}, stats: &Stats{Istio: byWorkload[key]}, metricsOnly: true}
		rep := Classify(s, now)
		rep.Facts.AccessLogging, rep.Facts.AccessLoggingReason, rep.Facts.EnableAccessLogging = AccessLoggingUnknown, "not read from Prometheus", ""
		rep.Facts.OutboundModeSource = "not read from Prometheus"
		out.Workloads = append(out.Workloads, rep)
	}
	return out, nil
}

// promGaps finds, per workload, the pods whose passthrough or blocked traffic has no host.
func promGaps(ctx context.Context, api PrometheusAPI, sel, window string, now time.Time) (map[string][]string, []string, error) {
	gaps := map[string][]string{}
	var warnings []string
	sel += `, destination_service_name=~"PassthroughCluster|BlackHoleCluster", destination_service=~"unknown|"`
	for _, m := range promMetrics {
		expr := fmt.Sprintf(`group by (source_workload, source_workload_namespace, pod) (last_over_time(%s{%s}[%s]))`, m, sel, window)
		vec, warn, err := queryVector(ctx, api, expr, now)
		if err != nil {
			return nil, nil, err
		}
		warnings = append(warnings, warn...)
		for _, s := range vec {
			key := string(s.Metric["source_workload_namespace"]) + "/" + string(s.Metric["source_workload"])
			pods := gaps[key]
			if p := string(s.Metric["pod"]); p != "" && !slices.Contains(pods, p) {
				pods = append(pods, p)
				sort.Strings(pods)
			}
			gaps[key] = pods
		}
	}
	return gaps, warnings, nil
}

func queryVector(ctx context.Context, api PrometheusAPI, expr string, now time.Time) (model.Vector, []string, error) {
	vec, warn, err := api.Query(ctx, expr, now)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to query Prometheus: %w (query: %s)", err, expr)
	}
	return vec, warn, nil
}

// NeedsForward reports whether a destination from Prometheus lacks the host a pod's access log
// could give: passthrough or blocked traffic named "unknown" or by an IP only.
func NeedsForward(d Destination) bool {
	return (d.Disposition == DispositionPassthrough || d.Disposition == DispositionBlocked) &&
		(d.Host == hostUnknown || isIP(d.Host))
}

// FillGaps replaces, in each workload that was forwarded to, the destinations Prometheus could
// not name by what its pods' own reading says, and joins all of them into one report.
func FillGaps(workloads []PodReport, forwarded []PodReport) Report {
	read := map[string]bool{}
	for _, p := range forwarded {
		// Istio's source_workload is the controller's name without its kind (deploy/shop → shop).
		_, name, _ := strings.Cut(p.Pod.Workload, "/")
		read[p.Pod.Namespace+"/"+name] = true
	}
	all := make([]PodReport, 0, len(workloads)+len(forwarded))
	for _, w := range workloads {
		if read[w.Pod.Key()] {
			w.Destinations = slices.DeleteFunc(slices.Clone(w.Destinations), NeedsForward)
		}
		all = append(all, w)
	}
	return Aggregate(append(all, forwarded...))
}

// FillFromPods reads, through port-forwards, the pods Prometheus named for each gap (or, when
// its series carry no pod label, one running pod of the workload), and joins their reading with
// the workloads'. It returns the joined report and the pods it read.
func (r *Reader) FillFromPods(ctx context.Context, p PrometheusReading) (Reading, error) {
	var pods []corev1.Pod
	var skipped []Skipped
	for _, key := range slices.Sorted(maps.Keys(p.Gaps)) {
		ns, workload, _ := strings.Cut(key, "/")
		names := p.Gaps[key]
		if len(names) == 0 {
			t, err := r.Targets(ctx, Scope{Namespace: ns})
			if err != nil {
				return Reading{}, err
			}
			for _, pod := range t.Pods {
				if _, name, _ := strings.Cut(workloadOf(&pod), "/"); name == workload {
					pods = append(pods, pod)
					break
				}
			}
			continue
		}
		for _, name := range names {
			pod, err := r.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				skipped = append(skipped, Skipped{Pod: Pod{Namespace: ns, Name: name, Workload: workload}, Reason: fmt.Sprintf("named by Prometheus but not readable: %v", err)})
				continue
			}
			if reason := skipReason(pod); reason != "" {
				skipped = append(skipped, Skipped{Pod: PodOf(pod), Reason: reason})
				continue
			}
			pods = append(pods, *pod)
		}
	}
	read := r.ReadTargets(ctx, Targets{Pods: pods})
	return Reading{Pods: read.Pods, Skipped: append(read.Skipped, skipped...), Report: FillGaps(p.Workloads, read.Pods)}, nil
}
