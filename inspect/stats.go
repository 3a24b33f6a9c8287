package inspect

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// Stats are the egress-relevant counters of one proxy.
type Stats struct {
	// Istio holds the samples of Istio's standard metrics that can name an egress destination.
	Istio []MetricSample
	// Clusters holds Envoy's per-cluster upstream counters by cluster name (off by default in
	// Istio: they appear when proxyStatsMatcher includes the cluster).
	Clusters map[string]Counts
	// Samples counts every sample read, of any metric or stat.
	Samples int
	// SkippedLines counts exposition lines that did not parse.
	SkippedLines int
}

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

// ParseStats parses /stats/prometheus text (with expfmt) or raw /stats text
// (`cluster.NAME.upstream_cx_total: 3`, or since Istio 1.23 `cluster.NAME;.upstream_cx_total: 3`).
// Raw /stats flattens Istio's labels into dotted names, which makes dotted hosts ambiguous,
// so Istio metrics are only read from the Prometheus form.
func ParseStats(b []byte) (Stats, error) {
	st := Stats{Clusters: map[string]Counts{}}
	switch DetectKind(b) {
	case KindPrometheusStats:
		return st, st.parsePrometheus(b)
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

func (st *Stats) parsePrometheus(b []byte) error {
	fams, err := textToMetricFamilies(b)
	if err != nil {
		// One malformed line fails expfmt's whole parse; keep every line that parses alone.
		fams = map[string]*dto.MetricFamily{}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 0, 64*1024), maxLineBytes)
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 || line[0] == '#' {
				continue
			}
			one, err := textToMetricFamilies(append(line, '\n'))
			if err != nil {
				st.SkippedLines++
				continue
			}
			for name, f := range one {
				if have, ok := fams[name]; ok {
					have.Metric = append(have.Metric, f.Metric...)
				} else {
					fams[name] = f
				}
			}
		}
	}
	for _, fam := range fams {
		st.Samples += len(fam.GetMetric())
	}
	for name, fam := range fams {
		setCounter, isCluster := clusterCounters[strings.TrimPrefix(name, "envoy_cluster_")]
		isCluster = isCluster && strings.HasPrefix(name, "envoy_cluster_")
		if !istioMetrics[name] && !isCluster {
			continue
		}
		for _, m := range fam.GetMetric() {
			labels := make(map[string]string, len(m.GetLabel()))
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			v := sampleValue(m)
			if isCluster {
				cn := labels["cluster_name"]
				c := st.Clusters[cn]
				setCounter(&c, int64(v))
				st.Clusters[cn] = c
				continue
			}
			st.Istio = append(st.Istio, MetricSample{Name: name, Labels: labels, Value: v})
		}
	}
	return nil
}

func sampleValue(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
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
