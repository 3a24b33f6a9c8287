package inspect

import (
	"os"
	"testing"
)

func TestDetectKind(t *testing.T) {
	eds, err := os.ReadFile("../fixtures/samples/istio-sidecar-config_dump-with-eds.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   string
		want Kind
	}{
		{"config dump", string(eds), KindConfigDump},
		{"truncated config dump head", string(eds[:300]), KindConfigDump},
		{"yaml config dump", "configs:\n- '@type': x\n", KindConfigDump},
		{"clusters json", `{"cluster_statuses":[]}`, KindClusters},
		{"clusters json camel", `{"clusterStatuses":[]}`, KindClusters},
		{"server_info", `{"version":"x/1.2.3/Clean","state":"LIVE","hot_restart_version":"1","command_line_options":{}}`, KindServerInfo},
		{"prometheus", string(readSample(t, "stats-prometheus-blackhole-istio-21385.txt")), KindPrometheusStats},
		{"prometheus with source line", "# source: somewhere\n# TYPE x counter\nx 1\n", KindPrometheusStats},
		{"raw stats", "cluster.PassthroughCluster;.upstream_cx_total: 3\nserver.live: 1\n", KindRawStats},
		{"text access log", string(readSample(t, "accesslog-text-istioio-egress-control-task.txt")), KindAccessLog},
		{"text access log after envoy lines", "2024-05-01T10:00:00.000000Z\tinfo\tready\n" + string(readSample(t, "accesslog-text-istioio-access-log-task.txt")), KindAccessLog},
		{"json access log", `{"start_time":"2024-05-01T10:00:04.000Z","upstream_cluster":"PassthroughCluster","authority":null}` + "\n" + `{"start_time":"2024-05-01T10:00:05.000Z","upstream_cluster":"-"}`, KindAccessLog},
		{"empty", "  \n", KindUnknown},
		{"html", "<html></html>", KindUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DetectKind([]byte(tt.in)); got != tt.want {
				t.Errorf("DetectKind = %v, want %v", got, tt.want)
			}
		})
	}
}
