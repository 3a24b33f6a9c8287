package inspect

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	tFix    = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	tBefore = tFix.Add(-5 * time.Minute)
	tAfter  = tFix.Add(30 * time.Second)
	tLater  = tFix.Add(90 * time.Second)
	tNow    = tFix.Add(2 * time.Minute)
)

func at(t time.Time) *time.Time { return &t }

// proxy builds one pod's state the way Inspect and ParseStats would have.
func vproxy(clusters []Cluster, dests []Destination, metrics []MetricSample) ProxyState {
	return ProxyState{
		Report: PodReport{
			Facts:        PodFacts{Namespace: "shop", Name: "web-0", AccessLogging: AccessLoggingOn},
			Clusters:     clusters,
			Destinations: dests,
			GeneratedAt:  tNow,
		},
		Metrics: metrics,
	}
}

var (
	originated = Cluster{Name: "outbound|80||httpbin.org", Direction: "outbound", Port: 80, Host: "httpbin.org", External: true,
		TLS: "SIMPLE", SNI: "httpbin.org", EndpointPorts: []uint32{443}}
	originatedAuto = Cluster{Name: "outbound|80||httpbin.org", Direction: "outbound", Port: 80, Host: "httpbin.org", External: true,
		TLS: "SIMPLE", SNI: "auto", EndpointPorts: []uint32{443}}
	plaintextTo443 = Cluster{Name: "outbound|80||httpbin.org", Direction: "outbound", Port: 80, Host: "httpbin.org", External: true,
		EndpointPorts: []uint32{443}}
	httpsCluster = Cluster{Name: "outbound|443||httpbin.org", Direction: "outbound", Port: 443, Host: "httpbin.org", External: true,
		EndpointPorts: []uint32{443}}
	otherCluster = Cluster{Name: "outbound|443||example.com", Direction: "outbound", Port: 443, Host: "example.com", External: true}
)

func l7(host string, n float64) MetricSample {
	return MetricSample{Name: metricRequests, Value: n, Labels: map[string]string{
		"reporter": "source", "destination_service_name": host, "destination_service": host}}
}

func tcp(host string, n float64) MetricSample {
	return MetricSample{Name: metricTCPOpened, Value: n, Labels: map[string]string{
		"reporter": "source", "destination_service_name": host, "destination_service": host}}
}

func passthroughHTTP(host string, n float64) MetricSample {
	return MetricSample{Name: metricRequests, Value: n, Labels: map[string]string{
		"reporter": "source", "destination_service_name": clusterPassthrough, "destination_service": host}}
}

func vdest(host string, port uint32, disp Disposition, proto string, last *time.Time, signals ...Signal) Destination {
	return Destination{Host: host, Port: port, Disposition: disp, Protocol: proto, LastSeen: last, Signals: signals}
}

// verdict is what a test compares: each check's status, and the missing lines.
type verdict struct {
	Passed  bool
	Status  map[CheckName]CheckStatus
	Missing []string
}

func verdictOf(p PodVerification) verdict {
	v := verdict{Passed: p.Passed, Status: map[CheckName]CheckStatus{}, Missing: p.Missing}
	for _, c := range p.Checks {
		v.Status[c.Name] = c.Status
	}
	return v
}

func statuses(cluster, tls, metrics, passthrough, app CheckStatus) map[CheckName]CheckStatus {
	return map[CheckName]CheckStatus{CheckCluster: cluster, CheckTLS: tls, CheckMetrics: metrics, CheckPassthrough: passthrough, CheckApp: app, CheckLimits: skipped}
}

const (
	pass    = CheckPass
	fail    = CheckFail
	pending = CheckPending
	skipped = CheckSkipped
)

