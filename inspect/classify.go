package inspect

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// hostUnknown names passthrough or blocked traffic that no signal could name (TCP metrics carry no host).
const hostUnknown = "unknown"

// Evidence buckets: counts within one bucket add up; across buckets (signals watching the same
// traffic) the largest wins.
const (
	bucketAccessLog    = "accesslog"
	bucketIstioMetrics = "istio"
	bucketEnvoyStats   = "envoy"
	bucketClusters     = "clusters"
)

type destKey struct {
	host string
	port uint32
	disp Disposition
}

// destAcc accumulates the evidence for one destination of one pod.
type destAcc struct {
	d         Destination
	signals   map[Signal]bool
	buckets   map[string]*Counts
	tcpOpened float64
	tcpClosed float64
	codes     map[string]int64
	requests  map[string]int64
	flags     map[string]int64
	addrs     map[string]bool
	lastSeen  time.Time
}

// classifier builds one pod's report.
type classifier struct {
	pod    string
	cfg    *configView
	dests  map[destKey]*destAcc
	ipHost map[string]string // original destination IP:port → host named by SNI or Host
	// clusterDest is the destination a cluster of the config serves.
	clusterDest map[string]destKey
	// gatewayClusters are the clusters the config routes external hosts to (egress gateways).
	gatewayClusters map[string]bool
	// configByHost indexes the config's destinations by host, for port-less metrics.
	configByHost map[string][]destKey
	// addrHost names the host a ServiceEntry address (IP:port) belongs to; hostAlias maps a
	// cluster's service host to the host the report shows for it when they differ.
	addrHost  map[string]string
	hostAlias map[string]string
	// metricsOnly is Snapshot.metricsOnly.
	metricsOnly bool
}

// Classify turns one proxy's snapshot into its report: every external destination with its
// disposition and evidence, the proxy's clusters and endpoints, and its facts. It does no I/O.
func Classify(s Snapshot, now time.Time) PodReport {
	pod := s.Pod.Key()
	rep := PodReport{Pod: s.Pod, GeneratedAt: now.UTC(), Errors: slices.Clone(s.Errors), Metrics: s.Metrics()}
	rep.Facts = PodFacts{Namespace: s.Pod.Namespace, Name: s.Pod.Name, Workload: s.Pod.Workload}
	cfg := s.config
	if cfg == nil {
		cfg = newConfigView(&ProxyConfig{})
	}
	c := &classifier{pod: pod, cfg: cfg, dests: map[destKey]*destAcc{}, ipHost: map[string]string{},
		clusterDest: map[string]destKey{}, gatewayClusters: map[string]bool{}, configByHost: map[string][]destKey{},
		addrHost: map[string]string{}, hostAlias: map[string]string{}, metricsOnly: s.metricsOnly}
	if s.ambient != nil {
		return classifyAmbient(s, rep, c)
	}
	c.addConfig()

	rep.Facts.IstioVersion = firstNonEmpty(s.serverInfo.IstioVersion, s.node.istio)
	rep.Facts.EnvoyVersion = firstNonEmpty(s.serverInfo.EnvoyVersion, s.node.envoy)
	rep.Facts.ProxyType = firstNonEmpty(s.serverInfo.ProxyType, s.node.proxyType)
	switch {
	case s.Pod.Labels[DataplaneModeLabel] == "ambient":
		// An ambient pod whose ztunnel could not be read: its errors say why.
		rep.Facts.Dataplane = DataplaneAmbient
	case rep.Facts.ProxyType == "" || rep.Facts.ProxyType == ProxySidecar:
		rep.Facts.Dataplane = DataplaneSidecar
	}
	switch {
	case s.serverInfo.DNSCapture == "true":
		rep.Facts.DNSCapture = "on"
	case s.serverInfo.EnvoyVersion != "" || s.serverInfo.IstioVersion != "":
		rep.Facts.DNSCapture = "off"
	}
	rep.Facts.AccessLog = s.logCounts
	for _, f := range s.flows {
		c.addFlow(f)
	}
	if s.stats != nil {
		c.addStats(*s.stats, &rep.Facts)
	}
	c.addHosts(s.hosts)

	for _, d := range bypassDestinations(s.Pod.Annotations) {
		acc := c.dest(d.Host, d.Port, d.Disposition)
		acc.d.Bypass = d.Bypass
		acc.signals[SignalAnnotation] = true
	}
	rep.Facts.CaptureExclusions = captureExclusions(s.Pod.Annotations)
	c.addUnnamed(rep.Facts.ClusterStats)

	rep.Facts.OutboundMode, rep.Facts.OutboundModeSource = cfg.mode, cfg.modeSource
	if cfg.trafficOnly {
		rep.Facts.ConfigRead = ConfigTraffic
		if s.stats != nil {
			rep.Facts.ActiveClusters = s.stats.ActiveClusters
		}
	}
	if !cfg.haveListeners {
		rep.Facts.OutboundModeSource = "listeners not read"
	} else if cfg.modeSource == "" {
		rep.Facts.OutboundModeSource = "no virtualOutbound listener (not a sidecar?)"
	}
	rep.Facts.AccessLogging, rep.Facts.AccessLoggingReason = accessLogging(rep.Facts.AccessLog, s.logRead, cfg)
	if rep.Facts.AccessLogging == AccessLoggingOff {
		rep.Facts.EnableAccessLogging = enableAccessLoggingYAML(s.Pod.Namespace, rep.Facts.IstioVersion)
	}

	rep.Destinations = c.finish()
	rep.Clusters = cfg.sortedClusters()
	for i := range rep.Clusters {
		rep.Clusters[i].Pods = []string{pod}
	}
	rep.Endpoints = endpointsOf(s.hosts, cfg, s.hostsRead, pod)
	return rep
}

