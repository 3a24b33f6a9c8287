package inspect

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// syntheticDump is a snake_case config dump with n external ServiceEntry clusters (half with TLS
// origination), the special clusters, and a virtualOutbound listener.
func syntheticDump(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.ClustersConfigDump","dynamic_active_clusters":[`)
	b.WriteString(`{"cluster":{"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster","name":"PassthroughCluster","type":"ORIGINAL_DST"}},`)
	b.WriteString(`{"cluster":{"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster","name":"BlackHoleCluster","type":"STATIC"}}`)
	for i := 0; i < n; i++ {
		host := fmt.Sprintf("api%d.example.com", i)
		port := 443
		ts := ""
		if i%2 == 0 {
			port = 80
			ts = `,"transport_socket":{"name":"envoy.transport_sockets.tls","typed_config":{"@type":"type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext","sni":"` + host + `"}}`
		}
		fmt.Fprintf(&b, `,{"cluster":{"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster","name":"outbound|%d||%s","type":"STRICT_DNS",`+
			`"load_assignment":{"cluster_name":"outbound|%d||%s","endpoints":[{"lb_endpoints":[{"endpoint":{"address":{"socket_address":{"address":"%s","port_value":443}}}}]}]},`+
			`"metadata":{"filter_metadata":{"istio":{"external":true,"services":[{"host":"%s","name":"%s","namespace":"shop"}]}}},`+
			`"filters":[{"name":"istio.metadata_exchange","typed_config":{"@type":"type.googleapis.com/udpa.type.v1.TypedStruct","type_url":"type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange","value":{"protocol":"istio-peer-exchange"}}}]%s}}`,
			port, host, port, host, host, host, host, ts)
	}
	b.WriteString(`]},{"@type":"type.googleapis.com/envoy.admin.v3.ListenersConfigDump","dynamic_listeners":[{"name":"virtualOutbound","active_state":{"listener":{"@type":"type.googleapis.com/envoy.config.listener.v3.Listener","name":"virtualOutbound","filter_chains":[{"filters":[{"name":"envoy.filters.network.tcp_proxy","typed_config":{"@type":"type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy","stat_prefix":"PassthroughCluster","cluster":"PassthroughCluster"}}]}]}}}]}]}`)
	return []byte(b.String())
}

// syntheticAccessLog is n lines mixing passthrough TLS, passthrough HTTP, traffic to the registered
// TLS clusters of syntheticDump(clusters), and internal traffic.
func syntheticAccessLog(n, clusters int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		ts := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond).Format("2006-01-02T15:04:05.000Z")
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, `[%s] "- - -" 0 - - - "-" 517 4000 12 - "-" "-" "-" "-" "1.2.%d.%d:443" PassthroughCluster 10.0.0.1:4000 1.2.%d.%d:443 10.0.0.1:3999 host%d.example.net -`+"\n", ts, i%200, i%250, i%200, i%250, i%500)
		case 1:
			fmt.Fprintf(&b, `[%s] "GET /v1/items HTTP/1.1" 200 - via_upstream - "-" 0 1200 8 7 "-" "client/1.0" "id-%d" "plain%d.example.org" "3.3.3.%d:80" PassthroughCluster 10.0.0.1:4001 3.3.3.%d:80 10.0.0.1:3998 - allow_any`+"\n", ts, i, i%50, i%250, i%250)
		case 2:
			fmt.Fprintf(&b, `[%s] "- - -" 0 - - - "-" 800 9000 30 - "-" "-" "-" "-" "52.1.1.1:443" outbound|443||api%d.example.com 10.0.0.1:4002 52.1.1.1:443 10.0.0.1:3997 api%d.example.com -`+"\n", ts, 2*(i%(clusters/2))+1, 2*(i%(clusters/2))+1)
		default:
			fmt.Fprintf(&b, `[%s] "GET /health HTTP/1.1" 200 - via_upstream - "-" 0 2 1 1 "-" "kube-probe" "id" "web.shop:80" "10.1.0.5:8080" outbound|80||web.shop.svc.cluster.local 10.0.0.1:4003 10.96.0.10:80 10.0.0.1:3996 - default`+"\n", ts)
		}
	}
	return b.Bytes()
}

