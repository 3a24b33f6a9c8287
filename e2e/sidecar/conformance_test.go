package sidecar

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/types/known/structpb"
)

// readSample returns a sample file without its "# source:" header line.
func readSample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(samplesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if strings.HasPrefix(s, "# source:") {
		_, s, _ = strings.Cut(s, "\n")
	}
	return s
}

// logTokens splits an Envoy TEXT access log line into fields: [bracketed], "quoted" (may
// hold spaces) and bare tokens.
func logTokens(line string) []string {
	var out []string
	for i := 0; i < len(line); {
		switch line[i] {
		case ' ':
			i++
		case '[', '"':
			closer := byte(']')
			if line[i] == '"' {
				closer = '"'
			}
			j := strings.IndexByte(line[i+1:], closer)
			if j < 0 {
				return append(out, line[i:])
			}
			out = append(out, line[i:i+j+2])
			i += j + 2
		default:
			j := strings.IndexByte(line[i:], ' ')
			if j < 0 {
				j = len(line) - i
			}
			out = append(out, line[i:i+j])
			i += j
		}
	}
	return out
}

var (
	tsShape      = regexp.MustCompile(`^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\]$`)
	numberShape  = regexp.MustCompile(`^\d+$`)
	addressShape = regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+:\d+$`)
	requestShape = regexp.MustCompile(`^"[^ ]+ [^ ]+ [^ ]+"$`)
)

// fieldShape describes a field the way the sample shows it, loosely enough that other values
// of the same kind match: quoting, and for bare fields number / address / word.
func fieldShape(tok string) string {
	switch {
	case tsShape.MatchString(tok):
		return "timestamp"
	case requestShape.MatchString(tok):
		return "request"
	case strings.HasPrefix(tok, `"`):
		return "quoted"
	case numberShape.MatchString(tok):
		return "number"
	case addressShape.MatchString(tok):
		return "address"
	default:
		return "word"
	}
}

// compatible says whether a stand-in field fits the sample's field: "-" stands for an absent
// number, address or word, as Envoy prints it.
func compatible(sample, got string) bool {
	if sample == got {
		return true
	}
	switch sample {
	case "number", "address", "word":
		return got == "word" // "-" or a name (cluster, flags, details, route)
	}
	return false
}

// signatureCalls produce the access-log signatures FACTS.md lists, each from the istiod
// sample that yields it.
var signatureCalls = []struct {
	name   string
	sample string
	call   Call
	want   map[int]string // field index -> exact value
}{
	{"passthrough TLS via virtualOutbound", "allow-any.json", call(SchemeHTTPS, "httpbin.org", 443),
		map[int]string{1: `"- - -"`, 2: "0", 3: "-", 15: `"203.0.113.10:443"`, 16: "PassthroughCluster", 18: "203.0.113.10:443", 20: "-", 21: "-"}},
	{"passthrough TCP", "allow-any.json", Call{Host: "db.example.com", IP: "203.0.113.40", Port: 5432, Scheme: SchemeTCP},
		map[int]string{1: `"- - -"`, 2: "0", 3: "-", 16: "PassthroughCluster", 18: "203.0.113.40:5432"}},
	{"passthrough TLS on a 443 listener logs SNI", "se-tls.json", call(SchemeHTTPS, "edition.cnn.com", 443),
		map[int]string{1: `"- - -"`, 16: "PassthroughCluster", 18: "203.0.113.20:443", 20: "edition.cnn.com"}},
	{"passthrough HTTP", "allow-any-http80.json", call(SchemeHTTP, "httpbin.org", 80),
		map[int]string{1: `"GET /get HTTP/1.1"`, 2: "200", 4: "via_upstream", 14: `"httpbin.org"`, 16: "PassthroughCluster", 21: "allow_any"}},
	{"blackhole TCP", "registry-only.json", call(SchemeHTTPS, "httpbin.org", 443),
		map[int]string{1: `"- - -"`, 2: "0", 3: "UH", 7: "0", 8: "0", 15: `"-"`, 16: "BlackHoleCluster", 17: "-", 18: "203.0.113.10:443"}},
	{"blackhole HTTP", "registry-only-http80.json", call(SchemeHTTP, "httpbin.org", 80),
		map[int]string{1: `"GET /get HTTP/1.1"`, 2: "502", 3: "-", 4: "direct_response", 15: `"-"`, 16: "-", 21: "block_all"}},
	{"registered TLS", "se-tls.json", call(SchemeHTTPS, "httpbin.org", 443),
		map[int]string{1: `"- - -"`, 16: "outbound|443||httpbin.org", 20: "httpbin.org"}},
	{"TLS origination", "tls-origination.json", call(SchemeHTTP, "httpbin.org", 80),
		map[int]string{1: `"GET /get HTTP/1.1"`, 2: "200", 4: "via_upstream", 15: `"203.0.113.10:443"`, 16: "outbound|80||httpbin.org", 18: "203.0.113.10:80", 21: "default"}},
}

