package inspect

import "testing"

const clustersSeedJSON = `{"cluster_statuses":[{"name":"PassthroughCluster","host_statuses":[{"address":{"socket_address":{"address":"203.0.113.10","port_value":443}},"stats":[{"name":"cx_total","value":"3"},{"name":"rq_total","value":"2"}],"health_status":{"eds_health_status":"HEALTHY"}}]}]}`

// FuzzClusters feeds /clusters: ?format=json (snake_case or the older camelCase), and the plain
// text Envoy prints without format=json, which the parser must refuse without crashing.
func FuzzClusters(f *testing.F) {
	addSeeds(f, clustersSeedJSON,
		`{"clusterStatuses":[{"name":"outbound|443||httpbin.org","hostStatuses":[{"address":{"pipe":{"path":"/x"}},"healthStatus":{"failedOutlierCheck":true}}]}]}`,
		`{"cluster_statuses":[{"name":"x","host_statuses":[{"address":{"envoy_internal_address":{"server_listener_name":"l"}}}]}]}`,
		"PassthroughCluster::203.0.113.10:443::cx_total::3\nPassthroughCluster::203.0.113.10:443::health_flags::healthy\noutbound|443||httpbin.org::default_priority::max_connections::4294967295\n",
		`{"cluster_statuses":[{"name":"x","host_statuses":[{"address":{"socket_address":{"address":"::1","named_port":"p"}}}]}`,
	)
	f.Fuzz(func(t *testing.T, b []byte) {
		hosts, err := ParseClusterStatus(b)
		if err != nil && hosts != nil {
			t.Fatalf("ParseClusterStatus returned hosts with an error: %v", err)
		}
		if d := hostsReading.diff(b); d != "" {
			t.Fatal(d)
		}
		inspectAll(t, Sources{Pod: Pod{Name: "fuzz"}, Clusters: b})
	})
}
