package inspect

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestMaskedDecoderMatchesProtojson decodes every config dump we hold (the real captures,
// istiod's dumps, the synthetic benchmark dump) with the masked decoder and with protojson, and
// requires the masked decoder to decide each one and to give the classifier the same config.
func TestMaskedDecoderMatchesProtojson(t *testing.T) {
	inputs := map[string][]byte{"synthetic": syntheticDump(20)}
	err := filepath.WalkDir("../fixtures", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		inputs[path] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	dumps := 0
	for name, b := range inputs {
		j, err := configDumpJSON(b)
		if err != nil || j == nil {
			continue
		}
		want, err := parseConfigDumpProtojson(j)
		if err != nil || len(want.Sections) == 0 {
			continue // not a config dump
		}
		dumps++
		t.Run(filepath.Base(name), func(t *testing.T) {
			got, err := parseConfigDumpMasked(j)
			if err != nil {
				t.Fatalf("the masked decoder left a dump protojson reads to protojson: %v", err)
			}
			if diff := diffProxyConfigs(want, got); diff != "" {
				t.Errorf("masked decoder (+) differs from protojson (-):\n%s", diff)
			}
		})
	}
	if dumps < 20 {
		t.Errorf("only %d config dumps found among %d files", dumps, len(inputs))
	}
}

// diffProxyConfigs compares two decodings of one dump by what the report is made of: the
// classifier's view of the config, the node's versions, and the dump's sections.
func diffProxyConfigs(want, got *ProxyConfig) string {
	type reading struct {
		View                        *configView
		Istio, Envoy, ProxyType     string
		Sections, Unreadable        []string
		Clusters, Listeners, Routes int
		Endpoints                   int
	}
	read := func(pc *ProxyConfig) reading {
		return reading{
			View: newConfigView(pc), Istio: nodeIstioVersion(pc.Node), Envoy: nodeEnvoyVersion(pc.Node),
			ProxyType: nodeProxyType(pc.Node), Sections: pc.Sections, Unreadable: pc.Unreadable,
			Clusters: len(pc.Clusters), Listeners: len(pc.Listeners), Routes: len(pc.Routes), Endpoints: len(pc.Endpoints),
		}
	}
	return cmp.Diff(read(want), read(got), cmp.Exporter(func(reflect.Type) bool { return true }), cmpopts.EquateEmpty())
}

// TestIsV2Dump checks the one-pass search against its definition: the dump names a v2 admin
// type or a v2 resource type somewhere.
func TestIsV2Dump(t *testing.T) {
	inputs := []string{
		`{"configs":[{"@type":"type.googleapis.com/envoy.admin.v2alpha.ClustersConfigDump"}]}`,
		`{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.ClustersConfigDump","static_clusters":[{"cluster":{"@type":"type.googleapis.com/envoy.api.v2.Cluster"}}]}]}`,
		`{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.ClustersConfigDump"}]}`,
		`{"x":"envoy.api.v2alpha.X envoy.admin.v2.Y .v2 envoy.api.v3. envoy.admin.v2alph"}`,
		`envoy.api.v2.`, `.v2.v2alpha.envoy.api`, ``,
	}
	err := filepath.WalkDir("../fixtures", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		inputs = append(inputs, string(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	v2 := 0
	for _, in := range inputs {
		want := strings.Contains(in, "envoy.admin.v2alpha.") || strings.Contains(in, "envoy.api.v2.")
		if want {
			v2++
		}
		if got := isV2Dump([]byte(in)); got != want {
			t.Errorf("isV2Dump(%.80q…) = %v, want %v", in, got, want)
		}
	}
	if v2 < 4 {
		t.Errorf("only %d v2 inputs", v2)
	}
}

// TestMaskedDecoderEdges: forms the masked decoder reads must read as protojson reads them;
// forms it leaves to protojson (or that protojson refuses) must not be decided by it.
func TestMaskedDecoderEdges(t *testing.T) {
	const cluster = `{"@type":"type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster","cluster":{"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster",%s}}`
	dump := func(fields string) string {
		return `{"configs":[` + strings.ReplaceAll(cluster, "%s", fields) + `]}`
	}
	tests := []struct {
		name   string
		in     string
		decide bool // the masked decoder must read it
	}{
		{"camel case and numbers as strings", dump(`"name":"outbound|443||a.example","connectTimeout":"1.5s","circuitBreakers":{"thresholds":[{"maxConnections":"7"}]}`), true},
		{"enum by number", dump(`"name":"a","type":1`), true},
		{"unknown enum name", dump(`"name":"a","type":"NO_SUCH_TYPE"`), true},
		{"null fields", dump(`"name":"a","metadata":null,"load_assignment":{"endpoints":null}`), true},
		{"unread extension", dump(`"name":"a","filters":[{"name":"x","typed_config":{"@type":"type.googleapis.com/no.such.Type","a":[1,2,{"b":null}]}}]`), true},
		{"escapes", dump(`"name":"outbound|443||a\u002eexample\n\"q\""`), true},
		{"metadata narrowed", dump(`"name":"a","metadata":{"filter_metadata":{"istio":{"external":true,"services":[{"host":"a"}]},"other":{"x":1}}}`), true},
		{"@type not first", `{"configs":[{"cluster":{"name":"a","@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster"},"@type":"type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster"}]}`, false},
		{"duplicate field", dump(`"name":"a","name":"b"`), false},
		{"both spellings", dump(`"connect_timeout":"1s","connectTimeout":"2s"`), false},
		{"oneof clash", dump(`"type":"STATIC","cluster_type":{"name":"x"}`), false},
		{"duplicate struct key", dump(`"metadata":{"filter_metadata":{"istio":{"external":true,"external":false}}}`), false},
		{"truncated", dump(`"name":"a"`)[:60], false},
		{"trailing bytes", dump(`"name":"a"`) + "x", false},
		{"bad duration", dump(`"connect_timeout":"1.5"`), false},
		{"exponent integer", dump(`"circuit_breakers":{"thresholds":[{"max_connections":1e2}]}`), false},
		{"invalid UTF-8", dump("\"name\":\"a\xff\""), false},
		{"non-string in string field", dump(`"name":5`), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseConfigDumpMasked([]byte(tc.in))
			if !tc.decide {
				if err == nil {
					t.Fatalf("the masked decoder decided %q", tc.in)
				}
				return
			}
			if err != nil {
				t.Fatalf("the masked decoder left %q to protojson: %v", tc.in, err)
			}
			want, err := parseConfigDumpProtojson([]byte(tc.in))
			if err != nil {
				t.Fatalf("protojson refuses what the masked decoder read: %v", err)
			}
			if diff := diffProxyConfigs(want, got); diff != "" {
				t.Errorf("masked decoder (+) differs from protojson (-):\n%s", diff)
			}
		})
	}
}
