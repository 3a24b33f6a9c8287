package inspect

import (
	"fmt"
	"strings"
)

// recommend chooses the fix for a destination: the least change that keeps it working under
// REGISTRY_ONLY and gives the sidecar the most visibility it can have.
func recommend(d Destination) Recommendation {
	switch d.Disposition {
	case DispositionBypassed:
		return Recommendation{FixNone, fmt.Sprintf("bypasses the sidecar (%s): no proxy signal sees it and no Istio policy applies", shortAnnotation(d.Bypass))}
	case DispositionPassthrough:
		switch {
		case d.Host == hostUnknown:
			return Recommendation{FixNone, "passthrough traffic with no host known: turn access logging on to see hosts"}
		case d.Protocol == "HTTP":
			return Recommendation{FixRegister, "plain HTTP via PassthroughCluster: a ServiceEntry gives it its own cluster and L7 telemetry"}
		case isIP(d.Host):
			return Recommendation{FixRegister, "seen only by IP (no SNI): register a ServiceEntry with addresses: [" + d.Host + "]"}
		case d.Protocol == "TLS":
			return Recommendation{FixTLSOrigination, "HTTPS via PassthroughCluster is L4 only: TLS origination lets the sidecar see requests"}
		}
		return Recommendation{FixRegister, "unregistered TCP via PassthroughCluster: register it before REGISTRY_ONLY"}
	case DispositionDynamicDNS:
		if d.Host == hostUnknown {
			return Recommendation{FixNone, "dynamic-DNS traffic with no host known: turn access logging on to see hosts"}
		}
		return Recommendation{FixRegister, "plain HTTP via the dynamic-DNS catch-all (ALLOW_ANY_DYNAMIC_DNS): named, but sharing AllowAnyDynamicDNSCluster with every unregistered host; a ServiceEntry gives it its own cluster, and keeps it working under REGISTRY_ONLY"}
	case DispositionBlocked:
		if isIP(d.Host) {
			return Recommendation{FixRegister, "blocked by REGISTRY_ONLY: register a ServiceEntry with addresses: [" + d.Host + "] to allow it"}
		}
		if d.Host == hostUnknown {
			return Recommendation{FixNone, "blocked traffic with no host known: turn access logging on to see hosts"}
		}
		return Recommendation{FixRegister, "blocked by REGISTRY_ONLY (BlackHoleCluster): register it with a ServiceEntry to allow it"}
	case DispositionRegistered:
		switch {
		case hasPlaintextTo443(d):
			return Recommendation{FixTLSOrigination, "sends plaintext HTTP to port 443: add a DestinationRule with tls mode SIMPLE"}
		case d.Protocol == "TLS" || d.Protocol == "" && d.Port == 443:
			return Recommendation{FixTLSOrigination, "registered, but the app does TLS: the sidecar sees L4 only; TLS origination gives L7"}
		case d.Protocol == "HTTP":
			return Recommendation{FixNone, "registered plain HTTP: the sidecar sees L7"}
		}
		return Recommendation{FixNone, "registered"}
	case DispositionTLSOrigination:
		return Recommendation{FixNone, "the sidecar originates TLS: full L7 visibility"}
	case DispositionEgressGateway:
		return Recommendation{FixNone, "leaves the mesh through the egress gateway " + d.Gateway}
	case DispositionEgressWaypoint:
		return Recommendation{FixNone, "leaves the mesh through the egress waypoint " + d.Gateway}
	}
	return Recommendation{FixNone, ""}
}

const problemPlaintextTo443 = "plaintext HTTP to port 443: the ServiceEntry targets 443 but no DestinationRule originates TLS"

func hasPlaintextTo443(d Destination) bool {
	for _, p := range d.Problems {
		if p == problemPlaintextTo443 {
			return true
		}
	}
	return false
}

func shortAnnotation(b *Bypass) string {
	if b == nil {
		return "annotation"
	}
	return strings.TrimPrefix(b.Annotation, "traffic.sidecar.istio.io/") + "=" + b.Value
}
