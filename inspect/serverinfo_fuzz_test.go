package inspect

import "testing"

const serverInfoSeed = `{"version":"abc/1.36.2/Clean/RELEASE/BoringSSL","state":"LIVE","hot_restart_version":"disabled","command_line_options":{"concurrency":2},"node":{"id":"sidecar~10.0.0.5~web-0.shop~shop.svc.cluster.local","metadata":{"ISTIO_VERSION":"1.31.1"},"user_agent_build_version":{"version":{"major_number":1,"minor_number":36,"patch":2}}}}`

// FuzzServerInfo feeds /server_info JSON.
func FuzzServerInfo(f *testing.F) {
	addSeeds(f, serverInfoSeed, `{}`, `{"version":"/"}`, `{"state":"DRAINING","node":{"metadata":{"ISTIO_VERSION":1}}}`, `{"version":`)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseServerInfo(b)
		if d := serverInfoReading.diff(b); d != "" {
			t.Fatal(d)
		}
		inspectAll(t, Sources{Pod: Pod{Name: "fuzz"}, ServerInfo: b})
	})
}
