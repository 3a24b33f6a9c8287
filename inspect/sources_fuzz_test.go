package inspect

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzFileKind feeds --file: a saved file is recognised by its content (DetectKind), read under
// the size cap and inspected, as `inspect --file` does.
func FuzzFileKind(f *testing.F) {
	addSampleSeeds(f, "istiod/egress-gateway.gw.json", "stats-prometheus-blackhole-istio-21385.txt", "accesslog-text-istioio-egress-control-task.txt")
	addSeeds(f, clustersSeedJSON, serverInfoSeed, statsSeedPrometheus, accessLogSeedText,
		"# saved by hand\n# from pod shop/web-0\nconfigs:\n- {}\n",
		"cluster.PassthroughCluster.upstream_cx_total: 3\n",
		`{"configs"`, "{", "\xef\xbb\xbf{\"configs\":[]}",
	)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = DetectKind(b)
		path := filepath.Join(dir, "capture")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		reading, err := ReadFiles([]string{path}, ReadConfig{Caps: Caps{MaxBytes: 1 << 20}}, fuzzNow)
		if err != nil {
			return
		}
		if len(reading.Pods) != 1 {
			t.Fatalf("one file gave %d pods", len(reading.Pods))
		}
	})
}
