package inspect

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// ConfigScope says how much of a proxy's configuration a read fetches (--config-scope).
type ConfigScope string

// The scopes. A proxy's configuration grows with the mesh (every ServiceEntry exported to its
// namespace is a cluster, an SNI chain or a virtual host), its traffic does not: with thousands
// of clusters, nearly all of a whole read is hosts the pod never called.
const (
	// ConfigAuto reads all of it from a proxy of at most TrafficPlanClusters clusters, and what
	// its traffic used from a bigger one.
	ConfigAuto ConfigScope = "auto"
	// ConfigAll reads all of it: every cluster, listener and route configuration, and /clusters.
	ConfigAll ConfigScope = "all"
	// ConfigTraffic reads only the clusters the proxy's metrics name (and ConfigRead.Hosts'),
	// the virtualOutbound listener, the listeners bound to the IPs among those, and /clusters
	// only when it alone can name passthrough or blocked destinations (access logging off).
	ConfigTraffic ConfigScope = "traffic"
)

// ConfigScopes are the values --config-scope takes.
var ConfigScopes = []ConfigScope{ConfigAuto, ConfigAll, ConfigTraffic}

// TrafficPlanClusters is the largest proxy (in clusters, Envoy's cluster_manager.active_clusters)
// that ConfigAuto reads whole. A thousand clusters is about 3 MB of masked cluster configuration
// and a report of a thousand registered hosts: past it, the idle ones drown the traffic.
const TrafficPlanClusters = 1000

// ConfigRead is what of each proxy's configuration a read fetches.
type ConfigRead struct {
	Scope ConfigScope
	// Hosts are hosts whose clusters a traffic read also fetches, traffic or not: the host a
	// command just fixed and now verifies.
	Hosts []string
}

// Validate names the flag when the scope is not one of ConfigScopes.
func (c ConfigRead) Validate() error {
	if c.Scope != "" && !slices.Contains(ConfigScopes, c.Scope) {
		return fmt.Errorf("--config-scope must be auto, all or traffic, not %q", c.Scope)
	}
	return nil
}

// adminRead is one admin output a report needs, and where it goes in Sources.
type adminRead struct {
	path string
	into func(*Sources, []byte)
}

var (
	readStats          = adminRead{StatsPath, func(s *Sources, b []byte) { s.Stats = b }}
	readServerInfo     = adminRead{ServerInfoPath, func(s *Sources, b []byte) { s.ServerInfo = b }}
	readStaticClusters = adminRead{StaticClustersConfigPath, addConfigPart(StaticClustersConfigPath)}
	readOutbound       = adminRead{VirtualOutboundConfigPath, addConfigPart(VirtualOutboundConfigPath)}
	readClusters       = adminRead{ClustersConfigPath, setConfigDump}
	readListeners      = adminRead{OutboundListenersConfigPath, addConfigPart(OutboundListenersConfigPath)}
	readRoutes         = adminRead{RoutesConfigPath, addConfigPart(RoutesConfigPath)}
	readClusterStatus  = adminRead{ClusterStatusPath, func(s *Sources, b []byte) { s.Clusters = b }}
)

func setConfigDump(s *Sources, b []byte) { s.ConfigDump = b }

func addConfigPart(path string) func(*Sources, []byte) {
	return func(s *Sources, b []byte) { s.MoreConfig = append(s.MoreConfig, Part{Name: "/" + path, Data: b}) }
}

// firstReads are small and decide the rest: the stats count the proxy's clusters and name those
// that carried traffic, and virtualOutbound says whether the proxy logs its connections.
var firstReads = []adminRead{readStats, readServerInfo, readStaticClusters, readOutbound}

// wholeReads are the rest of a whole read.
var wholeReads = []adminRead{readClusters, readListeners, readRoutes, readClusterStatus}

// planReads decides what to read after firstReads, from what they gave: the rest of a whole read,
// or a traffic read (traffic is then true). It does no I/O. A proxy whose stats do not count its
// clusters is read whole under ConfigAuto: nothing says it is big.
func planReads(first *Sources, c ConfigRead) (reads []adminRead, traffic bool) {
	st, err := ParseStats(first.Stats)
	if c.Scope == ConfigAll || c.Scope != ConfigTraffic && (err != nil || st.ActiveClusters <= TrafficPlanClusters) {
		return wholeReads, false
	}
	if re := trafficClustersRegex(st, c.Hosts); re != "" {
		reads = append(reads, adminRead{ClustersConfigPath + "&name_regex=" + url.QueryEscape(re), setConfigDump})
	} else {
		reads = append(reads, readClusters) // too many names for a URL: all of the clusters
	}
	if re := ipListenersRegex(st, c.Hosts); re != "" {
		path := "config_dump?resource=dynamic_listeners&name_regex=" + url.QueryEscape(re)
		reads = append(reads, adminRead{path, addConfigPart(path)})
	}
	if unnamedUnregistered(st) && !logsConnections(first.MoreConfig) {
		reads = append(reads, readClusterStatus)
	}
	return reads, true
}

