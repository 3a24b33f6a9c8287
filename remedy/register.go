package remedy

import (
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/kubectl-egress/kubectl-egress/inspect"

	networking "istio.io/api/networking/v1"
)

// RegisterOptions are the choices of `kubectl egress register HOST`.
type RegisterOptions struct {
	// Ports of the host, from what inspect observed or the command line; at least one.
	Ports []Port
	// Addresses are the host's IPs or CIDRs, needed to tell TCP traffic apart (IST0134).
	Addresses []string
}

// PlanRegister plans a ServiceEntry that registers host with the mesh, so that its traffic gets
// its own cluster instead of PassthroughCluster (or BlackHoleCluster under REGISTRY_ONLY).
func PlanRegister(t Target, o RegisterOptions, ex Existing) (*Plan, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	ports, err := normalizePorts(t.Host, o.Ports)
	if err != nil {
		return nil, err
	}
	p := newPlan(t, inspect.FixRegister)
	p.Warnings = append(p.Warnings, ex.Warnings...)
	spec := &networking.ServiceEntry{
		Hosts:     []string{ServiceEntryHost(t.Host)},
		Ports:     servicePorts(ports),
		ExportTo:  t.exportTo(),
		Addresses: slices.Clone(o.Addresses),
	}
	switch {
	case isIP(t.Host):
		// No name to resolve: the app dials the IP itself, which the address matches. Istio wants a
		// DNS-style host all the same; it only names the service (metrics' destination_service).
		if !slices.Contains(spec.Addresses, t.Host) {
			spec.Addresses = append([]string{t.Host}, spec.Addresses...)
		}
		spec.Resolution = networking.ServiceEntry_NONE
		p.notef("%s has no DNS name: the ServiceEntry calls it %s and matches its traffic by address", t.Host, ServiceEntryHost(t.Host))
	case isWildcard(t.Host):
		spec.Resolution = wildcardResolution(p, t.Istio, ports)
	default:
		spec.Resolution = networking.ServiceEntry_DNS
	}
	p.Objects = append(p.Objects, p.serviceEntry(spec))

	if len(spec.Addresses) == 0 && spec.Resolution != networking.ServiceEntry_DYNAMIC_DNS {
		for _, port := range ports {
			if needsAddress(port.Protocol) {
				p.warnf("port %d/%s of %s has no address to match: every %s connection from these pods to port %d "+
					"goes to %s unless DNS capture allocates an address (IST0134); pass the host's addresses",
					port.Number, port.Protocol, t.Host, port.Protocol, port.Number, t.Host)
			}
		}
	}

	if !t.Traffic.Empty() {
		anyHTTP := slices.ContainsFunc(ports, func(p Port) bool { return isHTTPProtocol(p.Protocol) })
		anyTCP := slices.ContainsFunc(ports, func(p Port) bool { return !isHTTPProtocol(p.Protocol) })
		dr := &networking.DestinationRule{Host: ServiceEntryHost(t.Host), ExportTo: t.exportTo(), TrafficPolicy: &networking.TrafficPolicy{}}
		t.Traffic.apply(dr.TrafficPolicy, anyHTTP, anyTCP)
		p.Objects = append(p.Objects, p.destinationRule(ObjectName(t.Host, ""), dr))
		p.guardTrafficPolicy(t.Traffic, spec.Resolution == networking.ServiceEntry_DNS, anyHTTP)
	}

	if !t.Route.Empty() {
		var routes []*networking.HTTPRoute
		for _, port := range ports {
			if isHTTPProtocol(port.Protocol) {
				routes = append(routes, httpRoute(
					[]*networking.HTTPMatchRequest{{Port: port.Number}},
					destination(t.Host, port.Number, ""), 0, t.Route))
			}
		}
		if len(routes) == 0 {
			return nil, fmt.Errorf("cannot set a timeout or retries for %s: none of its ports (%s) is HTTP, "+
				"so the sidecar cannot read its requests; use enable-tls-origination to make it HTTP", t.Host, portList(ports))
		}
		p.Objects = append(p.Objects, p.virtualService(&networking.VirtualService{
			Hosts:    []string{t.Host},
			ExportTo: t.exportTo(),
			Http:     routes,
		}))
	}

	for _, port := range ports {
		if isTLSProtocol(port.Protocol) {
			p.notef("%s:%d is registered; the app's traffic stays TLS, so %s sees SNI and bytes only (L4 metrics). "+
				"For L7 metrics, retries and timeouts use enable-tls-origination", t.Host, port.Number, t.proxy())
			break
		}
	}
	if err := p.finish(ex, t); err != nil {
		return nil, err
	}
	return p, nil
}

