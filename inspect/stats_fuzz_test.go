package inspect

import "testing"

const statsSeedPrometheus = `# TYPE istio_tcp_connections_opened_total counter
istio_tcp_connections_opened_total{reporter="source",destination_service="PassthroughCluster",destination_service_name="PassthroughCluster",request_protocol="tcp"} 3
# TYPE envoy_cluster_upstream_cx_total counter
envoy_cluster_upstream_cx_total{cluster_name="PassthroughCluster"} 3
`

// FuzzStats feeds /stats: Prometheus text, raw text (with Istio 1.23's ";" tag separator) and
// the JSON form of /stats?format=json, which the parser must refuse without crashing.
func FuzzStats(f *testing.F) {
	addSampleSeeds(f, "stats-prometheus-blackhole-istio-21385.txt")
	addSeeds(f, statsSeedPrometheus,
		"cluster.PassthroughCluster.upstream_cx_total: 3\ncluster.outbound|443||httpbin.org;.upstream_rq_total: 2\n",
		`istio_requests_total{destination_service="httpbin.org",response_code="200"} NaN`+"\n",
		`istio_requests_total{destination_service="x"} +Inf`+"\n"+`istio_requests_total{destination_service="y"} -Inf`+"\n",
		`envoy_cluster_upstream_rq_total{cluster_name="x"} 1e300`+"\n",
		`{"stats":[{"name":"cluster.PassthroughCluster.upstream_cx_total","value":3}]}`,
		"# HELP x y\nbroken{ 1\n",
	)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseStats(b)
		inspectAll(t, Sources{Pod: Pod{Name: "fuzz"}, Stats: b})
	})
}