// maxNameRegex bounds the name_regex of a traffic read, well inside the request-line limits of
// Envoy's admin listener and of the API server's proxy. Envoy compiles it with RE2 and refuses a
// program larger than re2.max_program_size.error_level: Istio's bootstrap sets 32768 (Envoy's own
// default is 100), and 8 KiB of quoted names and alternatives compiles to well under that.
const maxNameRegex = 8 << 10

// trafficClustersRegex matches the clusters a traffic read fetches: PassthroughCluster,
// BlackHoleCluster and the dynamic-DNS catch-all, every cluster Envoy's stats counted traffic
// on, and every outbound cluster (any port, any subset) of a host Istio's metrics name as a
// destination, or that hosts names, and a waypoint's inbound-vip|PORT|PROTOCOL|HOST clusters of
// those hosts. It is "" when that many names would not fit a URL.
func trafficClustersRegex(st Stats, hosts []string) string {
	names := []string{clusterPassthrough, clusterBlackHole, clusterAllowAnyDynamicDNS}
	for name, n := range st.Clusters {
		if n != (Counts{}) {
			names = append(names, name)
		}
	}
	named := slices.Clone(hosts)
	for _, s := range st.Istio {
		if h := metricHost(s); h != "" && s.Value > 0 {
			named = append(named, h)
		}
	}
	for i, n := range names {
		names[i] = regexp.QuoteMeta(n)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	slices.Sort(named)
	named = slices.Compact(named)
	alts := names
	if len(named) > 0 {
		quoted := make([]string, len(named))
		for i, h := range named {
			quoted[i] = regexp.QuoteMeta(h)
		}
		alts = append(alts, `(outbound|inbound-vip)\|[0-9]+\|[^|]*\|(`+strings.Join(quoted, "|")+`)`)
	}
	re := "^(" + strings.Join(alts, "|") + ")$"
	if len(re) > maxNameRegex {
		return ""
	}
	return re
}

// ipListenersRegex matches the listeners Istio names after an IP the read is about (198.51.100.7_8443,
// [2001:db8::7]_8443): the IPs among hosts, and those Istio's metrics name as a destination. Such a
// listener is the only place the proxy ties an IP-only host to the cluster of its ServiceEntry
// (N-N-N-N.ip.external), by which the report names that cluster's traffic after the IP. It is ""
// when there is no such IP, or too many for a URL.
func ipListenersRegex(st Stats, hosts []string) string {
	named := slices.Clone(hosts)
	for _, s := range st.Istio {
		if h, _ := metricService(s); s.Value > 0 {
			named = append(named, h)
		}
	}
	var ips []string
	for _, h := range named {
		ip := net.ParseIP(h)
		switch {
		case ip == nil:
			continue
		case ip.To4() != nil:
			ips = append(ips, regexp.QuoteMeta(ip.String()))
		default:
			ips = append(ips, regexp.QuoteMeta("["+ip.String()+"]"))
		}
	}
	if len(ips) == 0 {
		return ""
	}
	slices.Sort(ips)
	re := "^(" + strings.Join(slices.Compact(ips), "|") + ")_[0-9]+$"
	if len(re) > maxNameRegex {
		return ""
	}
	return re
}

// metricHost is the host whose clusters a metric sample asks to read: the service it names as its
// destination, as the classifier reads it (metricService), when that is a host name and not an
// IP or one of Envoy's catch-all clusters.
func metricHost(s MetricSample) string {
	h, _ := metricService(s)
	switch {
	case h == clusterPassthrough || h == clusterBlackHole || h == clusterAllowAnyDynamicDNS:
		return ""
	case net.ParseIP(h) != nil || !strings.Contains(h, "."):
		return ""
	}
	return h
}

// unnamedUnregistered tells whether the stats counted traffic through PassthroughCluster or
// BlackHoleCluster, whose destinations only the access log or /clusters can name.
func unnamedUnregistered(st Stats) bool {
	for _, name := range []string{clusterPassthrough, clusterBlackHole} {
		if st.Clusters[name] != (Counts{}) {
			return true
		}
	}
	for _, s := range st.Istio {
		if d := s.Labels["destination_service_name"]; (d == clusterPassthrough || d == clusterBlackHole) && s.Value > 0 {
			return true
		}
	}
	return false
}

// logsConnections tells whether the virtualOutbound listener among parts writes an access log:
// then the log names passthrough destinations, and /clusters adds nothing a traffic read needs.
func logsConnections(parts []Part) bool {
	for _, p := range parts {
		if p.Name != "/"+VirtualOutboundConfigPath {
			continue
		}
		pc, err := ParseConfigDump(p.Data)
		if err != nil {
			return false
		}
		return newConfigView(pc).accessLogInConfig
	}
	return false
}
