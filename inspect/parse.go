package inspect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Snapshot is one proxy's sources as parsed: what its configuration, server_info, stats,
// /clusters and access log each say, before anything is classified. Parse builds it from
// Sources; Classify turns it into a PodReport. It holds no raw bytes and no log lines: the
// access log is kept as flows, lines that classify alike added up, so a 256 MiB log costs as
// much memory as the distinct destinations in it.
type Snapshot struct {
	Pod Pod
	// Errors are the fetch errors carried from Sources, then each source that failed to parse.
	Errors []string
	// failures are the sources that failed to parse, by what they are.
	failures []parseFailure

	config     *configView
	node       nodeVersions
	serverInfo ServerInfo
	// stats is nil when no stats were read; statsFailed when they did not parse whole.
	stats       *Stats
	statsFailed bool
	// hosts are the /clusters hosts; hostsRead tells whether /clusters was read at all.
	hosts     []HostStatus
	hostsRead bool
	// flows are the access-log entries grouped by what classification reads of them, in the
	// order each group first appeared.
	flows     []*logFlow
	logCounts AccessLogCounts
	logRead   bool
	// metricsOnly marks a snapshot made of metrics alone (Prometheus mode): a named external
	// host is then registered without a cluster to confirm it, and a sample that did not grow
	// in the window still shows its destination.
	metricsOnly bool
	// ambient is set for a pod in ambient mode: what its node's ztunnel said, instead of the
	// Envoy outputs above.
	ambient *ambientView
}

// parseFailure is one source that did not parse: what it is ("config dump") and why.
type parseFailure struct {
	what string
	err  error
}

// nodeVersions are the versions and the proxy type the bootstrap node of a config dump carries.
type nodeVersions struct{ istio, envoy, proxyType string }

// logFlow is the access-log entries that classify alike: same upstream cluster, route, named
// host (SNI or :authority), original destination, and HTTP or not. It adds up what the report
// counts of them.
type logFlow struct {
	cluster, route, sni, authority, downstreamLocal string
	http                                            bool

	entries                  int64
	codes                    map[int]int64
	requests                 map[string]int64 // "METHOD PATH?QUERY", at most maxRequestsPerFlow
	flags                    map[string]int64
	bytesReceived, bytesSent int64
	lastSeen                 time.Time
}

// maxRequestsPerFlow bounds the distinct request paths kept per flow: enough to tell what an
// app calls, never a log's worth.
const maxRequestsPerFlow = 8

type flowKey struct {
	cluster, route, sni, authority, downstreamLocal string
	http                                            bool
}