func accessLogging(counts AccessLogCounts, logRead bool, cfg *configView) (string, string) {
	switch {
	case counts.Entries > 0:
		return AccessLoggingOn, strconv.Itoa(counts.Entries) + " access-log lines in the istio-proxy log"
	case cfg.haveListeners && cfg.accessLogInConfig:
		return AccessLoggingOn, "the outbound listeners configure access_log (no lines seen)"
	case cfg.haveListeners:
		return AccessLoggingOff, "no access_log in the outbound listeners"
	case logRead:
		return AccessLoggingOff, fmt.Sprintf("no access-log lines among %d istio-proxy log lines", counts.Lines)
	}
	return AccessLoggingUnknown, "neither listeners nor the istio-proxy log were read"
}

func (c *classifier) dest(host string, port uint32, disp Disposition) *destAcc {
	k := destKey{host, port, disp}
	if a, ok := c.dests[k]; ok {
		return a
	}
	a := &destAcc{
		d:       Destination{Host: host, Port: port, Disposition: disp},
		signals: map[Signal]bool{}, buckets: map[string]*Counts{},
		codes: map[string]int64{}, requests: map[string]int64{}, flags: map[string]int64{}, addrs: map[string]bool{},
	}
	c.dests[k] = a
	return a
}

func (a *destAcc) bucket(name string) *Counts {
	b := a.buckets[name]
	if b == nil {
		b = &Counts{}
		a.buckets[name] = b
	}
	return b
}

var protocolRank = map[string]int{"": 0, "TCP": 1, "TLS": 2, "HTTP": 3}

func (a *destAcc) setProtocol(p string) {
	if protocolRank[p] > protocolRank[a.d.Protocol] {
		a.d.Protocol = p
	}
}

