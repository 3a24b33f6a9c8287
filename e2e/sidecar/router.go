package sidecar

import (
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
)

// Well-known names in Istio's generated config.
const (
	passthroughCluster = "PassthroughCluster"
	blackHoleCluster   = "BlackHoleCluster"
	virtualOutbound    = "virtualOutbound"
	tlsInspector       = "envoy.filters.listener.tls_inspector"
	httpInspector      = "envoy.filters.listener.http_inspector"
	// dynamicForwardProxy is the cluster type of ALLOW_ANY_DYNAMIC_DNS's AllowAnyDynamicDNSCluster.
	dynamicForwardProxy = "envoy.clusters.dynamic_forward_proxy"
	istioStatsFilter    = "istio.stats"
)

// Flow is one connection (and, for HTTP, one request on it) as the proxy receives it.
type Flow struct {
	Call
	// SourceIP is the pod's IP (downstream remote address).
	SourceIP string
}

// Outcome is what Envoy does with a flow under a given config.
type Outcome struct {
	Bypassed    bool   // excluded from capture: the proxy never sees it
	Listener    string // listener that handled the connection
	FilterChain string // its name, "" when unnamed
	NoChain     bool   // no filter chain matched: connection closed (NR)
	// SNI is the requested server name as Envoy knows it: empty unless a TLS inspector ran.
	SNI string

	HTTP        bool   // handled by an HTTP connection manager
	RouteConfig string // RDS / inline route config name
	VirtualHost string
	Route       string // route name, e.g. "allow_any", "block_all", "default"

	Cluster        string // upstream cluster; empty for a direct response or no route
	DirectResponse bool
	ResponseCode   int    // HTTP status; 0 for TCP
	ResponseFlags  string // Envoy short flags, "-" for none
	CodeDetails    string // %RESPONSE_CODE_DETAILS%
	UpstreamHost   string // IP:port of the upstream host, empty when none
	UpstreamTLS    bool   // the cluster originates TLS

	// ServiceHost and ServiceName come from the cluster's istio metadata (services[0]).
	ServiceHost, ServiceName string

	accessLogs  []*accesslogv3.AccessLog
	statsFilter bool // istio.stats is in the chain: Istio standard metrics are recorded
}

// Route decides what a proxy with config snap does with flow f, the way Envoy would.
// dns resolves STRICT_DNS endpoints (simulated DNS); router is true for gateways, whose
// listeners bind the port directly instead of capturing through virtualOutbound.
func Route(snap *Snapshot, f Flow, dns map[string]string, router bool) Outcome {
	out := Outcome{ResponseFlags: "-", CodeDetails: "-"}
	l := selectListener(snap, f, router)
	if l == nil {
		out.NoChain = true
		out.ResponseFlags = "NR"
		return out
	}
	out.Listener = l.GetName()
	conn := inspect(l, f)
	if conn.tls {
		out.SNI = conn.sni
	}
	fc := matchFilterChain(l, conn)
	if fc == nil {
		out.NoChain = true
		out.ResponseFlags = "NR"
		return out
	}
	out.FilterChain = fc.GetName()
	for _, flt := range fc.GetFilters() {
		if flt.GetName() == istioStatsFilter {
			out.statsFilter = true
		}
		tc := flt.GetTypedConfig()
		switch {
		case tc.MessageIs(&tcpv3.TcpProxy{}):
			tp := &tcpv3.TcpProxy{}
			if tc.UnmarshalTo(tp) != nil {
				continue
			}
			out.accessLogs = tp.GetAccessLog()
			out.Cluster = tcpCluster(tp)
			resolveUpstream(snap, &out, f, dns, false)
			return out
		case tc.MessageIs(&hcmv3.HttpConnectionManager{}):
			h := &hcmv3.HttpConnectionManager{}
			if tc.UnmarshalTo(h) != nil {
				continue
			}
			out.HTTP = true
			out.accessLogs = h.GetAccessLog()
			for _, hf := range h.GetHttpFilters() {
				if hf.GetName() == istioStatsFilter {
					out.statsFilter = true
				}
			}
			routeHTTP(snap, h, &out, f, dns)
			return out
		}
	}
	out.NoChain = true
	out.ResponseFlags = "NR"
	return out
}

