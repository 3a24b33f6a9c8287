package inspect

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func TestPathsCarryTheirRegexes(t *testing.T) {
	for path, re := range map[string]string{OutboundListenersConfigPath: OutboundListenersRegex, VirtualOutboundConfigPath: "^virtualOutbound$", StatsPath: StatsRegex} {
		u, err := url.Parse("http://127.0.0.1:15000/" + path)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		got := q.Get("filter") + q.Get("name_regex")
		if got != re {
			t.Errorf("%s decodes to %q, want %q", path, got, re)
		}
	}
}

func TestStatsRegexMatchesEnvoyStatNames(t *testing.T) {
	re := regexp.MustCompile(StatsRegex)
	tests := []struct {
		name string
		want bool
	}{
		{"istiocustom.istio_requests_total.reporter.source.destination_service.httpbin.org.destination_service_name.PassthroughCluster", true},
		{"istiocustom.istio_tcp_connections_closed_total.reporter.source.destination_service_name.BlackHoleCluster", true},
		{"istiocustom.istio_tcp_sent_bytes_total.reporter.source", true},
		{"cluster.PassthroughCluster.upstream_cx_total", true},
		{"cluster.BlackHoleCluster;.upstream_cx_total", true},
		{"cluster.outbound|443||httpbin.org;.upstream_rq_total", true},
		{"cluster.PassthroughCluster.upstream_cx_active", false},
		{"istiocustom.istio_request_duration_milliseconds.reporter.source", false},
		{"server.uptime", false},
		{"cluster_manager.active_clusters", true},
		{"cluster_manager.warming_clusters", false},
	}
	for _, tt := range tests {
		if got := re.MatchString(tt.name); got != tt.want {
			t.Errorf("%s: match = %v, want %v", tt.name, got, tt.want)
		}
	}
	for _, p := range []string{ClustersConfigPath, VirtualOutboundConfigPath, OutboundListenersConfigPath, RoutesConfigPath, ClusterStatusPath, StatsPath, ServerInfoPath} {
		if strings.HasPrefix(p, "/") || strings.ContainsAny(p, " |") {
			t.Errorf("%q: paths are relative and URL-encoded", p)
		}
	}
}

func TestListenersRegexSelectsOutboundListeners(t *testing.T) {
	re := regexp.MustCompile(OutboundListenersRegex)
	for name, want := range map[string]bool{
		"virtualOutbound":    false,
		"0.0.0.0_443":        true,
		"198.51.100.7_8443":  true,
		"10.96.0.1_443":      true,
		"[2001:db8::7]_8443": true,
		"virtualInbound":     false,
		"0.0.0.0_15090":      true,
		"outbound|443||x":    false,
	} {
		if got := re.MatchString(name); got != want {
			t.Errorf("%s: matched %v, want %v", name, got, want)
		}
	}
}