func TestVerify(t *testing.T) {
	tests := []struct {
		name    string
		req     VerifyRequest
		proxy   ProxyState
		want    verdict
		wantFix Fix
	}{
		{
			name: "tls origination took effect: SNI set, L7 metrics, passthrough stopped before the fix",
			req:  VerifyRequest{Host: "httpbin.org", Fix: FixTLSOrigination, FixedAt: tFix},
			proxy: vproxy([]Cluster{originated, httpsCluster, otherCluster}, []Destination{
				vdest("httpbin.org", 443, DispositionPassthrough, "TLS", at(tBefore), SignalAccessLog),
				vdest("httpbin.org", 80, DispositionTLSOrigination, "HTTP", at(tAfter), SignalConfig, SignalAccessLog, SignalMetrics),
			}, []MetricSample{l7("httpbin.org", 4), passthroughHTTP("edition.cnn.com", 2)}),
			want:    verdict{Passed: true, Status: statuses(pass, pass, pass, pass, pass)},
			wantFix: FixTLSOrigination,
		},
		{
			name:    "auto_sni counts as the right SNI; fix inferred from the TLS cluster",
			req:     VerifyRequest{Host: "httpbin.org"},
			proxy:   vproxy([]Cluster{originatedAuto}, []Destination{vdest("httpbin.org", 80, DispositionTLSOrigination, "HTTP", nil, SignalConfig, SignalMetrics)}, []MetricSample{l7("httpbin.org", 1)}),
			want:    verdict{Passed: true, Status: statuses(pass, pass, pass, pass, pass)},
			wantFix: FixTLSOrigination,
		},
		{
			name: "tls origination applied but the app still calls https://",
			req:  VerifyRequest{Host: "httpbin.org", Fix: FixTLSOrigination, FixedAt: tFix},
			proxy: vproxy([]Cluster{originated, httpsCluster}, []Destination{
				vdest("httpbin.org", 80, DispositionTLSOrigination, "HTTP", nil, SignalConfig),
				vdest("httpbin.org", 443, DispositionRegistered, "TLS", at(tAfter), SignalConfig, SignalAccessLog, SignalMetrics),
			}, []MetricSample{tcp("httpbin.org", 3)}),
			want: verdict{Status: statuses(pass, pass, pending, pass, fail), Missing: []string{
				"metrics: calls to https://httpbin.org are L4 only: L7 metrics appear once the app calls http://httpbin.org",
				"app: the app still calls https://httpbin.org: switch it to http://httpbin.org, the sidecar now originates TLS",
			}},
			wantFix: FixTLSOrigination,
		},
		{
			name: "the app switched to http:// after a while: later http calls win over earlier https calls",
			req:  VerifyRequest{Host: "httpbin.org", Fix: FixTLSOrigination, FixedAt: tFix},
			proxy: vproxy([]Cluster{originated, httpsCluster}, []Destination{
				vdest("httpbin.org", 80, DispositionTLSOrigination, "HTTP", at(tLater), SignalConfig, SignalAccessLog, SignalMetrics),
				vdest("httpbin.org", 443, DispositionRegistered, "TLS", at(tAfter), SignalConfig, SignalAccessLog, SignalMetrics),
			}, []MetricSample{tcp("httpbin.org", 3), l7("httpbin.org", 2)}),
			want:    verdict{Passed: true, Status: statuses(pass, pass, pass, pass, pass)},
			wantFix: FixTLSOrigination,
		},
		{
			name:  "istiod has not pushed yet: no cluster shortly after the fix",
			req:   VerifyRequest{Host: "httpbin.org", Fix: FixTLSOrigination, FixedAt: tNow.Add(-10 * time.Second)},
			proxy: vproxy([]Cluster{otherCluster}, []Destination{vdest("httpbin.org", 443, DispositionPassthrough, "TLS", at(tBefore), SignalAccessLog)}, []MetricSample{}),
			want: verdict{Status: statuses(fail, pending, pending, pass, pass), Missing: []string{
				"cluster: istiod has not pushed the ServiceEntry for httpbin.org to this proxy yet (applied 10s ago): wait, or use --wait",
				"tls: no cluster for httpbin.org yet, so no TLS origination either",
				"metrics: no traffic to httpbin.org since the fix: metrics appear with the first call",
			}},
			wantFix: FixTLSOrigination,
		},
		{
			name:  "long after the fix and still no cluster: visibility, not push",
			req:   VerifyRequest{Host: "httpbin.org", Fix: FixRegister, FixedAt: tNow.Add(-10 * time.Minute)},
			proxy: vproxy(nil, nil, nil),
			want: verdict{Status: statuses(fail, skipped, skipped, pass, skipped), Missing: []string{
				"cluster: the ServiceEntry for httpbin.org was applied 10m0s ago but this proxy does not have it: check its exportTo, the pod's Sidecar egress hosts, and that istiod is running",
			}},
			wantFix: FixRegister,
		},
		{
			name: "nothing applied: still passthrough",
			req:  VerifyRequest{Host: "httpbin.org"},
			proxy: vproxy(nil, []Destination{vdest("httpbin.org", 443, DispositionPassthrough, "TLS", at(tBefore), SignalAccessLog, SignalClusters)},
				[]MetricSample{}),
			want: verdict{Status: statuses(fail, skipped, pending, fail, skipped), Missing: []string{
				"cluster: httpbin.org has no own cluster on this proxy and no fix by kubectl-egress was found: run kubectl egress register httpbin.org",
				"metrics: no traffic to httpbin.org through its own cluster yet: metrics appear with the first call",
				"passthrough: calls to httpbin.org still go to PassthroughCluster: it has no own cluster on this proxy",
			}},
			wantFix: FixRegister,
		},
		{
			name: "registered (TLS by the app): L4 connections are the evidence",
			req:  VerifyRequest{Host: "httpbin.org", Fix: FixRegister, FixedAt: tFix},
			proxy: vproxy([]Cluster{httpsCluster}, []Destination{
				vdest("httpbin.org", 443, DispositionPassthrough, "TLS", at(tBefore), SignalAccessLog),
				vdest("httpbin.org", 443, DispositionRegistered, "TLS", at(tAfter), SignalConfig, SignalAccessLog, SignalMetrics),
			}, []MetricSample{tcp("httpbin.org", 2)}),
			want:    verdict{Passed: true, Status: statuses(pass, skipped, pass, pass, skipped)},
			wantFix: FixRegister,
		},
		{
			name: "passthrough calls after the fix on a port the ServiceEntry lacks",
			req:  VerifyRequest{Host: "httpbin.org", Fix: FixRegister, FixedAt: tFix},
			proxy: vproxy([]Cluster{httpsCluster}, []Destination{
				vdest("httpbin.org", 443, DispositionRegistered, "TLS", at(tAfter), SignalConfig, SignalAccessLog),
				vdest("httpbin.org", 8443, DispositionPassthrough, "TLS", at(tLater), SignalAccessLog),
			}, []MetricSample{tcp("httpbin.org", 1)}),
			want: verdict{Status: statuses(fail, skipped, pass, fail, skipped), Missing: []string{
				"cluster: the app calls httpbin.org on port 8443, which the ServiceEntry does not declare: those calls still go to PassthroughCluster; add the port",
				"passthrough: the app calls httpbin.org on port 8443, which the ServiceEntry does not declare: add the port",
			}},
			wantFix: FixRegister,
		},
		{
			// A port seen only before the fix still fails: the configuration, not fresh traffic, says
			// that its calls have nowhere to go but PassthroughCluster.
			name: "a port seen before the fix that the egress gateway routes do not cover",
			req:  VerifyRequest{Host: "edition.cnn.com", Fix: FixEgressGateway, FixedAt: tFix},
			proxy: vproxy([]Cluster{{Name: "outbound|443||edition.cnn.com", Direction: "outbound", Port: 443, Host: "edition.cnn.com", External: true}}, []Destination{
				{Host: "edition.cnn.com", Port: 443, Disposition: DispositionEgressGateway, Protocol: "TLS", Gateway: "istio-egressgateway.istio-system.svc.cluster.local", Signals: []Signal{SignalConfig}},
				vdest("edition.cnn.com", 80, DispositionPassthrough, "HTTP", at(tBefore), SignalAccessLog),
			}, []MetricSample{}),
			want: verdict{Status: statuses(fail, skipped, skipped, pass, skipped), Missing: []string{
				"cluster: the app calls edition.cnn.com on port 80, which no egress gateway route covers: those calls do not go through the gateway; route that port too (kubectl egress route-via-gateway edition.cnn.com)",
			}},
			wantFix: FixEgressGateway,
		},
		{
			// register 198.51.100.7 writes the host 198-51-100-7.ip.external with the IP as its
			// address: the proxy knows the IP only through the listener bound to that cluster.
			name: "an IP registered by address",
			req:  VerifyRequest{Host: "198.51.100.7", Fix: FixRegister, FixedAt: tFix},
			proxy: vproxy([]Cluster{{Name: "outbound|8443||198-51-100-7.ip.external", Direction: "outbound", Port: 8443,
				Host: "198-51-100-7.ip.external", External: true, Addresses: []string{"198.51.100.7:8443"}}}, []Destination{
				vdest("198.51.100.7", 8443, DispositionPassthrough, "TCP", at(tBefore), SignalAccessLog),
				{Host: "198.51.100.7", Port: 8443, Disposition: DispositionRegistered, Protocol: "TCP", Addresses: []string{"198.51.100.7:8443"},
					Signals: []Signal{SignalConfig, SignalAccessLog}, LastSeen: at(tLater)},
			}, []MetricSample{tcp("198-51-100-7.ip.external", 2)}),
			want:    verdict{Passed: true, Status: statuses(pass, skipped, pass, pass, skipped)},
			wantFix: FixRegister,
		},
		{
			name: "blocked under REGISTRY_ONLY until the push, then its own cluster",
			req:  VerifyRequest{Host: "google.com", Fix: FixRegister, FixedAt: tFix},
			proxy: vproxy([]Cluster{{Name: "outbound|443||google.com", Direction: "outbound", Port: 443, Host: "google.com", External: true}}, []Destination{
				vdest("google.com", 443, DispositionBlocked, "TLS", at(tAfter), SignalAccessLog),
				vdest("google.com", 443, DispositionRegistered, "TLS", at(tLater), SignalConfig, SignalAccessLog),
			}, []MetricSample{}),
			want:    verdict{Passed: true, Status: statuses(pass, skipped, pass, pass, skipped)},
			wantFix: FixRegister,
		},
		{
			name: "TLS cluster with another SNI",
			req:  VerifyRequest{Host: "httpbin.org", Fix: FixTLSOrigination},
			proxy: vproxy([]Cluster{{Name: "outbound|80||httpbin.org", Direction: "outbound", Port: 80, Host: "httpbin.org", External: true, TLS: "SIMPLE", SNI: "www.httpbin.org"}},
				[]Destination{vdest("httpbin.org", 80, DispositionTLSOrigination, "HTTP", nil, SignalConfig, SignalMetrics)}, []MetricSample{l7("httpbin.org", 1)}),
			want: verdict{Status: statuses(pass, fail, pass, pass, pass), Missing: []string{
				"tls: the DestinationRule's tls.sni is not httpbin.org: the server may reject the handshake or present another certificate; set sni: httpbin.org",
			}},
			wantFix: FixTLSOrigination,
		},
		{
			name:  "ServiceEntry port 80 to 443 without the DestinationRule: plaintext to 443",
			req:   VerifyRequest{Host: "httpbin.org", Fix: FixTLSOrigination, FixedAt: tFix},
			proxy: vproxy([]Cluster{plaintextTo443}, nil, []MetricSample{l7("httpbin.org", 1)}),
			want: verdict{Status: statuses(pass, fail, pass, pass, pass), Missing: []string{
				"tls: outbound|80||httpbin.org sends plaintext HTTP to port 443: the DestinationRule with tls mode SIMPLE has not reached this proxy (pushed yet? host and port 80 match?)",
			}},
			wantFix: FixTLSOrigination,
		},
		{
			name: "egress gateway route",
			req:  VerifyRequest{Host: "edition.cnn.com"},
			proxy: vproxy(nil, []Destination{{Host: "edition.cnn.com", Port: 443, Disposition: DispositionEgressGateway,
				Gateway: "istio-egressgateway.istio-system.svc.cluster.local", Signals: []Signal{SignalConfig, SignalAccessLog}}}, []MetricSample{}),
			want:    verdict{Passed: true, Status: statuses(pass, skipped, skipped, pass, skipped)},
			wantFix: FixEgressGateway,
		},
		{
			name:  "passthrough HTTP metrics naming the host are not L7 metrics of its own cluster",
			req:   VerifyRequest{Host: "edition.cnn.com", Fix: FixTLSOrigination, FixedAt: tFix},
			proxy: vproxy([]Cluster{{Name: "outbound|80||edition.cnn.com", Direction: "outbound", Port: 80, Host: "edition.cnn.com", External: true, TLS: "SIMPLE", SNI: "edition.cnn.com"}}, nil, []MetricSample{passthroughHTTP("edition.cnn.com", 5)}),
			want: verdict{Status: statuses(pass, pass, pending, pass, pass), Missing: []string{
				"metrics: no traffic to edition.cnn.com since the fix: metrics appear with the first call",
			}},
			wantFix: FixTLSOrigination,
		},
		{
			name:  "stats not read: the metrics check is skipped, not failed",
			req:   VerifyRequest{Host: "httpbin.org", Fix: FixRegister},
			proxy: vproxy([]Cluster{httpsCluster}, nil, nil),
			want:  verdict{Passed: true, Status: statuses(pass, skipped, skipped, pass, skipped)}, wantFix: FixRegister,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Verify(tt.req, []ProxyState{tt.proxy})
			if v.Fix != tt.wantFix {
				t.Errorf("fix = %q, want %q", v.Fix, tt.wantFix)
			}
			if len(v.Pods) != 1 {
				t.Fatalf("pods: %+v", v.Pods)
			}
			if diff := cmp.Diff(tt.want, verdictOf(v.Pods[0])); diff != "" {
				t.Errorf("verdict (-want +got):\n%s\nchecks: %+v", diff, v.Pods[0].Checks)
			}
			if v.Passed != tt.want.Passed {
				t.Errorf("passed = %v, want %v", v.Passed, tt.want.Passed)
			}
		})
	}
}

