package sidecar

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const samplesDir = "../../fixtures/samples"

var testDNS = map[string]string{
	"httpbin.org":     "203.0.113.10",
	"edition.cnn.com": "203.0.113.20",
	"example.com":     "203.0.113.30",
}

func loadSample(t *testing.T, name string) *Snapshot {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(samplesDir, "istiod", name))
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadConfigDump(b)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return s
}

func call(scheme, host string, port int) Call {
	return Call{Host: host, IP: testDNS[host], Port: port, Scheme: scheme, Path: "/get"}
}

// routed is the part of an Outcome a routing assertion cares about.
type routed struct {
	Listener, FilterChain, SNI, Route, Cluster, UpstreamHost, Flags, Details string
	Code                                                                     int
	HTTP                                                                     bool
}

func summarize(o Outcome) routed {
	return routed{
		Listener: o.Listener, FilterChain: o.FilterChain, SNI: o.SNI, Route: o.Route,
		Cluster: o.Cluster, UpstreamHost: o.UpstreamHost, Flags: o.ResponseFlags,
		Details: o.CodeDetails, Code: o.ResponseCode, HTTP: o.HTTP,
	}
}

func TestRouteSamples(t *testing.T) {
	tests := []struct {
		name   string
		sample string
		call   Call
		router bool
		want   routed
	}{
		{
			name:   "allow any: https with no 443 listener goes through virtualOutbound, SNI unknown",
			sample: "allow-any.json",
			call:   call(SchemeHTTPS, "httpbin.org", 443),
			want: routed{Listener: "virtualOutbound", FilterChain: "virtualOutbound-catchall-tcp",
				Cluster: "PassthroughCluster", UpstreamHost: "203.0.113.10:443", Flags: "-", Details: "-"},
		},
		{
			name:   "allow any: plaintext http with no 80 listener is TCP passthrough",
			sample: "allow-any.json",
			call:   call(SchemeHTTP, "httpbin.org", 80),
			want: routed{Listener: "virtualOutbound", FilterChain: "virtualOutbound-catchall-tcp",
				Cluster: "PassthroughCluster", UpstreamHost: "203.0.113.10:80", Flags: "-", Details: "-"},
		},
		{
			name:   "registry only: TCP catch-all goes to BlackHoleCluster",
			sample: "registry-only.json",
			call:   call(SchemeHTTPS, "httpbin.org", 443),
			want: routed{Listener: "virtualOutbound", FilterChain: "virtualOutbound-catchall-tcp",
				Cluster: "BlackHoleCluster", Flags: "UH", Details: "-"},
		},
		{
			name:   "namespace Sidecar registry only behaves as mesh-wide",
			sample: "sidecar-registry-only.json",
			call:   call(SchemeTCP, "example.com", 5432),
			want: routed{Listener: "virtualOutbound", FilterChain: "virtualOutbound-catchall-tcp",
				Cluster: "BlackHoleCluster", Flags: "UH", Details: "-"},
		},
		{
			name:   "allow any with an 80 listener: HTTP vhost allow_any",
			sample: "allow-any-http80.json",
			call:   call(SchemeHTTP, "httpbin.org", 80),
			want: routed{Listener: "0.0.0.0_80", HTTP: true, Route: "allow_any", Cluster: "PassthroughCluster",
				UpstreamHost: "203.0.113.10:80", Code: 200, Flags: "-", Details: "via_upstream"},
		},
		{
			name:   "registry only with an 80 listener: block_all direct response 502",
			sample: "registry-only-http80.json",
			call:   call(SchemeHTTP, "example.com", 80),
			want:   routed{Listener: "0.0.0.0_80", HTTP: true, Route: "block_all", Code: 502, Flags: "-", Details: "direct_response"},
		},
		{
			name:   "registry only with an 80 listener: TLS on port 80 falls to the PassthroughFilterChain, which blackholes",
			sample: "registry-only-http80.json",
			call:   call(SchemeHTTPS, "example.com", 80),
			want: routed{Listener: "0.0.0.0_80", FilterChain: "PassthroughFilterChain", Cluster: "BlackHoleCluster",
				Flags: "UH", Details: "-"},
		},
		{
			name:   "ServiceEntry TLS: SNI chain to the registered cluster",
			sample: "se-tls.json",
			call:   call(SchemeHTTPS, "httpbin.org", 443),
			want: routed{Listener: "0.0.0.0_443", SNI: "httpbin.org", Cluster: "outbound|443||httpbin.org",
				UpstreamHost: "203.0.113.10:443", Flags: "-", Details: "-"},
		},
		{
			name:   "ServiceEntry TLS: another host on 443 takes the passthrough default chain, SNI known",
			sample: "se-tls.json",
			call:   call(SchemeHTTPS, "edition.cnn.com", 443),
			want: routed{Listener: "0.0.0.0_443", FilterChain: "PassthroughFilterChain", SNI: "edition.cnn.com",
				Cluster: "PassthroughCluster", UpstreamHost: "203.0.113.20:443", Flags: "-", Details: "-"},
		},
		{
			name:   "ServiceEntry TLS under registry only: unknown host blackholed, known host allowed",
			sample: "se-tls-registry-only.json",
			call:   call(SchemeHTTPS, "edition.cnn.com", 443),
			want: routed{Listener: "0.0.0.0_443", FilterChain: "PassthroughFilterChain", SNI: "edition.cnn.com",
				Cluster: "BlackHoleCluster", Flags: "UH", Details: "-"},
		},
		{
			name:   "ServiceEntry TLS without SNI: default chain",
			sample: "se-tls.json",
			call:   call(SchemeTLSNoSNI, "httpbin.org", 443),
			want: routed{Listener: "0.0.0.0_443", FilterChain: "PassthroughFilterChain", Cluster: "PassthroughCluster",
				UpstreamHost: "203.0.113.10:443", Flags: "-", Details: "-"},
		},
		{
			name:   "TLS origination: http to port 80 leaves as TLS to 443",
			sample: "tls-origination.json",
			call:   call(SchemeHTTP, "httpbin.org", 80),
			want: routed{Listener: "0.0.0.0_80", HTTP: true, Route: "default", Cluster: "outbound|80||httpbin.org",
				UpstreamHost: "203.0.113.10:443", Code: 200, Flags: "-", Details: "via_upstream"},
		},
		{
			name:   "targetPort 443 without a DestinationRule: plaintext to an HTTPS port",
			sample: "tls-origination-no-dr.json",
			call:   call(SchemeHTTP, "httpbin.org", 80),
			want: routed{Listener: "0.0.0.0_80", HTTP: true, Route: "default", Cluster: "outbound|80||httpbin.org",
				UpstreamHost: "203.0.113.10:443", Code: 400, Flags: "-", Details: "via_upstream"},
		},
		{
			name:   "egress gateway: SNI chain to the gateway subset cluster",
			sample: "egress-gateway.json",
			call:   call(SchemeHTTPS, "edition.cnn.com", 443),
			want: routed{Listener: "0.0.0.0_443", SNI: "edition.cnn.com",
				Cluster:      "outbound|443|cnn|istio-egressgateway.istio-system.svc.cluster.local",
				UpstreamHost: "10.0.0.2:8443", Flags: "-", Details: "-"},
		},
		{
			name:   "egress gateway itself: 8443 SNI chain to the external host",
			sample: "egress-gateway.gw.json",
			router: true,
			call:   Call{Host: "edition.cnn.com", IP: "10.0.0.2", Port: 8443, Scheme: SchemeHTTPS},
			want: routed{Listener: "0.0.0.0_8443", SNI: "edition.cnn.com", Cluster: "outbound|443||edition.cnn.com",
				UpstreamHost: "203.0.113.20:443", Flags: "-", Details: "-"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snap := loadSample(t, tc.sample)
			got := summarize(Route(snap, Flow{Call: tc.call, SourceIP: "10.0.0.1"}, testDNS, tc.router))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Route() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