// addConfig turns the external clusters and the host routes of the proxy's configuration into destinations.
func (c *classifier) addConfig() {
	for _, cl := range c.cfg.sortedClusters() {
		if !sendsOut(cl.Direction) || !cl.External {
			continue
		}
		disp := DispositionRegistered
		if cl.OriginatesTLS() {
			disp = DispositionTLSOrigination
		}
		host := DisplayHost(cl)
		a := c.dest(host, cl.Port, disp)
		a.signals[SignalConfig] = true
		a.d.Cluster = cl.Name
		for _, addr := range cl.Addresses {
			a.addrs[addr] = true
			c.addrHost[addr] = host
		}
		if host != cl.Host {
			c.hostAlias[cl.Host] = host
		}
		if disp == DispositionTLSOrigination {
			a.setProtocol("HTTP")
		}
		if cl.TLS == "" && cl.Port != 443 && slices.Contains(cl.EndpointPorts, 443) {
			a.d.Problems = append(a.d.Problems, problemPlaintextTo443)
		}
		c.clusterDest[cl.Name] = destKey{host, cl.Port, disp}
	}
	routes := slices.Clone(c.cfg.routes)
	sort.SliceStable(routes, func(i, j int) bool { return routes[i].cluster < routes[j].cluster })
	for _, r := range routes {
		target := parseClusterName(r.cluster)
		if !sendsOut(target.direction) {
			continue
		}
		if k, ok := c.clusterDest[r.cluster]; ok && target.host == r.host {
			c.dests[k].setProtocol(r.protocol)
			if r.rewrite != "" {
				c.dests[k].d.HostRewrite = r.rewrite
			}
			continue
		}
		tc := c.cfg.clusters[r.cluster]
		if tc == nil || tc.External || target.host == r.host || !c.isExternalHost(r.host) {
			continue
		}
		// An external host routed to a mesh-internal service other than itself: an egress gateway.
		a := c.dest(r.host, r.port, DispositionEgressGateway)
		a.signals[SignalConfig] = true
		a.d.Cluster, a.d.Gateway = r.cluster, target.host
		a.setProtocol(r.protocol)
		c.gatewayClusters[r.cluster] = true
	}
	for _, k := range c.sortedKeys() {
		if k.disp != DispositionEgressGateway {
			c.configByHost[k.host] = append(c.configByHost[k.host], k)
		}
	}
}

// IPHostSuffix ends the ServiceEntry host kubectl-egress gives a host known only by its IP
// (Istio refuses an IP as a host): 198.51.100.7 is registered as 198-51-100-7.ip.external with
// addresses [198.51.100.7].
const IPHostSuffix = ".ip.external"

// DisplayHost is the host the report names a cluster's traffic by: its service host, or, for a
// ServiceEntry kubectl-egress wrote for an IP, that IP, which is what the app dials and the user
// typed.
func DisplayHost(cl Cluster) string {
	if strings.HasSuffix(cl.Host, IPHostSuffix) && len(cl.Addresses) > 0 {
		if ip, _ := splitHostPort(cl.Addresses[0]); ip != "" {
			return ip
		}
	}
	return cl.Host
}

// isExternalHost reports whether a host named by SNI, Host or a metric is outside the mesh.
func (c *classifier) isExternalHost(h string) bool {
	return h != "" && h != hostUnknown && !isMeshInternalHost(h)
}

// isGatewayCluster reports whether a mesh-internal cluster is an egress gateway: the config routes
// an external host to it, or, without config, its service is named like one. When the routes were
// not read (a traffic read), the traffic itself is the route: an external host the sidecar sent
// to a mesh-internal cluster is what addConfig calls a route to an egress gateway.
func (c *classifier) isGatewayCluster(cluster, host string) bool {
	switch {
	case c.gatewayClusters[cluster]:
		return true
	case c.cfg.trafficOnly:
		return true
	}
	return len(c.cfg.clusters) == 0 && strings.Contains(host, "egressgateway")
}