func TestVerifyUnreadableProxyFails(t *testing.T) {
	p := ProxyState{Report: PodReport{Facts: PodFacts{Namespace: "shop", Name: "web-1"},
		Errors: []string{"pod shop/web-1: the Envoy admin port 15000 did not answer"}}}
	v := Verify(VerifyRequest{Host: "httpbin.org", Fix: FixRegister}, []ProxyState{vproxy([]Cluster{httpsCluster}, nil, nil), p})
	got := []bool{}
	for _, pv := range v.Pods {
		got = append(got, pv.Passed)
	}
	if diff := cmp.Diff([]bool{true, false}, got); diff != "" || v.Passed {
		t.Errorf("passed per pod (-want +got):\n%s\noverall %v", diff, v.Passed)
	}
	if want := []string{"the proxy could not be read: pod shop/web-1: the Envoy admin port 15000 did not answer"}; !cmp.Equal(want, v.Pods[1].Missing) {
		t.Errorf("missing = %q", v.Pods[1].Missing)
	}
}

func TestVerifyNoProxiesDoesNotPass(t *testing.T) {
	if v := Verify(VerifyRequest{Host: "httpbin.org"}, nil); v.Passed {
		t.Error("a verification of no pod passed")
	}
}

func TestCallsHostAndMatchHost(t *testing.T) {
	rep := PodReport{Destinations: []Destination{
		vdest("httpbin.org", 443, DispositionRegistered, "TLS", nil, SignalConfig),
		vdest("api.example.com", 443, DispositionPassthrough, "TLS", nil, SignalAccessLog),
	}}
	tests := []struct {
		host string
		want bool
	}{
		{"httpbin.org", false}, // config alone is not a call
		{"api.example.com", true},
		{"API.example.com", true},
		{"*.example.com", true},
		{"*.example.org", false},
	}
	for _, tt := range tests {
		if got := CallsHost(rep, tt.host); got != tt.want {
			t.Errorf("CallsHost(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
	// A gateway's proxy sends out its clients' calls: it is not a caller of the host.
	rep.Facts.ProxyType = ProxyRouter
	if CallsHost(rep, "api.example.com") {
		t.Errorf("CallsHost on a router = true, want false")
	}
}

func TestPrintVerificationTable(t *testing.T) {
	v := Verify(VerifyRequest{Host: "httpbin.org", Fix: FixTLSOrigination, FixedAt: tFix}, []ProxyState{
		vproxy([]Cluster{originated, httpsCluster}, []Destination{
			vdest("httpbin.org", 443, DispositionRegistered, "TLS", at(tAfter), SignalConfig, SignalAccessLog),
		}, []MetricSample{}),
	})
	var buf bytes.Buffer
	if err := PrintVerification(&buf, v, FormatTable); err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"POD          CLUSTER                                              TLS    METRICS   PASSTHROUGH   APP    LIMITS   RESULT",
		"shop/web-0   outbound|80||httpbin.org,outbound|443||httpbin.org   pass   pending   pass          fail   -        FAIL",
		"",
		"shop/web-0 is missing:",
		"  - metrics: calls to https://httpbin.org are L4 only: L7 metrics appear once the app calls http://httpbin.org",
		"  - app: the app still calls https://httpbin.org: switch it to http://httpbin.org, the sidecar now originates TLS",
		"",
	}, "\n")
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
	if err := PrintVerification(&buf, v, "wide"); err == nil {
		t.Error("-o wide accepted")
	}
}

func TestPrintVerificationPendingResult(t *testing.T) {
	v := Verify(VerifyRequest{Host: "httpbin.org", Fix: FixRegister, FixedAt: tFix},
		[]ProxyState{vproxy([]Cluster{httpsCluster}, nil, []MetricSample{})})
	var buf bytes.Buffer
	if err := PrintVerification(&buf, v, FormatTable); err != nil {
		t.Fatal(err)
	}
	row := strings.Fields(strings.Split(buf.String(), "\n")[1])
	if got := row[len(row)-1]; got != "pending" || v.Passed {
		t.Errorf("result column = %q (passed %v), want pending for a fix in place with no traffic since:\n%s", got, v.Passed, buf.String())
	}
}

// The connection settings a fix's DestinationRule asked for, held against the host's clusters:
// its own, or the egress gateway route's.
func TestVerifyLimits(t *testing.T) {
	want := &ClusterLimits{ConnectTimeout: "3s", MaxConnections: 50, Consecutive5xx: 5, OutlierInterval: "10s"}
	withLimits := httpsCluster
	withLimits.Limits = &ClusterLimits{ConnectTimeout: "3s", MaxConnections: 50, Consecutive5xx: 5, OutlierInterval: "10s", BaseEjectionTime: "30s"}
	istioDefaults := httpsCluster
	istioDefaults.Limits = &ClusterLimits{ConnectTimeout: "10s"}
	gwCluster := Cluster{Name: "outbound|443|cnn|istio-egressgateway.istio-system.svc.cluster.local", Direction: "outbound", Port: 443,
		Host: "istio-egressgateway.istio-system.svc.cluster.local", Limits: &ClusterLimits{ConnectTimeout: "3s", MaxConnections: 50, Consecutive5xx: 5, OutlierInterval: "10s"}}
	gwDest := Destination{Host: "edition.cnn.com", Port: 443, Disposition: DispositionEgressGateway, Cluster: gwCluster.Name, Gateway: gwCluster.Host, Signals: []Signal{SignalConfig}}
	tests := []struct {
		name   string
		host   string
		fix    Fix
		proxy  ProxyState
		status CheckStatus
		detail string
	}{
		{"on the host's cluster", "httpbin.org", FixRegister, vproxy([]Cluster{withLimits}, nil, []MetricSample{}), pass, "on outbound|443||httpbin.org"},
		{"not pushed: Istio's defaults", "httpbin.org", FixRegister, vproxy([]Cluster{istioDefaults}, nil, []MetricSample{}), fail,
			`outbound|443||httpbin.org: connectTimeout "10s", want 3s maxConnections 0, want 50 consecutive5xx 0, want 5 outlierInterval "", want 10s`},
		{"no cluster yet", "httpbin.org", FixRegister, vproxy(nil, nil, []MetricSample{}), pending, "no cluster"},
		{"on the egress gateway route's cluster", "edition.cnn.com", FixEgressGateway, vproxy([]Cluster{gwCluster}, []Destination{gwDest}, []MetricSample{}), pass, "on " + gwCluster.Name},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Verify(VerifyRequest{Host: tt.host, Fix: tt.fix, Limits: want}, []ProxyState{tt.proxy})
			for _, c := range v.Pods[0].Checks {
				if c.Name == CheckLimits && (c.Status != tt.status || c.Detail != tt.detail) {
					t.Errorf("limits check %s %q, want %s %q", c.Status, c.Detail, tt.status, tt.detail)
				}
			}
		})
	}
}

