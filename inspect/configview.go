package inspect

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	filev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	internalv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/internal_upstream/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
)

// configView is what one proxy's configuration says about egress.
type configView struct {
	clusters map[string]*Cluster // by name
	// endpoints from EDS and inline load assignments, for when /clusters was not read.
	endpoints []Endpoint
	// mtlsEndpoints says, per cluster with endpoints, whether any endpoint is labelled tlsMode=istio.
	mtlsEndpoints map[string]bool
	// mode is the effective outbound mode; modeSource says where it came from.
	mode, modeSource string
	// dynamicDNS: virtualOutbound sends plain HTTP to AllowAnyDynamicDNSCluster.
	dynamicDNS        bool
	haveListeners     bool
	accessLogInConfig bool
	// trafficOnly: only the clusters the traffic used and virtualOutbound were read (ConfigTraffic),
	// not the routes and SNI chains.
	trafficOnly bool
	// logFormats are the formats of the file access loggers writing to the container log, in
	// the order first met.
	logFormats []*LogFormat
	// formatsSeen are the access-log formats met on listeners, parsed or not.
	formatsSeen map[string]bool
	// sniRoutes and hostRoutes map an external host on a listener port to the cluster that serves it.
	routes []hostRoute
	// clusterAddrs are the IP:ports that listeners bind to each cluster: a ServiceEntry's
	// addresses, the only way an IP-only host is known on the proxy.
	clusterAddrs map[string][]string
}

// hostRoute is "traffic to host:port goes to cluster", from an SNI filter chain or an HTTP virtual host.
type hostRoute struct {
	host     string
	port     uint32
	cluster  string
	protocol string // TLS for SNI chains, HTTP for virtual hosts
	// rewrite is the Host/:authority the route sends instead (a VirtualService's rewrite.authority).
	rewrite string
}

func newConfigView(pc *ProxyConfig) *configView {
	v := &configView{clusters: map[string]*Cluster{}, mtlsEndpoints: map[string]bool{}, clusterAddrs: map[string][]string{}}
	for _, c := range pc.Clusters {
		cl := describeCluster(c)
		v.clusters[cl.Name] = &cl
		if la := c.GetLoadAssignment(); la != nil {
			v.addEndpoints(cl.Name, la.GetEndpoints(), EndpointSourceConfig)
		}
	}
	// EDS endpoints never add a cluster: istioctl lists only the dump's clusters, and an
	// endpoints-only dump has none.
	for _, e := range pc.Endpoints {
		v.addEndpoints(e.GetClusterName(), e.GetEndpoints(), EndpointSourceEDS)
	}
	for name, cl := range v.clusters {
		// Auto mTLS applies per endpoint: only those labelled tlsMode=istio get Istio's mTLS.
		if cl.TLS == "AUTO_ISTIO_MUTUAL" {
			switch mtls, known := v.mtlsEndpoints[name]; {
			case known && mtls:
				cl.TLS = "ISTIO_MUTUAL"
			case known:
				cl.TLS = ""
			}
		}
	}
	for _, l := range pc.Listeners {
		v.addListener(l)
	}
	for _, r := range pc.Routes {
		v.addRouteConfig(r)
	}
	if v.dynamicDNS && v.mode == ModeAllowAny {
		v.mode = ModeAllowAnyDynamicDNS
		v.modeSource += "; plain HTTP → " + clusterAllowAnyDynamicDNS
	}
	for name, addrs := range v.clusterAddrs {
		if cl := v.clusters[name]; cl != nil {
			slices.Sort(addrs)
			cl.Addresses = slices.Compact(addrs)
		}
	}
	return v
}

func clusterFromName(name string) Cluster {
	p := parseClusterName(name)
	return Cluster{
		Name: name, Direction: p.direction, Port: p.port, Subset: p.subset, Host: p.host,
		External: sendsOut(p.direction) && p.host != "" && !isMeshInternalHost(p.host),
	}
}