// selectListener finds the listener for a flow: for a sidecar, iptables sends everything to
// virtualOutbound, which hands the connection to the listener for the original destination
// (IP:port, then 0.0.0.0:port) when one exists.
func selectListener(snap *Snapshot, f Flow, router bool) *listenerv3.Listener {
	var exact, wildcard, vo *listenerv3.Listener
	for _, l := range snap.Listeners {
		sa := l.GetAddress().GetSocketAddress()
		if l.GetName() == virtualOutbound {
			vo = l
			continue
		}
		if sa == nil || int(sa.GetPortValue()) != f.Port {
			continue
		}
		if l.GetTrafficDirection() == corev3.TrafficDirection_INBOUND {
			continue
		}
		switch sa.GetAddress() {
		case f.IP:
			exact = l
		case "0.0.0.0", "::":
			wildcard = l
		}
	}
	if exact != nil {
		return exact
	}
	if wildcard != nil {
		return wildcard
	}
	if router {
		return nil
	}
	return vo
}

// connInfo is what the listener filters learn about a connection.
type connInfo struct {
	dstIP     string
	dstPort   int
	srcIP     string
	tls       bool // the client speaks TLS
	transport string
	sni       string
	alpn      []string
}

func inspect(l *listenerv3.Listener, f Flow) connInfo {
	c := connInfo{dstIP: f.IP, dstPort: f.Port, srcIP: f.SourceIP, transport: "raw_buffer"}
	var hasTLS, hasHTTP bool
	for _, lf := range l.GetListenerFilters() {
		switch lf.GetName() {
		case tlsInspector:
			hasTLS = true
		case httpInspector:
			hasHTTP = true
		}
	}
	isTLS := f.Scheme == SchemeHTTPS || f.Scheme == SchemeTLSNoSNI
	if isTLS && hasTLS {
		c.tls = true
		c.transport = "tls"
		if f.Scheme == SchemeHTTPS {
			c.sni = f.Host
		}
		c.alpn = []string{"h2", "http/1.1"}
	}
	if f.Scheme == SchemeHTTP && hasHTTP {
		c.alpn = []string{"http/1.1"}
	}
	return c
}

