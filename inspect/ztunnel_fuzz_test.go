package inspect

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzZtunnelConfig feeds a ztunnel /config_dump, both shapes, to the ambient read.
func FuzzZtunnelConfig(f *testing.F) {
	for _, name := range []string{"configdump-1.2x-istioctl-testdata.json", "configdump-1.31-hand-ztunnel-serde.json"} {
		if b, err := os.ReadFile(filepath.Join(ztunnelFixtures, name)); err == nil {
			f.Add(b)
		}
	}
	addSeeds(f, `{}`, `{"workloads":[],"services":{}}`, `{"workloads":{"a":{"uid":1}}}`, `{"services":[{"ports":{"x":"y"},"endpoints":{"k":1}}]}`, `{"workloads":`)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseZtunnelConfig(b)
		inspectAll(t, Sources{Pod: Pod{Namespace: "shop", Name: "cart-7d9c5b7f6d-x2k4q"},
			Ztunnel: &ZtunnelSources{Pod: Pod{Namespace: "istio-system", Name: "ztunnel-0"}, PodIPs: []string{"10.244.1.12"}, ConfigDump: b}})
	})
}

// FuzzZtunnelLog feeds ztunnel log text to the ambient read.
func FuzzZtunnelLog(f *testing.F) {
	for _, name := range []string{"access-1.31-hand-ztunnel-format.log", "access-1.22-istioio-troubleshoot-ztunnel.log"} {
		if b, err := os.ReadFile(filepath.Join(ztunnelFixtures, name)); err == nil {
			f.Add(b)
		}
	}
	addSeeds(f, "", "x access connection complete src.addr=1 dst.addr=2", "2026-01-01T00:00:00Z\tinfo\taccess\tconnection complete\tsrc.addr=10.244.1.12:1 dst.addr=[::1]:80 dst.hbone_addr=\"", "a b access d e")
	f.Fuzz(func(t *testing.T, b []byte) {
		inspectAll(t, Sources{Pod: Pod{Namespace: "shop", Name: "cart-7d9c5b7f6d-x2k4q"},
			Ztunnel: &ZtunnelSources{Pod: Pod{Namespace: "istio-system", Name: "ztunnel-0"}, PodIPs: []string{"10.244.1.12"}, Log: bytes.NewReader(b)}})
	})
}
