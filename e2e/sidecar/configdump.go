package sidecar

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// proxyView is everything the admin API renders: the accepted config, the bootstrap and the
// upstream hosts as the data path currently knows them.
type proxyView struct {
	snap     *Snapshot
	boot     *bootstrapv3.Bootstrap
	bootTime time.Time
	now      time.Time
	traffic  *trafficSim // nil: no traffic, DNS from the snapshot only
}

// host is one upstream host of a cluster.
type host struct {
	ip       string
	port     int
	pipe     string
	hostname string
	health   corev3.HealthStatus
	lb       *endpointv3.LbEndpoint
	locality *corev3.Locality
	stats    hostStats
}

func (h host) address() *corev3.Address {
	if h.pipe != "" {
		return &corev3.Address{Address: &corev3.Address_Pipe{Pipe: &corev3.Pipe{Path: h.pipe}}}
	}
	return socketAddress(h.ip, h.port)
}

func (h host) key() string {
	if h.pipe != "" {
		return h.pipe
	}
	return net.JoinHostPort(h.ip, strconv.Itoa(h.port))
}

// hosts lists a cluster's hosts the way Envoy's cluster manager holds them.
func (v *proxyView) hosts(cl *clusterv3.Cluster) []host {
	var used map[string]hostStats
	if v.traffic != nil {
		used = v.traffic.hostsFor(cl, v.now)
	}
	var out []host
	switch cl.GetType() {
	case clusterv3.Cluster_ORIGINAL_DST:
		for addr, st := range used {
			ip, port, _ := net.SplitHostPort(addr)
			p, _ := strconv.Atoi(port)
			out = append(out, host{ip: ip, port: p, health: corev3.HealthStatus_HEALTHY, stats: st})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
		return out
	case clusterv3.Cluster_EDS:
		name := firstNonEmpty(cl.GetEdsClusterConfig().GetServiceName(), cl.GetName())
		out = v.endpointHosts(v.snap.Endpoints[name].GetEndpoints(), false)
	case clusterv3.Cluster_STRICT_DNS, clusterv3.Cluster_LOGICAL_DNS:
		out = v.endpointHosts(cl.GetLoadAssignment().GetEndpoints(), true)
	default:
		out = v.endpointHosts(cl.GetLoadAssignment().GetEndpoints(), false)
	}
	for i := range out {
		out[i].stats = used[out[i].key()]
	}
	return out
}

func (v *proxyView) endpointHosts(locs []*endpointv3.LocalityLbEndpoints, resolve bool) []host {
	var out []host
	for _, loc := range locs {
		for _, lb := range loc.GetLbEndpoints() {
			addr := lb.GetEndpoint().GetAddress()
			h := host{lb: lb, locality: loc.GetLocality(), health: lb.GetHealthStatus(), hostname: lb.GetEndpoint().GetHostname()}
			if h.health == corev3.HealthStatus_UNKNOWN {
				h.health = corev3.HealthStatus_HEALTHY
			}
			switch {
			case addr.GetPipe() != nil:
				h.pipe = addr.GetPipe().GetPath()
			case addr.GetSocketAddress() != nil:
				sa := addr.GetSocketAddress()
				h.ip, h.port = sa.GetAddress(), int(sa.GetPortValue())
				if resolve && net.ParseIP(h.ip) == nil {
					ip, ok := v.resolve(h.ip)
					if !ok {
						continue // no DNS answer: the cluster has no host for it
					}
					h.hostname, h.ip = h.ip, ip
				}
			default:
				continue
			}
			out = append(out, h)
		}
	}
	return out
}

func (v *proxyView) resolve(name string) (string, bool) {
	if v.traffic == nil {
		return "", false
	}
	if name == "localhost" {
		return "127.0.0.1", true
	}
	return v.traffic.resolve(name)
}

// dumpQuery is /config_dump's query.
type dumpQuery struct {
	resource   string
	mask       []string
	hasMask    bool
	nameRE     *regexp.Regexp
	includeEDS bool
}

// httpError is an admin API error: status and plain-text body, as Envoy answers.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

// configDump builds /config_dump.
func (v *proxyView) configDump(q dumpQuery) ([]byte, error) {
	sections := v.sections(q)
	dump := &adminv3.ConfigDump{}
	if q.resource != "" {
		for _, sec := range sections {
			fd := sec.ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(q.resource))
			if fd == nil {
				continue
			}
			if !fd.IsList() || fd.Message() == nil {
				return nil, &httpError{400, fmt.Sprintf("%s is not a repeated field. Use ?mask=%s to get only this field", q.resource, q.resource)}
			}
			list := sec.ProtoReflect().Get(fd).List()
			for i := 0; i < list.Len(); i++ {
				msg := list.Get(i).Message().Interface()
				if q.hasMask {
					if err := trimResource(msg, q.mask); err != nil {
						return nil, &httpError{400, fmt.Sprintf("FieldMask paths: %q could not be successfully used.", strings.Join(q.mask, ","))}
					}
				}
				a, err := anypb.New(msg)
				if err != nil {
					return nil, err
				}
				dump.Configs = append(dump.Configs, a)
			}
			return marshalEnvoyJSON(dump)
		}
		return nil, &httpError{404, fmt.Sprintf("%s not found in config dump", q.resource)}
	}
	for _, sec := range sections {
		if q.hasMask {
			if trimMessage(sec, q.mask) != nil {
				continue // a mask invalid for this section drops the section, as in Envoy
			}
		}
		a, err := anypb.New(sec)
		if err != nil {
			return nil, err
		}
		dump.Configs = append(dump.Configs, a)
	}
	if q.hasMask && len(dump.Configs) == 0 {
		return nil, &httpError{400, fmt.Sprintf("FieldMask %s could not be applied to any configs.", strings.Join(q.mask, ","))}
	}
	return marshalEnvoyJSON(dump)
}

