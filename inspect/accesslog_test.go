package inspect

import (
	"bufio"
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// readSample reads a fixtures/samples text file without its "# source:" line.
func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../fixtures/samples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "# source:") {
			continue
		}
		out.WriteString(sc.Text() + "\n")
	}
	return out.Bytes()
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseAccessLogLine(t *testing.T) {
	tests := []struct {
		name string
		line string
		want AccessLogEntry
		ok   bool
	}{{
		name: "1.9+ text, passthrough TLS with SNI",
		line: `[2024-05-01T10:00:00.000Z] "- - -" 0 - - - "-" 517 3456 120 - "-" "-" "-" "-" "93.184.216.34:443" PassthroughCluster 10.0.0.1:40000 93.184.216.34:443 10.0.0.1:39999 example.com -`,
		want: AccessLogEntry{StartTime: mustTime("2024-05-01T10:00:00Z"), BytesReceived: 517, BytesSent: 3456, Duration: 120,
			UpstreamHost: "93.184.216.34:443", UpstreamCluster: "PassthroughCluster", UpstreamLocalAddress: "10.0.0.1:40000",
			DownstreamLocalAddress: "93.184.216.34:443", DownstreamRemoteAddress: "10.0.0.1:39999", RequestedServerName: "example.com"},
		ok: true,
	}, {
		name: "1.9+ text, HTTP blackhole with details and user agent with spaces",
		line: `[2024-05-01T10:00:01.500Z] "GET /get HTTP/1.1" 502 - direct_response - "-" 0 0 0 - "-" "Mozilla/5.0 (X11; Linux)" "abc" "httpbin.org" "-" - - 104.18.0.1:80 10.0.0.1:5000 - block_all`,
		want: AccessLogEntry{StartTime: mustTime("2024-05-01T10:00:01.5Z"), Method: "GET", Path: "/get", Protocol: "HTTP/1.1",
			ResponseCode: 502, ResponseCodeDetails: "direct_response", UserAgent: "Mozilla/5.0 (X11; Linux)", Authority: "httpbin.org",
			DownstreamLocalAddress: "104.18.0.1:80", DownstreamRemoteAddress: "10.0.0.1:5000", RouteName: "block_all"},
		ok: true,
	}, {
		name: "transport failure reason quoted with spaces, cluster with alt-stat suffix",
		line: `[2024-05-01T10:00:02.000Z] "- - -" 0 UF,URX - - "TLS error: 268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED" 0 0 5 - "-" "-" "-" "-" "1.2.3.4:443" outbound|443||api.example.com; - 1.2.3.4:443 10.0.0.1:1 api.example.com -`,
		want: AccessLogEntry{StartTime: mustTime("2024-05-01T10:00:02Z"), ResponseFlags: "UF,URX",
			UpstreamTransportFailureReason: "TLS error: 268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED", Duration: 5,
			UpstreamHost: "1.2.3.4:443", UpstreamCluster: "outbound|443||api.example.com", DownstreamLocalAddress: "1.2.3.4:443",
			DownstreamRemoteAddress: "10.0.0.1:1", RequestedServerName: "api.example.com"},
		ok: true,
	}, {
		name: "kubectl --timestamps prefix",
		line: `2024-05-01T10:00:03.123456789Z [2024-05-01T10:00:03.000Z] "- - -" 0 UH - - "-" 0 0 0 - "-" "-" "-" "-" "-" BlackHoleCluster - 1.1.1.1:5432 10.0.0.1:2 - -`,
		want: AccessLogEntry{StartTime: mustTime("2024-05-01T10:00:03Z"), ResponseFlags: "UH", UpstreamCluster: "BlackHoleCluster",
			DownstreamLocalAddress: "1.1.1.1:5432", DownstreamRemoteAddress: "10.0.0.1:2"},
		ok: true,
	}, {
		name: "JSON with nulls and numbers",
		line: `{"start_time":"2024-05-01T10:00:04.000Z","method":"GET","path":"/x","protocol":"HTTP/1.1","response_code":200,"response_flags":"-","response_code_details":"via_upstream","connection_termination_details":null,"upstream_transport_failure_reason":null,"bytes_received":0,"bytes_sent":42,"duration":7,"upstream_service_time":"6","x_forwarded_for":null,"user_agent":"curl/8","request_id":"r","authority":"api.example.com:8080","upstream_host":"5.6.7.8:8080","upstream_cluster":"PassthroughCluster","upstream_local_address":"10.0.0.1:3","downstream_local_address":"5.6.7.8:8080","downstream_remote_address":"10.0.0.1:4","requested_server_name":null,"route_name":"allow_any"}`,
		want: AccessLogEntry{StartTime: mustTime("2024-05-01T10:00:04Z"), Method: "GET", Path: "/x", Protocol: "HTTP/1.1", ResponseCode: 200,
			ResponseCodeDetails: "via_upstream", BytesSent: 42, Duration: 7, UserAgent: "curl/8", Authority: "api.example.com:8080",
			UpstreamHost: "5.6.7.8:8080", UpstreamCluster: "PassthroughCluster", UpstreamLocalAddress: "10.0.0.1:3",
			DownstreamLocalAddress: "5.6.7.8:8080", DownstreamRemoteAddress: "10.0.0.1:4", RouteName: "allow_any"},
		ok: true,
	}, {
		name: "envoy log line",
		line: `2024-05-01T10:00:00.000000Z	warning	envoy config external/envoy/source/common/config/grpc_stream.h:191	StreamAggregatedResources gRPC config stream closed`,
	}, {
		name: "envoy bracketed log line",
		line: `[2024-05-01 10:00:00.000][15][warning][config] [source/common/config/grpc_stream.h:191] stream closed`,
	}, {
		name: "pilot-agent JSON log",
		line: `{"level":"info","time":"2024-05-01T10:00:00.000Z","msg":"Envoy proxy is ready"}`,
	}, {
		name: "truncated access log",
		line: `[2024-05-01T10:00:00.000Z] "GET / HTTP/1.1" 200 - via_upstream - "-" 0 0`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseAccessLogLine([]byte(tt.line))
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if diff := cmp.Diff(tt.want, got); ok && diff != "" {
				t.Errorf("entry mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAccessLogSamples checks the parser against real lines from istio.io: the current format
// (client and server side) and the pre-1.9 format of the egress-control task.
func TestAccessLogSamples(t *testing.T) {
	tests := []struct {
		file string
		want []AccessLogEntry
		// format is the default format that reads the sample.
		format string
	}{{
		file:   "accesslog-text-istioio-access-log-task.txt",
		format: "Istio 1.9+ TEXT",
		want: []AccessLogEntry{{
			StartTime: mustTime("2020-11-25T21:26:18.409Z"), Method: "GET", Path: "/status/418", Protocol: "HTTP/1.1",
			ResponseCode: 418, ResponseCodeDetails: "via_upstream", BytesSent: 135, Duration: 4, UserAgent: "curl/7.73.0-DEV",
			Authority: "httpbin:8000", UpstreamHost: "10.44.1.27:80", UpstreamCluster: "outbound|8000||httpbin.foo.svc.cluster.local",
			UpstreamLocalAddress: "10.44.1.23:37652", DownstreamLocalAddress: "10.0.45.184:8000", DownstreamRemoteAddress: "10.44.1.23:46520",
			RouteName: "default",
		}, {
			StartTime: mustTime("2020-11-25T21:26:18.409Z"), Method: "GET", Path: "/status/418", Protocol: "HTTP/1.1",
			ResponseCode: 418, ResponseCodeDetails: "via_upstream", BytesSent: 135, Duration: 3, UserAgent: "curl/7.73.0-DEV",
			Authority: "httpbin:8000", UpstreamHost: "127.0.0.1:80", UpstreamCluster: "inbound|8000||",
			UpstreamLocalAddress: "127.0.0.1:41854", DownstreamLocalAddress: "10.44.1.27:80", DownstreamRemoteAddress: "10.44.1.23:37652",
			RequestedServerName: "outbound_.8000_._.httpbin.foo.svc.cluster.local", RouteName: "default",
		}},
	}, {
		file:   "accesslog-text-istioio-egress-control-task.txt",
		format: "Istio 1.0-1.2 TEXT",
		want: []AccessLogEntry{{
			StartTime: mustTime("2019-01-24T12:17:11.640Z"), Method: "GET", Path: "/headers", Protocol: "HTTP/1.1",
			ResponseCode: 200, BytesSent: 599, Duration: 214, UserAgent: "curl/7.60.0", Authority: "httpbin.org",
			UpstreamHost: "35.173.6.94:80", UpstreamCluster: "outbound|80||httpbin.org", DownstreamLocalAddress: "35.173.6.94:80",
			DownstreamRemoteAddress: "172.30.109.82:55314",
		}, {
			StartTime: mustTime("2019-01-24T12:48:54.977Z"), BytesReceived: 601, BytesSent: 17766, Duration: 1289,
			UpstreamHost: "172.217.161.36:443", UpstreamCluster: "outbound|443||www.google.com", UpstreamLocalAddress: "172.30.109.82:59480",
			DownstreamLocalAddress: "172.217.161.36:443", DownstreamRemoteAddress: "172.30.109.82:59478", RequestedServerName: "www.google.com",
		}},
	}}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var got []AccessLogEntry
			counts, err := ScanAccessLog(bytes.NewReader(readSample(t, tt.file)), nil, func(e *AccessLogEntry) { got = append(got, *e) })
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("entries mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(AccessLogCounts{Lines: len(tt.want), Entries: len(tt.want), Formats: []string{tt.format}}, counts); diff != "" {
				t.Errorf("counts mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScanAccessLogSkipsOtherLines(t *testing.T) {
	log := strings.Join([]string{
		`2024-05-01T10:00:00.000000Z	info	Envoy proxy is ready`,
		`[2024-05-01T10:00:00.000Z] "- - -" 0 - - - "-" 1 2 3 - "-" "-" "-" "-" "1.2.3.4:443" PassthroughCluster - 1.2.3.4:443 10.0.0.1:1 a.example -`,
		``,
		`[2024-05-01 10:00:00.000][15][warning][config] closed`,
	}, "\n")
	n := 0
	counts, err := ScanAccessLog(strings.NewReader(log), nil, func(*AccessLogEntry) { n++ })
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(AccessLogCounts{Lines: 3, Entries: 1, Skipped: 2, Formats: []string{"Istio 1.9+ TEXT"}}, counts); diff != "" || n != 1 {
		t.Errorf("counts mismatch (-want +got):\n%s (callbacks %d)", diff, n)
	}
}

func TestScanAccessLogTooLongLine(t *testing.T) {
	_, err := ScanAccessLog(strings.NewReader(strings.Repeat("x", maxLineBytes+10)), nil, func(*AccessLogEntry) {})
	if err == nil {
		t.Fatal("want an error for a line over the limit")
	}
}

// Lines are read by the format they were written in: the user's, the proxy's own, or each Istio
// era's default; reader prefixes and hard wraps do not hide them.
func TestScanAccessLogFormats(t *testing.T) {
	custom := `%START_TIME% dst=%DOWNSTREAM_LOCAL_ADDRESS% cluster=%UPSTREAM_CLUSTER_RAW% sni=%REQUESTED_SERVER_NAME% flags=%RESPONSE_FLAGS% ua="%REQ(USER-AGENT)%"`
	type got struct{ Cluster, Dst, SNI, Flags, UA string }
	tests := []struct {
		name, format, log string
		want              []got
		formats           []string
	}{{
		name:    "custom TEXT by --log-format",
		format:  custom,
		log:     `2024-05-01T10:00:00.000Z dst=1.2.3.4:443 cluster=PassthroughCluster sni=api.example.com flags=- ua="curl/8 (x86_64)"` + "\n",
		want:    []got{{"PassthroughCluster", "1.2.3.4:443", "api.example.com", "", "curl/8 (x86_64)"}},
		formats: []string{"--log-format"},
	}, {
		name:    "custom JSON by --log-format",
		format:  `{"ts":"%START_TIME%","dst":"%DOWNSTREAM_LOCAL_ADDRESS%","c":"%UPSTREAM_CLUSTER_RAW%","f":"%RESPONSE_FLAGS%"}`,
		log:     `{"ts":"2024-05-01T10:00:00.000Z","dst":"1.2.3.4:443","c":null,"f":"UH"}` + "\n",
		want:    []got{{"", "1.2.3.4:443", "", "UH", ""}},
		formats: []string{"--log-format"},
	}, {
		name:    "1.23+ default with stern's POD CONTAINER prefix and a CRI line",
		log:     `web-0 istio-proxy [2024-05-01T10:00:00.000Z] "- - -" 0 UH - - "-" 0 0 0 - "-" "-" "-" "-" "-" BlackHoleCluster - 1.2.3.4:443 10.0.0.1:1 - -` + "\n" + `2024-05-01T10:00:00.1Z stdout F [2024-05-01T10:00:00.000Z] "- - -" 0 - - - "-" 1 2 3 - "-" "-" "-" "-" "5.6.7.8:443" PassthroughCluster 10.0.0.1:2 5.6.7.8:443 10.0.0.1:3 b.example -` + "\n",
		want:    []got{{"BlackHoleCluster", "1.2.3.4:443", "", "UH", ""}, {"PassthroughCluster", "5.6.7.8:443", "b.example", "", ""}},
		formats: []string{"Istio 1.9+ TEXT"},
	}, {
		name:    "a custom line is not read by the defaults",
		log:     `2024-05-01T10:00:00.000Z dst=1.2.3.4:443 cluster=PassthroughCluster sni=api.example.com flags=- ua="curl"` + "\n",
		formats: nil,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var formats []*LogFormat
			if tt.format != "" {
				lf, err := ParseLogFormat("--log-format", tt.format)
				if err != nil {
					t.Fatal(err)
				}
				formats = append(formats, lf)
			}
			var gotEntries []got
			counts, err := ScanAccessLog(strings.NewReader(tt.log), append(formats, DefaultLogFormats...), func(e *AccessLogEntry) {
				gotEntries = append(gotEntries, got{e.UpstreamCluster, e.DownstreamLocalAddress, e.RequestedServerName, e.ResponseFlags, e.UserAgent})
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, gotEntries); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.formats, counts.Formats); diff != "" {
				t.Errorf("formats (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseLogFormatErrors(t *testing.T) {
	tests := []struct{ format, want string }{
		{`no operators`, `--log-format: no %OPERATOR% in log format "no operators"`},
		{`%START_TIME% %BYTES_SENT%`, `--log-format: log format "%START_TIME% %BYTES_SENT%" logs none of %UPSTREAM_CLUSTER%, %DOWNSTREAM_LOCAL_ADDRESS%, %REQ(:AUTHORITY)%, %REQUESTED_SERVER_NAME%, %UPSTREAM_HOST%: no destination can be read from it`},
		{`{"a":`, `--log-format: a JSON log format must be an object of keys to operators: unexpected end of JSON input`},
	}
	for _, tt := range tests {
		_, err := ParseLogFormat("--log-format", tt.format)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseLogFormat(%q) = %v, want %q", tt.format, err, tt.want)
		}
	}
}
