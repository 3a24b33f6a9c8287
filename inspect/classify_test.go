package inspect

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var testNow = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

var curlPod = Pod{Namespace: "demo", Name: "curl-0", Workload: "deploy/curl"}

// brief is the part of a destination the classification tests compare.
type brief struct {
	Host        string
	Port        uint32
	Protocol    string
	Disposition Disposition
	Cluster     string
	Fix         Fix
	Problems    int
}

func briefs(ds []Destination) []brief {
	out := []brief{}
	for _, d := range ds {
		out = append(out, brief{d.Host, d.Port, d.Protocol, d.Disposition, d.Cluster, d.Recommendation.Fix, len(d.Problems)})
	}
	return out
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestInspectIstiodDumps runs the classifier on each dump a real istiod produced for a known state.
func TestInspectIstiodDumps(t *testing.T) {
	const gw = "outbound|443|cnn|istio-egressgateway.istio-system.svc.cluster.local"
	seTLS := []brief{{"httpbin.org", 443, "TLS", DispositionRegistered, "outbound|443||httpbin.org", FixTLSOrigination, 0}}
	origination := []brief{
		{"httpbin.org", 80, "HTTP", DispositionTLSOrigination, "outbound|80||httpbin.org", FixNone, 0},
		{"httpbin.org", 443, "TLS", DispositionRegistered, "outbound|443||httpbin.org", FixTLSOrigination, 0},
	}
	egress := []brief{{"edition.cnn.com", 443, "TLS", DispositionEgressGateway, gw, FixNone, 0}}
	tests := []struct {
		file string
		mode string
		want []brief
		sni  string // SNI of outbound|80||httpbin.org, when it has one
	}{
		{file: "allow-any.json", mode: ModeAllowAny, want: []brief{}},
		{file: "allow-any-http80.json", mode: ModeAllowAny, want: []brief{}},
		{file: "registry-only.json", mode: ModeRegistryOnly, want: []brief{}},
		{file: "registry-only-http80.json", mode: ModeRegistryOnly, want: []brief{}},
		{file: "sidecar-registry-only.json", mode: ModeRegistryOnly, want: []brief{}},
		{file: "se-tls.json", mode: ModeAllowAny, want: seTLS},
		{file: "se-tls-registry-only.json", mode: ModeRegistryOnly, want: seTLS},
		{file: "tls-origination.json", mode: ModeAllowAny, want: origination, sni: "auto"},
		{file: "tls-origination-sni.json", mode: ModeAllowAny, want: origination, sni: "httpbin.org"},
		{file: "tls-origination-no-dr.json", mode: ModeAllowAny, want: []brief{
			{"httpbin.org", 80, "HTTP", DispositionRegistered, "outbound|80||httpbin.org", FixTLSOrigination, 1},
			{"httpbin.org", 443, "TLS", DispositionRegistered, "outbound|443||httpbin.org", FixTLSOrigination, 0},
		}},
		{file: "egress-gateway.json", mode: ModeAllowAny, want: egress},
		{file: "egress-gateway-tlsmode.json", mode: ModeAllowAny, want: egress},
		// The Gateway API form (route-via-gateway --api gateway): istiod sends edition.cnn.com:80
		// (HTTPRoute on the ServiceEntry) and www.wikipedia.org's SNI (TLSRoute) to the Service
		// it deployed for each Gateway, without a subset, as the classic recipe's hosts are reported.
		{file: "gateway-api-egress.json", mode: ModeAllowAny, want: []brief{
			{"edition.cnn.com", 80, "HTTP", DispositionEgressGateway, "outbound|80||egress-edition-cnn-com-istio.demo.svc.cluster.local", FixNone, 0},
			{"www.googleapis.com", 443, "TLS", DispositionRegistered, "outbound|443||www.googleapis.com", FixTLSOrigination, 0},
			{"www.wikipedia.org", 443, "TLS", DispositionEgressGateway, "outbound|443||egress-www-wikipedia-org-istio.demo.svc.cluster.local", FixNone, 0},
		}},
		{file: "egress-gateway.gw.json", mode: "", want: []brief{
			{"edition.cnn.com", 443, "TLS", DispositionRegistered, "outbound|443||edition.cnn.com", FixTLSOrigination, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			rep, err := Inspect(Sources{Pod: curlPod, ConfigDump: readFile(t, "../fixtures/samples/istiod/"+tt.file)}, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Facts.OutboundMode != tt.mode {
				t.Errorf("outbound mode = %q (%s), want %q", rep.Facts.OutboundMode, rep.Facts.OutboundModeSource, tt.mode)
			}
			if diff := cmp.Diff(tt.want, briefs(rep.Destinations)); diff != "" {
				t.Errorf("destinations mismatch (-want +got):\n%s", diff)
			}
			if len(rep.Errors) > 0 {
				t.Errorf("errors: %v", rep.Errors)
			}
			var pass, black bool
			for _, c := range rep.Clusters {
				pass = pass || c.Name == clusterPassthrough && c.Type == "ORIGINAL_DST"
				black = black || c.Name == clusterBlackHole && c.Type == "STATIC"
				if c.Name == "outbound|80||httpbin.org" && c.SNI != tt.sni {
					t.Errorf("SNI of %s = %q, want %q", c.Name, c.SNI, tt.sni)
				}
			}
			if tt.mode != "" && (!pass || !black) {
				t.Errorf("PassthroughCluster (%v) and BlackHoleCluster (%v) must be listed", pass, black)
			}
		})
	}
}

func TestInspectEgressGatewayTLSMode(t *testing.T) {
	for file, want := range map[string]string{"egress-gateway.json": "", "egress-gateway-tlsmode.json": "ISTIO_MUTUAL"} {
		rep, err := Inspect(Sources{Pod: curlPod, ConfigDump: readFile(t, "../fixtures/samples/istiod/"+file)}, testNow)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range rep.Clusters {
			if c.Name == "outbound|443|cnn|istio-egressgateway.istio-system.svc.cluster.local" && c.TLS != want {
				t.Errorf("%s: gateway cluster TLS = %q, want %q", file, c.TLS, want)
			}
		}
	}
}

// TestInspectEnvoyDumpWithEDS runs the classifier on a real Envoy dump that holds only endpoints.
func TestInspectEnvoyDumpWithEDS(t *testing.T) {
	rep, err := Inspect(Sources{Pod: curlPod, ConfigDump: readFile(t, "../fixtures/samples/istio-sidecar-config_dump-with-eds.json")}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]brief{}, briefs(rep.Destinations)); diff != "" {
		t.Errorf("an all-internal mesh has no external destinations (-want +got):\n%s", diff)
	}
	// istioctl lists no cluster from an endpoints-only dump, and neither does the report.
	if len(rep.Clusters) != 0 {
		t.Errorf("clusters invented from endpoint configs: %d", len(rep.Clusters))
	}
	// Every static and dynamic endpoint config, as istioctl proxy-config eds lists them.
	if len(rep.Endpoints) != 36 {
		t.Errorf("%d endpoints, want the dump's 36", len(rep.Endpoints))
	}
	want := Endpoint{Cluster: "outbound|9080||reviews.default.svc.cluster.local", Address: "10.244.0.192:9080", Health: "HEALTHY", Source: EndpointSourceEDS, Pods: []string{"demo/curl-0"}}
	found := false
	for _, e := range rep.Endpoints {
		found = found || cmp.Equal(e, want)
	}
	if !found {
		t.Errorf("endpoint %+v not found among %d", want, len(rep.Endpoints))
	}
	if rep.Facts.OutboundMode != "" || rep.Facts.AccessLogging != AccessLoggingUnknown {
		t.Errorf("without listeners mode = %q, access logging = %q; want unknown", rep.Facts.OutboundMode, rep.Facts.AccessLogging)
	}
}

const e2eAccessLog = `2024-05-01T11:00:00.000000Z	info	Envoy proxy is ready
[2024-05-01T11:50:00.000Z] "- - -" 0 - - - "-" 600 5000 100 - "-" "-" "-" "-" "1.2.3.4:443" PassthroughCluster 10.0.0.1:40000 1.2.3.4:443 10.0.0.1:39999 api.stripe.com -
[2024-05-01T11:55:00.000Z] "- - -" 0 - - - "-" 400 3000 100 - "-" "-" "-" "-" "1.2.3.4:443" PassthroughCluster 10.0.0.1:40001 1.2.3.4:443 10.0.0.1:39998 api.stripe.com -
[2024-05-01T11:56:00.000Z] "- - -" 0 - - - "-" 100 200 100 - "-" "-" "-" "-" "5.6.7.8:443" PassthroughCluster 10.0.0.1:40002 5.6.7.8:443 10.0.0.1:39997 - -
[2024-05-01T11:57:00.000Z] "GET /get HTTP/1.1" 200 - via_upstream - "-" 0 300 10 9 "-" "curl/8" "id" "plain.example.org" "3.3.3.3:80" PassthroughCluster 10.0.0.1:40003 3.3.3.3:80 10.0.0.1:39996 - allow_any
[2024-05-01T11:58:00.000Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 4 4 "-" "curl/8" "id" "web.demo:80" "10.1.0.5:8080" outbound|80||web.demo.svc.cluster.local 10.0.0.1:40004 10.96.0.10:80 10.0.0.1:39995 - default
[2024-05-01T11:59:00.000Z] "GET /x HTTP/1.1" 200 - via_upstream - "-" 0 10 1 1 "-" "curl/8" "id" "curl-0:80" "127.0.0.1:80" inbound|80|| 127.0.0.6:1 10.0.0.1:80 10.0.0.9:1 - default
{"start_time":"2024-05-01T11:59:30.000Z","method":null,"path":null,"protocol":null,"response_code":0,"response_flags":"UH","bytes_received":0,"bytes_sent":0,"duration":0,"authority":null,"upstream_host":null,"upstream_cluster":"BlackHoleCluster","downstream_local_address":"8.8.4.4:5432","requested_server_name":null,"route_name":null}
`

const e2eStats = `# TYPE istio_requests_total counter
istio_requests_total{reporter="source",destination_service="plain.example.org",destination_service_name="PassthroughCluster",response_code="200",response_flags="-"} 5
istio_requests_total{reporter="source",destination_service="api.eu.internal-payments.example.com",destination_service_name="PassthroughCluster",response_code="503",response_flags="UF"} 2
istio_requests_total{reporter="destination",destination_service="curl.demo.svc.cluster.local",destination_service_name="curl",response_code="200"} 50
# TYPE istio_tcp_connections_opened_total counter
istio_tcp_connections_opened_total{reporter="source",destination_service="unknown",destination_service_name="PassthroughCluster"} 4
# TYPE envoy_cluster_upstream_cx_total counter
envoy_cluster_upstream_cx_total{cluster_name="PassthroughCluster"} 12
`

const e2eClusters = `{"cluster_statuses":[{"name":"PassthroughCluster","host_statuses":[
 {"address":{"socket_address":{"address":"1.2.3.4","port_value":443}},"stats":[{"name":"cx_total","value":"3"}],"health_status":{"eds_health_status":"HEALTHY"}},
 {"address":{"socket_address":{"address":"9.9.9.9","port_value":8443}},"stats":[{"name":"cx_total","value":"1"}],"health_status":{"eds_health_status":"HEALTHY"}}]}]}`

// TestInspectAllSignals joins access logs, metrics, /clusters and annotations on a real config.
func TestInspectAllSignals(t *testing.T) {
	pod := curlPod
	pod.Annotations = map[string]string{
		annotationExcludeOutboundIPRanges: "169.254.169.254/32",
		annotationExcludeOutboundPorts:    "3306",
	}
	rep, err := Inspect(Sources{
		Pod:        pod,
		ConfigDump: readFile(t, "../fixtures/samples/istiod/se-tls.json"),
		AccessLog:  strings.NewReader(e2eAccessLog),
		Stats:      []byte(e2eStats),
		Clusters:   []byte(e2eClusters),
		ServerInfo: []byte(`{"version":"x/1.36.2/Clean/RELEASE/BoringSSL","state":"LIVE","node":{"metadata":{"ISTIO_VERSION":"1.28.0"}}}`),
	}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Host        string
		Port        uint32
		Protocol    string
		Disposition Disposition
		Signals     string
		Counts      Counts
		Fix         Fix
		Addresses   string
	}
	var got []row
	for _, d := range rep.Destinations {
		var s []string
		for _, x := range d.Signals {
			s = append(s, string(x))
		}
		got = append(got, row{d.Host, d.Port, d.Protocol, d.Disposition, strings.Join(s, ","), d.Counts, d.Recommendation.Fix, strings.Join(d.Addresses, ",")})
	}
	want := []row{
		{"*", 3306, "", DispositionBypassed, "annotation", Counts{}, FixNone, ""},
		{"169.254.169.254/32", 0, "", DispositionBypassed, "annotation", Counts{}, FixNone, ""},
		{"5.6.7.8", 443, "TCP", DispositionPassthrough, "accesslog", Counts{Connections: 1, BytesSent: 100, BytesReceived: 200}, FixRegister, "5.6.7.8:443"},
		{"8.8.4.4", 5432, "TCP", DispositionBlocked, "accesslog", Counts{Connections: 1}, FixRegister, "8.8.4.4:5432"},
		{"9.9.9.9", 8443, "", DispositionPassthrough, "clusters", Counts{Connections: 1}, FixRegister, "9.9.9.9:8443"},
		// The metric names a dotted host: it must stay whole.
		{"api.eu.internal-payments.example.com", 0, "HTTP", DispositionPassthrough, "metrics", Counts{Requests: 2}, FixRegister, ""},
		// Access logs saw two connections, /clusters three to the same IP:port, named by the logs' SNI.
		{"api.stripe.com", 443, "TLS", DispositionPassthrough, "accesslog,clusters", Counts{Connections: 3, BytesSent: 1000, BytesReceived: 8000}, FixTLSOrigination, "1.2.3.4:443"},
		{"httpbin.org", 443, "TLS", DispositionRegistered, "config", Counts{}, FixTLSOrigination, ""},
		// One request in the logs, five in the metrics: the metric (no port) joins the logged host.
		{"plain.example.org", 80, "HTTP", DispositionPassthrough, "accesslog,metrics", Counts{Requests: 5, BytesReceived: 300}, FixRegister, "3.3.3.3:80"},
		// TCP metrics carry no host; the access log named this pod's TCP passthrough
		// destinations, so the unnamed metric row (the same connections) is not listed.
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("destinations mismatch (-want +got):\n%s", diff)
	}
	f := rep.Facts
	if f.IstioVersion != "1.28.0" || f.EnvoyVersion != "1.36.2" || f.OutboundMode != ModeAllowAny || f.AccessLogging != AccessLoggingOn {
		t.Errorf("facts: istio %q envoy %q mode %q access logging %q", f.IstioVersion, f.EnvoyVersion, f.OutboundMode, f.AccessLogging)
	}
	// The TEXT lines are read by the format of the proxy's own listeners, the JSON one by Istio's default.
	if diff := cmp.Diff(AccessLogCounts{Lines: 8, Entries: 7, Skipped: 1, Formats: []string{"Istio JSON", "proxy's format #1 (TEXT)"}}, f.AccessLog); diff != "" {
		t.Errorf("access log counts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]Counts{clusterPassthrough: {Connections: 12}}, f.ClusterStats); diff != "" {
		t.Errorf("cluster stats (-want +got):\n%s", diff)
	}
	if len(f.CaptureExclusions) != 2 {
		t.Errorf("capture exclusions = %v", f.CaptureExclusions)
	}
	for _, d := range rep.Destinations {
		if d.Host == "plain.example.org" {
			if diff := cmp.Diff(map[string]int64{"200": 6}, d.ResponseCodes); diff != "" {
				t.Errorf("response codes (-want +got):\n%s", diff)
			}
			if d.LastSeen == nil || !d.LastSeen.Equal(mustTime("2024-05-01T11:57:00Z")) {
				t.Errorf("last seen = %v", d.LastSeen)
			}
		}
	}
	if len(rep.Endpoints) != 2 || rep.Endpoints[0].Source != "clusters" {
		t.Errorf("endpoints from /clusters: %+v", rep.Endpoints)
	}
}

// TestInspectBlogMetrics feeds the label sets real Istio attached to passthrough and blackhole traffic.
func TestInspectBlogMetrics(t *testing.T) {
	rep, err := Inspect(Sources{Pod: curlPod, Stats: []byte(blogExposition(t))}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	want := []brief{
		{"52.22.188.80", 0, "TCP", DispositionBlocked, clusterBlackHole, FixRegister, 0},
		{"52.22.188.80", 0, "TCP", DispositionPassthrough, clusterPassthrough, FixRegister, 0},
		{"httpbin.org", 0, "HTTP", DispositionBlocked, clusterBlackHole, FixRegister, 0},
		{"httpbin.org", 0, "HTTP", DispositionPassthrough, clusterPassthrough, FixRegister, 0},
	}
	if diff := cmp.Diff(want, briefs(rep.Destinations)); diff != "" {
		t.Errorf("destinations mismatch (-want +got):\n%s", diff)
	}
	for _, d := range rep.Destinations {
		if d.Host == "httpbin.org" && d.Disposition == DispositionBlocked && d.ResponseCodes["502"] != 1 {
			t.Errorf("blocked HTTP response codes = %v, want 502: 1", d.ResponseCodes)
		}
	}
}

func TestInspectAccessLoggingOff(t *testing.T) {
	tests := []struct {
		name    string
		src     Sources
		want    string
		version string
	}{{
		name: "log read, no access-log lines",
		src: Sources{Pod: curlPod, AccessLog: strings.NewReader("2024-05-01T11:00:00.000000Z\tinfo\tEnvoy proxy is ready\n"),
			Stats: []byte("cluster.xds-grpc.upstream_cx_total: 1\n")},
		want: AccessLoggingOff, version: "telemetry.istio.io/v1\n",
	}, {
		name: "listeners without access_log, old Istio",
		src: Sources{Pod: curlPod, ServerInfo: []byte(`{"state":"LIVE","node":{"metadata":{"ISTIO_VERSION":"1.20.3"}}}`), ConfigDump: []byte(`{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.ListenersConfigDump.DynamicListener","name":"virtualOutbound","active_state":{"listener":{"@type":"type.googleapis.com/envoy.config.listener.v3.Listener","name":"virtualOutbound",
 "filter_chains":[{"filters":[{"name":"envoy.filters.network.tcp_proxy","typed_config":{"@type":"type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy","stat_prefix":"BlackHoleCluster","cluster":"BlackHoleCluster"}}]}]}}}]}`)},
		want: AccessLoggingOff, version: "telemetry.istio.io/v1alpha1\n",
	}, {
		name: "nothing read",
		src:  Sources{Pod: curlPod},
		want: AccessLoggingUnknown,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Inspect(tt.src, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Facts.AccessLogging != tt.want {
				t.Fatalf("access logging = %q (%s), want %q", rep.Facts.AccessLogging, rep.Facts.AccessLoggingReason, tt.want)
			}
			y := rep.Facts.EnableAccessLogging
			if tt.want == AccessLoggingOff && (!strings.Contains(y, "apiVersion: "+tt.version) || !strings.Contains(y, "namespace: demo") || !strings.Contains(y, "name: envoy")) {
				t.Errorf("telemetry YAML:\n%s", y)
			}
			if tt.want != AccessLoggingOff && y != "" {
				t.Errorf("telemetry YAML set while access logging is %s", tt.want)
			}
		})
	}
}

func TestInspectErrors(t *testing.T) {
	rep, err := Inspect(Sources{Pod: curlPod, ConfigDump: []byte(`{"configs":[`), Stats: []byte("cluster.PassthroughCluster.upstream_cx_total: 2\n")}, testNow)
	if err != nil {
		t.Fatalf("one good source must give a report: %v", err)
	}
	want := []string{"failed to parse part of the admin output of pod demo/curl-0 (config dump: the JSON stops at byte 12 before it is complete (truncated?)): " +
		"run again; if it persists, save the outputs and try --file"}
	if diff := cmp.Diff(want, rep.Errors); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	_, err = Inspect(Sources{Pod: curlPod, ConfigDump: []byte(`<html>`), Clusters: []byte(`nope`)}, testNow)
	if err == nil || !strings.HasPrefix(err.Error(), "no admin output of pod demo/curl-0 could be read (config dump: ") || !strings.HasSuffix(err.Error(), "pass --admin-port") {
		t.Errorf("want one line naming the pod and the way out when no source parses, got %v", err)
	}
}

// Without access logs, TCP passthrough metrics are the only signal: the unnamed row stays.
func TestInspectUnnamedTCPMetricsWithoutAccessLog(t *testing.T) {
	rep, err := Inspect(Sources{
		Pod:   curlPod,
		Stats: []byte(`istio_tcp_connections_opened_total{reporter="source",destination_service="unknown",destination_service_name="PassthroughCluster"} 4` + "\n"),
	}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Destinations) != 1 || rep.Destinations[0].Host != "unknown" || rep.Destinations[0].Counts.Connections != 4 {
		t.Errorf("destinations: %+v", rep.Destinations)
	}
}

// A host registered by IP (kubectl egress register 198.51.100.7) on a real istiod dump: the
// cluster's host is 198-51-100-7.ip.external, and only the listener 198.51.100.7_8443 ties it to
// the IP. Calls before the fix (PassthroughCluster) and after it (the new cluster) are one host,
// the IP the app dials.
func TestInspectIPOnlyServiceEntry(t *testing.T) {
	log := `[2026-12-03T13:00:00.000Z] "- - -" 0 - - - "-" 750 5340 12 - "-" "-" "-" "-" "198.51.100.7:8443" PassthroughCluster 10.0.0.3:40000 198.51.100.7:8443 10.0.0.3:39998 - -
[2026-12-03T13:09:00.000Z] "- - -" 0 - - - "-" 750 5340 11 - "-" "-" "-" "-" "198.51.100.7:8443" outbound|8443||198-51-100-7.ip.external 10.0.0.3:40010 198.51.100.7:8443 10.0.0.3:40008 - -
`
	rep, err := Inspect(Sources{Pod: curlPod, ConfigDump: readFile(t, "../fixtures/samples/istiod/se-ip-only.json"), AccessLog: strings.NewReader(log)}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range rep.Destinations {
		if d.Port == 8443 {
			got = append(got, fmt.Sprintf("%s %s %s %v %v", d.Host, d.Disposition, d.Cluster, d.Addresses, d.Signals))
		}
	}
	want := []string{
		"198.51.100.7 passthrough PassthroughCluster [198.51.100.7:8443] [accesslog]",
		"198.51.100.7 registered outbound|8443||198-51-100-7.ip.external [198.51.100.7:8443] [config accesslog]",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("port 8443 destinations (-want +got):\n%s", diff)
	}
	for _, c := range rep.Clusters {
		if c.Name == "outbound|8443||198-51-100-7.ip.external" && (len(c.Addresses) != 1 || c.Addresses[0] != "198.51.100.7:8443") {
			t.Errorf("cluster addresses %v, want [198.51.100.7:8443] from the listener", c.Addresses)
		}
	}
}

// ALLOW_ANY_DYNAMIC_DNS on a real istiod dump: the proxy's mode is read from its plain-HTTP
// chain to the dynamic forward proxy, and HTTP through it is its own disposition.
func TestInspectAllowAnyDynamicDNS(t *testing.T) {
	log := `[2026-12-03T14:20:00.000Z] "GET / HTTP/1.1" 200 - via_upstream - "-" 0 512 30 29 "-" "curl/8.5.0" "c0a8b2f4-1" "edition.cnn.com" "203.0.113.20:80" AllowAnyDynamicDNSCluster 10.0.0.3:41000 203.0.113.20:80 10.0.0.3:40998 - allow_any_dynamic_dns
[2026-12-03T14:20:01.000Z] "- - -" 0 - - - "-" 750 5340 12 - "-" "-" "-" "-" "203.0.113.10:443" PassthroughCluster 10.0.0.3:41010 203.0.113.10:443 10.0.0.3:41008 httpbin.org -
`
	rep, err := Inspect(Sources{Pod: curlPod, ConfigDump: readFile(t, "../fixtures/samples/istiod/allow-any-dynamic-dns.json"), AccessLog: strings.NewReader(log)}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Facts.OutboundMode != ModeAllowAnyDynamicDNS {
		t.Errorf("mode %s (%s), want %s", rep.Facts.OutboundMode, rep.Facts.OutboundModeSource, ModeAllowAnyDynamicDNS)
	}
	var got []string
	for _, d := range rep.Destinations {
		if d.Host == "edition.cnn.com" || d.Host == "httpbin.org" {
			got = append(got, fmt.Sprintf("%s:%d %s %s %s", d.Host, d.Port, d.Disposition, d.Cluster, d.Recommendation.Fix))
		}
	}
	want := []string{
		"edition.cnn.com:80 dynamic-dns AllowAnyDynamicDNSCluster register",
		"httpbin.org:443 passthrough PassthroughCluster tls-origination",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// waypointReport is the report of the waypoint whose clusters testdata holds.
func waypointReport(t *testing.T) PodReport {
	t.Helper()
	b, err := os.ReadFile("testdata/waypoint-tls-origination-clusters.json")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Inspect(Sources{Pod: Pod{Namespace: "shop", Name: "waypoint-0"}, ConfigDump: b}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// A waypoint's clusters for a ServiceEntry are inbound-vip|PORT|PROTOCOL|HOST, and the TLS a
// DestinationRule asks for is inside their internal upstream transport socket. The dump is
// istiod's push to a waypoint for a ServiceEntry (port 80 HTTP, targetPort 443; port 443 HTTPS)
// and a DestinationRule with tls SIMPLE on port 80: its UpstreamTlsContext names sni
// postman-echo.com on the port 80 cluster only.
func TestWaypointClusters(t *testing.T) {
	rep := waypointReport(t)
	got := map[string]string{}
	for _, c := range rep.Clusters {
		if c.External {
			got[c.Name] = fmt.Sprintf("%s %d %s %s sni=%s", c.Direction, c.Port, c.Host, c.TLS, c.SNI)
		}
	}
	want := map[string]string{
		"inbound-vip|80|http|postman-echo.com": "inbound-vip 80 postman-echo.com SIMPLE sni=postman-echo.com",
		"inbound-vip|443|tcp|postman-echo.com": "inbound-vip 443 postman-echo.com  sni=",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("external clusters (-want +got):\n%s", diff)
	}
	disp := map[string]Disposition{}
	for _, d := range rep.Destinations {
		disp[fmt.Sprintf("%s:%d", d.Host, d.Port)] = d.Disposition
	}
	if disp["postman-echo.com:80"] != DispositionTLSOrigination || disp["postman-echo.com:443"] != DispositionRegistered {
		t.Errorf("dispositions %v: want postman-echo.com:80 tls-origination, :443 registered", disp)
	}
}

// An ambient pod's host that goes through a waypoint takes the waypoint's clusters for it and
// becomes tls-origination where the waypoint's cluster on that port originates TLS; the
// waypoint's request metrics of the pod's workload, and only those, come along.
func TestAttachWaypoint(t *testing.T) {
	wp := waypointReport(t)
	sample := func(workload string) MetricSample {
		return MetricSample{Name: metricRequests, Value: 3, Labels: map[string]string{
			"reporter": "waypoint", "source_workload": workload, "source_workload_namespace": "shop", "destination_service_name": "postman-echo.com"}}
	}
	wp.Metrics = []MetricSample{sample("cart"), sample("billing")}
	rep := PodReport{Pod: Pod{Namespace: "shop", Name: "cart-0"}, Facts: PodFacts{Workload: "deploy/cart", ProxyType: ProxyZtunnel},
		Destinations: []Destination{
			{Host: "postman-echo.com", Port: 80, Disposition: DispositionEgressWaypoint, Gateway: "shop/waypoint"},
			{Host: "postman-echo.com", Port: 443, Disposition: DispositionEgressWaypoint, Gateway: "shop/waypoint"},
			{Host: "docs.example.net", Port: 80, Disposition: DispositionEgressWaypoint, Gateway: "istio-egress/waypoint"},
		}}
	AttachWaypoint(&rep, "shop/waypoint", wp)
	var got []string
	for _, d := range rep.Destinations {
		got = append(got, fmt.Sprintf("%s:%d %s", d.Host, d.Port, d.Disposition))
	}
	want := []string{"postman-echo.com:80 tls-origination", "postman-echo.com:443 egress-waypoint", "docs.example.net:80 egress-waypoint"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("destinations (-want +got):\n%s", diff)
	}
	var clusters []string
	for _, c := range rep.Clusters {
		clusters = append(clusters, c.Name+" on "+c.Waypoint)
	}
	if diff := cmp.Diff([]string{"inbound-vip|80|http|postman-echo.com on shop/waypoint", "inbound-vip|443|tcp|postman-echo.com on shop/waypoint"}, clusters); diff != "" {
		t.Errorf("clusters (-want +got):\n%s", diff)
	}
	if len(rep.Metrics) != 1 || rep.Metrics[0].Labels["source_workload"] != "cart" {
		t.Errorf("metrics: %+v, want the one of workload cart", rep.Metrics)
	}
	v := Verify(VerifyRequest{Host: "postman-echo.com", Fix: FixTLSOrigination}, []ProxyState{{Report: rep, Metrics: rep.Metrics}})
	for _, c := range v.Pods[0].Checks {
		if c.Status == CheckFail {
			t.Errorf("verify check %s failed: %s (%s)", c.Name, c.Detail, c.Reason)
		}
	}
}