func (v *proxyView) matchName(q dumpQuery, name string) bool {
	return q.nameRE == nil || q.nameRE.MatchString(name)
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func mustAny(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		panic(err)
	}
	return a
}

// sections are the config tracker's dumps in Envoy's order (its keys sorted: bootstrap,
// clusters, endpoint, listeners, route_scopes, routes, secrets).
func (v *proxyView) sections(q dumpQuery) []proto.Message {
	boot := proto.Clone(v.boot).(*bootstrapv3.Bootstrap) // masks trim in place
	bootTime := ts(v.bootTime)
	var out []proto.Message
	out = append(out, &adminv3.BootstrapConfigDump{Bootstrap: boot, LastUpdated: bootTime})

	cd := &adminv3.ClustersConfigDump{VersionInfo: v.snap.versions[typeCluster]}
	for _, c := range boot.GetStaticResources().GetClusters() {
		if v.matchName(q, c.GetName()) {
			cd.StaticClusters = append(cd.StaticClusters, &adminv3.ClustersConfigDump_StaticCluster{Cluster: mustAny(c), LastUpdated: bootTime})
		}
	}
	for _, e := range v.snap.raw[typeCluster] {
		if v.matchName(q, e.name) {
			cd.DynamicActiveClusters = append(cd.DynamicActiveClusters, &adminv3.ClustersConfigDump_DynamicCluster{
				VersionInfo: e.version, Cluster: e.raw, LastUpdated: ts(e.updated),
			})
		}
	}
	out = append(out, cd)

	if q.includeEDS {
		ed := &adminv3.EndpointsConfigDump{}
		for _, c := range boot.GetStaticResources().GetClusters() {
			if cla := v.loadAssignment(c); v.matchName(q, cla.GetClusterName()) {
				ed.StaticEndpointConfigs = append(ed.StaticEndpointConfigs, &adminv3.EndpointsConfigDump_StaticEndpointConfig{EndpointConfig: mustAny(cla), LastUpdated: bootTime})
			}
		}
		for _, c := range v.snap.Clusters {
			if cla := v.loadAssignment(c); v.matchName(q, cla.GetClusterName()) {
				ed.DynamicEndpointConfigs = append(ed.DynamicEndpointConfigs, &adminv3.EndpointsConfigDump_DynamicEndpointConfig{EndpointConfig: mustAny(cla)})
			}
		}
		out = append(out, ed)
	}

	ld := &adminv3.ListenersConfigDump{VersionInfo: v.snap.versions[typeListener]}
	for _, l := range boot.GetStaticResources().GetListeners() {
		if v.matchName(q, l.GetName()) {
			ld.StaticListeners = append(ld.StaticListeners, &adminv3.ListenersConfigDump_StaticListener{Listener: mustAny(l), LastUpdated: bootTime})
		}
	}
	for _, e := range v.snap.raw[typeListener] {
		if v.matchName(q, e.name) {
			ld.DynamicListeners = append(ld.DynamicListeners, &adminv3.ListenersConfigDump_DynamicListener{
				Name: e.name,
				ActiveState: &adminv3.ListenersConfigDump_DynamicListenerState{
					VersionInfo: e.version, Listener: e.raw, LastUpdated: ts(e.updated),
				},
			})
		}
	}
	out = append(out, ld)
	out = append(out, &adminv3.ScopedRoutesConfigDump{})

	rd := &adminv3.RoutesConfigDump{}
	for _, rc := range staticRouteConfigs(boot.GetStaticResources().GetListeners()) {
		if v.matchName(q, rc.GetName()) {
			rd.StaticRouteConfigs = append(rd.StaticRouteConfigs, &adminv3.RoutesConfigDump_StaticRouteConfig{RouteConfig: mustAny(rc), LastUpdated: bootTime})
		}
	}
	for _, e := range v.snap.raw[typeRoute] {
		if v.matchName(q, e.name) {
			rd.DynamicRouteConfigs = append(rd.DynamicRouteConfigs, &adminv3.RoutesConfigDump_DynamicRouteConfig{
				VersionInfo: e.version, RouteConfig: e.raw, LastUpdated: ts(e.updated),
			})
		}
	}
	out = append(out, rd)
	out = append(out, &adminv3.SecretsConfigDump{})
	return out
}

