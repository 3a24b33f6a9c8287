package sidecar

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

// trafficSim is the app plus the proxy's data path: it routes the app's calls through the
// live config and records what Envoy would record.
type trafficSim struct {
	node     *nodeInfo
	router   bool
	excluded []*net.IPNet
	matcher  statsMatcher
	linger   time.Duration

	mu    sync.Mutex
	calls []Call
	dns   map[string]string
	rng   *rand.Rand
	port  int
	// hosts are upstream hosts with traffic, per cluster and address (ORIGINAL_DST clusters
	// list only these; the others list their configured endpoints).
	hosts map[string]map[string]*hostStats
}

type hostStats struct {
	cxTotal, rqTotal, rqSuccess, rqError uint64
	lastUsed                             time.Time
	expires                              time.Time // for ORIGINAL_DST hosts
}

func newTrafficSim(cfg Config, node *nodeInfo, excluded []*net.IPNet) *trafficSim {
	seed := cfg.Seed
	if seed == 0 {
		h := fnv.New64a()
		h.Write([]byte(cfg.Namespace + "/" + cfg.Name))
		seed = int64(h.Sum64())
	}
	t := &trafficSim{
		node:     node,
		router:   cfg.Router,
		excluded: excluded,
		matcher:  newStatsMatcher(cfg.ClusterStatsPrefixes),
		linger:   cfg.ConnectionLinger,
		dns:      map[string]string{},
		rng:      rand.New(rand.NewPCG(uint64(seed), 0x5eed)),
		port:     40000,
		hosts:    map[string]map[string]*hostStats{},
	}
	for k, v := range cfg.Hosts {
		t.dns[k] = v
	}
	t.setCalls(cfg.Calls)
	return t
}

func (t *trafficSim) setCalls(calls []Call) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls = append([]Call(nil), calls...)
	for _, c := range calls {
		if c.Host != "" && c.IP != "" && net.ParseIP(c.Host) == nil {
			t.dns[c.Host] = c.IP
		}
	}
}

func (t *trafficSim) isExcluded(ip string) bool {
	a := net.ParseIP(ip)
	for _, n := range t.excluded {
		if a != nil && n.Contains(a) {
			return true
		}
	}
	return false
}

func (t *trafficSim) ephemeralPort() int {
	t.port += 1 + t.rng.IntN(7)
	if t.port > 60999 {
		t.port = 40000
	}
	return t.port
}