func TestAccessLogTextMatchesIstioSample(t *testing.T) {
	var ref []string
	for _, l := range strings.Split(strings.TrimSpace(readSample(t, "accesslog-text-istioio-access-log-task.txt")), "\n") {
		shapes := []string{}
		for _, tok := range logTokens(l) {
			shapes = append(shapes, fieldShape(tok))
		}
		if ref != nil && !cmp.Equal(ref, shapes) {
			t.Fatalf("sample lines disagree on layout: %v vs %v", ref, shapes)
		}
		ref = shapes
	}
	if len(ref) != 22 {
		t.Fatalf("sample has %d fields, want 22 (Istio 1.9+ TEXT format)", len(ref))
	}
	for _, sc := range signatureCalls {
		t.Run(sc.name, func(t *testing.T) {
			sc.call.Count = 1
			sb := startOffline(t, loadSample(t, sc.sample), Config{Calls: []Call{sc.call}})
			if err := sb.Replay(context.Background()); err != nil {
				t.Fatal(err)
			}
			lines := sb.accessLogLines(t)
			if len(lines) != 1 {
				t.Fatalf("got %d access log lines, want 1: %q", len(lines), lines)
			}
			toks := logTokens(lines[0])
			if len(toks) != len(ref) {
				t.Fatalf("got %d fields, want %d: %q", len(toks), len(ref), lines[0])
			}
			for i, tok := range toks {
				if got := fieldShape(tok); !compatible(ref[i], got) {
					t.Errorf("field %d %q has shape %s, sample has %s", i, tok, got, ref[i])
				}
				if want, ok := sc.want[i]; ok && tok != want {
					t.Errorf("field %d = %q, want %q\nline: %s", i, tok, want, lines[0])
				}
			}
		})
	}
}

