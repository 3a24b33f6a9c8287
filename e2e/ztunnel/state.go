package ztunnel

import (
	"net/netip"
	"sort"
	"sync"

	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"

	"istio.io/istio/pkg/workloadapi"
	"istio.io/istio/pkg/workloadapi/security"
)

type named[T any] struct {
	name, version string
	value         T
}

// state is what istiod pushed: workloads and services (the Address resources, by resource name:
// a workload's uid, a service's namespace/hostname) and authorization policies.
type state struct {
	mu        sync.RWMutex
	addresses map[string]named[*workloadapi.Address]
	policies  map[string]named[*security.Authorization]
}

func newState() *state {
	return &state{addresses: map[string]named[*workloadapi.Address]{}, policies: map[string]named[*security.Authorization]{}}
}

func (s *state) applyAddresses(upserts []named[*workloadapi.Address], removed []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range upserts {
		s.addresses[u.name] = u
	}
	for _, r := range removed {
		delete(s.addresses, r)
	}
}

func (s *state) applyAuthorizations(upserts []named[*security.Authorization], removed []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range upserts {
		s.policies[u.name] = u
	}
	for _, r := range removed {
		delete(s.policies, r)
	}
}

// versions are the held resources' versions, sent back on a reconnect.
func (s *state) versions(typeURL string) map[string]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]string{}
	if typeURL == addressType {
		for n, a := range s.addresses {
			out[n] = a.version
		}
	} else {
		for n, a := range s.policies {
			out[n] = a.version
		}
	}
	return out
}

// view is a consistent copy of the state with the lookups ztunnel's outbound path makes.
type view struct {
	workloads []*workloadapi.Workload
	services  []*workloadapi.Service
	policies  []*security.Authorization
}

func (s *state) view() *view {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v := &view{}
	for _, a := range s.addresses {
		switch {
		case a.value.GetWorkload() != nil:
			v.workloads = append(v.workloads, a.value.GetWorkload())
		case a.value.GetService() != nil:
			v.services = append(v.services, a.value.GetService())
		}
	}
	for _, p := range s.policies {
		v.policies = append(v.policies, p.value)
	}
	// ztunnel's dump sorts workloads by uid and services by hostname (state.rs).
	sort.Slice(v.workloads, func(i, j int) bool { return v.workloads[i].GetUid() < v.workloads[j].GetUid() })
	sort.Slice(v.services, func(i, j int) bool {
		a, b := v.services[i], v.services[j]
		if a.GetHostname() != b.GetHostname() {
			return a.GetHostname() < b.GetHostname()
		}
		return a.GetNamespace() < b.GetNamespace()
	})
	sort.Slice(v.policies, func(i, j int) bool {
		return v.policies[i].GetNamespace()+"/"+v.policies[i].GetName() < v.policies[j].GetNamespace()+"/"+v.policies[j].GetName()
	})
	return v
}

func (v *view) workloadByUID(uid string) *workloadapi.Workload {
	for _, w := range v.workloads {
		if w.GetUid() == uid {
			return w
		}
	}
	return nil
}

func (v *view) workloadByIP(ip string) *workloadapi.Workload {
	for _, w := range v.workloads {
		for _, a := range w.GetAddresses() {
			if addrString(a) == ip {
				return w
			}
		}
	}
	return nil
}

func (v *view) serviceByVIP(ip string) *workloadapi.Service {
	for _, s := range v.services {
		for _, a := range s.GetAddresses() {
			if addrString(a.GetAddress()) == ip {
				return s
			}
		}
	}
	return nil
}

func (v *view) serviceByName(namespace, hostname string) *workloadapi.Service {
	for _, s := range v.services {
		if s.GetNamespace() == namespace && s.GetHostname() == hostname {
			return s
		}
	}
	return nil
}

// resolve is ztunnel's DNS proxy (src/dns/server.rs): a name of a service visible to the
// client's namespace with an address is answered with that address (the service of the client's
// own namespace first, else the canonical one, else the first); anything else goes to the
// upstream resolver. It returns the address and whether the proxy answered.
func (v *view) resolve(host, clientNamespace string) (string, bool) {
	var best *workloadapi.Service
	for _, s := range v.services {
		if s.GetHostname() != host || len(s.GetAddresses()) == 0 {
			continue
		}
		if s.GetVisibility() == workloadapi.Service_NAMESPACE && s.GetNamespace() != clientNamespace {
			continue
		}
		switch {
		case s.GetNamespace() == clientNamespace:
			best = s
		case best != nil && best.GetNamespace() == clientNamespace:
		case s.GetCanonical() || best == nil:
			if best == nil || !best.GetCanonical() {
				best = s
			}
		}
	}
	for _, a := range best.GetAddresses() {
		if ip, ok := netip.AddrFromSlice(a.GetAddress()); ok && ip.Is4() {
			return ip.String(), true
		}
	}
	return "", false
}

// endpoints are the workloads that back a service: those listing it in their services.
func (v *view) endpoints(s *workloadapi.Service) []*workloadapi.Workload {
	key := s.GetNamespace() + "/" + s.GetHostname()
	var out []*workloadapi.Workload
	for _, w := range v.workloads {
		if _, ok := w.GetServices()[key]; ok {
			out = append(out, w)
		}
	}
	return out
}

// waypointOf finds the workload of a gateway address: a waypoint named by its service's
// hostname, or by an address.
func (v *view) waypointOf(g *workloadapi.GatewayAddress) *workloadapi.Workload {
	if g == nil {
		return nil
	}
	if h := g.GetHostname(); h != nil {
		if s := v.serviceByName(h.GetNamespace(), h.GetHostname()); s != nil {
			if eps := v.endpoints(s); len(eps) > 0 {
				return eps[0]
			}
		}
		return nil
	}
	ip := addrString(g.GetAddress().GetAddress())
	if w := v.workloadByIP(ip); w != nil {
		return w
	}
	if s := v.serviceByVIP(ip); s != nil {
		if eps := v.endpoints(s); len(eps) > 0 {
			return eps[0]
		}
	}
	return nil
}

func addrString(b []byte) string {
	ip, ok := netip.AddrFromSlice(b)
	if !ok {
		return ""
	}
	return ip.Unmap().String()
}

func nackStatus(err error) *rpcstatus.Status {
	return &rpcstatus.Status{Code: int32(codes.InvalidArgument), Message: err.Error()}
}
