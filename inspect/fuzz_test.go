package inspect

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The fuzz targets (*_fuzz_test.go) feed every parser of what a proxy or a user hands the
// plugin: admin outputs, access logs, saved files. A short run of each is in make test, a long
// one in make fuzz; every crash found is kept under testdata/fuzz/<target> as a regression
// seed, which plain go test runs.

// fuzzNow stamps the reports of the fuzz targets.
var fuzzNow = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// addSampleSeeds seeds f with files of fixtures/samples, text ones without their "# source:" line.
func addSampleSeeds(f *testing.F, names ...string) {
	f.Helper()
	for _, name := range names {
		path := filepath.Join("..", "fixtures", "samples", name)
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		if filepath.Ext(name) == ".txt" {
			b = readSample(f, name)
		}
		f.Add(b)
	}
}

// addSeeds seeds f with literal inputs.
func addSeeds(f *testing.F, seeds ...string) {
	f.Helper()
	for _, s := range seeds {
		f.Add([]byte(s))
	}
}

// inspectAll runs the whole read side on src, parse to printed report, as the commands do: it
// must not panic whatever the input, and every output format must print.
func inspectAll(t *testing.T, src Sources) {
	t.Helper()
	rep, _ := Inspect(src, fuzzNow)
	report := Aggregate([]PodReport{rep})
	for _, format := range []string{FormatTable, FormatWide, FormatJSON, FormatYAML} {
		if err := PrintReport(io.Discard, report, format); err != nil {
			t.Fatalf("printing the report as %q: %v", format, err)
		}
	}
	for _, print := range []func(io.Writer, Report) error{
		PrintPods,
		func(w io.Writer, r Report) error { return PrintClusters(w, r, true) },
		func(w io.Writer, r Report) error { return PrintEndpoints(w, r, true) },
	} {
		if err := print(io.Discard, report); err != nil {
			t.Fatalf("printing a view: %v", err)
		}
	}
}

// FuzzInspect feeds one proxy's sources all at once, so what one source says meets what the
// others say in classification (a cluster in the dump, its hosts in /clusters, its stats, its
// log lines).
func FuzzInspect(f *testing.F) {
	dump, err := os.ReadFile(filepath.Join("..", "fixtures", "samples", "istiod", "se-tls.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(dump, []byte(clustersSeedJSON), []byte(statsSeedPrometheus), []byte(serverInfoSeed), []byte(accessLogSeedText))
	f.Add([]byte{}, []byte{}, []byte{}, []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, dump, clusters, stats, serverInfo, log []byte) {
		inspectAll(t, Sources{
			Pod:        Pod{Namespace: "fuzz", Name: "pod"},
			ConfigDump: dump, Clusters: clusters, Stats: stats, ServerInfo: serverInfo,
			AccessLog: bytes.NewReader(log),
		})
	})
}
