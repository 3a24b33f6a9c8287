package ztunnel

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"istio.io/istio/pkg/workloadapi"
)

// trafficLabels are ztunnel's CommonTrafficLabels (src/proxy/metrics.rs), in the order its
// Prometheus encoder writes them; unset values are "unknown".
type trafficLabels struct {
	reporter                                                                                             string
	sourceWorkload, sourceCanonicalService, sourceCanonicalRevision, sourceWorkloadNamespace             string
	sourcePrincipal, sourceApp, sourceVersion, sourceCluster                                             string
	destinationService, destinationServiceNamespace, destinationServiceName                              string
	destinationWorkload, destinationCanonicalService, destinationCanonicalRevision, destinationNamespace string
	destinationPrincipal, destinationApp, destinationVersion, destinationCluster                         string
	requestProtocol, responseFlags, connectionSecurityPolicy                                             string
}

func (l trafficLabels) pairs() [][2]string {
	u := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	return [][2]string{
		{"reporter", l.reporter},
		{"source_workload", u(l.sourceWorkload)}, {"source_canonical_service", u(l.sourceCanonicalService)},
		{"source_canonical_revision", u(l.sourceCanonicalRevision)}, {"source_workload_namespace", u(l.sourceWorkloadNamespace)},
		{"source_principal", u(l.sourcePrincipal)}, {"source_app", u(l.sourceApp)}, {"source_version", u(l.sourceVersion)},
		{"source_cluster", u(l.sourceCluster)},
		{"destination_service", u(l.destinationService)}, {"destination_service_namespace", u(l.destinationServiceNamespace)},
		{"destination_service_name", u(l.destinationServiceName)},
		{"destination_workload", u(l.destinationWorkload)}, {"destination_canonical_service", u(l.destinationCanonicalService)},
		{"destination_canonical_revision", u(l.destinationCanonicalRevision)}, {"destination_workload_namespace", u(l.destinationNamespace)},
		{"destination_principal", u(l.destinationPrincipal)}, {"destination_app", u(l.destinationApp)},
		{"destination_version", u(l.destinationVersion)}, {"destination_cluster", u(l.destinationCluster)},
		{"request_protocol", l.requestProtocol}, {"response_flags", l.responseFlags},
		{"connection_security_policy", l.connectionSecurityPolicy},
		// with_source and with_destination set the locality labels.
		{"source_region", "unknown"}, {"source_zone", "unknown"}, {"destination_region", "unknown"}, {"destination_zone", "unknown"},
	}
}

func (l trafficLabels) key() string {
	var b strings.Builder
	for i, p := range l.pairs() {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", p[0], p[1])
	}
	return b.String()
}

// labelsOf are the labels of an outbound connection (ConnectionOpen from build_request): the
// source workload, the actual destination workload and the intended service; the identities
// only when ztunnel does mTLS.
func labelsOf(src *workloadapi.Workload, r request) trafficLabels {
	l := trafficLabels{
		reporter:                 "source",
		sourceWorkload:           src.GetWorkloadName(),
		sourceCanonicalService:   src.GetCanonicalName(),
		sourceCanonicalRevision:  src.GetCanonicalRevision(),
		sourceWorkloadNamespace:  src.GetNamespace(),
		sourceApp:                src.GetCanonicalName(),
		sourceVersion:            src.GetCanonicalRevision(),
		sourceCluster:            clusterOf(src),
		requestProtocol:          "tcp",
		responseFlags:            "-",
		connectionSecurityPolicy: "unknown",
	}
	if r.protocol == protocolHBONE {
		l.sourcePrincipal = identity(src)
		l.connectionSecurityPolicy = "mutual_tls"
	}
	if w := r.workload; w != nil {
		l.destinationWorkload, l.destinationCanonicalService = w.GetWorkloadName(), w.GetCanonicalName()
		l.destinationCanonicalRevision, l.destinationNamespace = w.GetCanonicalRevision(), w.GetNamespace()
		l.destinationPrincipal, l.destinationApp, l.destinationVersion = identity(w), w.GetCanonicalName(), w.GetCanonicalRevision()
		l.destinationCluster = clusterOf(w)
	}
	if s := r.service; s != nil {
		l.destinationService, l.destinationServiceNamespace, l.destinationServiceName = s.GetHostname(), s.GetNamespace(), s.GetName()
	}
	if r.err != "" {
		l.responseFlags = "CONNECT"
	}
	return l
}

