package ztunnel

import (
	"fmt"
	"net"
	"strconv"

	"istio.io/istio/pkg/workloadapi"

	"github.com/kubectl-egress/kubectl-egress/e2e/sidecar"
)

// Outbound protocols, as ztunnel's connection dump spells them.
const (
	protocolTCP   = "TCP"
	protocolHBONE = "HBONE"
)

// request is what ztunnel decides for one outbound connection (src/proxy/outbound.rs
// build_request): where it really goes, how, and which service and workload it is for.
type request struct {
	// originalDst is what the app dialed: a service address its DNS proxy handed out, or the
	// address the app's own resolver answered.
	originalDst string
	// actualDst is the next hop: a waypoint's or a pod's HBONE port, or the destination itself.
	actualDst string
	protocol  string
	// hboneTarget is the CONNECT authority when tunnelling: the original destination.
	hboneTarget string
	// service is the intended destination service; nil for passthrough.
	service *workloadapi.Service
	// workload is the actual destination workload (the waypoint when there is one); nil for
	// passthrough.
	workload    *workloadapi.Workload
	viaWaypoint bool
	// realIP is what the app's resolver would have answered for the call's host.
	realIP string
	// err is why no connection was made (no healthy upstream), "" when one was.
	err string
}

// buildRequest routes one call of a pod the way ztunnel does: DNS first (its proxy answers for
// services it knows), then by the destination address: a service with a waypoint goes to the
// waypoint over HBONE; a service without one goes to an endpoint (a ServiceEntry's hostname is
// resolved on demand); an address ztunnel does not know passes through untouched.
func buildRequest(v *view, src *workloadapi.Workload, c sidecar.Call) request {
	ip := c.IP
	if vip, ok := v.resolve(c.Host, src.GetNamespace()); ok {
		ip = vip
	}
	port := strconv.Itoa(c.Port)
	r := request{originalDst: net.JoinHostPort(ip, port), realIP: c.IP}
	if svc := v.serviceByVIP(ip); svc != nil {
		r.service = svc
		if svc.GetWaypoint() != nil {
			wp := v.waypointOf(svc.GetWaypoint())
			if wp == nil || len(wp.GetAddresses()) == 0 {
				r.err = fmt.Sprintf("failed to find waypoint for: %s", svc.GetHostname())
				return r
			}
			hbone := svc.GetWaypoint().GetHboneMtlsPort()
			if hbone == 0 {
				hbone = 15008
			}
			r.actualDst = net.JoinHostPort(addrString(wp.GetAddresses()[0]), strconv.Itoa(int(hbone)))
			r.protocol, r.hboneTarget, r.workload, r.viaWaypoint = protocolHBONE, r.originalDst, wp, true
			return r
		}
		eps := v.endpoints(svc)
		if len(eps) == 0 {
			if svc.GetLoadBalancing().GetMode() == workloadapi.LoadBalancing_PASSTHROUGH {
				r.actualDst, r.protocol = r.originalDst, protocolTCP
				return r
			}
			r.err = "no healthy upstream: " + r.originalDst
			return r
		}
		ep := eps[0]
		epIP := ""
		if len(ep.GetAddresses()) > 0 {
			epIP = addrString(ep.GetAddresses()[0])
		} else if ep.GetHostname() != "" {
			// On-demand DNS of the endpoint's hostname: the same answer the app's resolver gave.
			epIP = c.IP
		}
		target := strconv.Itoa(targetPort(svc, ep, uint32(c.Port)))
		r.workload = ep
		if ep.GetTunnelProtocol() == workloadapi.TunnelProtocol_HBONE {
			r.actualDst, r.protocol, r.hboneTarget = net.JoinHostPort(epIP, "15008"), protocolHBONE, net.JoinHostPort(epIP, target)
		} else {
			r.actualDst, r.protocol = net.JoinHostPort(epIP, target), protocolTCP
		}
		return r
	}
	if w := v.workloadByIP(ip); w != nil {
		r.workload = w
		if w.GetTunnelProtocol() == workloadapi.TunnelProtocol_HBONE {
			r.actualDst, r.protocol, r.hboneTarget = net.JoinHostPort(ip, "15008"), protocolHBONE, r.originalDst
		} else {
			r.actualDst, r.protocol = r.originalDst, protocolTCP
		}
		return r
	}
	// "built request as passthrough; no upstream found"
	r.actualDst, r.protocol = r.originalDst, protocolTCP
	return r
}

// targetPort maps a service port to the endpoint's port: the workload's own port list for the
// service, else the service's target port, else the port itself.
func targetPort(svc *workloadapi.Service, ep *workloadapi.Workload, port uint32) int {
	for _, p := range ep.GetServices()[svc.GetNamespace()+"/"+svc.GetHostname()].GetPorts() {
		if p.GetServicePort() == port && p.GetTargetPort() != 0 {
			return int(p.GetTargetPort())
		}
	}
	for _, p := range svc.GetPorts() {
		if p.GetServicePort() == port && p.GetTargetPort() != 0 {
			return int(p.GetTargetPort())
		}
	}
	return int(port)
}