// addFlow maps the access-log entries of one flow to a destination; mesh-internal traffic is ignored.
func (c *classifier) addFlow(f *logFlow) {
	cluster := f.cluster
	named := f.sni
	if f.http {
		named, _ = splitHostPort(f.authority)
	}
	origIP, origPort := splitHostPort(f.downstreamLocal)
	if origPort == 0 && f.http {
		_, origPort = splitHostPort(f.authority)
	}
	protocol := "TCP"
	switch {
	case f.http:
		protocol = "HTTP"
	case f.sni != "":
		protocol = "TLS"
	}

	var a *destAcc
	switch {
	case cluster == clusterAllowAnyDynamicDNS || f.route == vhostAllowAnyDynamicDNS:
		a = c.unregistered(named, origIP, origPort, DispositionDynamicDNS, f.downstreamLocal)
		a.d.Cluster = clusterAllowAnyDynamicDNS
	case isPassthroughCluster(cluster) || f.route == vhostAllowAny:
		a = c.unregistered(named, origIP, origPort, DispositionPassthrough, f.downstreamLocal)
		a.d.Cluster = clusterPassthrough
	case cluster == clusterBlackHole || f.route == vhostBlockAll || refused(f, origIP):
		a = c.unregistered(named, origIP, origPort, DispositionBlocked, f.downstreamLocal)
		a.d.Cluster = clusterBlackHole
	default:
		p := parseClusterName(cluster)
		if !sendsOut(p.direction) {
			return
		}
		if k, ok := c.clusterDest[cluster]; ok {
			a = c.dests[k]
		} else if cl := c.cfg.clusters[cluster]; cl != nil && cl.External || cl == nil && !isMeshInternalHost(p.host) {
			a = c.dest(p.host, p.port, DispositionRegistered)
			a.d.Cluster = cluster
		} else if c.isGatewayCluster(cluster, p.host) && c.isExternalHost(named) && named != p.host && !strings.HasPrefix(p.host, named+".") {
			port := origPort
			if port == 0 {
				port = p.port
			}
			a = c.dest(named, port, DispositionEgressGateway)
			a.d.Cluster, a.d.Gateway = cluster, p.host
		} else {
			return
		}
	}
	a.signals[SignalAccessLog] = true
	a.setProtocol(protocol)
	b := a.bucket(bucketAccessLog)
	if f.http {
		b.Requests += f.entries
		for code, n := range f.codes {
			a.codes[strconv.Itoa(code)] += n
		}
		for r, n := range f.requests {
			a.requests[r] += n
		}
	} else {
		b.Connections += f.entries
	}
	// Envoy's BYTES_RECEIVED is what the workload sent; BYTES_SENT is what it received.
	b.BytesSent += f.bytesReceived
	b.BytesReceived += f.bytesSent
	for flag, n := range f.flags {
		a.flags[flag] += n
	}
	if f.lastSeen.After(a.lastSeen) {
		a.lastSeen = f.lastSeen
	}
}

// refused reports a connection the proxy refused without naming a cluster: under REGISTRY_ONLY
// the JSON encoding logs upstream_cluster null (istio#33281, #54219), leaving only the UH flag
// and the original destination.
func refused(f *logFlow, origIP string) bool {
	if f.cluster != "" || f.route != "" || f.flags["UH"] == 0 {
		return false
	}
	ip := net.ParseIP(origIP)
	return ip != nil && !ip.IsLoopback() && !ip.IsUnspecified()
}

// unregistered finds the destination of passthrough or blocked traffic: by the host SNI or Host
// named, else by the original destination IP.
func (c *classifier) unregistered(named, ip string, port uint32, disp Disposition, origAddr string) *destAcc {
	host := named
	if host == "" {
		// An address a ServiceEntry declares is that entry's host, before and after it existed.
		host = c.addrHost[origAddr]
	}
	if host == "" {
		host = ip
	}
	if host == "" {
		host = hostUnknown
	}
	a := c.dest(host, port, disp)
	if ip != "" && isIP(ip) {
		a.addrs[origAddr] = true
		if named != "" {
			c.ipHost[origAddr] = named
		}
	}
	return a
}

