package inspect

import (
	"net"
	"strconv"
	"strings"
)

// Envoy cluster and route names Istio gives special meaning (istio pilot/pkg/networking/util).
const (
	clusterPassthrough        = "PassthroughCluster"
	clusterBlackHole          = "BlackHoleCluster"
	clusterAllowAnyDynamicDNS = "AllowAnyDynamicDNSCluster"
	clusterInboundPassthrough = "InboundPassthroughCluster" // also …Ipv4, …Ipv6
	vhostAllowAny             = "allow_any"
	vhostBlockAll             = "block_all"
	vhostAllowAnyDynamicDNS   = "allow_any_dynamic_dns"
	listenerVirtualOutbound   = "virtualOutbound"
)

// Cluster directions, the first field of Istio's cluster names.
const (
	dirOutbound = "outbound"
	dirInbound  = "inbound"
	// dirInboundVIP is a waypoint's cluster for a service bound to it,
	// `inbound-vip|PORT|PROTOCOL|HOST` (istio pilot/pkg/networking/core/waypoint.go): for a
	// ServiceEntry host it is the one that leaves the mesh, as outbound is at a sidecar.
	dirInboundVIP = "inbound-vip"
)

// sendsOut tells the directions whose clusters send to a service: a sidecar's outbound ones and
// a waypoint's inbound-vip ones.
func sendsOut(direction string) bool { return direction == dirOutbound || direction == dirInboundVIP }

// clusterName is a parsed Istio cluster name: `outbound|PORT|SUBSET|HOST`, `inbound|PORT||` or
// `inbound-vip|PORT|PROTOCOL|HOST`.
type parsedClusterName struct {
	direction string // dirOutbound, dirInbound, dirInboundVIP, or "" for special clusters
	port      uint32
	subset    string
	host      string
}

func parseClusterName(name string) parsedClusterName {
	dir, rest, ok := strings.Cut(name, "|")
	if !ok || dir != dirOutbound && dir != dirInbound && dir != dirInboundVIP {
		return parsedClusterName{}
	}
	portStr, rest, _ := strings.Cut(rest, "|")
	if dir == dirInboundVIP { // its third field is the protocol, not a subset
		_, host, _ := strings.Cut(rest, "|")
		port, _ := strconv.ParseUint(portStr, 10, 32)
		return parsedClusterName{direction: dir, port: uint32(port), host: host}
	}
	subset, host, _ := strings.Cut(rest, "|")
	// The host is what follows the last "|" (istio BuildSubsetKey); a subset cannot hold one.
	if i := strings.LastIndexByte(rest, '|'); i >= 0 {
		subset, host = rest[:i], rest[i+1:]
	}
	port, _ := strconv.ParseUint(portStr, 10, 32)
	return parsedClusterName{direction: dir, port: uint32(port), subset: subset, host: host}
}

func isPassthroughCluster(name string) bool {
	return name == clusterPassthrough || name == clusterAllowAnyDynamicDNS
}

// isMeshInternalHost reports whether a host is a Kubernetes service name rather than an external host.
// Used only where the cluster metadata (`external: true`) is absent.
func isMeshInternalHost(h string) bool {
	h = strings.TrimSuffix(h, ".")
	return strings.HasSuffix(h, ".cluster.local") || strings.HasSuffix(h, ".svc") || strings.Contains(h, ".svc.")
}

// splitHostPort splits "host:port", "[v6]:port" or a bare host; port is 0 when absent.
func splitHostPort(s string) (string, uint32) {
	if h, p, err := net.SplitHostPort(s); err == nil {
		n, err := strconv.ParseUint(p, 10, 32)
		if err == nil {
			return h, uint32(n)
		}
		return h, 0
	}
	return strings.Trim(s, "[]"), 0
}

func isIP(host string) bool { return net.ParseIP(host) != nil }
