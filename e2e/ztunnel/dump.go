package ztunnel

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"istio.io/istio/pkg/workloadapi"
	"istio.io/istio/pkg/workloadapi/security"
)

// The /config_dump document, in ztunnel's serde names (src/admin.rs ConfigDump, the state's
// ProxyStateSerialization, src/state/workload.rs and service.rs, and the workloadState handler
// of src/inpod/admin.rs). Fields marked omitempty are the ones ztunnel skips when default.

type dumpDoc struct {
	Workloads      []dumpWorkload            `json:"workloads"`
	Services       []dumpService             `json:"services"`
	Policies       []dumpPolicy              `json:"policies"`
	StagedServices map[string]any            `json:"stagedServices"`
	StaticConfig   dumpStatic                `json:"staticConfig"`
	Version        dumpVersion               `json:"version"`
	Config         dumpConfig                `json:"config"`
	Certificates   []any                     `json:"certificates"`
	WorkloadState  map[string]dumpProxyState `json:"workloadState"`
}

type dumpWorkload struct {
	WorkloadIPs           []string     `json:"workloadIps"`
	Waypoint              *dumpGateway `json:"waypoint,omitempty"`
	NetworkGateway        *dumpGateway `json:"networkGateway,omitempty"`
	Protocol              string       `json:"protocol"`
	NetworkMode           string       `json:"networkMode"`
	UID                   string       `json:"uid,omitempty"`
	Name                  string       `json:"name"`
	Namespace             string       `json:"namespace"`
	TrustDomain           string       `json:"trustDomain,omitempty"`
	ServiceAccount        string       `json:"serviceAccount,omitempty"`
	Network               string       `json:"network,omitempty"`
	WorkloadName          string       `json:"workloadName,omitempty"`
	WorkloadType          string       `json:"workloadType,omitempty"`
	CanonicalName         string       `json:"canonicalName,omitempty"`
	CanonicalRevision     string       `json:"canonicalRevision,omitempty"`
	Hostname              string       `json:"hostname,omitempty"`
	Node                  string       `json:"node,omitempty"`
	NativeTunnel          bool         `json:"nativeTunnel,omitempty"`
	AuthorizationPolicies []string     `json:"authorizationPolicies,omitempty"`
	Status                string       `json:"status"`
	ClusterID             string       `json:"clusterId"`
	Services              []string     `json:"services,omitempty"`
	Capacity              uint32       `json:"capacity"`
}

type dumpGateway struct {
	Destination   string `json:"destination"`
	HboneMtlsPort uint32 `json:"hboneMtlsPort"`
}

type dumpService struct {
	Name            string                  `json:"name"`
	Namespace       string                  `json:"namespace"`
	Hostname        string                  `json:"hostname"`
	VIPs            []string                `json:"vips"`
	Ports           map[string]uint32       `json:"ports"`
	Endpoints       map[string]dumpEndpoint `json:"endpoints"`
	SubjectAltNames []string                `json:"subjectAltNames"`
	Waypoint        *dumpGateway            `json:"waypoint,omitempty"`
	LoadBalancer    *dumpLoadBalancer       `json:"loadBalancer,omitempty"`
	IPFamilies      string                  `json:"ipFamilies,omitempty"`
	Canonical       bool                    `json:"canonical"`
	Visibility      string                  `json:"visibility"`
}

type dumpEndpoint struct {
	WorkloadUID string            `json:"workloadUid"`
	Port        map[string]uint32 `json:"port"`
	Status      string            `json:"status"`
}

type dumpLoadBalancer struct {
	RoutingPreferences []string `json:"routingPreferences"`
	Mode               string   `json:"mode"`
	HealthPolicy       string   `json:"healthPolicy"`
}

type dumpPolicy struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Scope     string `json:"scope"`
	Action    string `json:"action"`
	Rules     []any  `json:"rules"`
}

type dumpStatic struct {
	Workloads []any `json:"workloads"`
	Policies  []any `json:"policies"`
	Services  []any `json:"services"`
}

type dumpVersion struct {
	Version        string `json:"version"`
	GitRevision    string `json:"gitRevision"`
	RustVersion    string `json:"rustVersion"`
	BuildProfile   string `json:"buildProfile"`
	BuildStatus    string `json:"buildStatus"`
	IstioVersion   string `json:"istioVersion"`
	CryptoProvider string `json:"cryptoProvider"`
}

type dumpConfig struct {
	Proxy         bool   `json:"proxy"`
	DNSProxy      bool   `json:"dnsProxy"`
	AdminAddr     string `json:"adminAddr"`
	StatsAddr     string `json:"statsAddr"`
	ReadinessAddr string `json:"readinessAddr"`
	InboundAddr   string `json:"inboundAddr"`
	OutboundAddr  string `json:"outboundAddr"`
	DNSProxyAddr  string `json:"dnsProxyAddr"`
	Network       string `json:"network"`
	LocalNode     string `json:"localNode"`
	ProxyMode     string `json:"proxyMode"`
	ClusterID     string `json:"clusterId"`
	ClusterDomain string `json:"clusterDomain"`
	XDSAddress    string `json:"xdsAddress"`
}

