package inspect

import (
	"bytes"
	"fmt"
	"net"
	"strconv"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// HostStatus is one upstream host of one cluster, from /clusters?format=json.
type HostStatus struct {
	Cluster string
	// Address is IP:port (or a pipe path).
	Address string
	// Health is HEALTHY, UNHEALTHY, DRAINING, TIMEOUT, DEGRADED or UNKNOWN.
	Health string
	Counts Counts
}

// ParseClusterStatus parses /clusters?format=json (snake_case, or the camelCase older Envoys print)
// into one entry per cluster host. For PassthroughCluster (ORIGINAL_DST) the hosts are the
// original destinations recently used.
func ParseClusterStatus(b []byte) ([]HostStatus, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	var cs adminv3.Clusters
	if err := jsonOptions.Unmarshal(b, &cs); err != nil {
		return nil, fmt.Errorf("failed to decode /clusters?format=json (truncated, or plain text without format=json?): %w", err)
	}
	var out []HostStatus
	for _, c := range cs.GetClusterStatuses() {
		for _, h := range c.GetHostStatuses() {
			hs := HostStatus{Cluster: c.GetName(), Address: addressString(h.GetAddress()), Health: hostHealth(h.GetHealthStatus())}
			for _, s := range h.GetStats() {
				if set, ok := clusterCounters["upstream_"+s.GetName()]; ok {
					set(&hs.Counts, int64(s.GetValue()))
				}
			}
			out = append(out, hs)
		}
	}
	return out, nil
}

func addressString(a *corev3.Address) string {
	if sa := a.GetSocketAddress(); sa != nil {
		if sa.GetNamedPort() != "" {
			return net.JoinHostPort(sa.GetAddress(), sa.GetNamedPort())
		}
		return net.JoinHostPort(sa.GetAddress(), strconv.FormatUint(uint64(sa.GetPortValue()), 10))
	}
	if p := a.GetPipe(); p != nil {
		return "unix://" + p.GetPath()
	}
	if ea := a.GetEnvoyInternalAddress(); ea != nil {
		return "envoy://" + ea.GetServerListenerName()
	}
	return ""
}

func hostHealth(h *adminv3.HostHealthStatus) string {
	switch {
	case h == nil:
		return "UNKNOWN"
	case h.GetFailedActiveHealthCheck(), h.GetFailedOutlierCheck(), h.GetFailedActiveDegradedCheck(), h.GetPendingActiveHc():
		return "UNHEALTHY"
	case h.GetPendingDynamicRemoval():
		return "DRAINING"
	case h.GetEdsHealthStatus() != corev3.HealthStatus_UNKNOWN:
		return h.GetEdsHealthStatus().String()
	}
	return "HEALTHY"
}
