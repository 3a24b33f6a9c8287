package inspect

import "testing"

const statsSeedPrometheus = `# TYPE istio_tcp_connections_opened_total counter
istio_tcp_connections_opened_total{reporter="source",destination_service="PassthroughCluster",destination_service_name="PassthroughCluster",request_protocol="tcp"} 3
# TYPE envoy_cluster_upstream_cx_total counter
envoy_cluster_upstream_cx_total{cluster_name="PassthroughCluster"} 3
`

// FuzzStats feeds /stats: Prometheus text, raw text (with Istio 1.23's ";" tag separator) and
// the JSON form of /stats?format=json, which the parser must refuse without crashing. Prometheus
// text is read as expfmt reads it: each line alone, and the whole text when expfmt accepts it
// (but for lines starting with '{', which expfmt reads against the line before: bracedLine).
func FuzzStats(f *testing.F) {
	addSampleSeeds(f, "stats-prometheus-blackhole-istio-21385.txt")
	addSeeds(f, statsSeedPrometheus,
		"cluster.PassthroughCluster.upstream_cx_total: 3\ncluster.outbound|443||httpbin.org;.upstream_rq_total: 2\n",
		`istio_requests_total{destination_service="httpbin.org",response_code="200"} NaN`+"\n",
		`istio_requests_total{destination_service="x"} +Inf`+"\n"+`istio_requests_total{destination_service="y"} -Inf`+"\n",
		`envoy_cluster_upstream_rq_total{cluster_name="x"} 1e300`+"\n",
		`{"stats":[{"name":"cluster.PassthroughCluster.upstream_cx_total","value":3}]}`,
		"# HELP x y\nbroken{ 1\n",
		"# TYPE envoy_cluster_upstream_cx_total counter\r\nenvoy_cluster_upstream_cx_total{cluster_name=\"PassthroughCluster\"} 3 1395066363000\r\n",
		`istio_requests_total{destination_service="a\\b\"c\nd",x="1,2}3=4"} 7`+"\n",
		"# TYPE h histogram\nh_bucket{le=\"1\",cluster_name=\"x\"} 1\nh_bucket{cluster_name=\"x\",le=\"+Inf\"} 1\nh_sum{cluster_name=\"x\"} 1\nh_count{cluster_name=\"x\"} 1\n",
		"# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 1\ns_count 1\n",
		"# TYPE h hist\\ogram\nh_count 1\n",
		`{"istio_requests_total", "destination.service"="x"} 1`+"\n",
		specExample,
	)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseStats(b)
		inspectAll(t, Sources{Pod: Pod{Name: "fuzz"}, Stats: b})
		checkLinesAlone(t, b)
		if want, err := expfmtStats(b); err == nil && !bracedLine(b) {
			if diff := diffStats(want, promTextStats(b)); diff != "" {
				t.Errorf("stats mismatch (-expfmt +got):\n%s", diff)
			}
		}
	})
}