// matchFilterChain applies Envoy's filter chain match order: destination port, destination
// IP, server name, transport protocol, application protocols, then source criteria. At each
// step the most specific matching chains win, chains without the criterion are the fallback,
// and there is no backtracking.
func matchFilterChain(l *listenerv3.Listener, c connInfo) *listenerv3.FilterChain {
	cands := l.GetFilterChains()
	steps := []func(*listenerv3.FilterChainMatch) (specific bool, score int, ok bool){
		func(m *listenerv3.FilterChainMatch) (bool, int, bool) {
			if m.GetDestinationPort() == nil {
				return false, 0, true
			}
			return true, 0, int(m.GetDestinationPort().GetValue()) == c.dstPort
		},
		func(m *listenerv3.FilterChainMatch) (bool, int, bool) {
			if len(m.GetPrefixRanges()) == 0 {
				return false, 0, true
			}
			best := -1
			for _, r := range m.GetPrefixRanges() {
				if bits, ok := cidrContains(r, c.dstIP); ok && bits > best {
					best = bits
				}
			}
			return true, best, best >= 0
		},
		func(m *listenerv3.FilterChainMatch) (bool, int, bool) {
			if len(m.GetServerNames()) == 0 {
				return false, 0, true
			}
			best := -1
			for _, n := range m.GetServerNames() {
				if s := serverNameScore(n, c.sni); s > best {
					best = s
				}
			}
			return true, best, best >= 0
		},
		func(m *listenerv3.FilterChainMatch) (bool, int, bool) {
			if m.GetTransportProtocol() == "" {
				return false, 0, true
			}
			return true, 0, m.GetTransportProtocol() == c.transport
		},
		func(m *listenerv3.FilterChainMatch) (bool, int, bool) {
			if len(m.GetApplicationProtocols()) == 0 {
				return false, 0, true
			}
			for _, p := range m.GetApplicationProtocols() {
				for _, a := range c.alpn {
					if p == a {
						return true, 0, true
					}
				}
			}
			return true, 0, false
		},
		func(m *listenerv3.FilterChainMatch) (bool, int, bool) {
			if len(m.GetSourcePrefixRanges()) == 0 && len(m.GetDirectSourcePrefixRanges()) == 0 {
				return false, 0, true
			}
			best := -1
			for _, r := range append(append([]*corev3.CidrRange{}, m.GetDirectSourcePrefixRanges()...), m.GetSourcePrefixRanges()...) {
				if bits, ok := cidrContains(r, c.srcIP); ok && bits > best {
					best = bits
				}
			}
			return true, best, best >= 0
		},
	}
	for _, step := range steps {
		var specific, generic []*listenerv3.FilterChain
		bestScore := -1
		for _, fc := range cands {
			isSpecific, score, ok := step(fc.GetFilterChainMatch())
			switch {
			case !isSpecific:
				generic = append(generic, fc)
			case ok && score > bestScore:
				bestScore = score
				specific = []*listenerv3.FilterChain{fc}
			case ok && score == bestScore:
				specific = append(specific, fc)
			}
		}
		if len(specific) > 0 {
			cands = specific
		} else {
			cands = generic
		}
		if len(cands) == 0 {
			break
		}
	}
	if len(cands) > 0 {
		return cands[0]
	}
	return l.GetDefaultFilterChain()
}

func cidrContains(r *corev3.CidrRange, ip string) (int, bool) {
	bits := int(r.GetPrefixLen().GetValue())
	p := net.ParseIP(r.GetAddressPrefix())
	a := net.ParseIP(ip)
	if p == nil || a == nil {
		return 0, false
	}
	size := 128
	if p.To4() != nil {
		size = 32
		p, a = p.To4(), a.To4()
		if a == nil {
			return 0, false
		}
	}
	if r.GetPrefixLen() == nil {
		bits = size
	}
	n := &net.IPNet{IP: p.Mask(net.CIDRMask(bits, size)), Mask: net.CIDRMask(bits, size)}
	return bits, n.Contains(a)
}

// serverNameScore ranks how a filter chain server name matches the SNI: exact beats
// wildcard, longer wildcard beats shorter; -1 is no match.
func serverNameScore(pattern, sni string) int {
	if sni == "" {
		return -1
	}
	if pattern == sni {
		return 1 << 20
	}
	if strings.HasPrefix(pattern, "*.") && strings.HasSuffix(sni, pattern[1:]) {
		return len(pattern)
	}
	return -1
}

func tcpCluster(tp *tcpv3.TcpProxy) string {
	if c := tp.GetCluster(); c != "" {
		return c
	}
	var best string
	var bestW uint32
	for _, wc := range tp.GetWeightedClusters().GetClusters() {
		if wc.GetWeight() > bestW || best == "" {
			best, bestW = wc.GetName(), wc.GetWeight()
		}
	}
	return best
}