// An alias: the sidecar sends SHORT's requests to the real host over TLS, the handshake naming
// the real host, which the route also writes into the authority.
func TestVerifyAlias(t *testing.T) {
	alias := Cluster{Name: "outbound|80||bin.alias", Direction: "outbound", Port: 80, Host: "bin.alias", External: true,
		TLS: "SIMPLE", SNI: "httpbin.org", EndpointPorts: []uint32{443}}
	routed := Destination{Host: "bin.alias", Port: 80, Disposition: DispositionTLSOrigination, Protocol: "HTTP", Cluster: alias.Name,
		HostRewrite: "httpbin.org", Signals: []Signal{SignalConfig, SignalAccessLog}, LastSeen: at(tLater)}
	tests := []struct {
		name  string
		dests []Destination
		tls   CheckStatus
	}{
		{"SNI and authority name the real host", []Destination{routed}, pass},
		{"the VirtualService has not arrived: no rewrite", []Destination{{Host: "bin.alias", Port: 80, Disposition: DispositionTLSOrigination, Cluster: alias.Name, Signals: []Signal{SignalConfig}}}, fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Verify(VerifyRequest{Host: "bin.alias", FixedAt: tFix}, []ProxyState{vproxy([]Cluster{alias}, tt.dests, []MetricSample{l7("bin.alias", 3)})})
			if v.Fix != FixAlias && tt.tls == pass {
				t.Errorf("inferred fix %s, want alias", v.Fix)
			}
			got := map[CheckName]CheckStatus{}
			for _, c := range v.Pods[0].Checks {
				got[c.Name] = c.Status
			}
			if got[CheckTLS] != tt.tls || got[CheckCluster] != pass {
				t.Errorf("checks %v", v.Pods[0].Checks)
			}
		})
	}
}