// describeCluster reads a cluster the way istioctl proxy-config cluster shows it, plus the TLS facts.
func describeCluster(c *clusterv3.Cluster) Cluster {
	cl := clusterFromName(c.GetName())
	cl.Limits = clusterLimits(c)
	cl.Type = c.GetType().String()
	if c.GetClusterType() != nil {
		cl.Type = c.GetClusterType().GetName()
	}
	if md := c.GetMetadata().GetFilterMetadata()["istio"]; md != nil {
		f := md.GetFields()
		if ext, ok := f["external"]; ok {
			cl.External = ext.GetBoolValue()
		}
		cl.DestinationRule = destinationRuleName(f["config"].GetStringValue())
	}
	for _, le := range c.GetLoadAssignment().GetEndpoints() {
		for _, lb := range le.GetLbEndpoints() {
			if p := lb.GetEndpoint().GetAddress().GetSocketAddress().GetPortValue(); p != 0 && !slices.Contains(cl.EndpointPorts, p) {
				cl.EndpointPorts = append(cl.EndpointPorts, p)
			}
		}
	}
	slices.Sort(cl.EndpointPorts)
	if utc := userTLS(c); utc != nil {
		cl.TLS = tlsMode(utc)
		cl.SNI = utc.GetSni()
		if cl.SNI == "" && autoSNI(c) {
			cl.SNI = "auto"
		}
	} else {
		for _, m := range c.GetTransportSocketMatches() {
			switch utc := upstreamTLS(m.GetTransportSocket()); {
			case utc == nil:
			case m.GetMatch().GetFields()["tlsMode"].GetStringValue() == "istio":
				cl.TLS = "AUTO_ISTIO_MUTUAL"
			case m.GetName() == "tlsMode-istio" && len(m.GetMatch().GetFields()) == 0:
				// A DestinationRule's ISTIO_MUTUAL beside HBONE (applyHBONETransportSocketMatches).
				cl.TLS = tlsMode(utc)
			}
		}
	}
	return cl
}