func routeHTTP(snap *Snapshot, h *hcmv3.HttpConnectionManager, out *Outcome, f Flow, dns map[string]string) {
	rc := h.GetRouteConfig()
	if name := h.GetRds().GetRouteConfigName(); name != "" {
		out.RouteConfig = name
		rc = snap.Routes[name]
	} else if rc != nil {
		out.RouteConfig = rc.GetName()
	}
	noRoute := func() {
		out.ResponseCode, out.ResponseFlags, out.CodeDetails = 404, "NR", "route_not_found"
	}
	if rc == nil {
		noRoute()
		return
	}
	vh := selectVirtualHost(rc, authority(f.Call))
	if vh == nil {
		noRoute()
		return
	}
	out.VirtualHost = vh.GetName()
	path := f.Path
	if path == "" {
		path = "/"
	}
	for _, r := range vh.GetRoutes() {
		if !routeMatches(r.GetMatch(), path) {
			continue
		}
		out.Route = r.GetName()
		switch a := r.GetAction().(type) {
		case *routev3.Route_DirectResponse:
			out.DirectResponse = true
			out.ResponseCode = int(a.DirectResponse.GetStatus())
			out.CodeDetails = "direct_response"
			return
		case *routev3.Route_Redirect:
			out.DirectResponse = true
			out.ResponseCode = 301
			out.CodeDetails = "direct_response"
			return
		case *routev3.Route_Route:
			out.Cluster = routeCluster(a.Route)
			if out.Cluster == "" {
				noRoute()
				return
			}
			resolveUpstream(snap, out, f, dns, true)
			return
		}
	}
	noRoute()
}

func routeCluster(ra *routev3.RouteAction) string {
	if c := ra.GetCluster(); c != "" {
		return c
	}
	var best string
	var bestW uint32
	for _, wc := range ra.GetWeightedClusters().GetClusters() {
		if wc.GetWeight().GetValue() > bestW || best == "" {
			best, bestW = wc.GetName(), wc.GetWeight().GetValue()
		}
	}
	return best
}

// authority is the Host header curl sends: the port only when it is not the scheme's default.
func authority(c Call) string {
	if c.Port == 0 || c.Port == 80 && c.Scheme == SchemeHTTP || c.Port == 443 && c.Scheme == SchemeHTTPS {
		return c.Host
	}
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

// selectVirtualHost follows Envoy's domain search: exact, then the longest suffix wildcard,
// then the longest prefix wildcard, then "*".
func selectVirtualHost(rc *routev3.RouteConfiguration, host string) *routev3.VirtualHost {
	host = strings.ToLower(host)
	hosts := []string{host}
	if rc.GetIgnorePortInHostMatching() {
		if h, _, err := net.SplitHostPort(host); err == nil {
			hosts = []string{h}
		}
	}
	var star *routev3.VirtualHost
	type cand struct {
		vh    *routev3.VirtualHost
		score int
	}
	var suffix, prefix []cand
	for _, vh := range rc.GetVirtualHosts() {
		for _, d := range vh.GetDomains() {
			d = strings.ToLower(d)
			for _, h := range hosts {
				switch {
				case d == "*":
					if star == nil {
						star = vh
					}
				case d == h:
					return vh
				case strings.HasPrefix(d, "*") && strings.HasSuffix(h, d[1:]) && len(h) > len(d)-1:
					suffix = append(suffix, cand{vh, len(d)})
				case strings.HasSuffix(d, "*") && strings.HasPrefix(h, d[:len(d)-1]) && len(h) > len(d)-1:
					prefix = append(prefix, cand{vh, len(d)})
				}
			}
		}
	}
	for _, cs := range [][]cand{suffix, prefix} {
		if len(cs) > 0 {
			sort.SliceStable(cs, func(i, j int) bool { return cs[i].score > cs[j].score })
			return cs[0].vh
		}
	}
	return star
}

func routeMatches(m *routev3.RouteMatch, path string) bool {
	p := path
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	switch ps := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		return strings.HasPrefix(p, ps.Prefix)
	case *routev3.RouteMatch_Path:
		return p == ps.Path
	case *routev3.RouteMatch_PathSeparatedPrefix:
		return p == ps.PathSeparatedPrefix || strings.HasPrefix(p, ps.PathSeparatedPrefix+"/")
	case *routev3.RouteMatch_SafeRegex:
		re, err := regexp.Compile("^(?:" + ps.SafeRegex.GetRegex() + ")$")
		return err == nil && re.MatchString(p)
	}
	return true
}