// addStats maps Istio's standard metrics and Envoy's cluster stats to destinations.
func (c *classifier) addStats(st Stats, facts *PodFacts) {
	for name, counts := range st.Clusters {
		if name == clusterPassthrough || name == clusterBlackHole || name == clusterAllowAnyDynamicDNS {
			if facts.ClusterStats == nil {
				facts.ClusterStats = map[string]Counts{}
			}
			facts.ClusterStats[name] = counts
			continue
		}
		if k, ok := c.clusterDest[name]; ok && counts != (Counts{}) {
			a := c.dests[k]
			a.signals[SignalMetrics] = true
			b := a.bucket(bucketEnvoyStats)
			*b = maxCounts(*b, counts)
		}
	}
	for _, s := range st.Istio {
		if r, ok := s.Labels["reporter"]; ok && r != "source" {
			continue
		}
		if s.Value == 0 && !c.metricsOnly {
			continue
		}
		a := c.metricDest(s)
		if a == nil {
			continue
		}
		a.signals[SignalMetrics] = true
		b := a.bucket(bucketIstioMetrics)
		v := int64(s.Value)
		switch s.Name {
		case metricRequests:
			a.setProtocol("HTTP")
			b.Requests += v
			if rc := s.Labels["response_code"]; rc != "" && rc != "0" {
				a.codes[rc] += v
			}
			for _, f := range strings.Split(s.Labels["response_flags"], ",") {
				if f != "" && f != "-" {
					a.flags[f] += v
				}
			}
		case metricTCPOpened, metricTCPClosed:
			a.setProtocol("TCP")
		}
		a.addTCPMetric(b, s.Name, s.Value)
	}
}

// addTCPMetric counts one of Istio's TCP metrics from the workload's point of view: Istio's
// received bytes are the request's (what the workload sent), its sent bytes the response's
// (what it received), as istio.io's standard metrics define them.
func (a *destAcc) addTCPMetric(b *Counts, name string, v float64) {
	switch name {
	case metricTCPOpened:
		a.tcpOpened += v
	case metricTCPClosed:
		a.tcpClosed += v
	case metricTCPReceived:
		b.BytesSent += int64(v)
	case metricTCPSent:
		b.BytesReceived += int64(v)
	}
	b.Connections = int64(max(a.tcpOpened, a.tcpClosed))
}

// metricService is the host (and port, when it says one) an Istio metric sample names as its
// destination service; "" when it says unknown.
func metricService(s MetricSample) (string, uint32) {
	host, port := splitHostPort(s.Labels["destination_service"])
	if host == hostUnknown {
		host = ""
	}
	return host, port
}

// metricDest finds the destination an Istio metric sample is about, or nil for mesh-internal traffic.
func (c *classifier) metricDest(s MetricSample) *destAcc {
	svcName := s.Labels["destination_service_name"]
	host, port := metricService(s)
	var disp Disposition
	cluster := svcName
	switch svcName {
	case clusterPassthrough:
		disp = DispositionPassthrough
	case clusterAllowAnyDynamicDNS:
		disp = DispositionDynamicDNS
	case clusterBlackHole:
		disp = DispositionBlocked
	}
	if disp != "" {
		if host == "" {
			host = s.Labels["destination_ip"]
		}
		a := c.unregistered(host, "", port, disp, "")
		a.d.Cluster = cluster
		return a
	}
	if alias, ok := c.hostAlias[host]; ok {
		host = alias
	}
	if host == "" || !c.isExternalHost(host) {
		return nil
	}
	if c.metricsOnly {
		// Without the proxy's clusters, a host with a service of its own is a registered one;
		// whether the sidecar originates TLS or routes it to a gateway is not in metrics.
		return c.dest(host, 0, DispositionRegistered)
	}
	// A registered host: metrics carry no port, so prefer the destination whose protocol matches.
	wantHTTP := s.Name == metricRequests
	var best *destAcc
	for _, k := range c.configByHost[host] {
		a := c.dests[k]
		isHTTP := a.d.Protocol == "HTTP"
		if best == nil || isHTTP == wantHTTP && (best.d.Protocol == "HTTP") != wantHTTP {
			best = a
		}
	}
	return best
}

