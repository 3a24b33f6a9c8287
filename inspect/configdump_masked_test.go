package inspect

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
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