// clusterLimits reads the connection settings istiod renders from a DestinationRule's
// trafficPolicy: the connect timeout, the default-priority circuit breakers, the HTTP protocol
// options and outlier detection.
func clusterLimits(c *clusterv3.Cluster) *ClusterLimits {
	l := &ClusterLimits{ConnectTimeout: durationString(c.GetConnectTimeout())}
	for _, th := range c.GetCircuitBreakers().GetThresholds() {
		if th.GetPriority() == corev3.RoutingPriority_DEFAULT {
			l.MaxConnections = limit(th.GetMaxConnections().GetValue())
			l.MaxPendingRequests = limit(th.GetMaxPendingRequests().GetValue())
			l.MaxRequests = limit(th.GetMaxRequests().GetValue())
		}
	}
	opts := unpack(c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"], &httpv3.HttpProtocolOptions{})
	l.MaxRequestsPerConnection = opts.GetCommonHttpProtocolOptions().GetMaxRequestsPerConnection().GetValue()
	l.IdleTimeout = durationString(opts.GetCommonHttpProtocolOptions().GetIdleTimeout())
	if od := c.GetOutlierDetection(); od != nil {
		l.Consecutive5xx = od.GetConsecutive_5Xx().GetValue()
		l.ConsecutiveGatewayErrors = od.GetConsecutiveGatewayFailure().GetValue()
		l.OutlierInterval = durationString(od.GetInterval())
		l.BaseEjectionTime = durationString(od.GetBaseEjectionTime())
		l.MaxEjectionPercent = od.GetMaxEjectionPercent().GetValue()
	}
	if *l == (ClusterLimits{}) {
		return nil
	}
	return l
}

// limit is a circuit-breaker threshold, 0 for Istio's "no limit" (the 32-bit maximum it writes
// when a DestinationRule sets none).
func limit(v uint32) uint32 {
	if v == math.MaxUint32 {
		return 0
	}
	return v
}

func durationString(d *durationpb.Duration) string {
	if d == nil {
		return ""
	}
	return d.AsDuration().String()
}

// destinationRuleName takes "/apis/networking.istio.io/v1/namespaces/NS/destination-rule/NAME" to "NS/NAME".
func destinationRuleName(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := 0; i+3 < len(parts); i++ {
		if parts[i] == "namespaces" && parts[i+2] == "destination-rule" {
			return parts[i+1] + "/" + parts[i+3]
		}
	}
	return path
}

// userTLS is the TLS a DestinationRule asks of a cluster: its transport_socket or, when istiod
// may send HBONE (ambient enabled: PILOT_ENABLE_SENDING_HBONE), the match it names "user", which
// istiod uses instead beside an "hbone" match wrapping the same TLS (pilot's cluster_tls.go,
// applyHBONETransportSocketMatches).
func userTLS(c *clusterv3.Cluster) *tlsv3.UpstreamTlsContext {
	if utc := upstreamTLS(c.GetTransportSocket()); utc != nil {
		return utc
	}
	for _, m := range c.GetTransportSocketMatches() {
		if m.GetName() == "user" && len(m.GetMatch().GetFields()) == 0 {
			return upstreamTLS(m.GetTransportSocket())
		}
	}
	return nil
}

func upstreamTLS(ts *corev3.TransportSocket) *tlsv3.UpstreamTlsContext {
	if ts == nil {
		return nil
	}
	// A waypoint's clusters wrap their transport socket in an internal upstream one (the
	// connection goes through an internal listener first): the TLS to the host is inside.
	if iu := unpack(ts.GetTypedConfig(), &internalv3.InternalUpstreamTransport{}); iu != nil {
		ts = iu.GetTransportSocket()
	}
	return unpack(ts.GetTypedConfig(), &tlsv3.UpstreamTlsContext{})
}

// tlsMode names the DestinationRule TLS mode that produced an UpstreamTlsContext: Istio's own
// mTLS presents the SDS secret "default"; a client certificate of any other origin is MUTUAL.
func tlsMode(utc *tlsv3.UpstreamTlsContext) string {
	ctc := utc.GetCommonTlsContext()
	for _, s := range ctc.GetTlsCertificateSdsSecretConfigs() {
		if s.GetName() == "default" {
			return "ISTIO_MUTUAL"
		}
	}
	if len(ctc.GetTlsCertificates()) > 0 || len(ctc.GetTlsCertificateSdsSecretConfigs()) > 0 {
		return "MUTUAL"
	}
	return "SIMPLE"
}

func autoSNI(c *clusterv3.Cluster) bool {
	opts := unpack(c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"], &httpv3.HttpProtocolOptions{})
	return opts.GetUpstreamHttpProtocolOptions().GetAutoSni()
}

func (v *configView) addEndpoints(cluster string, les []*endpointv3.LocalityLbEndpoints, source string) {
	for _, le := range les {
		for _, lb := range le.GetLbEndpoints() {
			md := lb.GetMetadata().GetFilterMetadata()["envoy.transport_socket_match"]
			v.mtlsEndpoints[cluster] = v.mtlsEndpoints[cluster] || md.GetFields()["tlsMode"].GetStringValue() == "istio"
			addr := addressString(lb.GetEndpoint().GetAddress())
			if addr == "" {
				continue
			}
			health := lb.GetHealthStatus()
			h := health.String()
			if health == corev3.HealthStatus_UNKNOWN {
				// Envoy load-balances to UNKNOWN hosts as healthy; istioctl prints them so.
				h = "HEALTHY"
			}
			v.endpoints = append(v.endpoints, Endpoint{Cluster: cluster, Address: addr, Health: h, Source: source})
		}
	}
}

func (v *configView) addListener(l *listenerv3.Listener) {
	if l.GetTrafficDirection() == corev3.TrafficDirection_INBOUND || l.GetName() == "virtualInbound" {
		return
	}
	v.haveListeners = true
	v.addAccessLogs(l.GetName(), l.GetAccessLog())
	port := l.GetAddress().GetSocketAddress().GetPortValue()
	chains := l.GetFilterChains()
	if dc := l.GetDefaultFilterChain(); dc != nil {
		chains = append(slices.Clip(chains), dc)
	}
	for _, fc := range chains {
		tcp, hcm := chainFilters(fc)
		v.addAccessLogs(l.GetName(), tcp.GetAccessLog())
		v.addAccessLogs(l.GetName(), hcm.GetAccessLog())
		if l.GetName() == listenerVirtualOutbound {
			// The catch-all is the chain without a match (or the default chain): its cluster is the
			// proxy's real outbound mode whatever the chains are named.
			if isCatchAll(fc, l) && tcp != nil {
				v.mode, v.modeSource = modeOf(tcp.GetCluster())
			}
			// ALLOW_ANY_DYNAMIC_DNS adds a chain for plain HTTP whose route sends unknown hosts
			// to the dynamic forward proxy; TLS and TCP still fall to PassthroughCluster.
			if slices.Contains(routeClustersOf(hcm.GetRouteConfig()), clusterAllowAnyDynamicDNS) {
				v.dynamicDNS = true
			}
			continue
		}
		if rc := hcm.GetRouteConfig(); rc != nil {
			v.addRouteConfig(rc)
		}
		for _, addr := range boundAddresses(l, fc) {
			for _, c := range tcpClusters(tcp) {
				v.clusterAddrs[c] = append(v.clusterAddrs[c], addr)
			}
		}
		for _, sni := range fc.GetFilterChainMatch().GetServerNames() {
			for _, c := range tcpClusters(tcp) {
				v.routes = append(v.routes, hostRoute{host: sni, port: port, cluster: c, protocol: "TLS"})
			}
		}
	}
}

// boundAddresses are the single IPs a filter chain serves, as IP:port: the listener's own
// address when it is not a wildcard ("198.51.100.7_8443"), or /32 and /128 destination prefixes
// of the chain's match.
func boundAddresses(l *listenerv3.Listener, fc *listenerv3.FilterChain) []string {
	sa := l.GetAddress().GetSocketAddress()
	port := sa.GetPortValue()
	if port == 0 {
		return nil
	}
	var out []string
	if ip := net.ParseIP(sa.GetAddress()); ip != nil && !ip.IsUnspecified() {
		out = append(out, net.JoinHostPort(ip.String(), strconv.Itoa(int(port))))
	}
	for _, pr := range fc.GetFilterChainMatch().GetPrefixRanges() {
		ip := net.ParseIP(pr.GetAddressPrefix())
		full := uint32(32)
		if ip != nil && ip.To4() == nil {
			full = 128
		}
		if ip != nil && pr.GetPrefixLen().GetValue() == full {
			out = append(out, net.JoinHostPort(ip.String(), strconv.Itoa(int(port))))
		}
	}
	return out
}

// addAccessLogs notes that the listener logs, and the format of each file logger that writes
// to the container log (meshConfig accessLogFile/accessLogFormat/accessLogEncoding and
// Telemetry file providers all end as one).
func (v *configView) addAccessLogs(listener string, als []*accesslogv3.AccessLog) {
	for _, al := range als {
		v.accessLogInConfig = true
		fl := unpack(al.GetTypedConfig(), &filev3.FileAccessLog{})
		if fl == nil || fl.GetPath() != "/dev/stdout" && fl.GetPath() != "/dev/stderr" {
			continue
		}
		sf := fl.GetLogFormat()
		//lint:ignore SA1019 proxies of Istio <= 1.8 (and v2 dumps) set the deprecated fields: their logs are in those formats
		oldJSON, oldText, oldFormat := fl.GetJsonFormat(), sf.GetTextFormat(), fl.GetFormat()
		jsonFormat, text, kind := sf.GetJsonFormat(), "", "TEXT"
		switch {
		case jsonFormat != nil:
		case oldJSON != nil:
			jsonFormat = oldJSON
		case sf.GetTextFormatSource().GetInlineString() != "":
			text = sf.GetTextFormatSource().GetInlineString()
		case oldText != "":
			text = oldText
		case oldFormat != "":
			text = oldFormat
		default:
			text, kind = formatEnvoy, "Envoy default TEXT"
		}
		// Every listener of a proxy carries the same format or two: each is parsed once.
		var ops map[string]string
		key := "text:" + text
		if jsonFormat != nil {
			ops = structOperators(jsonFormat)
			b, _ := json.Marshal(ops) // sorted keys
			key = "json:" + string(b)
		}
		if v.formatsSeen[key] {
			continue
		}
		if v.formatsSeen == nil {
			v.formatsSeen = map[string]bool{}
		}
		v.formatsSeen[key] = true
		name := fmt.Sprintf("proxy's format #%d", len(v.logFormats)+1)
		var lf *LogFormat
		var err error
		if jsonFormat != nil {
			lf, err = JSONLogFormat(name+" (JSON)", ops)
		} else {
			lf, err = TextLogFormat(name+" ("+kind+")", text)
		}
		if err != nil || slices.ContainsFunc(v.logFormats, lf.same) {
			continue
		}
		v.logFormats = append(v.logFormats, lf)
	}
}

// structOperators reads a JSON format's keys and their operator strings.
func structOperators(s *structpb.Struct) map[string]string {
	out := map[string]string{}
	for k, v := range s.GetFields() {
		out[k] = v.GetStringValue()
	}
	return out
}

func isCatchAll(fc *listenerv3.FilterChain, l *listenerv3.Listener) bool {
	if fc == l.GetDefaultFilterChain() {
		return true
	}
	m := fc.GetFilterChainMatch()
	return m == nil || m.GetDestinationPort() == nil && len(m.GetPrefixRanges()) == 0 && len(m.GetServerNames()) == 0 &&
		m.GetTransportProtocol() == "" && len(m.GetApplicationProtocols()) == 0
}

func modeOf(cluster string) (string, string) {
	src := "virtualOutbound catch-all chain → " + cluster
	switch cluster {
	case clusterPassthrough:
		return ModeAllowAny, src
	case clusterBlackHole:
		return ModeRegistryOnly, src
	case clusterAllowAnyDynamicDNS:
		return ModeAllowAnyDynamicDNS, src
	}
	return "", src
}

func chainFilters(fc *listenerv3.FilterChain) (*tcpv3.TcpProxy, *hcmv3.HttpConnectionManager) {
	var tcp *tcpv3.TcpProxy
	var hcm *hcmv3.HttpConnectionManager
	for _, f := range fc.GetFilters() {
		switch tc := f.GetTypedConfig(); {
		case tc.MessageIs(&tcpv3.TcpProxy{}):
			tcp = unpack(tc, &tcpv3.TcpProxy{})
		case tc.MessageIs(&hcmv3.HttpConnectionManager{}):
			hcm = unpack(tc, &hcmv3.HttpConnectionManager{})
		}
	}
	return tcp, hcm
}

func tcpClusters(tcp *tcpv3.TcpProxy) []string {
	if tcp == nil {
		return nil
	}
	if c := tcp.GetCluster(); c != "" {
		return []string{c}
	}
	var out []string
	for _, w := range tcp.GetWeightedClusters().GetClusters() {
		out = append(out, w.GetName())
	}
	return out
}

// addRouteConfig maps each virtual host (Istio names them "HOST:PORT") to the clusters its routes use.
func (v *configView) addRouteConfig(rc *routev3.RouteConfiguration) {
	for _, vh := range rc.GetVirtualHosts() {
		switch vh.GetName() {
		case vhostAllowAny, vhostBlockAll, vhostAllowAnyDynamicDNS:
			continue
		}
		host, port := splitHostPort(vh.GetName())
		if port == 0 {
			continue
		}
		for _, r := range vh.GetRoutes() {
			for _, c := range routeClusters(r) {
				v.routes = append(v.routes, hostRoute{host: host, port: port, cluster: c, protocol: "HTTP",
					rewrite: r.GetRoute().GetHostRewriteLiteral()})
			}
		}
	}
}

// routeClustersOf lists the clusters an inline route configuration sends to.
func routeClustersOf(rc *routev3.RouteConfiguration) []string {
	var out []string
	for _, vh := range rc.GetVirtualHosts() {
		for _, r := range vh.GetRoutes() {
			out = append(out, routeClusters(r)...)
		}
	}
	return out
}

func routeClusters(r *routev3.Route) []string {
	ra := r.GetRoute()
	if ra == nil {
		return nil
	}
	if c := ra.GetCluster(); c != "" {
		return []string{c}
	}
	var out []string
	for _, w := range ra.GetWeightedClusters().GetClusters() {
		out = append(out, w.GetName())
	}
	return out
}

// sortedClusters lists the clusters by name.
func (v *configView) sortedClusters() []Cluster {
	out := make([]Cluster, 0, len(v.clusters))
	for _, c := range v.clusters {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