func BenchmarkInspect(b *testing.B) {
	dump := syntheticDump(1000)
	log := syntheticAccessLog(100_000, 1000)
	b.SetBytes(int64(len(dump) + len(log)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rep, err := Inspect(Sources{Pod: curlPod, ConfigDump: dump, AccessLog: bytes.NewReader(log)}, testNow)
		if err != nil || len(rep.Destinations) < 1000 {
			b.Fatalf("err %v, %d destinations", err, len(rep.Destinations))
		}
	}
}

func BenchmarkParseConfigDump(b *testing.B) {
	dump := syntheticDump(1000)
	b.SetBytes(int64(len(dump)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseConfigDump(dump); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseConfigDumpCapture parses the largest real capture we hold (listeners of a
// sidecar with authorization policies: filters the report skips).
func BenchmarkParseConfigDumpCapture(b *testing.B) {
	dump, err := os.ReadFile(filepath.Join(corpusDir, "configdump-1.18-istio-testdata-authz-listeners.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(dump)))
	b.ReportAllocs()
	for b.Loop() {
		if pc, err := ParseConfigDump(dump); err != nil || pc.Empty() {
			b.Fatalf("err %v, empty %v", err, pc.Empty())
		}
	}
}

// BenchmarkDecodeConfigDumpProtojson is the whole protojson decode the masked decoder replaces
// (and falls back to on a dump it cannot decide), for the ratio.
func BenchmarkDecodeConfigDumpProtojson(b *testing.B) {
	dump := syntheticDump(1000)
	b.SetBytes(int64(len(dump)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseConfigDumpProtojson(dump); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScanAccessLog(b *testing.B) {
	log := syntheticAccessLog(100_000, 1000)
	b.SetBytes(int64(len(log)))
	b.ReportAllocs()
	for b.Loop() {
		counts, err := ScanAccessLog(bytes.NewReader(log), nil, func(*AccessLogEntry) {})
		if err != nil || counts.Entries != 100_000 {
			b.Fatalf("err %v, counts %+v", err, counts)
		}
	}
}

func TestSyntheticInputsClassify(t *testing.T) {
	rep, err := Inspect(Sources{Pod: curlPod, ConfigDump: syntheticDump(10), AccessLog: bytes.NewReader(syntheticAccessLog(40, 10))}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[Disposition]int{}
	for _, d := range rep.Destinations {
		counts[d.Disposition]++
	}
	if counts[DispositionTLSOrigination] != 5 || counts[DispositionRegistered] != 5 || counts[DispositionPassthrough] == 0 {
		t.Errorf("dispositions = %v", counts)
	}
	if rep.Facts.AccessLog.Entries != 40 {
		t.Errorf("access log = %+v", rep.Facts.AccessLog)
	}
}

// syntheticStats is /stats/prometheus text of n Istio request series (passthrough, blocked and
// registered hosts) and Envoy cluster counters, as a busy sidecar exposes them.
func syntheticStats(n int) []byte {
	var b bytes.Buffer
	b.WriteString("# TYPE istio_requests_total counter\n")
	for i := 0; i < n; i++ {
		svc := []string{"PassthroughCluster", "BlackHoleCluster", fmt.Sprintf("api%d.example.com", i)}[i%3]
		fmt.Fprintf(&b, `istio_requests_total{reporter="source",source_workload="shop",source_canonical_service="shop",source_canonical_revision="latest",source_workload_namespace="demo",source_principal="unknown",source_app="shop",source_version="",source_cluster="Kubernetes",destination_workload="unknown",destination_workload_namespace="unknown",destination_principal="unknown",destination_app="unknown",destination_version="unknown",destination_service="api%d.example.com",destination_canonical_service="unknown",destination_canonical_revision="latest",destination_service_name=%q,destination_service_namespace="unknown",destination_cluster="unknown",request_protocol="http",response_code="%d",grpc_response_status="",response_flags="-",connection_security_policy="unknown"} %d`+"\n", i, svc, 200+i%4, i)
	}
	b.WriteString("# TYPE envoy_cluster_upstream_cx_total counter\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "envoy_cluster_upstream_cx_total{cluster_name=\"outbound|443||api%d.example.com\"} %d\n", i, i)
	}
	return b.Bytes()
}

// syntheticEnvoyStats is /stats/prometheus text of a sidecar with per-cluster stats on, n clusters:
// mostly metrics the plugin does not read (Envoy's other cluster counters, a histogram of each
// cluster, Istio's request duration histogram), and the four upstream counters it reads.
func syntheticEnvoyStats(n int) []byte {
	var b bytes.Buffer
	buckets := []string{"0.5", "1", "5", "10", "25", "50", "100", "250", "500", "1000", "2500", "5000", "10000", "30000", "60000", "300000", "600000", "1800000", "3600000", "+Inf"}
	for _, stat := range []string{"assignment_stale", "bind_errors", "lb_healthy_panic", "membership_healthy", "membership_total",
		"upstream_cx_active", "upstream_cx_connect_fail", "upstream_cx_destroy", "upstream_cx_http1_total", "upstream_cx_http2_total",
		"upstream_cx_rx_bytes_total", "upstream_cx_total", "upstream_cx_tx_bytes_total", "upstream_rq_active", "upstream_rq_completed",
		"upstream_rq_pending_total", "upstream_rq_retry", "upstream_rq_timeout", "upstream_rq_total", "upstream_rq_cancelled"} {
		fmt.Fprintf(&b, "# TYPE envoy_cluster_%s counter\n", stat)
		for i := range n {
			fmt.Fprintf(&b, "envoy_cluster_%s{cluster_name=\"outbound|443||api%d.example.com\"} %d\n", stat, i, i)
		}
	}
	b.WriteString("# TYPE envoy_cluster_upstream_cx_length_ms histogram\n")
	for i := range n {
		for _, le := range buckets {
			fmt.Fprintf(&b, "envoy_cluster_upstream_cx_length_ms_bucket{cluster_name=\"outbound|443||api%d.example.com\",le=\"%s\"} %d\n", i, le, i)
		}
		fmt.Fprintf(&b, "envoy_cluster_upstream_cx_length_ms_sum{cluster_name=\"outbound|443||api%d.example.com\"} %d\n", i, i)
		fmt.Fprintf(&b, "envoy_cluster_upstream_cx_length_ms_count{cluster_name=\"outbound|443||api%d.example.com\"} %d\n", i, i)
	}
	b.WriteString("# TYPE istio_request_duration_milliseconds histogram\n")
	for i := range n / 10 {
		labels := fmt.Sprintf(`reporter="source",source_workload="shop",source_canonical_service="shop",source_canonical_revision="latest",source_workload_namespace="demo",source_principal="unknown",source_app="shop",source_version="",source_cluster="Kubernetes",destination_workload="unknown",destination_workload_namespace="unknown",destination_principal="unknown",destination_app="unknown",destination_version="unknown",destination_service="api%d.example.com",destination_canonical_service="unknown",destination_canonical_revision="latest",destination_service_name="PassthroughCluster",destination_service_namespace="unknown",destination_cluster="unknown",request_protocol="http",response_code="200",grpc_response_status="",response_flags="-",connection_security_policy="unknown"`, i)
		for _, le := range buckets {
			fmt.Fprintf(&b, "istio_request_duration_milliseconds_bucket{%s,le=\"%s\"} %d\n", labels, le, i)
		}
		fmt.Fprintf(&b, "istio_request_duration_milliseconds_sum{%s} %d\n", labels, i)
		fmt.Fprintf(&b, "istio_request_duration_milliseconds_count{%s} %d\n", labels, i)
	}
	return b.Bytes()
}

// syntheticClusters is /clusters?format=json with n external clusters of two hosts each.
func syntheticClusters(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"cluster_statuses":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"name":"outbound|443||api%d.example.com","added_via_api":true,"host_statuses":[`, i)
		for h := 0; h < 2; h++ {
			if h > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"address":{"socket_address":{"address":"52.1.%d.%d","port_value":443}},"stats":[{"name":"cx_connect_fail"},{"value":"%d","name":"cx_total"},{"name":"rq_error"},{"value":"%d","name":"rq_success"},{"name":"rq_timeout"},{"value":"%d","name":"rq_total"},{"type":"GAUGE","name":"cx_active"},{"type":"GAUGE","name":"rq_active"}],"health_status":{"eds_health_status":"HEALTHY"},"weight":1,"locality":{}}`, i%250, h, i, i, i)
		}
		b.WriteString(`]}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func BenchmarkParseStats(b *testing.B) {
	stats := syntheticStats(5000)
	b.SetBytes(int64(len(stats)))
	b.ReportAllocs()
	for b.Loop() {
		st, err := ParseStats(stats)
		if err != nil || len(st.Istio) != 5000 {
			b.Fatalf("err %v, %d samples", err, len(st.Istio))
		}
	}
}

func BenchmarkParseStatsEnvoy(b *testing.B) {
	stats := syntheticEnvoyStats(1000)
	b.SetBytes(int64(len(stats)))
	b.ReportAllocs()
	for b.Loop() {
		st, err := ParseStats(stats)
		if err != nil || len(st.Clusters) != 1000 {
			b.Fatalf("err %v, %d clusters", err, len(st.Clusters))
		}
	}
}

// BenchmarkExpfmtStats is ParseStats' read before parsePromText (expfmtStats), for the ratio.
func BenchmarkExpfmtStats(b *testing.B) {
	stats := syntheticEnvoyStats(1000)
	b.SetBytes(int64(len(stats)))
	b.ReportAllocs()
	for b.Loop() {
		st, err := expfmtStats(stats)
		if err != nil || len(st.Clusters) != 1000 {
			b.Fatalf("err %v, %d clusters", err, len(st.Clusters))
		}
	}
}

func BenchmarkParseClusterStatus(b *testing.B) {
	clusters := syntheticClusters(2000)
	b.SetBytes(int64(len(clusters)))
	b.ReportAllocs()
	for b.Loop() {
		hosts, err := ParseClusterStatus(clusters)
		if err != nil || len(hosts) != 4000 {
			b.Fatalf("err %v, %d hosts", err, len(hosts))
		}
	}
}
