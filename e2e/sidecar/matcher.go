package sidecar

import (
	"strconv"
	"strings"

	xdscore "github.com/cncf/xds/go/xds/core/v3"
	xdsmatcher "github.com/cncf/xds/go/xds/type/matcher/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	networkinputs "github.com/envoyproxy/go-control-plane/envoy/extensions/matching/common_inputs/network/v3"
	internalupstreamv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/internal_upstream/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// chainByMatcher picks a listener's filter chain by its filter_chain_matcher (Envoy's unified
// matcher, which Istio's waypoints use): each tree node reads one input of the connection and
// looks it up; the action it ends on names the chain. No match falls to the default chain.
func chainByMatcher(l *listenerv3.Listener, m *xdsmatcher.Matcher, c connInfo) *listenerv3.FilterChain {
	name, ok := evalMatcher(m, c)
	if !ok {
		return l.GetDefaultFilterChain()
	}
	for _, fc := range l.GetFilterChains() {
		if fc.GetName() == name {
			return fc
		}
	}
	return l.GetDefaultFilterChain()
}

func evalMatcher(m *xdsmatcher.Matcher, c connInfo) (string, bool) {
	if tree := m.GetMatcherTree(); tree != nil {
		if value, known := matcherInput(tree.GetInput(), c); known {
			var hit *xdsmatcher.Matcher_OnMatch
			switch {
			case tree.GetExactMatchMap() != nil:
				hit = tree.GetExactMatchMap().GetMap()[value]
			case tree.GetCustomMatch() != nil:
				hit = ipMatch(tree.GetCustomMatch().GetTypedConfig().GetTypeUrl(), tree, value)
			}
			if hit != nil {
				if name, ok := evalOnMatch(hit, c); ok {
					return name, true
				}
			}
		}
	}
	if m.GetOnNoMatch() != nil {
		return evalOnMatch(m.GetOnNoMatch(), c)
	}
	return "", false
}

func evalOnMatch(om *xdsmatcher.Matcher_OnMatch, c connInfo) (string, bool) {
	if sub := om.GetMatcher(); sub != nil {
		return evalMatcher(sub, c)
	}
	v := &wrapperspb.StringValue{}
	if a := om.GetAction(); a != nil && a.GetTypedConfig().UnmarshalTo(v) == nil {
		return v.GetValue(), true
	}
	return "", false
}

// ipMatch applies an xds IPMatcher: the longest range that holds the address wins.
func ipMatch(typeURL string, tree *xdsmatcher.Matcher_MatcherTree, addr string) *xdsmatcher.Matcher_OnMatch {
	if !strings.HasSuffix(typeURL, "xds.type.matcher.v3.IPMatcher") {
		return nil
	}
	ipm := &xdsmatcher.IPMatcher{}
	if tree.GetCustomMatch().GetTypedConfig().UnmarshalTo(ipm) != nil {
		return nil
	}
	var best *xdsmatcher.Matcher_OnMatch
	bestBits := -1
	for _, rm := range ipm.GetRangeMatchers() {
		for _, r := range rm.GetRanges() {
			cr := &corev3.CidrRange{AddressPrefix: r.GetAddressPrefix(), PrefixLen: r.GetPrefixLen()}
			if bits, ok := cidrContains(cr, addr); ok && bits > bestBits {
				best, bestBits = rm.GetOnMatch(), bits
			}
		}
	}
	return best
}

// matcherInput reads the connection property a matcher input names, as Envoy's network inputs
// render it; known is false for inputs the stand-in does not model (filter state).
func matcherInput(in *xdscore.TypedExtensionConfig, c connInfo) (value string, known bool) {
	tc := in.GetTypedConfig()
	switch {
	case tc.MessageIs(&networkinputs.DestinationIPInput{}):
		return c.dstIP, true
	case tc.MessageIs(&networkinputs.DestinationPortInput{}):
		return strconv.Itoa(c.dstPort), true
	case tc.MessageIs(&networkinputs.SourceIPInput{}):
		return c.srcIP, true
	case tc.MessageIs(&networkinputs.ServerNameInput{}):
		return c.sni, true
	case tc.MessageIs(&networkinputs.TransportProtocolInput{}):
		return c.transport, true
	case tc.MessageIs(&networkinputs.ApplicationProtocolInput{}):
		quoted := make([]string, len(c.alpn))
		for i, p := range c.alpn {
			quoted[i] = "'" + p + "'"
		}
		return strings.Join(quoted, ","), true
	}
	return "", false
}

// originatesTLS tells whether a cluster's upstream transport is TLS, looking through the
// internal_upstream wrapper waypoint clusters carry.
func originatesTLS(c *clusterv3.Cluster) bool {
	ts := c.GetTransportSocket()
	iu := &internalupstreamv3.InternalUpstreamTransport{}
	if ts.GetTypedConfig().MessageIs(iu) && ts.GetTypedConfig().UnmarshalTo(iu) == nil {
		ts = iu.GetTransportSocket()
	}
	return ts.GetName() == "envoy.transport_sockets.tls" || ts.GetTypedConfig().MessageIs(&tlsv3.UpstreamTlsContext{})
}