// istioJSONFormat is Istio's JSON access log format (the keys in FACTS.md).
func istioJSONFormat(t *testing.T) *structpb.Struct {
	ops := map[string]any{
		"start_time": "%START_TIME%", "route_name": "%ROUTE_NAME%", "method": "%REQ(:METHOD)%",
		"path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", "protocol": "%PROTOCOL%", "response_code": "%RESPONSE_CODE%",
		"response_flags": "%RESPONSE_FLAGS%", "response_code_details": "%RESPONSE_CODE_DETAILS%",
		"connection_termination_details": "%CONNECTION_TERMINATION_DETAILS%", "bytes_received": "%BYTES_RECEIVED%",
		"bytes_sent": "%BYTES_SENT%", "duration": "%DURATION%", "upstream_service_time": "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
		"x_forwarded_for": "%REQ(X-FORWARDED-FOR)%", "user_agent": "%REQ(USER-AGENT)%", "request_id": "%REQ(X-REQUEST-ID)%",
		"authority": "%REQ(:AUTHORITY)%", "upstream_host": "%UPSTREAM_HOST%", "upstream_cluster": "%UPSTREAM_CLUSTER_RAW%",
		"upstream_local_address": "%UPSTREAM_LOCAL_ADDRESS%", "downstream_local_address": "%DOWNSTREAM_LOCAL_ADDRESS%",
		"downstream_remote_address": "%DOWNSTREAM_REMOTE_ADDRESS%", "requested_server_name": "%REQUESTED_SERVER_NAME%",
		"upstream_transport_failure_reason": "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
	}
	s, err := structpb.NewStruct(ops)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAccessLogJSON(t *testing.T) {
	fl := &filev3.FileAccessLog{Path: "/dev/stdout", AccessLogFormat: &filev3.FileAccessLog_LogFormat{
		LogFormat: &corev3.SubstitutionFormatString{Format: &corev3.SubstitutionFormatString_JsonFormat{JsonFormat: istioJSONFormat(t)}},
	}}
	al := &accesslogv3.AccessLog{Name: "envoy.access_loggers.file", ConfigType: &accesslogv3.AccessLog_TypedConfig{TypedConfig: mustAny(fl)}}
	wantKeys := []string{"authority", "bytes_received", "bytes_sent", "connection_termination_details", "downstream_local_address",
		"downstream_remote_address", "duration", "method", "path", "protocol", "request_id", "requested_server_name", "response_code",
		"response_code_details", "response_flags", "route_name", "start_time", "upstream_cluster", "upstream_host",
		"upstream_local_address", "upstream_service_time", "upstream_transport_failure_reason", "user_agent", "x_forwarded_for"}
	tests := []struct {
		name  string
		idx   int // into signatureCalls
		check map[string]any
	}{
		{"passthrough TLS", 0, map[string]any{"method": nil, "response_code": float64(0), "response_flags": "-", "requested_server_name": nil,
			"upstream_cluster": "PassthroughCluster", "route_name": nil, "response_code_details": nil, "x_forwarded_for": nil}},
		{"blackhole TCP", 4, map[string]any{"response_flags": "UH", "upstream_host": nil, "upstream_cluster": "BlackHoleCluster", "bytes_sent": float64(0)}},
		{"blackhole HTTP", 5, map[string]any{"response_code": float64(502), "response_code_details": "direct_response",
			"upstream_cluster": nil, "route_name": "block_all", "authority": "httpbin.org", "upstream_service_time": nil}},
		{"passthrough HTTP", 3, map[string]any{"response_code": float64(200), "route_name": "allow_any", "upstream_cluster": "PassthroughCluster",
			"method": "GET", "path": "/get", "protocol": "HTTP/1.1", "user_agent": "curl/8.5.0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := signatureCalls[tc.idx]
			out := Route(loadSample(t, sc.sample), Flow{Call: sc.call, SourceIP: "10.0.0.1"}, testDNS, false)
			sim := newTrafficSim(Config{Namespace: "demo", Name: "curl-0", IP: "10.0.0.1"}, newNodeInfo(Config{Namespace: "demo", Name: "curl-0", IP: "10.0.0.1"}), nil)
			rec := sim.record(loadSample(t, sc.sample), Flow{Call: sc.call, SourceIP: "10.0.0.1"}, out, newFakeClock().Now())
			line, stream, ok := render(al, rec)
			if !ok || stream != "stdout" {
				t.Fatalf("render: ok=%t stream=%q", ok, stream)
			}
			got := map[string]any{}
			if err := json.Unmarshal([]byte(line), &got); err != nil {
				t.Fatalf("not JSON: %v: %s", err, line)
			}
			keys := make([]string, 0, len(got))
			for k := range got {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if diff := cmp.Diff(wantKeys, keys); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
			for k, want := range tc.check {
				if !cmp.Equal(want, got[k]) {
					t.Errorf("%s = %#v, want %#v", k, got[k], want)
				}
			}
		})
	}
}

// blogLabels reads the label names per metric from the istio.io blog's Prometheus API results.
func blogLabels(t *testing.T) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	for _, block := range strings.Split(readSample(t, "prometheus-api-passthrough-blackhole-istioio-blog-2019.txt"), "# ---") {
		var v struct {
			Metric map[string]string `json:"metric"`
			Data   struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(block), &v); err != nil {
			t.Fatalf("blog sample: %v", err)
		}
		metrics := []map[string]string{v.Metric}
		for _, r := range v.Data.Result {
			metrics = append(metrics, r.Metric)
		}
		for _, m := range metrics {
			if m == nil {
				continue
			}
			name := m["__name__"]
			if out[name] == nil {
				out[name] = map[string]bool{}
			}
			for k := range m {
				out[name][k] = true
			}
		}
	}
	return out
}

// notFromProxy are labels in the 2019 blog that a proxy does not emit today: instance and job
// are added by the Prometheus scrape; permissive_response_* and destination_ip came from
// Mixer, removed in Istio 1.8.
var notFromProxy = map[string]bool{"__name__": true, "instance": true, "job": true,
	"permissive_response_code": true, "permissive_response_policyid": true, "destination_ip": true}

func TestPrometheusConformance(t *testing.T) {
	type want struct {
		metric string
		labels map[string]string
	}
	tests := []struct {
		name   string
		sample string
		call   Call
		want   []want
	}{
		{"passthrough HTTP", "allow-any-http80.json", call(SchemeHTTP, "httpbin.org", 80), []want{
			{"istio_requests_total", map[string]string{"reporter": "source", "destination_service": "httpbin.org",
				"destination_service_name": "PassthroughCluster", "response_code": "200", "request_protocol": "http", "source_workload": "curl"}},
			{"envoy_cluster_upstream_rq_total", map[string]string{"cluster_name": "PassthroughCluster"}},
		}},
		{"passthrough TLS", "allow-any.json", call(SchemeHTTPS, "httpbin.org", 443), []want{
			{"istio_tcp_connections_opened_total", map[string]string{"destination_service": "unknown", "destination_service_name": "PassthroughCluster", "request_protocol": "tcp"}},
			{"istio_tcp_connections_closed_total", map[string]string{"destination_service_name": "PassthroughCluster"}},
			{"envoy_cluster_upstream_cx_total", map[string]string{"cluster_name": "PassthroughCluster"}},
		}},
		{"blackhole HTTP", "registry-only-http80.json", call(SchemeHTTP, "httpbin.org", 80), []want{
			{"istio_requests_total", map[string]string{"destination_service_name": "BlackHoleCluster", "response_code": "502", "destination_service": "httpbin.org"}},
		}},
		{"blackhole TCP", "registry-only.json", call(SchemeHTTPS, "httpbin.org", 443), []want{
			{"istio_tcp_connections_closed_total", map[string]string{"destination_service_name": "BlackHoleCluster", "response_flags": "UH"}},
			{"envoy_cluster_upstream_cx_none_healthy", map[string]string{"cluster_name": "BlackHoleCluster"}},
		}},
		{"registered TLS", "se-tls.json", call(SchemeHTTPS, "httpbin.org", 443), []want{
			{"istio_tcp_connections_opened_total", map[string]string{"destination_service": "httpbin.org", "destination_service_name": "httpbin.org",
				"destination_workload": "httpbin-ext", "destination_service_namespace": "demo"}},
		}},
	}
	blog := blogLabels(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.call.Count = 3
			sb := startOffline(t, withIstioStats(t, loadSample(t, tc.sample)), Config{
				Calls:                []Call{tc.call},
				ClusterStatsPrefixes: []string{"cluster.PassthroughCluster", "cluster.BlackHoleCluster"},
			})
			if err := sb.Replay(context.Background()); err != nil {
				t.Fatal(err)
			}
			body := sb.mustGet(t, "/stats/prometheus")
			p := expfmt.NewTextParser(model.UTF8Validation)
			fams, err := p.TextToMetricFamilies(strings.NewReader(body))
			if err != nil {
				t.Fatalf("not Prometheus exposition: %v\n%s", err, body)
			}
			for _, w := range tc.want {
				fam := fams[w.metric]
				if fam == nil {
					t.Fatalf("no %s in:\n%s", w.metric, body)
				}
				found := false
				for _, m := range fam.GetMetric() {
					labels := map[string]string{}
					for _, lp := range m.GetLabel() {
						labels[lp.GetName()] = lp.GetValue()
					}
					match := true
					for k, v := range w.labels {
						if labels[k] != v {
							match = false
						}
					}
					if !match {
						continue
					}
					found = true
					if v := m.GetCounter().GetValue(); v != 3 && !strings.Contains(w.metric, "bytes") {
						t.Errorf("%s%v = %v, want 3", w.metric, w.labels, v)
					}
					for bl := range blog[w.metric] {
						if !notFromProxy[bl] {
							if _, ok := labels[bl]; !ok {
								t.Errorf("%s lacks label %q that the blog sample has", w.metric, bl)
							}
						}
					}
				}
				if !found {
					t.Errorf("no %s with %v in:\n%s", w.metric, w.labels, body)
				}
			}
		})
	}
}

