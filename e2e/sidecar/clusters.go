package sidecar

import (
	"bytes"
	"fmt"
	"sort"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// allClusters is the cluster manager's active clusters: static ones, then dynamic, by name.
func (v *proxyView) allClusters() []*clusterv3.Cluster {
	out := append([]*clusterv3.Cluster(nil), v.boot.GetStaticResources().GetClusters()...)
	out = append(out, v.snap.Clusters...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out
}

func (v *proxyView) isStatic(c *clusterv3.Cluster) bool {
	for _, s := range v.boot.GetStaticResources().GetClusters() {
		if s.GetName() == c.GetName() {
			return true
		}
	}
	return false
}

func circuitBreakerMax(c *clusterv3.Cluster, p corev3.RoutingPriority) (cx, pending, rq, retries uint32) {
	// Envoy's defaults (1024 connections, pending and requests, 3 retries) unless set.
	cx, pending, rq, retries = 1024, 1024, 1024, 3
	for _, t := range c.GetCircuitBreakers().GetThresholds() {
		if t.GetPriority() != p {
			continue
		}
		if t.GetMaxConnections() != nil {
			cx = t.GetMaxConnections().GetValue()
		}
		if t.GetMaxPendingRequests() != nil {
			pending = t.GetMaxPendingRequests().GetValue()
		}
		if t.GetMaxRequests() != nil {
			rq = t.GetMaxRequests().GetValue()
		}
		if t.GetMaxRetries() != nil {
			retries = t.GetMaxRetries().GetValue()
		}
	}
	return
}

func hostSimpleStats(st hostStats) []*adminv3.SimpleMetric {
	counter := func(name string, v uint64) *adminv3.SimpleMetric {
		return &adminv3.SimpleMetric{Type: adminv3.SimpleMetric_COUNTER, Name: name, Value: v}
	}
	gauge := func(name string, v uint64) *adminv3.SimpleMetric {
		return &adminv3.SimpleMetric{Type: adminv3.SimpleMetric_GAUGE, Name: name, Value: v}
	}
	return []*adminv3.SimpleMetric{
		counter("cx_connect_fail", 0),
		counter("cx_total", st.cxTotal),
		counter("rq_error", st.rqError),
		counter("rq_success", st.rqSuccess),
		counter("rq_timeout", 0),
		counter("rq_total", st.rqTotal),
		gauge("cx_active", 0),
		gauge("rq_active", 0),
	}
}

// clustersJSON is /clusters?format=json.
func (v *proxyView) clustersJSON() ([]byte, error) {
	out := &adminv3.Clusters{}
	for _, c := range v.allClusters() {
		cs := &adminv3.ClusterStatus{
			Name:              c.GetName(),
			ObservabilityName: clusterStatName(c),
			AddedViaApi:       !v.isStatic(c),
		}
		for _, p := range []corev3.RoutingPriority{corev3.RoutingPriority_DEFAULT, corev3.RoutingPriority_HIGH} {
			cx, pending, rq, retries := circuitBreakerMax(c, p)
			if cs.CircuitBreakers == nil {
				cs.CircuitBreakers = &clusterv3.CircuitBreakers{}
			}
			cs.CircuitBreakers.Thresholds = append(cs.CircuitBreakers.Thresholds, &clusterv3.CircuitBreakers_Thresholds{
				Priority:           p,
				MaxConnections:     wrapperspb.UInt32(cx),
				MaxPendingRequests: wrapperspb.UInt32(pending),
				MaxRequests:        wrapperspb.UInt32(rq),
				MaxRetries:         wrapperspb.UInt32(retries),
			})
		}
		for _, h := range v.hosts(c) {
			cs.HostStatuses = append(cs.HostStatuses, &adminv3.HostStatus{
				Address:      h.address(),
				Stats:        hostSimpleStats(h.stats),
				HealthStatus: &adminv3.HostHealthStatus{EdsHealthStatus: h.health},
				Weight:       1,
				Hostname:     h.hostname,
				Locality:     firstLocality(h.locality),
			})
		}
		out.ClusterStatuses = append(out.ClusterStatuses, cs)
	}
	return marshalEnvoyJSON(out)
}

// clustersText is the plain /clusters form: CLUSTER::HOST::STAT::VALUE lines.
func (v *proxyView) clustersText() []byte {
	var b bytes.Buffer
	for _, c := range v.allClusters() {
		name := c.GetName()
		if name == "" {
			continue
		}
		for _, p := range []struct {
			prio corev3.RoutingPriority
			s    string
		}{{corev3.RoutingPriority_DEFAULT, "default"}, {corev3.RoutingPriority_HIGH, "high"}} {
			cx, pending, rq, retries := circuitBreakerMax(c, p.prio)
			fmt.Fprintf(&b, "%s::%s_priority::max_connections::%d\n", name, p.s, cx)
			fmt.Fprintf(&b, "%s::%s_priority::max_pending_requests::%d\n", name, p.s, pending)
			fmt.Fprintf(&b, "%s::%s_priority::max_requests::%d\n", name, p.s, rq)
			fmt.Fprintf(&b, "%s::%s_priority::max_retries::%d\n", name, p.s, retries)
		}
		fmt.Fprintf(&b, "%s::added_via_api::%t\n", name, !v.isStatic(c))
		if obs := clusterStatName(c); obs != name {
			fmt.Fprintf(&b, "%s::observability_name::%s\n", name, obs)
		}
		for _, h := range v.hosts(c) {
			addr := h.key()
			for _, m := range hostSimpleStats(h.stats) {
				fmt.Fprintf(&b, "%s::%s::%s::%d\n", name, addr, m.GetName(), m.GetValue())
			}
			fmt.Fprintf(&b, "%s::%s::hostname::%s\n", name, addr, h.hostname)
			flags := "healthy"
			if h.health != corev3.HealthStatus_HEALTHY {
				flags = "/failed_eds_health"
			}
			fmt.Fprintf(&b, "%s::%s::health_flags::%s\n", name, addr, flags)
			fmt.Fprintf(&b, "%s::%s::weight::1\n", name, addr)
			fmt.Fprintf(&b, "%s::%s::region::%s\n", name, addr, h.locality.GetRegion())
			fmt.Fprintf(&b, "%s::%s::zone::%s\n", name, addr, h.locality.GetZone())
			fmt.Fprintf(&b, "%s::%s::sub_zone::%s\n", name, addr, h.locality.GetSubZone())
			fmt.Fprintf(&b, "%s::%s::canary::false\n", name, addr)
			fmt.Fprintf(&b, "%s::%s::priority::0\n", name, addr)
			fmt.Fprintf(&b, "%s::%s::success_rate::-1\n", name, addr)
			fmt.Fprintf(&b, "%s::%s::local_origin_success_rate::-1\n", name, addr)
		}
	}
	return b.Bytes()
}