// The Gateway API egress gateway as istiod renders it on the sidecar (a real dump): verify
// infers the gateway fix from the routes to the Service istiod deployed for each Gateway and
// passes the cluster check on them, for the HTTP host and the TLS one.
func TestVerifyGatewayAPIDump(t *testing.T) {
	rep, err := Inspect(Sources{Pod: curlPod, ConfigDump: readFile(t, "../fixtures/samples/istiod/gateway-api-egress.json")}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	for host, gateway := range map[string]string{
		"edition.cnn.com":   "egress-edition-cnn-com-istio.demo.svc.cluster.local",
		"www.wikipedia.org": "egress-www-wikipedia-org-istio.demo.svc.cluster.local",
	} {
		v := Verify(VerifyRequest{Host: host}, []ProxyState{{Report: rep}})
		if v.Fix != FixEgressGateway {
			t.Errorf("%s: inferred fix %s, want %s", host, v.Fix, FixEgressGateway)
		}
		for _, c := range v.Pods[0].Checks {
			if c.Name == CheckCluster && (c.Status != CheckPass || c.Detail != "routed to "+gateway) {
				t.Errorf("%s: cluster check %s %q, want pass routed to %s", host, c.Status, c.Detail, gateway)
			}
		}
	}
}

// The proxy type comes from the node id of real proxies' bootstraps (Istio's own testdata): a
// sidecar calls hosts, a waypoint carries other pods' calls and is no caller.
func TestProxyTypeFromRealBootstraps(t *testing.T) {
	for file, want := range map[string]string{
		"configdump-1.5-istio-testdata-compare-envoyconfigdump2020.json": ProxySidecar,
		"configdump-1.21-istio-testdata-proxyconfig-waypoint.json":       "waypoint",
	} {
		rep, err := Inspect(Sources{Pod: curlPod, ConfigDump: readFile(t, "../fixtures/real/"+file)}, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Facts.ProxyType != want {
			t.Errorf("%s: proxy type %q, want %q", file, rep.Facts.ProxyType, want)
		}
	}
}