// addHosts maps /clusters hosts: PassthroughCluster's are original destinations, named by the
// access logs when they saw the same IP:port; external clusters' hosts add their counters.
func (c *classifier) addHosts(hosts []HostStatus) {
	for _, h := range hosts {
		if isPassthroughCluster(h.Cluster) {
			ip, port := splitHostPort(h.Address)
			disp := DispositionPassthrough
			if h.Cluster == clusterAllowAnyDynamicDNS {
				disp = DispositionDynamicDNS
			}
			a := c.unregistered(c.ipHost[h.Address], ip, port, disp, h.Address)
			a.d.Cluster = h.Cluster
			a.signals[SignalClusters] = true
			b := a.bucket(bucketClusters)
			b.Connections += h.Counts.Connections
			b.Requests += h.Counts.Requests
			continue
		}
		if k, ok := c.clusterDest[h.Cluster]; ok && h.Counts != (Counts{}) {
			a := c.dests[k]
			a.signals[SignalClusters] = true
			b := a.bucket(bucketClusters)
			b.Connections += h.Counts.Connections
			b.Requests += h.Counts.Requests
		}
	}
}

// addUnnamed reports passthrough or blocked traffic that Envoy counted but no signal named.
func (c *classifier) addUnnamed(stats map[string]Counts) {
	for cluster, disp := range map[string]Disposition{clusterPassthrough: DispositionPassthrough, clusterBlackHole: DispositionBlocked} {
		counts := stats[cluster]
		if counts.Connections == 0 && counts.Requests == 0 {
			continue
		}
		named := false
		for k := range c.dests {
			named = named || k.disp == disp
		}
		if named {
			continue
		}
		a := c.dest(hostUnknown, 0, disp)
		a.d.Cluster = cluster
		a.signals[SignalMetrics] = true
		*a.bucket(bucketEnvoyStats) = counts
	}
}

func (c *classifier) sortedKeys() []destKey {
	keys := slices.Collect(maps.Keys(c.dests))
	sort.Slice(keys, func(i, j int) bool { return keyLess(keys[i], keys[j]) })
	return keys
}

func keyLess(a, b destKey) bool {
	if a.host != b.host {
		return a.host < b.host
	}
	if a.port != b.port {
		return a.port < b.port
	}
	return a.disp < b.disp
}

// finish merges port-less metric destinations into the one destination of the same host, then
// renders every destination, sorted.
func (c *classifier) finish() []Destination {
	// A host:port an egress gateway route covers does not use the host's own cluster on that port:
	// drop the config-only registered entry so the host is listed once, as egress-gateway.
	for k := range c.dests {
		if k.disp != DispositionEgressGateway {
			continue
		}
		for _, disp := range []Disposition{DispositionRegistered, DispositionTLSOrigination} {
			o := destKey{k.host, k.port, disp}
			if a, ok := c.dests[o]; ok && len(a.signals) == 1 && a.signals[SignalConfig] {
				delete(c.dests, o)
			}
		}
	}
	// TCP metrics name no host (destination_service "unknown"); when the access log named the
	// pod's TCP/TLS destinations of the same disposition, those metrics count the same
	// connections, so the unnamed row would list them twice.
	for _, disp := range []Disposition{DispositionPassthrough, DispositionBlocked} {
		k := destKey{hostUnknown, 0, disp}
		if a, ok := c.dests[k]; !ok || a.signals[SignalAccessLog] {
			continue
		}
		for o, b := range c.dests {
			if o != k && o.disp == disp && b.signals[SignalAccessLog] && b.d.Protocol != "HTTP" {
				delete(c.dests, k)
				break
			}
		}
	}
	for _, k := range c.sortedKeys() {
		if k.port != 0 || k.host == hostUnknown || k.host == "*" || k.disp == DispositionBypassed {
			continue
		}
		var match []destKey
		for _, o := range c.sortedKeys() {
			if o.host == k.host && o.disp == k.disp && o.port != 0 {
				match = append(match, o)
			}
		}
		if len(match) != 1 {
			continue
		}
		c.dests[match[0]].absorb(c.dests[k])
		delete(c.dests, k)
	}
	out := make([]Destination, 0, len(c.dests))
	for _, k := range c.sortedKeys() {
		out = append(out, c.dests[k].render(c.pod))
	}
	return out
}