// loadAssignment is the cluster's endpoints as Envoy dumps them with include_eds: the hosts
// the cluster currently has, resolved, with the default overprovisioning factor.
func (v *proxyView) loadAssignment(c *clusterv3.Cluster) *endpointv3.ClusterLoadAssignment {
	cla := &endpointv3.ClusterLoadAssignment{
		ClusterName: firstNonEmpty(c.GetEdsClusterConfig().GetServiceName(), c.GetName()),
		Policy:      &endpointv3.ClusterLoadAssignment_Policy{OverprovisioningFactor: wrapperspb.UInt32(140)},
	}
	for _, h := range v.hosts(c) {
		lb := &endpointv3.LbEndpoint{
			HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
				Address:           h.address(),
				HealthCheckConfig: &endpointv3.Endpoint_HealthCheckConfig{},
				Hostname:          h.hostname,
			}},
			HealthStatus:        h.health,
			LoadBalancingWeight: wrapperspb.UInt32(1),
		}
		if h.lb != nil {
			lb.Metadata = h.lb.GetMetadata()
			if w := h.lb.GetLoadBalancingWeight(); w != nil {
				lb.LoadBalancingWeight = w
			}
		}
		cla.Endpoints = append(cla.Endpoints, &endpointv3.LocalityLbEndpoints{
			Locality:    firstLocality(h.locality),
			LbEndpoints: []*endpointv3.LbEndpoint{lb},
		})
	}
	return cla
}

func firstLocality(l *corev3.Locality) *corev3.Locality {
	if l == nil {
		return &corev3.Locality{}
	}
	return l
}

// marshalEnvoyJSON prints like Envoy's admin: proto field names, one-space indentation.
func marshalEnvoyJSON(m proto.Message) ([]byte, error) {
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	// protojson varies its whitespace on purpose; re-indenting gives Envoy's stable layout.
	if err := json.Indent(&out, b, "", " "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}