// Parse reads every source of one proxy. The sources that fail to parse, or that have content
// but give nothing to report (a dump of secrets only, stats without a sample), are named in one
// line of the snapshot's Errors and the rest is still read; the error is non-nil, and that line,
// when sources were given and none of them could be read, or none gave anything.
func Parse(src Sources) (Snapshot, error) {
	pod := src.Pod.Key()
	s := Snapshot{Pod: src.Pod}
	for _, err := range src.Errors {
		s.Errors = append(s.Errors, err.Error())
	}
	if src.Ztunnel != nil {
		return parseAmbient(src, s)
	}
	given, failed := 0, 0
	fail := func(what string, b []byte, err error) {
		failed++
		if p := jsonProblem(b); p != nil {
			err = p
		} else if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '<' {
			err = errors.New("an HTML or XML page, not Envoy's output")
		}
		s.failures = append(s.failures, parseFailure{what: what, err: err})
	}
	named := func(kind, origin string) string {
		if origin == "" {
			return kind
		}
		return kind + " " + origin
	}

	// The outputs are parsed at once (a big mesh's dump parts take seconds each); what they
	// say is taken in a fixed order below, so the report and its errors do not depend on it.
	parts := append([]Part{{Name: src.Origins.ConfigDump, Data: src.ConfigDump}}, src.MoreConfig...)
	type parsedPart struct {
		pc  *ProxyConfig
		err error
	}
	parsed := make([]parsedPart, len(parts))
	var hosts []HostStatus
	var hostsErr error
	var stats Stats
	var statsErr error
	var wg sync.WaitGroup
	for i, part := range parts {
		if len(part.Data) > 0 {
			wg.Go(func() { parsed[i].pc, parsed[i].err = ParseConfigDump(part.Data) })
		}
	}
	if len(src.Clusters) > 0 {
		wg.Go(func() { hosts, hostsErr = ParseClusterStatus(src.Clusters) })
	}
	if len(src.Stats) > 0 {
		wg.Go(func() { stats, statsErr = ParseStats(src.Stats) })
	}
	wg.Wait()

	pc := &ProxyConfig{}
	for i, part := range parts {
		if len(part.Data) == 0 {
			continue
		}
		given++
		what := named("config dump", part.Name)
		p, err := parsed[i].pc, parsed[i].err
		if err != nil {
			fail(what, part.Data, err)
			continue
		}
		pc.Merge(p)
		if p.Empty() && len(p.Sections) > 0 {
			fail(what, nil, fmt.Errorf("it holds %s: no cluster, listener, route or endpoint to read (save the whole /config_dump?include_eds)", p.Describe()))
		}
	}
	s.config = newConfigView(pc)
	s.config.trafficOnly = src.ConfigScope == ConfigTraffic
	s.node = nodeVersions{istio: nodeIstioVersion(pc.Node), envoy: nodeEnvoyVersion(pc.Node), proxyType: nodeProxyType(pc.Node)}

	if len(src.ServerInfo) > 0 {
		given++
		var err error
		if s.serverInfo, err = ParseServerInfo(src.ServerInfo); err != nil {
			fail(named("server_info", src.Origins.ServerInfo), src.ServerInfo, err)
		}
	}

	if src.AccessLog != nil {
		given++
		s.logRead = true
		formats, err := s.logFormats(src.LogFormat)
		if err != nil {
			fail("--log-format", nil, err)
		}
		flows := map[flowKey]*logFlow{}
		counts, err := ScanAccessLog(src.AccessLog, formats, func(e *AccessLogEntry) { s.addEntry(flows, e) })
		s.logCounts = counts
		if err != nil {
			fail(named("access log", src.Origins.AccessLog), nil, err)
		}
	}

	if len(src.Stats) > 0 {
		given++
		what := named("stats", src.Origins.Stats)
		st, err := stats, statsErr
		switch {
		case err != nil:
			fail(what, src.Stats, err)
			s.statsFailed = true
		case st.Samples == 0:
			fail(what, src.Stats, fmt.Errorf("no sample among its %d lines", bytes.Count(src.Stats, []byte("\n"))))
		}
		s.stats = &st
	}

	if len(src.Clusters) > 0 {
		given++
		what := named("/clusters", src.Origins.Clusters)
		var err error
		switch s.hosts, err = hosts, hostsErr; {
		case err != nil:
			fail(what, src.Clusters, err)
		case len(s.hosts) == 0:
			fail(what, src.Clusters, fmt.Errorf("it lists no cluster host"))
		}
		s.hostsRead = s.hosts != nil
	}

	switch {
	case given > 0 && failed == given:
		return s, fmt.Errorf("no admin output of pod %s could be read (%s): is this Envoy's admin API? if proxyAdminPort was changed, pass --admin-port",
			pod, s.failureSummary())
	case failed > 0:
		s.Errors = append(s.Errors, fmt.Sprintf("failed to parse part of the admin output of pod %s (%s): run again; if it persists, save the outputs and try --file", pod, s.failureSummary()))
	}
	switch {
	case given > 0 && s.empty():
		return s, fmt.Errorf("the admin outputs of pod %s give nothing to report: no cluster, listener, endpoint, access-log entry or stats sample", pod)
	}
	return s, nil
}

// empty reports whether nothing was read that a report is made of. Route configurations alone
// are not: without the clusters they name, no destination can be told.
func (s *Snapshot) empty() bool {
	v := s.config
	return len(v.clusters) == 0 && !v.haveListeners && len(v.endpoints) == 0 &&
		s.logCounts.Entries == 0 && len(s.hosts) == 0 && (s.stats == nil || s.stats.Samples == 0)
}

