package fixflow

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-egress/kubectl-egress/inspect"
	"github.com/kubectl-egress/kubectl-egress/remedy"
)

var observed = Observation{Read: true, Report: inspect.Report{
	Destinations: []inspect.Destination{
		{Host: "httpbin.org", Port: 443, Protocol: "TLS", Disposition: inspect.DispositionPassthrough, Pods: []string{"shop/web-1", "shop/web-0"}},
		{Host: "httpbin.org", Port: 80, Protocol: "HTTP", Disposition: inspect.DispositionPassthrough, Pods: []string{"shop/web-0"}},
		{Host: "HTTPBIN.org", Port: 443, Protocol: "TLS", Disposition: inspect.DispositionPassthrough, Pods: []string{"shop/batch-0"}},
		{Host: "api.example.com", Port: 443, Protocol: "", Disposition: inspect.DispositionPassthrough, Pods: []string{"shop/web-0"}},
		{Host: "api.example.com", Port: 5432, Protocol: "", Disposition: inspect.DispositionPassthrough, Pods: []string{"shop/web-0"}},
		{Host: "api.example.com", Port: 0, Protocol: "HTTP", Disposition: inspect.DispositionPassthrough, Pods: []string{"shop/web-0"}},
		{Host: "198.51.100.7", Port: 8443, Protocol: "TCP", Disposition: inspect.DispositionRegistered, Addresses: []string{"198.51.100.7:8443"}},
		{Host: "10.0.0.0/8", Port: 0, Disposition: inspect.DispositionBypassed},
	},
	Pods: []inspect.PodFacts{
		{Namespace: "shop", Name: "web-0", IstioVersion: "1.31.1"},
		{Namespace: "shop", Name: "web-1", IstioVersion: "1.24.0"},
		{Namespace: "shop", Name: "batch-0"},
	},
}}

func TestObservationPorts(t *testing.T) {
	tests := []struct {
		host string
		want []remedy.Port
	}{
		{"httpbin.org", []remedy.Port{{Number: 80, Protocol: "HTTP"}, {Number: 443, Protocol: "TLS"}}},
		// Unknown protocols: TLS on 443, TCP elsewhere; no port (metrics only) is left out.
		{"api.example.com", []remedy.Port{{Number: 443, Protocol: "TLS"}, {Number: 5432, Protocol: "TCP"}}},
		{"198.51.100.7", []remedy.Port{{Number: 8443, Protocol: "TCP"}}},
		{"unseen.example.com", nil},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, observed.Ports(tt.host)); diff != "" {
				t.Errorf("ports (-want +got):\n%s", diff)
			}
		})
	}
}

func TestObservationProtocol(t *testing.T) {
	for _, tt := range []struct {
		host string
		port uint32
		want string
	}{
		{"httpbin.org", 80, "HTTP"},
		{"api.example.com", 5432, "TCP"},
		{"unseen.example.com", 80, "HTTP"},
		{"unseen.example.com", 443, "TLS"},
		{"unseen.example.com", 9000, "TCP"},
	} {
		if got := observed.Protocol(tt.host, tt.port); got != tt.want {
			t.Errorf("Protocol(%s, %d) = %s, want %s", tt.host, tt.port, got, tt.want)
		}
	}
}

func TestObservationTLSCallers(t *testing.T) {
	want := []string{"shop/batch-0", "shop/web-0", "shop/web-1"}
	if diff := cmp.Diff(want, observed.TLSCallers("httpbin.org")); diff != "" {
		t.Errorf("callers (-want +got):\n%s", diff)
	}
}

func TestObservationIstioVersion(t *testing.T) {
	if got := observed.IstioVersion(); got != (remedy.IstioVersion{Major: 1, Minor: 24}) {
		t.Errorf("oldest proxy version: %v, want 1.24", got)
	}
	if got := (Observation{}).IstioVersion(); got.Known() {
		t.Errorf("no proxies: %v, want unknown", got)
	}
}

