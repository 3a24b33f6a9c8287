package inspect

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Stats are the egress-relevant counters of one proxy.
type Stats struct {
	// Istio holds the samples of Istio's standard metrics that can name an egress destination.
	Istio []MetricSample
	// Clusters holds Envoy's per-cluster upstream counters by cluster name (off by default in
	// Istio: they appear when proxyStatsMatcher includes the cluster).
	Clusters map[string]Counts
	// Samples counts every sample read, of any metric or stat; as expfmt counts them, the
	// _bucket or quantile, _sum and _count lines of one histogram or summary are one.
	Samples int
	// SkippedLines counts exposition lines that did not parse.
	SkippedLines int
	// ActiveClusters is Envoy's cluster_manager.active_clusters gauge: how many clusters the
	// proxy holds, which sizes its configuration before any of it is read; 0 when not read.
	ActiveClusters int
}

// Envoy's count of the clusters it holds, in both namings.
const (
	statActiveClusters   = "cluster_manager.active_clusters"
	metricActiveClusters = "envoy_cluster_manager_active_clusters"
)

// MetricSample is one Prometheus sample.
type MetricSample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Istio's standard metrics that reveal egress (istio tests/integration/telemetry/policy).
const (
	metricRequests    = "istio_requests_total"
	metricTCPOpened   = "istio_tcp_connections_opened_total"
	metricTCPClosed   = "istio_tcp_connections_closed_total"
	metricTCPSent     = "istio_tcp_sent_bytes_total"
	metricTCPReceived = "istio_tcp_received_bytes_total"
)

var istioMetrics = map[string]bool{
	metricRequests: true, metricTCPOpened: true, metricTCPClosed: true, metricTCPSent: true, metricTCPReceived: true,
}

// Envoy's upstream counters, by their suffix in both raw and Prometheus naming.
var clusterCounters = map[string]func(*Counts, int64){
	"upstream_cx_total":          func(c *Counts, v int64) { c.Connections = v },
	"upstream_rq_total":          func(c *Counts, v int64) { c.Requests = v },
	"upstream_cx_tx_bytes_total": func(c *Counts, v int64) { c.BytesSent = v },
	"upstream_cx_rx_bytes_total": func(c *Counts, v int64) { c.BytesReceived = v },
}

// ParseStats parses /stats/prometheus text (parsePromText) or raw /stats text
// (`cluster.NAME.upstream_cx_total: 3`, or since Istio 1.23 `cluster.NAME;.upstream_cx_total: 3`).
// Raw /stats flattens Istio's labels into dotted names, which makes dotted hosts ambiguous,
// so Istio metrics are only read from the Prometheus form.
func ParseStats(b []byte) (Stats, error) {
	st := Stats{Clusters: map[string]Counts{}}
	switch DetectKind(b) {
	case KindPrometheusStats:
		st.parsePromText(b)
		return st, nil
	case KindRawStats:
		st.parseRaw(b)
		return st, nil
	case KindUnknown:
		if len(bytes.TrimSpace(b)) == 0 {
			return st, nil
		}
	}
	return st, fmt.Errorf("stats are neither Prometheus text nor raw /stats text")
}

func (st *Stats) parseRaw(b []byte) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), maxLineBytes)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		name, value, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		st.Samples++
		if name == statActiveClusters {
			if v, err := strconv.Atoi(strings.TrimSpace(value)); err == nil {
				st.ActiveClusters = v
			}
			continue
		}
		if !strings.HasPrefix(name, "cluster.") {
			continue
		}
		rest := strings.TrimPrefix(name, "cluster.")
		var cluster, stat string
		if c, s, ok := strings.Cut(rest, ";."); ok {
			cluster, stat = c, s
		} else if i := strings.LastIndexByte(rest, '.'); i > 0 {
			cluster, stat = rest[:i], rest[i+1:]
		}
		set, ok := clusterCounters[stat]
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			st.SkippedLines++
			continue
		}
		c := st.Clusters[cluster]
		set(&c, v)
		st.Clusters[cluster] = c
	}
}
