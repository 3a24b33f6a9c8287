package inspect

import "testing"

// FuzzConfigDump feeds /config_dump as JSON (snake_case or lowerCamelCase, full or filtered by
// resource=) or YAML.
func FuzzConfigDump(f *testing.F) {
	addSampleSeeds(f, "istiod/egress-gateway.gw.json", "istiod/se-tls.json", "istiod/tls-origination.json")
	addSeeds(f,
		`{}`, `{"configs":[]}`, `configs: []`,
		`{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.ClustersConfigDump","dynamic_active_clusters":[{"cluster":{"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster","name":"outbound|443||httpbin.org","type":"STRICT_DNS"}}]}]}`,
		`{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster","cluster":{"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster","name":"PassthroughCluster","type":"ORIGINAL_DST"}}]}`,
		`{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.BootstrapConfigDump","bootstrap":{"node":{"metadata":{"ISTIO_VERSION":"1.31.1"}}}}]}`,
		`{"configs":[{"@type":"type.googleapis.com/some.unknown.Type","x":1}]}`,
		`{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.ClustersConfigDump","dynamic_active_clusters":[{"cluster":{"@type":"type.googleapis.`,
	)
	f.Fuzz(func(t *testing.T, b []byte) {
		pc, err := ParseConfigDump(b)
		if err == nil && pc == nil {
			t.Fatal("ParseConfigDump returned neither a config nor an error")
		}
		inspectAll(t, Sources{Pod: Pod{Name: "fuzz"}, ConfigDump: b})
		// The masked decoder must read what protojson reads as protojson reads it.
		if j, err := configDumpJSON(b); err == nil && j != nil {
			masked, maskedErr := parseConfigDumpMasked(j)
			whole, wholeErr := parseConfigDumpProtojson(j)
			if maskedErr == nil && wholeErr == nil {
				if diff := diffProxyConfigs(whole, masked); diff != "" {
					t.Errorf("masked decoder (+) differs from protojson (-):\n%s", diff)
				}
			}
		}
	})
}