func TestCandidates(t *testing.T) {
	rec := func(f inspect.Fix) inspect.Recommendation {
		return inspect.Recommendation{Fix: f, Reason: string(f) + " because"}
	}
	r := inspect.Report{Destinations: []inspect.Destination{
		{Host: "httpbin.org", Port: 80, Protocol: "HTTP", Disposition: inspect.DispositionPassthrough, Pods: []string{"a/web-1"}, Recommendation: rec(inspect.FixRegister)},
		{Host: "httpbin.org", Port: 443, Protocol: "TLS", Disposition: inspect.DispositionPassthrough, Pods: []string{"a/web-0", "a/web-1"}, Recommendation: rec(inspect.FixTLSOrigination)},
		{Host: "google.com", Port: 443, Protocol: "TLS", Disposition: inspect.DispositionBlocked, Pods: []string{"a/web-0"}, Recommendation: rec(inspect.FixRegister)},
		{Host: "unknown", Disposition: inspect.DispositionPassthrough, Recommendation: rec(inspect.FixNone)},
		{Host: "*", Disposition: inspect.DispositionBypassed, Recommendation: rec(inspect.FixNone)},
		{Host: "www.googleapis.com", Port: 443, Protocol: "TLS", Disposition: inspect.DispositionRegistered, Recommendation: rec(inspect.FixTLSOrigination)},
	}}
	want := []Candidate{
		{Host: "google.com", Ports: []uint32{443}, Protocol: "TLS", Disposition: inspect.DispositionBlocked, Pods: []string{"a/web-0"},
			Fix: inspect.FixRegister, Reason: "register because"},
		{Host: "httpbin.org", Ports: []uint32{80, 443}, Protocol: "TLS", Disposition: inspect.DispositionPassthrough, Pods: []string{"a/web-1", "a/web-0"},
			Fix: inspect.FixTLSOrigination, Reason: "tls-origination because"},
	}
	got := Candidates(r)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("candidates (-want +got):\n%s", diff)
	}
	var recommended []inspect.Fix
	for _, c := range append(got, Candidate{Host: "x", Fix: inspect.FixNone}) {
		recommended = append(recommended, c.Recommended())
	}
	if diff := cmp.Diff([]inspect.Fix{inspect.FixRegister, inspect.FixTLSOrigination, inspect.FixNone}, recommended); diff != "" {
		t.Errorf("recommended fixes (-want +got):\n%s", diff)
	}
	if got[1].PortList() != "80,443" || (Candidate{}).PortList() != "-" {
		t.Errorf("port lists %q, %q", got[1].PortList(), (Candidate{}).PortList())
	}
}

func TestConfigInPlace(t *testing.T) {
	pod := func(checks ...inspect.Check) inspect.PodVerification { return inspect.PodVerification{Checks: checks} }
	tests := []struct {
		name string
		v    inspect.Verification
		want bool
	}{
		{"no pods", inspect.Verification{}, false},
		{"cluster and tls in place, traffic pending", inspect.Verification{Pods: []inspect.PodVerification{pod(
			inspect.Check{Name: inspect.CheckCluster, Status: inspect.CheckPass},
			inspect.Check{Name: inspect.CheckTLS, Status: inspect.CheckPass},
			inspect.Check{Name: inspect.CheckMetrics, Status: inspect.CheckPending},
			inspect.Check{Name: inspect.CheckApp, Status: inspect.CheckFail})}}, true},
		{"tls not pushed yet", inspect.Verification{Pods: []inspect.PodVerification{pod(
			inspect.Check{Name: inspect.CheckCluster, Status: inspect.CheckPass},
			inspect.Check{Name: inspect.CheckTLS, Status: inspect.CheckFail})}}, false},
		{"one pod of two without the cluster", inspect.Verification{Pods: []inspect.PodVerification{
			pod(inspect.Check{Name: inspect.CheckCluster, Status: inspect.CheckPass}),
			pod(inspect.Check{Name: inspect.CheckCluster, Status: inspect.CheckFail})}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ConfigInPlace(tt.v); got != tt.want {
				t.Errorf("ConfigInPlace = %v, want %v", got, tt.want)
			}
		})
	}
}
