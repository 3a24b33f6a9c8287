package inspect

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"strings"

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
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, nil
	}
	if b[0] != '{' {
		return parseClusterText(b)
	}
	var cs adminv3.Clusters
	if err := unmarshalAdminJSON(b, &cs); err != nil {
		return nil, fmt.Errorf("failed to decode /clusters?format=json (truncated, or plain text without format=json?): %w", err)
	}
	return hostStatusesOf(&cs), nil
}

// hostStatusesOf lists the hosts of decoded /clusters.
func hostStatusesOf(cs *adminv3.Clusters) []HostStatus {
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
	return out
}

// parseClusterText reads plain /clusters (what istioctl bug-report saves):
// `CLUSTER::HOST:PORT::STAT::VALUE` per host statistic, `CLUSTER::SETTING::VALUE` per cluster.
func parseClusterText(b []byte) ([]HostStatus, error) {
	var out []HostStatus
	index := map[[2]string]int{}
	for line := range bytes.Lines(b) {
		f := strings.Split(strings.TrimSpace(string(line)), "::")
		if len(f) != 4 || !isHostAddress(f[1]) {
			continue
		}
		k := [2]string{f[0], f[1]}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, HostStatus{Cluster: f[0], Address: f[1], Health: "HEALTHY"})
		}
		h := &out[i]
		switch stat := f[2]; {
		case stat == "health_flags" && f[3] != "healthy":
			h.Health = "UNHEALTHY"
		default:
			if set, ok := clusterCounters["upstream_"+stat]; ok {
				if v, err := strconv.ParseInt(f[3], 10, 64); err == nil {
					set(&h.Counts, v)
				}
			}
		}
	}
	if out == nil {
		return nil, fmt.Errorf("no CLUSTER::HOST::STAT::VALUE line in plain /clusters output")
	}
	return out, nil
}

// isHostAddress reports whether s is IP:port (or a pipe path) as /clusters prints a host.
func isHostAddress(s string) bool {
	if strings.HasPrefix(s, "/") || strings.HasPrefix(s, "unix://") || strings.HasPrefix(s, "envoy://") {
		return true
	}
	host, port, err := net.SplitHostPort(s)
	return err == nil && net.ParseIP(host) != nil && port != ""
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