func (t *trafficSim) requestID() string {
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(t.rng.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// replay runs every call Count times against snap.
func (t *trafficSim) replay(snap *Snapshot, stats *statStore, alog *accessLogWriter, clock func() time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refreshStats(snap, stats, clock())
	for _, c := range t.calls {
		n := c.Count
		if n <= 0 {
			n = 1
		}
		for range n {
			t.one(snap, c, stats, alog, clock())
		}
	}
}

func (t *trafficSim) one(snap *Snapshot, c Call, stats *statStore, alog *accessLogWriter, now time.Time) {
	if t.isExcluded(c.IP) {
		return // iptables never sends it to the proxy
	}
	if c.Scheme == "" {
		c.Scheme = SchemeTCP
	}
	f := Flow{Call: c, SourceIP: t.node.ip}
	_ = t.finish(snap, f, Route(snap, f, t.dns, t.router), stats, alog, now)
}

// hbone runs one connection a ztunnel tunnelled to this waypoint: f's IP and port are the
// original destination (the CONNECT authority), f.SourceIP the app pod's.
func (t *trafficSim) hbone(snap *Snapshot, f Flow, stats *statStore, alog *accessLogWriter, now time.Time) Exchange {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refreshStats(snap, stats, now)
	if f.Scheme == "" {
		f.Scheme = SchemeTCP
	}
	if f.Host != "" && f.RealIP != "" && net.ParseIP(f.Host) == nil {
		t.dns[f.Host] = f.RealIP // the name resolves here as it did for the app's resolver
	}
	out := RouteHBONE(snap, f, t.dns)
	rec := t.finish(snap, f, out, stats, alog, now)
	return Exchange{Outcome: out, BytesFromClient: rec.bytesReceived, BytesToClient: rec.bytesSnt, Duration: time.Duration(rec.durationMS) * time.Millisecond}
}

// Exchange is what a waypoint did with one tunnelled connection, as the client's side sees it.
type Exchange struct {
	Outcome
	BytesFromClient, BytesToClient int
	Duration                       time.Duration
}

// finish records what Envoy records of a routed flow: stats, metrics and access-log lines.
func (t *trafficSim) finish(snap *Snapshot, f Flow, out Outcome, stats *statStore, alog *accessLogWriter, now time.Time) *logRecord {
	rec := t.record(snap, f, out, now)
	t.count(snap, f, out, rec, stats, now)
	for _, al := range out.accessLogs {
		if line, stream, ok := render(al, rec); ok {
			alog.write(now, stream, line)
		}
	}
	return rec
}

// record fills in what the access log sees.
func (t *trafficSim) record(snap *Snapshot, f Flow, out Outcome, now time.Time) *logRecord {
	c := f.Call
	r := &logRecord{
		start:                 now,
		responseCode:          out.ResponseCode,
		flags:                 out.ResponseFlags,
		details:               out.CodeDetails,
		upstreamServiceTimeMS: -1,
		upstreamHost:          out.UpstreamHost,
		downstreamLocal:       net.JoinHostPort(c.IP, strconv.Itoa(c.Port)),
		downstreamRemote:      net.JoinHostPort(f.SourceIP, strconv.Itoa(t.ephemeralPort())),
		sni:                   out.SNI,
		route:                 out.Route,
	}
	if out.Cluster != "" && !out.DirectResponse {
		r.cluster = out.Cluster
		r.clusterStat = out.Cluster
		if cl := snap.Cluster(out.Cluster); cl != nil && cl.GetAltStatName() != "" {
			r.clusterStat = cl.GetAltStatName()
		}
	}
	if out.UpstreamHost != "" {
		r.upstreamLocal = net.JoinHostPort(t.node.ip, strconv.Itoa(t.ephemeralPort()))
	}
	if out.HTTP {
		r.http = true
		r.method = firstNonEmpty(c.Method, "GET")
		r.path = firstNonEmpty(c.Path, "/")
		r.protocol = "HTTP/1.1"
		r.userAgent = firstNonEmpty(c.UserAgent, "curl/8.5.0")
		r.requestID = t.requestID()
		r.authority = authority(c)
		r.bytesReceived = 0
		switch {
		case out.DirectResponse || out.UpstreamHost == "":
			r.durationMS = t.rng.IntN(2)
			if out.ResponseCode == 503 {
				r.bytesSnt = 19 // "no healthy upstream"
			}
		default:
			r.durationMS = 20 + t.rng.IntN(400)
			r.upstreamServiceTimeMS = r.durationMS - t.rng.IntN(3)
			r.bytesSnt = 200 + t.rng.IntN(400)
		}
		return r
	}
	if out.UpstreamHost != "" {
		if c.Scheme == SchemeHTTPS || c.Scheme == SchemeTLSNoSNI {
			r.bytesReceived = 700 + t.rng.IntN(200)
			r.bytesSnt = 4000 + t.rng.IntN(3000)
		} else {
			r.bytesReceived = 60 + t.rng.IntN(100)
			r.bytesSnt = 100 + t.rng.IntN(500)
		}
		r.durationMS = 30 + t.rng.IntN(900)
	}
	return r
}

// count updates cluster stats, upstream hosts and Istio standard metrics.
func (t *trafficSim) count(snap *Snapshot, f Flow, out Outcome, rec *logRecord, stats *statStore, now time.Time) {
	if out.NoChain {
		return
	}
	cl := snap.Cluster(out.Cluster)
	if cl != nil && !out.DirectResponse {
		statName := clusterStatName(cl)
		add := func(suffix string, n uint64) {
			raw, prom, tags := clusterStat(statName, suffix)
			if t.matcher.accepts(raw) {
				stats.add(raw, prom, tags, n)
			}
		}
		if out.UpstreamHost == "" {
			add("upstream_cx_none_healthy", 1)
		} else {
			add("upstream_cx_total", 1)
			add("upstream_cx_destroy", 1)
			add("upstream_cx_tx_bytes_total", uint64(rec.bytesReceived))
			add("upstream_cx_rx_bytes_total", uint64(rec.bytesSnt))
			h := t.host(out.Cluster, out.UpstreamHost)
			h.cxTotal++
			h.lastUsed = now
			linger := t.linger
			if out.HTTP {
				add("upstream_rq_total", 1)
				add("upstream_rq_completed", 1)
				add(fmt.Sprintf("upstream_rq_%d", out.ResponseCode), 1)
				add(fmt.Sprintf("upstream_rq_%dxx", out.ResponseCode/100), 1)
				h.rqTotal++
				if out.ResponseCode < 500 {
					h.rqSuccess++
				} else {
					h.rqError++
				}
				linger = httpIdleTimeout(cl) // the connection stays in the pool
			}
			h.expires = now.Add(linger + cleanupInterval(cl))
		}
	}
	if !out.statsFilter {
		return
	}
	if out.HTTP {
		tags := t.metricTags(snap, f, out, rec.authority)
		tags = append(tags,
			tag{"request_protocol", "http"},
			tag{"response_code", strconv.Itoa(out.ResponseCode)},
			tag{"grpc_response_status", ""},
			tag{"response_flags", out.ResponseFlags},
			tag{"connection_security_policy", "unknown"})
		raw, prom := istioStat("istio_requests_total", tags)
		stats.add(raw, prom, tags, 1)
		return
	}
	tags := t.metricTags(snap, f, out, "")
	tags = append(tags,
		tag{"request_protocol", "tcp"},
		tag{"response_flags", out.ResponseFlags},
		tag{"connection_security_policy", "unknown"})
	for name, n := range map[string]uint64{
		"istio_tcp_connections_opened_total": 1,
		"istio_tcp_connections_closed_total": 1,
		"istio_tcp_sent_bytes_total":         uint64(rec.bytesSnt),
		"istio_tcp_received_bytes_total":     uint64(rec.bytesReceived),
	} {
		raw, prom := istioStat(name, tags)
		stats.add(raw, prom, tags, n)
	}
}

// metricTags are the client-side (reporter=source) labels of Istio's stats filter, in its
// order, up to destination_cluster.
func (t *trafficSim) metricTags(snap *Snapshot, f Flow, out Outcome, hostHeader string) []tag {
	n := t.node
	reporter := "source"
	src := Peer{Workload: n.workload, Namespace: n.namespace, CanonicalName: n.canonicalName, CanonicalRevision: n.canonicalRev, Principal: "unknown"}
	app, version := n.labels["app"], n.labels["version"]
	if f.Source != nil {
		// A waypoint reports as itself (Istio 1.22+) and names its client from peer metadata.
		reporter, src = "waypoint", *f.Source
		app, version = src.CanonicalName, src.CanonicalRevision
	}
	serviceHost, serviceName := hostHeader, hostHeader
	switch {
	case out.Route == "block_all":
		serviceName = blackHoleCluster
	case out.Route == "allow_any":
		serviceName = passthroughCluster
	case out.Cluster == blackHoleCluster || out.Cluster == passthroughCluster ||
		strings.HasPrefix(out.Cluster, "InboundPassthroughCluster"):
		serviceName = out.Cluster
	case out.ServiceHost != "":
		serviceHost, serviceName = out.ServiceHost, out.ServiceName
	}
	peer := endpointPeer(snap, out)
	unknown := func(s string) string { return firstNonEmpty(s, "unknown") }
	return []tag{
		{"reporter", reporter},
		{"source_workload", src.Workload},
		{"source_canonical_service", src.CanonicalName},
		{"source_canonical_revision", src.CanonicalRevision},
		{"source_workload_namespace", src.Namespace},
		{"source_principal", src.Principal},
		{"source_app", app},
		{"source_version", version},
		{"source_cluster", n.clusterID},
		{"destination_workload", unknown(peer.workload)},
		{"destination_workload_namespace", unknown(peer.namespace)},
		{"destination_principal", "unknown"},
		{"destination_app", "unknown"},
		{"destination_version", "unknown"},
		{"destination_service", unknown(serviceHost)},
		{"destination_canonical_service", unknown(peer.canonicalName)},
		{"destination_canonical_revision", firstNonEmpty(peer.canonicalRev, "latest")},
		{"destination_service_name", unknown(serviceName)},
		{"destination_service_namespace", unknown(peer.namespace)},
		{"destination_cluster", unknown(peer.cluster)},
	}
}

type workloadPeer struct{ workload, namespace, canonicalName, canonicalRev, cluster string }

// endpointPeer reads the upstream endpoint's istio.workload metadata
// ("NAME;NAMESPACE;CANONICAL;REVISION;CLUSTER"), the client-side fallback for peer labels.
func endpointPeer(snap *Snapshot, out Outcome) workloadPeer {
	cl := snap.Cluster(out.Cluster)
	if cl == nil || out.UpstreamHost == "" {
		return workloadPeer{}
	}
	eps := cl.GetLoadAssignment().GetEndpoints()
	if cl.GetType() == clusterv3.Cluster_EDS {
		name := firstNonEmpty(cl.GetEdsClusterConfig().GetServiceName(), cl.GetName())
		eps = snap.Endpoints[name].GetEndpoints()
	}
	for _, loc := range eps {
		for _, lb := range loc.GetLbEndpoints() {
			w := lb.GetMetadata().GetFilterMetadata()["istio"].GetFields()["workload"].GetStringValue()
			if w == "" {
				continue
			}
			p := strings.Split(w, ";")
			for len(p) < 5 {
				p = append(p, "")
			}
			return workloadPeer{p[0], p[1], p[2], p[3], p[4]}
		}
	}
	return workloadPeer{}
}

func (t *trafficSim) host(cluster, addr string) *hostStats {
	m := t.hosts[cluster]
	if m == nil {
		m = map[string]*hostStats{}
		t.hosts[cluster] = m
	}
	h := m[addr]
	if h == nil {
		h = &hostStats{}
		m[addr] = h
	}
	return h
}

// hostsFor returns a copy of a cluster's hosts with traffic; for ORIGINAL_DST clusters the
// idle ones are gone, as Envoy's cleanup removes them.
func (t *trafficSim) hostsFor(cl *clusterv3.Cluster, now time.Time) map[string]hostStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]hostStats{}
	for addr, h := range t.hosts[cl.GetName()] {
		if cl.GetType() == clusterv3.Cluster_ORIGINAL_DST && now.After(h.expires) {
			delete(t.hosts[cl.GetName()], addr)
			continue
		}
		out[addr] = *h
	}
	return out
}