type dumpProxyState struct {
	State       string          `json:"state"`
	Connections dumpConnections `json:"connections"`
	Info        dumpInfo        `json:"info"`
}

type dumpConnections struct {
	Inbound  []dumpConnection `json:"inbound"`
	Outbound []dumpConnection `json:"outbound"`
}

type dumpConnection struct {
	Src         string `json:"src"`
	OriginalDst string `json:"originalDst"`
	ActualDst   string `json:"actualDst"`
	Protocol    string `json:"protocol"`
}

type dumpInfo struct {
	Name           string `json:"name"`
	Namespace      string `json:"namespace"`
	ServiceAccount string `json:"serviceAccount"`
}

func networkAddress(network string, b []byte) string { return network + "/" + addrString(b) }

func gatewayOf(g *workloadapi.GatewayAddress) *dumpGateway {
	if g == nil {
		return nil
	}
	d := &dumpGateway{HboneMtlsPort: g.GetHboneMtlsPort()}
	if h := g.GetHostname(); h != nil {
		d.Destination = h.GetNamespace() + "/" + h.GetHostname()
	} else {
		d.Destination = networkAddress(g.GetAddress().GetNetwork(), g.GetAddress().GetAddress())
	}
	return d
}

func workloadOf(w *workloadapi.Workload) dumpWorkload {
	d := dumpWorkload{
		WorkloadIPs: []string{}, Waypoint: gatewayOf(w.GetWaypoint()), NetworkGateway: gatewayOf(w.GetNetworkGateway()),
		Protocol: protocolTCP, NetworkMode: "Standard", UID: w.GetUid(), Name: w.GetName(), Namespace: w.GetNamespace(),
		TrustDomain: w.GetTrustDomain(), ServiceAccount: w.GetServiceAccount(), Network: w.GetNetwork(),
		WorkloadName: w.GetWorkloadName(), WorkloadType: strings.ToLower(w.GetWorkloadType().String()),
		CanonicalName: w.GetCanonicalName(), CanonicalRevision: w.GetCanonicalRevision(), Hostname: w.GetHostname(),
		Node: w.GetNode(), NativeTunnel: w.GetNativeTunnel(), AuthorizationPolicies: w.GetAuthorizationPolicies(),
		Status: "Healthy", ClusterID: clusterOf(w), Capacity: 1,
	}
	if d.TrustDomain == "" {
		d.TrustDomain = "cluster.local"
	}
	if d.ServiceAccount == "" {
		d.ServiceAccount = "default"
	}
	for _, a := range w.GetAddresses() {
		d.WorkloadIPs = append(d.WorkloadIPs, addrString(a))
	}
	if w.GetTunnelProtocol() == workloadapi.TunnelProtocol_HBONE {
		d.Protocol = protocolHBONE
	}
	if w.GetNetworkMode() == workloadapi.NetworkMode_HOST_NETWORK {
		d.NetworkMode = "HostNetwork"
	}
	if w.GetStatus() == workloadapi.WorkloadStatus_UNHEALTHY {
		d.Status = "Unhealthy"
	}
	if c := w.GetCapacity(); c != nil {
		d.Capacity = c.GetValue()
	}
	for k := range w.GetServices() {
		d.Services = append(d.Services, k)
	}
	sort.Strings(d.Services)
	return d
}