// logFormats are the formats the proxy's log is read by: the user's, then the proxy's own
// (from its listeners), then Istio's defaults of every era.
func (s *Snapshot) logFormats(user string) ([]*LogFormat, error) {
	var out []*LogFormat
	var err error
	if user != "" {
		var lf *LogFormat
		if lf, err = ParseLogFormat("--log-format", user); err == nil {
			out = append(out, lf)
		}
	}
	out = append(out, s.config.logFormats...)
	return append(out, DefaultLogFormats...), err
}

// failureSummary says why each source failed to parse: "config dump: …; stats: …".
func (s Snapshot) failureSummary() string {
	parts := make([]string, len(s.failures))
	for i, f := range s.failures {
		parts[i] = fmt.Sprintf("%s: %v", f.what, f.err)
	}
	return strings.Join(parts, "; ")
}

// jsonProblem says where input that starts as JSON stops being JSON: cut short (a proxy
// restarting mid-read, a capture cut by a size limit) or broken at a byte. It is nil for valid
// JSON and for input that is not JSON at all (YAML, text), whose parser's own error says more.
func jsonProblem(b []byte) error {
	t := bytes.TrimLeft(b, " \t\r\n")
	if len(t) == 0 || (t[0] != '{' && t[0] != '[') {
		return nil
	}
	var v struct{}
	var se *json.SyntaxError
	if err := json.Unmarshal(t, &v); !errors.As(err, &se) {
		return nil
	}
	if se.Offset >= int64(len(bytes.TrimRight(t, " \t\r\n"))) {
		return fmt.Errorf("the JSON stops at byte %d before it is complete (truncated?)", len(b))
	}
	return fmt.Errorf("not valid JSON at byte %d: %v", int64(len(b)-len(t))+se.Offset, se)
}

// addEntry adds one access-log entry to its flow. Inbound traffic never reaches the report, so
// it is not kept.
func (s *Snapshot) addEntry(flows map[flowKey]*logFlow, e *AccessLogEntry) {
	if strings.HasPrefix(e.UpstreamCluster, "inbound|") || strings.HasPrefix(e.UpstreamCluster, clusterInboundPassthrough) {
		return
	}
	k := flowKey{cluster: e.UpstreamCluster, route: e.RouteName, sni: e.RequestedServerName,
		authority: e.Authority, downstreamLocal: e.DownstreamLocalAddress, http: e.Method != ""}
	f := flows[k]
	if f == nil {
		f = &logFlow{cluster: k.cluster, route: k.route, sni: k.sni, authority: k.authority,
			downstreamLocal: k.downstreamLocal, http: k.http}
		flows[k] = f
		s.flows = append(s.flows, f)
	}
	f.entries++
	if f.http && e.Path != "" {
		key := e.Method + " " + e.Path
		if f.requests == nil {
			f.requests = map[string]int64{}
		}
		if _, seen := f.requests[key]; seen || len(f.requests) < maxRequestsPerFlow {
			f.requests[key]++
		}
	}
	if f.http && e.ResponseCode != 0 {
		if f.codes == nil {
			f.codes = map[int]int64{}
		}
		f.codes[int(e.ResponseCode)]++
	}
	for flag := range strings.SplitSeq(e.ResponseFlags, ",") {
		if flag == "" {
			continue
		}
		if f.flags == nil {
			f.flags = map[string]int64{}
		}
		f.flags[flag]++
	}
	f.bytesReceived += e.BytesReceived
	f.bytesSent += e.BytesSent
	if e.StartTime.After(f.lastSeen) {
		f.lastSeen = e.StartTime
	}
}

// Metrics are the proxy's Istio standard metric samples with every label, nil when stats were
// not read.
func (s Snapshot) Metrics() []MetricSample {
	if s.stats == nil || s.statsFailed {
		return nil
	}
	return slices.Clone(s.stats.Istio)
}

// Inspect parses one pod's sources and classifies its outbound traffic: Classify(Parse(src)).
func Inspect(src Sources, now time.Time) (PodReport, error) {
	s, err := Parse(src)
	rep := Classify(s, now)
	return rep, err
}