func identity(w *workloadapi.Workload) string {
	td, sa := w.GetTrustDomain(), w.GetServiceAccount()
	if td == "" {
		td = "cluster.local"
	}
	if sa == "" {
		sa = "default"
	}
	return "spiffe://" + td + "/ns/" + w.GetNamespace() + "/sa/" + sa
}

func clusterOf(w *workloadapi.Workload) string {
	if w.GetClusterId() == "" {
		return "Kubernetes"
	}
	return w.GetClusterId()
}

// metrics are ztunnel's istio_tcp_* families, by label set.
type metrics struct {
	mu       sync.Mutex
	counters map[string]map[string]*counter // family → label key → value
}

type counter struct {
	labels trafficLabels
	value  uint64
}

// The families ztunnel registers under the istio prefix, with their help text.
var families = []struct{ name, help string }{
	{"istio_tcp_connections_opened", "The total number of TCP connections opened"},
	{"istio_tcp_connections_closed", "The total number of TCP connections closed"},
	{"istio_tcp_received_bytes", "The size of total bytes received during request in case of a TCP connection"},
	{"istio_tcp_sent_bytes", "The size of total bytes sent during response in case of a TCP connection"},
	{"istio_tcp_connections_failed", "The total number of TCP connections that failed to establish (unstable)"},
}

func newMetrics() *metrics { return &metrics{counters: map[string]map[string]*counter{}} }

func (m *metrics) add(family string, l trafficLabels, n uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.counters[family]
	if f == nil {
		f = map[string]*counter{}
		m.counters[family] = f
	}
	k := l.key()
	if f[k] == nil {
		f[k] = &counter{labels: l}
	}
	f[k].value += n
}

// render writes the families in prometheus_client's text encoding (OpenMetrics): HELP with a
// trailing period, TYPE without the _total suffix the samples carry, # EOF at the end.
func (m *metrics) render() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	for _, fam := range families {
		fmt.Fprintf(&b, "# HELP %s %s.\n# TYPE %s counter\n", fam.name, fam.help, fam.name)
		keys := make([]string, 0, len(m.counters[fam.name]))
		for k := range m.counters[fam.name] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			c := m.counters[fam.name][k]
			fmt.Fprintf(&b, "%s_total{%s} %d\n", fam.name, k, c.value)
		}
	}
	b.WriteString("# EOF\n")
	return []byte(b.String())
}

// accessLine renders a "connection complete" event the way ztunnel's IstioFormat writes it
// (src/telemetry.rs): time, level, target, message, then key=value fields, strings quoted with
// Rust's Debug, addresses and numbers bare, absent values left out.
func accessLine(now time.Time, srcAddr string, src *workloadapi.Workload, r request, l trafficLabels, sent, recv int, dur time.Duration) string {
	var f []string
	str := func(k, v string) {
		if v != "" {
			f = append(f, k+"="+strconv.Quote(v))
		}
	}
	bare := func(k, v string) {
		if v != "" {
			f = append(f, k+"="+v)
		}
	}
	mtls := r.protocol == protocolHBONE
	bare("src.addr", srcAddr)
	str("src.workload", src.GetName())
	str("src.namespace", src.GetNamespace())
	if mtls {
		str("src.identity", identity(src))
	}
	str("src.cluster", clusterOf(src))
	bare("dst.addr", r.actualDst)
	bare("dst.hbone_addr", r.hboneTarget)
	str("dst.service", l.destinationService)
	if w := r.workload; w != nil {
		str("dst.workload", w.GetName())
		str("dst.namespace", w.GetNamespace())
		if mtls {
			str("dst.identity", identity(w))
		}
		str("dst.cluster", clusterOf(w))
	}
	str("direction", "outbound")
	bare("bytes_sent", strconv.Itoa(sent))
	bare("bytes_recv", strconv.Itoa(recv))
	str("duration", strconv.FormatInt(dur.Milliseconds(), 10)+"ms")
	level := "info"
	if r.err != "" {
		level = "error"
		str("error", r.err)
	}
	return now.UTC().Format("2006-01-02T15:04:05.000000Z") + "\t" + level + "\taccess\tconnection complete\t" + strings.Join(f, " ")
}