func (t *trafficSim) resolve(name string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ip, ok := t.dns[strings.TrimSuffix(name, ".")]
	return ip, ok
}

// refreshStats brings the config-derived stats up to date: server, cluster_manager and
// listener_manager stats, and every cluster's stats that the stats matcher accepts.
func (t *trafficSim) refreshStats(snap *Snapshot, stats *statStore, now time.Time) {
	stats.setText("cluster_manager.cds.version_text", snap.versions[typeCluster])
	stats.setText("listener_manager.lds.version_text", snap.versions[typeListener])
	set := func(raw string, v uint64) {
		r, p := envoyStat(raw)
		stats.setGauge(r, p, nil, v)
	}
	set("cluster_manager.active_clusters", uint64(len(snap.Clusters)+len(staticClusterNames)))
	set("cluster_manager.warming_clusters", 0)
	set("listener_manager.total_listeners_active", uint64(len(snap.Listeners)+len(staticListenerNames)))
	set("listener_manager.total_listeners_warming", 0)
	set("server.live", 1)
	set("server.state", 0)
	set("server.concurrency", 2)
	names := append([]string(nil), staticClusterNames...)
	for _, c := range snap.Clusters {
		names = append(names, clusterStatName(c))
	}
	for _, n := range names {
		for _, suffix := range []string{"upstream_cx_total", "upstream_cx_destroy", "upstream_cx_none_healthy", "upstream_cx_connect_fail", "upstream_cx_tx_bytes_total", "upstream_cx_rx_bytes_total", "upstream_rq_total", "upstream_rq_completed"} {
			raw, prom, tags := clusterStat(n, suffix)
			if t.matcher.accepts(raw) {
				stats.define(raw, prom, tags, counterStat)
			}
		}
		for _, suffix := range []string{"upstream_cx_active", "upstream_rq_active"} {
			raw, prom, tags := clusterStat(n, suffix)
			if t.matcher.accepts(raw) {
				stats.define(raw, prom, tags, gaugeStat)
			}
		}
	}
	if hasStatsFilter(snap) {
		tags := []tag{{"component", "proxy"}, {"tag", t.node.istioVersion}}
		raw, prom := istioStat("istio_build", tags)
		stats.setGauge(raw, prom, tags, 1)
	}
}

func clusterStatName(c *clusterv3.Cluster) string {
	return firstNonEmpty(c.GetAltStatName(), c.GetName())
}

func cleanupInterval(c *clusterv3.Cluster) time.Duration {
	if d := c.GetCleanupInterval(); d != nil {
		return d.AsDuration()
	}
	return 5 * time.Second
}

// httpIdleTimeout is how long an idle upstream HTTP connection stays pooled.
func httpIdleTimeout(c *clusterv3.Cluster) time.Duration {
	opts := &httpv3.HttpProtocolOptions{}
	if a := c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]; a != nil && a.UnmarshalTo(opts) == nil {
		if d := opts.GetCommonHttpProtocolOptions().GetIdleTimeout(); d != nil {
			return d.AsDuration()
		}
	}
	return time.Hour
}

func hasStatsFilter(snap *Snapshot) bool {
	for _, l := range snap.Listeners {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				if f.GetName() == istioStatsFilter {
					return true
				}
			}
		}
	}
	return false
}