func serviceOf(v *view, s *workloadapi.Service) dumpService {
	d := dumpService{
		Name: s.GetName(), Namespace: s.GetNamespace(), Hostname: s.GetHostname(), VIPs: []string{},
		Ports: map[string]uint32{}, Endpoints: map[string]dumpEndpoint{}, SubjectAltNames: s.GetSubjectAltNames(),
		Waypoint: gatewayOf(s.GetWaypoint()), Canonical: s.GetCanonical(), Visibility: "Public",
	}
	if d.SubjectAltNames == nil {
		d.SubjectAltNames = []string{}
	}
	for _, a := range s.GetAddresses() {
		d.VIPs = append(d.VIPs, networkAddress(a.GetNetwork(), a.GetAddress()))
	}
	for _, p := range s.GetPorts() {
		t := p.GetTargetPort()
		if t == 0 {
			t = p.GetServicePort()
		}
		d.Ports[strconv.Itoa(int(p.GetServicePort()))] = t
	}
	key := s.GetNamespace() + "/" + s.GetHostname()
	for _, w := range v.endpoints(s) {
		ep := dumpEndpoint{WorkloadUID: w.GetUid(), Port: map[string]uint32{}, Status: "Healthy"}
		for _, p := range w.GetServices()[key].GetPorts() {
			ep.Port[strconv.Itoa(int(p.GetServicePort()))] = p.GetTargetPort()
		}
		d.Endpoints[w.GetUid()] = ep
	}
	if lb := s.GetLoadBalancing(); lb != nil {
		mode := map[workloadapi.LoadBalancing_Mode]string{
			workloadapi.LoadBalancing_STRICT: "Strict", workloadapi.LoadBalancing_FAILOVER: "Failover",
			workloadapi.LoadBalancing_PASSTHROUGH: "Passthrough",
		}[lb.GetMode()]
		if mode == "" {
			mode = "Standard"
		}
		health := "OnlyHealthy"
		if lb.GetHealthPolicy() == workloadapi.LoadBalancing_ALLOW_ALL {
			health = "AllowAll"
		}
		d.LoadBalancer = &dumpLoadBalancer{RoutingPreferences: []string{}, Mode: mode, HealthPolicy: health}
	}
	switch s.GetIpFamilies() {
	case workloadapi.IPFamilies_IPV4_ONLY:
		d.IPFamilies = "IPv4"
	case workloadapi.IPFamilies_IPV6_ONLY:
		d.IPFamilies = "IPv6"
	case workloadapi.IPFamilies_DUAL:
		d.IPFamilies = "Dual"
	}
	if s.GetVisibility() == workloadapi.Service_NAMESPACE {
		d.Visibility = "Namespace"
	}
	return d
}

// configDump renders the whole /config_dump, pretty-printed as ztunnel's admin server does.
func (z *Ztunnel) configDump() ([]byte, error) {
	v := z.state.view()
	doc := dumpDoc{
		Workloads: []dumpWorkload{}, Services: []dumpService{}, Policies: []dumpPolicy{},
		StagedServices: map[string]any{},
		StaticConfig:   dumpStatic{Workloads: []any{}, Policies: []any{}, Services: []any{}},
		Version: dumpVersion{Version: z.cfg.IstioVersion, GitRevision: fakeRevision(z.cfg.IstioVersion), RustVersion: "1.90.0",
			BuildProfile: "release", BuildStatus: "Clean", IstioVersion: z.cfg.IstioVersion, CryptoProvider: "aws-lc"},
		Config: dumpConfig{Proxy: true, DNSProxy: true, AdminAddr: "localhost:15000", StatsAddr: "[::]:15020",
			ReadinessAddr: "[::]:15021", InboundAddr: "[::]:15008", OutboundAddr: "[::]:15001", DNSProxyAddr: "localhost:15053",
			LocalNode: z.cfg.Node, ProxyMode: "Shared", ClusterID: "Kubernetes", ClusterDomain: "cluster.local",
			XDSAddress: "https://istiod.istio-system.svc:15012"},
		Certificates:  []any{},
		WorkloadState: map[string]dumpProxyState{},
	}
	for _, w := range v.workloads {
		doc.Workloads = append(doc.Workloads, workloadOf(w))
	}
	for _, s := range v.services {
		doc.Services = append(doc.Services, serviceOf(v, s))
	}
	for _, p := range v.policies {
		scope := map[security.Scope]string{security.Scope_GLOBAL: "Global", security.Scope_NAMESPACE: "Namespace",
			security.Scope_WORKLOAD_SELECTOR: "WorkloadSelector"}[p.GetScope()]
		action := map[security.Action]string{security.Action_ALLOW: "Allow", security.Action_DENY: "Deny"}[p.GetAction()]
		doc.Policies = append(doc.Policies, dumpPolicy{Name: p.GetName(), Namespace: p.GetNamespace(), Scope: scope, Action: action, Rules: []any{}})
	}
	for uid, ps := range z.proxyStates() {
		doc.WorkloadState[uid] = ps
	}
	return json.MarshalIndent(doc, "", "  ")
}

// proxyStates are the captured pods with their open outbound connections.
func (z *Ztunnel) proxyStates() map[string]dumpProxyState {
	z.mu.Lock()
	defer z.mu.Unlock()
	now := z.clock()
	out := map[string]dumpProxyState{}
	for uid, p := range z.pods {
		ps := dumpProxyState{State: "Up", Info: dumpInfo{Name: p.Name, Namespace: p.Namespace, ServiceAccount: p.ServiceAccount},
			Connections: dumpConnections{Inbound: []dumpConnection{}, Outbound: []dumpConnection{}}}
		for _, c := range p.open {
			if now.Before(c.until) {
				ps.Connections.Outbound = append(ps.Connections.Outbound, c.conn)
			}
		}
		sort.Slice(ps.Connections.Outbound, func(i, j int) bool {
			return ps.Connections.Outbound[i].OriginalDst < ps.Connections.Outbound[j].OriginalDst
		})
		out[uid] = ps
	}
	return out
}