// resolveUpstream picks the upstream host the cluster's load balancer would use.
func resolveUpstream(snap *Snapshot, out *Outcome, f Flow, dns map[string]string, http bool) {
	c := snap.Cluster(out.Cluster)
	if c == nil {
		out.ResponseFlags, out.CodeDetails = "NC", "cluster_not_found"
		if http {
			out.ResponseCode = 503
		}
		return
	}
	out.ServiceHost, out.ServiceName = istioService(c)
	out.UpstreamTLS = c.GetTransportSocket().GetName() == "envoy.transport_sockets.tls"
	out.UpstreamHost = upstreamHost(snap, c, f, dns)
	if out.UpstreamHost == "" {
		out.ResponseFlags = "UH"
		if http {
			out.ResponseCode, out.CodeDetails = 503, "no_healthy_upstream"
		}
		return
	}
	if !http {
		return
	}
	out.ResponseCode, out.CodeDetails = 200, "via_upstream"
	// Plaintext HTTP sent to an HTTPS port: the server answers 400 (an SE targetPort 443
	// without a DestinationRule that originates TLS).
	if !out.UpstreamTLS && strings.HasSuffix(out.UpstreamHost, ":443") {
		out.ResponseCode = 400
	}
}

func upstreamHost(snap *Snapshot, c *clusterv3.Cluster, f Flow, dns map[string]string) string {
	if c.GetClusterType().GetName() == dynamicForwardProxy {
		// Resolved from the request's host, as the app's own DNS answer.
		ip := f.IP
		if a, ok := dns[f.Host]; ok {
			ip = a
		}
		return net.JoinHostPort(ip, strconv.Itoa(f.Port))
	}
	switch c.GetType() {
	case clusterv3.Cluster_ORIGINAL_DST:
		return net.JoinHostPort(f.IP, strconv.Itoa(f.Port))
	case clusterv3.Cluster_EDS:
		name := c.GetEdsClusterConfig().GetServiceName()
		if name == "" {
			name = c.GetName()
		}
		return firstEndpoint(snap.Endpoints[name].GetEndpoints(), nil)
	case clusterv3.Cluster_STRICT_DNS, clusterv3.Cluster_LOGICAL_DNS:
		return firstEndpoint(c.GetLoadAssignment().GetEndpoints(), dns)
	default:
		return firstEndpoint(c.GetLoadAssignment().GetEndpoints(), nil)
	}
}

// firstEndpoint returns the first usable endpoint; with dns set, hostnames are resolved and
// unresolvable ones skipped (a DNS cluster with no answer has no hosts).
func firstEndpoint(eps []*endpointv3.LocalityLbEndpoints, dns map[string]string) string {
	for _, loc := range eps {
		for _, lb := range loc.GetLbEndpoints() {
			switch lb.GetHealthStatus() {
			case corev3.HealthStatus_UNHEALTHY, corev3.HealthStatus_DRAINING, corev3.HealthStatus_TIMEOUT:
				continue
			}
			sa := lb.GetEndpoint().GetAddress().GetSocketAddress()
			if sa == nil {
				continue
			}
			addr := sa.GetAddress()
			if dns != nil && net.ParseIP(addr) == nil {
				ip, ok := dns[strings.TrimSuffix(addr, ".")]
				if !ok {
					continue
				}
				addr = ip
			}
			return net.JoinHostPort(addr, strconv.Itoa(int(sa.GetPortValue())))
		}
	}
	return ""
}

// istioService reads services[0] from the cluster's istio filter metadata.
func istioService(c *clusterv3.Cluster) (host, name string) {
	md := c.GetMetadata().GetFilterMetadata()["istio"]
	svcs := md.GetFields()["services"].GetListValue().GetValues()
	if len(svcs) == 0 {
		return "", ""
	}
	f := svcs[0].GetStructValue().GetFields()
	host = f["host"].GetStringValue()
	name = f["name"].GetStringValue()
	if name == "" {
		name, _, _ = strings.Cut(host, ".")
	}
	return host, name
}
