package inspect

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseStats(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  Stats
		error bool
	}{{
		name: "prometheus with istio metrics and cluster stats",
		in: `# TYPE istio_requests_total counter
istio_requests_total{reporter="source",destination_service="api.example.com",destination_service_name="PassthroughCluster",response_code="200",response_flags="-"} 7
# TYPE istio_tcp_connections_opened_total counter
istio_tcp_connections_opened_total{reporter="source",destination_service="unknown",destination_service_name="PassthroughCluster"} 3
# TYPE envoy_cluster_upstream_cx_total counter
envoy_cluster_upstream_cx_total{cluster_name="PassthroughCluster"} 11
envoy_cluster_upstream_rq_total{cluster_name="PassthroughCluster"} 4
# TYPE envoy_server_uptime gauge
envoy_server_uptime{} 100
`,
		want: Stats{
			Istio: []MetricSample{
				{Name: metricRequests, Labels: map[string]string{"reporter": "source", "destination_service": "api.example.com", "destination_service_name": "PassthroughCluster", "response_code": "200", "response_flags": "-"}, Value: 7},
				{Name: metricTCPOpened, Labels: map[string]string{"reporter": "source", "destination_service": "unknown", "destination_service_name": "PassthroughCluster"}, Value: 3},
			},
			Clusters: map[string]Counts{"PassthroughCluster": {Connections: 11, Requests: 4}},
		},
	}, {
		name: "a malformed line does not lose the others",
		in: `istio_requests_total{reporter="source",destination_service="a.example",destination_service_name="BlackHoleCluster",response_code="502"} 2
this is { not prometheus
envoy_cluster_upstream_cx_total{cluster_name="BlackHoleCluster"} 5
`,
		want: Stats{
			Istio:        []MetricSample{{Name: metricRequests, Labels: map[string]string{"reporter": "source", "destination_service": "a.example", "destination_service_name": "BlackHoleCluster", "response_code": "502"}, Value: 2}},
			Clusters:     map[string]Counts{"BlackHoleCluster": {Connections: 5}},
			SkippedLines: 1,
		},
	}, {
		name: "raw stats, both cluster name forms",
		in: `cluster.PassthroughCluster.upstream_cx_total: 3
cluster.PassthroughCluster.upstream_cx_tx_bytes_total: 1000
cluster.BlackHoleCluster;.upstream_cx_total: 2
cluster.outbound|443||api.example.com;.upstream_rq_total: 9
cluster.outbound|443||api.example.com.upstream_cx_total: 4
cluster.PassthroughCluster.circuit_breakers.default.cx_open: 0
server.uptime: 10
`,
		want: Stats{Clusters: map[string]Counts{
			"PassthroughCluster":            {Connections: 3, BytesSent: 1000},
			"BlackHoleCluster":              {Connections: 2},
			"outbound|443||api.example.com": {Connections: 4, Requests: 9},
		}},
	}, {
		name: "sample: BlackHole stats from istio#21385",
		in:   string(readSample(t, "stats-prometheus-blackhole-istio-21385.txt")),
		want: Stats{Clusters: map[string]Counts{"BlackHoleCluster": {}}},
	}, {
		name:  "not stats",
		in:    `<html>forbidden</html>`,
		error: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStats([]byte(tt.in))
			if (err != nil) != tt.error {
				t.Fatalf("err = %v, want error %v", err, tt.error)
			}
			if tt.error {
				return
			}
			sortSamples(got.Istio)
			sortSamples(tt.want.Istio)
			if got.Samples == 0 {
				t.Errorf("no sample counted")
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty(), cmpopts.IgnoreFields(Stats{}, "Samples")); diff != "" {
				t.Errorf("stats mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func sortSamples(s []MetricSample) {
	sort.Slice(s, func(i, j int) bool { return fmt.Sprint(s[i]) < fmt.Sprint(s[j]) })
}

// blogExposition turns the Prometheus HTTP-API results of the istio.io 2019 blog (four JSON blocks
// separated by "# ---") into exposition lines, so the label sets real Istio attached to
// Passthrough and BlackHole traffic go through the real stats parser.
func blogExposition(t testing.TB) string {
	t.Helper()
	var out strings.Builder
	for _, block := range strings.Split(string(readSample(t, "prometheus-api-passthrough-blackhole-istioio-blog-2019.txt")), "# ---") {
		type result struct {
			Metric map[string]string `json:"metric"`
			Value  []any             `json:"value"`
		}
		var r struct {
			result
			Data struct {
				Result []result `json:"result"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(block), &r); err != nil {
			t.Fatalf("blog block: %v", err)
		}
		results := r.Data.Result
		if r.Metric != nil {
			results = append(results, r.result)
		}
		for _, res := range results {
			name := res.Metric["__name__"]
			var labels []string
			for k, v := range res.Metric {
				if k != "__name__" {
					labels = append(labels, fmt.Sprintf("%s=%q", k, v))
				}
			}
			sort.Strings(labels)
			fmt.Fprintf(&out, "%s{%s} %s\n", name, strings.Join(labels, ","), res.Value[1])
		}
	}
	return out.String()
}

func TestParseStatsBlogLabelSets(t *testing.T) {
	st, err := ParseStats([]byte(blogExposition(t)))
	if err != nil {
		t.Fatal(err)
	}
	type seen struct{ Name, Service, ServiceName, IP string }
	var got []seen
	for _, s := range st.Istio {
		got = append(got, seen{s.Name, s.Labels["destination_service"], s.Labels["destination_service_name"], s.Labels["destination_ip"]})
	}
	sort.Slice(got, func(i, j int) bool { return fmt.Sprint(got[i]) < fmt.Sprint(got[j]) })
	want := []seen{
		{metricRequests, "httpbin.org", "BlackHoleCluster", ""},
		{metricRequests, "httpbin.org", "PassthroughCluster", ""},
		{metricTCPClosed, "unknown", "BlackHoleCluster", "52.22.188.80"},
		{metricTCPClosed, "unknown", "PassthroughCluster", "52.22.188.80"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("samples mismatch (-want +got):\n%s", diff)
	}
}
