package policy

import (
	"fmt"
	"net"
	"slices"

	networking "istio.io/api/networking/v1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
)

// exportedTo tells whether a ServiceEntry is visible in namespace ns: its exportTo, else the
// mesh's defaultServiceExportTo. "." is the entry's own namespace, "*" every namespace, "~" none.
func exportedTo(se *networkingv1.ServiceEntry, ns string, meshDefault []string) bool {
	to := se.Spec.GetExportTo()
	if len(to) == 0 {
		to = meshDefault
	}
	for _, x := range to {
		switch x {
		case "*":
			return true
		case ".":
			if se.Namespace == ns {
				return true
			}
		case "~":
		default:
			if x == ns {
				return true
			}
		}
	}
	return false
}

// coverage is what one ServiceEntry does for one destination.
type coverage int

const (
	coverNone      coverage = iota // the entry is not about this destination
	coverOtherPort                 // the host, but not this port
	coverHidden                    // the host and port, but not visible to the workload
	coverYes
)

// covers tells what a ServiceEntry does for traffic to host (a name or an IP) on port, seen from
// a workload of namespace ns whose Sidecar is sc; why explains anything short of coverYes.
func covers(se *networkingv1.ServiceEntry, host string, port uint32, ns string, sc *networkingv1.Sidecar, meshDefault []string) (coverage, string) {
	matchedHost := ""
	ip := net.ParseIP(host)
	for _, h := range se.Spec.GetHosts() {
		if hostMatches(h, host) {
			matchedHost = h
		}
	}
	if matchedHost == "" && ip != nil {
		for _, a := range se.Spec.GetAddresses() {
			if addressCovers(a, ip) && len(se.Spec.GetHosts()) > 0 {
				matchedHost = se.Spec.GetHosts()[0]
			}
		}
	}
	if matchedHost == "" {
		return coverNone, ""
	}
	ref := se.Namespace + "/" + se.Name
	if port != 0 && !slices.ContainsFunc(se.Spec.GetPorts(), func(p *networking.ServicePort) bool { return p.GetNumber() == port }) {
		return coverOtherPort, fmt.Sprintf("ServiceEntry %s declares %s without port %d", ref, matchedHost, port)
	}
	if !exportedTo(se, ns, meshDefault) {
		return coverHidden, fmt.Sprintf("ServiceEntry %s registers %s but is not exported to namespace %s (exportTo)", ref, matchedHost, ns)
	}
	if !imports(sc, ns, se.Namespace, matchedHost, port) {
		return coverHidden, fmt.Sprintf("ServiceEntry %s registers %s but Sidecar %s/%s's egress hosts do not import it", ref, matchedHost, sc.Namespace, sc.Name)
	}
	return coverYes, ""
}

// addressCovers tells whether a ServiceEntry address (an IP or a CIDR) holds ip.
func addressCovers(addr string, ip net.IP) bool {
	if a := net.ParseIP(addr); a != nil {
		return a.Equal(ip)
	}
	_, cidr, err := net.ParseCIDR(addr)
	return err == nil && cidr.Contains(ip)
}