// wildcardResolution picks DYNAMIC_DNS for a wildcard host where sidecars support it (Istio 1.31)
// and every port carries a Host header or SNI; otherwise NONE, which forwards to whatever IP the
// app resolved.
func wildcardResolution(p *Plan, v IstioVersion, ports []Port) networking.ServiceEntry_Resolution {
	dynamic := v.AtLeast(1, 31)
	for _, port := range ports {
		switch strings.ToUpper(port.Protocol) {
		case "HTTP", "TLS", "GRPC", "HTTP2":
		default:
			dynamic = false
		}
	}
	if dynamic {
		return networking.ServiceEntry_DYNAMIC_DNS
	}
	why := fmt.Sprintf("Istio %s has no DYNAMIC_DNS for sidecars (1.31+)", v)
	if v.AtLeast(1, 31) {
		why = fmt.Sprintf("DYNAMIC_DNS takes only HTTP, HTTP2, GRPC and TLS ports, not %s", portList(ports))
	}
	p.warnf("wildcard host %s is registered with resolution NONE (%s): the sidecar forwards to the IP the app "+
		"resolved, and cannot enforce which names under %s are reached", p.Host, why, strings.TrimPrefix(p.Host, "*."))
	return networking.ServiceEntry_NONE
}

// ServiceEntryHost is the ServiceEntry host for the target host: an IP, which Istio refuses as a host,
// becomes a name under inspect.IPHostSuffix, by which inspect finds it again.
func ServiceEntryHost(host string) string {
	if isIP(host) {
		return hostLabel(host) + inspect.IPHostSuffix
	}
	return host
}

// normalizePorts upper-cases protocols, sorts by number and refuses one port with two protocols.
func normalizePorts(host string, in []Port) ([]Port, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("no ports for %s: none was observed; give one, e.g. 443/TLS", host)
	}
	byNumber := map[uint32]Port{}
	for _, p := range in {
		p.Protocol = strings.ToUpper(strings.TrimSpace(p.Protocol))
		if p.Number == 0 || p.Number > 65535 {
			return nil, fmt.Errorf("invalid port %d for %s", p.Number, host)
		}
		if p.Protocol == "" {
			p.Protocol = "TCP"
		}
		if prev, ok := byNumber[p.Number]; ok && prev.Protocol != p.Protocol {
			return nil, fmt.Errorf("port %d of %s is given as both %s and %s: one port has one protocol in a ServiceEntry",
				p.Number, host, prev.Protocol, p.Protocol)
		}
		byNumber[p.Number] = p
	}
	out := make([]Port, 0, len(byNumber))
	for _, p := range byNumber {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Port) int { return int(a.Number) - int(b.Number) })
	return out, nil
}

func portList(ports []Port) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// checkDNSHost refuses hosts a fix cannot use: fixes that resolve or present the host as SNI need
// one concrete DNS name.
func checkDNSHost(fix, host string) error {
	switch {
	case isWildcard(host):
		return fmt.Errorf("%s needs one concrete host, not the wildcard %s: name the host the app calls", fix, host)
	case net.ParseIP(host) != nil:
		return fmt.Errorf("%s needs the host's DNS name, not the IP %s: TLS needs it for SNI and certificate checks", fix, host)
	}
	return nil
}