func TestPrometheusMatchesIstio21385Sample(t *testing.T) {
	// The sample is the grep of a real proxy's output for BlackHoleCluster with stats on.
	sb := startOffline(t, loadSample(t, "registry-only.json"), Config{ClusterStatsPrefixes: []string{"cluster.BlackHoleCluster"}})
	body := sb.mustGet(t, "/stats/prometheus")
	sc := bufio.NewScanner(strings.NewReader(readSample(t, "stats-prometheus-blackhole-istio-21385.txt")))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.Contains(body, line) {
			t.Errorf("missing %q in:\n%s", line, body)
		}
	}
	if strings.Contains(body, "istio_") {
		t.Errorf("Istio metrics without an istio.stats filter in the config:\n%s", body)
	}
}

func TestClusterStatsOnlyWhenOptedIn(t *testing.T) {
	c := call(SchemeHTTPS, "httpbin.org", 443)
	c.Count = 2
	off := startOffline(t, loadSample(t, "allow-any.json"), Config{Calls: []Call{c}})
	on := startOffline(t, loadSample(t, "allow-any.json"), Config{Calls: []Call{c}, ClusterStatsPrefixes: []string{"cluster.PassthroughCluster"}})
	for _, s := range []*offlineSidecar{off, on} {
		if err := s.Replay(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if body := off.mustGet(t, "/stats?filter=PassthroughCluster"); body != "" {
		t.Errorf("per-cluster stats without proxyStatsMatcher:\n%s", body)
	}
	body := on.mustGet(t, "/stats?filter=PassthroughCluster")
	if !strings.Contains(body, "cluster.PassthroughCluster;.upstream_cx_total: 2\n") {
		t.Errorf("want the 1.23+ ';' stat name with 2 connections:\n%s", body)
	}
	if strings.Contains(body, "BlackHoleCluster") {
		t.Errorf("filter not applied:\n%s", body)
	}
	used := on.mustGet(t, "/stats?usedonly&filter=PassthroughCluster")
	if strings.Contains(used, "upstream_rq_total") {
		t.Errorf("usedonly lists unused stats:\n%s", used)
	}
	var js struct {
		Stats []struct {
			Name  string `json:"name"`
			Value any    `json:"value"`
		} `json:"stats"`
	}
	if err := json.Unmarshal([]byte(on.mustGet(t, "/stats?format=json&filter=cx_total")), &js); err != nil || len(js.Stats) == 0 {
		t.Errorf("format=json: %v %v", err, js)
	}
}