func (a *destAcc) absorb(o *destAcc) {
	for s := range o.signals {
		a.signals[s] = true
	}
	for name, b := range o.buckets {
		mine := a.bucket(name)
		mine.Connections += b.Connections
		mine.Requests += b.Requests
		mine.BytesSent += b.BytesSent
		mine.BytesReceived += b.BytesReceived
	}
	for k, v := range o.codes {
		a.codes[k] += v
	}
	for k, v := range o.flags {
		a.flags[k] += v
	}
	for k := range o.addrs {
		a.addrs[k] = true
	}
	if o.lastSeen.After(a.lastSeen) {
		a.lastSeen = o.lastSeen
	}
	a.setProtocol(o.d.Protocol)
	if a.d.Cluster == "" {
		a.d.Cluster = o.d.Cluster
	}
}

func (a *destAcc) render(pod string) Destination {
	d := a.d
	d.Pods = []string{pod}
	for s := range a.signals {
		d.Signals = append(d.Signals, s)
	}
	sortSignals(d.Signals)
	for _, b := range a.buckets {
		d.Counts = maxCounts(d.Counts, *b)
	}
	if len(a.codes) > 0 {
		d.ResponseCodes = maps.Clone(a.codes)
	}
	if len(a.flags) > 0 {
		d.ResponseFlags = maps.Clone(a.flags)
	}
	if len(a.requests) > 0 {
		d.Requests = maps.Clone(a.requests)
	}
	if !a.lastSeen.IsZero() {
		t := a.lastSeen.UTC()
		d.LastSeen = &t
	}
	d.Addresses = slices.Sorted(maps.Keys(a.addrs))
	if len(d.Addresses) == 0 {
		d.Addresses = nil
	}
	d.Recommendation = recommend(d)
	return d
}

func sortSignals(s []Signal) {
	sort.Slice(s, func(i, j int) bool { return signalOrder[s[i]] < signalOrder[s[j]] })
}

func maxCounts(a, b Counts) Counts {
	return Counts{
		Connections:   max(a.Connections, b.Connections),
		Requests:      max(a.Requests, b.Requests),
		BytesSent:     max(a.BytesSent, b.BytesSent),
		BytesReceived: max(a.BytesReceived, b.BytesReceived),
	}
}

// endpointsOf lists cluster hosts from /clusters when it was read, else from the config dump.
func endpointsOf(hosts []HostStatus, cfg *configView, fromClusters bool, pod string) []Endpoint {
	var out []Endpoint
	if fromClusters {
		for _, h := range hosts {
			out = append(out, Endpoint{Cluster: h.Cluster, Address: h.Address, Health: h.Health, Source: EndpointSourceClusters})
		}
	} else {
		out = slices.Clone(cfg.endpoints)
	}
	for i := range out {
		out[i].Pods = []string{pod}
	}
	sortEndpoints(out)
	return out
}

func sortEndpoints(e []Endpoint) {
	sort.Slice(e, func(i, j int) bool {
		if e[i].Cluster != e[j].Cluster {
			return e[i].Cluster < e[j].Cluster
		}
		return e[i].Address < e[j].Address
	})
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
