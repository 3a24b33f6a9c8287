package inspect

import (
	"archive/tar"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// bugReportTree is a bug report laid out as istio tools/bug-report writes it: the archive's
// top directory bug-report/, proxies/NAMESPACE/POD/ with one file per admin URL (a
// "stats/prometheus" URL is a file in a stats/ directory) and istio-proxy.log, and the other
// sections the report does not read.
func bugReportTree(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{
		"bug-report/versions":                                            "client version: 1.28.0\n",
		"bug-report/cluster/nodes":                                       "kind: NodeList\n",
		"bug-report/istio/istio-system/istiod-5d7b/discovery.log":        "2024-05-01T11:00:00.000000Z\tinfo\tads\tpush\n",
		"bug-report/analyze/all/analyze.txt":                             "No validation issues found\n",
		"bug-report/proxies/demo/curl-0/config_dump?include_eds":         string(readFile(t, "../fixtures/samples/istiod/tls-origination.json")),
		"bug-report/proxies/demo/curl-0/clusters":                        "PassthroughCluster::1.2.3.4:443::cx_total::2\nPassthroughCluster::1.2.3.4:443::health_flags::healthy\nPassthroughCluster::added_via_api::true\n",
		"bug-report/proxies/demo/curl-0/server_info":                     `{"state":"LIVE","node":{"metadata":{"ISTIO_VERSION":"1.28.0"}}}`,
		"bug-report/proxies/demo/curl-0/stats/prometheus":                "# TYPE istio_requests_total counter\nistio_requests_total{reporter=\"source\",destination_service=\"httpbin.org\",destination_service_name=\"httpbin.org\",response_code=\"200\"} 3\n",
		"bug-report/proxies/demo/curl-0/memory":                          `{"allocated":"1"}`,
		"bug-report/proxies/demo/curl-0/istio-proxy.log":                 e2eAccessLog,
		"bug-report/proxies/shop/web-0/config_dump?include_eds":          string(readFile(t, "../fixtures/samples/istiod/registry-only.json")),
		"bug-report/proxies/shop/web-0/istio-proxy.log":                  string(readFile(t, corpusDir+"/accesslog-json-1.9-istio-issue-33281-kubetail-prefix.txt")),
		"bug-report/proxies/istio-system/istio-ingressgateway-1/runtime": `{}`,
	}
}

func writeTree(t *testing.T, dir string, tree map[string]string) {
	t.Helper()
	for name, content := range tree {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// writeArchive packs the tree as bug-report.tar.gz, entry names relative to its top directory.
func writeArchive(t *testing.T, path string, tree map[string]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for name, content := range tree {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []interface{ Close() error }{tw, gz, f} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadBugReport(t *testing.T) {
	tree := bugReportTree(t)
	dir := t.TempDir()
	writeTree(t, filepath.Join(dir, "unpacked"), tree)
	archive := filepath.Join(dir, "bug-report.tar.gz")
	writeArchive(t, archive, tree)

	for _, path := range []string{archive, filepath.Join(dir, "unpacked"), filepath.Join(dir, "unpacked", "bug-report")} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			if !IsBugReport(path) {
				t.Fatalf("%s not recognised as a bug report", path)
			}
			r, err := ReadFiles([]string{path}, DefaultReadConfig(), testNow)
			if err != nil {
				t.Fatal(err)
			}
			var pods []string
			for _, p := range r.Report.Pods {
				pods = append(pods, p.Key()+" "+strings.Join(p.Errors, ";"))
			}
			// The gateway holds only outputs the report does not read: it is listed with its error.
			wantPods := []string{
				"demo/curl-0 ",
				"istio-system/istio-ingressgateway-1 the bug report holds none of config_dump?include_eds, clusters, server_info, stats/prometheus, istio-proxy.log for pod istio-system/istio-ingressgateway-1",
				"shop/web-0 ",
			}
			if diff := cmp.Diff(wantPods, pods); diff != "" {
				t.Errorf("pods (-want +got):\n%s", diff)
			}
			var dests []string
			for _, d := range r.Report.Destinations {
				dests = append(dests, d.Host+":"+portString(d.Port)+" "+string(d.Disposition)+" "+strings.Join(d.Pods, ","))
			}
			// /clusters' PassthroughCluster host 1.2.3.4:443 is named api.stripe.com by the log.
			want := []string{
				"13.249.75.75:443 blocked shop/web-0",
				"api.stripe.com:443 passthrough demo/curl-0",
			}
			for _, w := range want {
				found := false
				for _, d := range dests {
					found = found || d == w
				}
				if !found {
					t.Errorf("destination %q missing from %q", w, dests)
				}
			}
			found := false
			for _, e := range r.Report.Endpoints {
				found = found || e.Cluster == clusterPassthrough && e.Address == "1.2.3.4:443" && e.Source == EndpointSourceClusters
			}
			if !found {
				t.Errorf("plain /clusters host of PassthroughCluster not read: %+v", r.Report.Endpoints)
			}
			curl := r.Report.Pods[0]
			if curl.IstioVersion != "1.28.0" || curl.AccessLog.Entries == 0 || curl.OutboundMode != ModeAllowAny {
				t.Errorf("curl-0 facts: %+v", curl)
			}
		})
	}
}
