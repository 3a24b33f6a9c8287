package inspect

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseClusterStatus(t *testing.T) {
	snake := `{"cluster_statuses":[
 {"name":"PassthroughCluster","host_statuses":[{"address":{"socket_address":{"address":"93.184.216.34","port_value":443}},
   "stats":[{"name":"cx_total","value":"5"},{"name":"rq_total","value":"2"},{"name":"cx_active","type":"GAUGE","value":"1"}],
   "health_status":{"eds_health_status":"HEALTHY"}}]},
 {"name":"outbound|80||web.demo.svc.cluster.local","added_via_api":true,"host_statuses":[
   {"address":{"socket_address":{"address":"10.1.0.5","port_value":8080}},"health_status":{"failed_outlier_check":true}}]},
 {"name":"BlackHoleCluster"}]}`
	camel := `{"clusterStatuses":[
 {"name":"PassthroughCluster","hostStatuses":[{"address":{"socketAddress":{"address":"93.184.216.34","portValue":443}},
   "stats":[{"name":"cx_total","value":"5"},{"name":"rq_total","value":"2"}],
   "healthStatus":{"edsHealthStatus":"HEALTHY"}}]},
 {"name":"outbound|80||web.demo.svc.cluster.local","addedViaApi":true,"hostStatuses":[
   {"address":{"socketAddress":{"address":"10.1.0.5","portValue":8080}},"healthStatus":{"failedOutlierCheck":true}}]}]}`
	want := []HostStatus{
		{Cluster: "PassthroughCluster", Address: "93.184.216.34:443", Health: "HEALTHY", Counts: Counts{Connections: 5, Requests: 2}},
		{Cluster: "outbound|80||web.demo.svc.cluster.local", Address: "10.1.0.5:8080", Health: "UNHEALTHY"},
	}
	for name, in := range map[string]string{"snake_case": snake, "camelCase": camel} {
		t.Run(name, func(t *testing.T) {
			got, err := ParseClusterStatus([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("hosts mismatch (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("plain text", func(t *testing.T) {
		if _, err := ParseClusterStatus([]byte("PassthroughCluster::observability_name::PassthroughCluster\n")); err == nil {
			t.Fatal("want an error for /clusters without format=json")
		}
	})
}

func TestParseServerInfo(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want ServerInfo
	}{{
		name: "snake_case with node metadata and unknown fields",
		in: `{"version":"a1b2c3/1.36.2/Clean/RELEASE/BoringSSL","state":"LIVE","hot_restart_version":"11.104",
 "command_line_options":{"concurrency":2,"some_future_option":true},
 "node":{"id":"sidecar~10.0.0.1~curl-0.demo~demo.svc.cluster.local","metadata":{"ISTIO_VERSION":"1.28.0","CLUSTER_ID":"Kubernetes"}},
 "uptime_current_epoch":"10s"}`,
		want: ServerInfo{EnvoyVersion: "1.36.2", IstioVersion: "1.28.0", State: "LIVE", ProxyType: "sidecar"},
	}, {
		name: "a gateway's node",
		in:   `{"state":"LIVE","node":{"id":"router~10.0.0.12~egress-gw-istio-5bd5fc4bd7-nsqmz.demo~demo.svc.cluster.local"}}`,
		want: ServerInfo{State: "LIVE", ProxyType: ProxyRouter},
	}, {
		name: "version from user agent build version",
		in:   `{"state":"DRAINING","node":{"userAgentBuildVersion":{"version":{"majorNumber":1,"minorNumber":30,"patch":4}}}}`,
		want: ServerInfo{EnvoyVersion: "1.30.4", State: "DRAINING"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseServerInfo([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("server info mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
