package inspect

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"sigs.k8s.io/yaml"
)

// corpusDir holds real captures that no one here wrote, each with <file>.expect.yaml: what is
// certain about it, from the capture itself or from istioctl's reading of it (SOURCES.md).
const corpusDir = "../fixtures/real"

// expectation is a <file>.expect.yaml. Only what it states is checked.
type expectation struct {
	Source  string `json:"source"`
	Kind    string `json:"kind"`
	Istio   string `json:"istio"`
	Certain bool   `json:"certain"`
	// Istioctl is istioctl's reading: proxy-config cluster names (or the error it gave) and
	// proxy-config endpoint's hosts.
	Istioctl struct {
		Clusters  []string       `json:"clusters"`
		Endpoints []hostExpected `json:"endpoints"`
		Error     string         `json:"error"`
	} `json:"istioctl"`
	// IstioctlEDS is `istioctl proxy-config eds --file` on a dump with endpoint configs.
	IstioctlEDS  []hostExpected `json:"istioctl_eds"`
	IstioVersion string         `json:"istio_version"`
	OutboundMode string         `json:"outbound_mode"`
	FromSource   *struct {
		Clusters        []string `json:"clusters"`
		Listeners       int      `json:"listeners"`
		RouteConfigs    int      `json:"route_configs"`
		EndpointConfigs int      `json:"endpoint_configs"`
	} `json:"from_source"`
	ClustersOutput struct {
		Hosts []hostExpected `json:"hosts"`
	} `json:"clusters_output"`
	AccessLog *struct {
		Lines   int `json:"lines"`
		Entries []struct {
			Line   int `json:"line"`
			Expect struct {
				Disposition string   `json:"disposition"`
				Host        string   `json:"host"`
				Port        uint32   `json:"port"`
				Uncertain   []string `json:"uncertain"`
			} `json:"expect"`
		} `json:"entries"`
	} `json:"access_log"`
	Stats *struct {
		Blackhole   *clusterCounts `json:"blackhole"`
		Passthrough *clusterCounts `json:"passthrough"`
	} `json:"stats"`
}

type hostExpected struct {
	Cluster string `json:"cluster"`
	Address string `json:"address"`
}

type clusterCounts struct {
	Connections *int64 `json:"connections"`
	Requests    *int64 `json:"requests"`
}

// corpus lists the captures with their expectations.
func corpus(t *testing.T) map[string]expectation {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.expect.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no expectations in %s: %v", corpusDir, err)
	}
	out := map[string]expectation{}
	for _, f := range files {
		var e expectation
		if err := yaml.UnmarshalStrict(readFile(t, f), &e); err != nil {
			// Expectations carry notes and fields the test does not read: only fail on bad YAML.
			if err := yaml.Unmarshal(readFile(t, f), &e); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
		out[strings.TrimSuffix(filepath.Base(f), ".expect.yaml")] = e
	}
	return out
}

// TestCorpus holds the plugin to every certain expectation of every real capture.
func TestCorpus(t *testing.T) {
	checked := 0
	for name, want := range corpus(t) {
		t.Run(name, func(t *testing.T) {
			raw := readFile(t, filepath.Join(corpusDir, name))
			check := func(what string, diff string) {
				checked++
				if diff != "" {
					t.Errorf("%s (-want +got):\n%s", what, diff)
				}
			}
			switch want.Kind {
			case "config_dump", "endpoints_dump":
				checkDump(t, raw, want, check)
			case "clusters_json", "clusters_text":
				rep, err := Inspect(Sources{Pod: curlPod, Clusters: raw}, testNow)
				if err != nil {
					t.Fatal(err)
				}
				got := hostsOf(rep.Endpoints, EndpointSourceClusters)
				// The expectations list socket addresses; a pipe (unix://) host is checked by istioctl's list.
				check("/clusters hosts", cmp.Diff(sortedHosts(want.ClustersOutput.Hosts), socketHosts(got)))
				if want.Istioctl.Endpoints != nil {
					check("istioctl proxy-config endpoint hosts", cmp.Diff(sortedHosts(want.Istioctl.Endpoints), socketHosts(got)))
				}
			case "access_log":
				checkAccessLog(t, raw, want, check)
			case "stats_prometheus", "stats_raw":
				checkStats(t, raw, want, check)
			default:
				t.Fatalf("unknown kind %q", want.Kind)
			}
			checkFileRead(t, name, want, check)
		})
	}
	t.Logf("%d expectations checked", checked)
}

func checkDump(t *testing.T, raw []byte, want expectation, check func(string, string)) {
	pc, err := ParseConfigDump(raw)
	if err != nil {
		t.Fatalf("a dump istioctl or the source reads must decode: %v", err)
	}
	if want.IstioVersion != "" {
		check("Istio version", cmp.Diff(want.IstioVersion, nodeIstioVersion(pc.Node)))
	}
	rep, _ := Inspect(Sources{Pod: curlPod, ConfigDump: raw}, testNow)
	var clusters []string
	for _, c := range rep.Clusters {
		clusters = append(clusters, c.Name)
	}
	sort.Strings(clusters)
	if want.Istioctl.Error == "" {
		check("clusters as istioctl proxy-config cluster lists them", cmp.Diff(sorted(want.Istioctl.Clusters), clusters))
	}
	if fs := want.FromSource; fs != nil {
		check("clusters the dump holds", cmp.Diff(sorted(fs.Clusters), clusters, cmpopts.EquateEmpty()))
	}
	if want.IstioctlEDS != nil {
		check("endpoints as istioctl proxy-config eds lists them", cmp.Diff(sortedHosts(want.IstioctlEDS), hostsOf(rep.Endpoints, EndpointSourceEDS)))
	}
	if want.OutboundMode != "" {
		check("outbound mode", cmp.Diff(want.OutboundMode, rep.Facts.OutboundMode))
	}
}

func checkAccessLog(t *testing.T, raw []byte, want expectation, check func(string, string)) {
	al := want.AccessLog
	rep, err := Inspect(Sources{Pod: curlPod, AccessLog: bytes.NewReader(raw)}, testNow)
	check("lines read", cmp.Diff(al.Lines, rep.Facts.AccessLog.Lines))
	check("entries recognised", cmp.Diff(len(al.Entries), rep.Facts.AccessLog.Entries))
	if len(al.Entries) == 0 {
		check("a log with no entry alone is an error", cmp.Diff(true, err != nil))
		return
	}
	lines := physicalLines(raw)
	for i, entry := range al.Entries {
		end := len(lines)
		if i+1 < len(al.Entries) {
			end = al.Entries[i+1].Line - 1
		}
		text := strings.Join(lines[entry.Line-1:end], "\n")
		rep, err := Inspect(Sources{Pod: curlPod, AccessLog: strings.NewReader(text)}, testNow)
		if err != nil {
			t.Errorf("line %d: %v", entry.Line, err)
			continue
		}
		x := entry.Expect
		var got []string
		for _, d := range rep.Destinations {
			disp := string(d.Disposition)
			if slices.Contains(x.Uncertain, "disposition") {
				disp = x.Disposition
			}
			got = append(got, fmt.Sprintf("%s:%d %s", d.Host, d.Port, disp))
		}
		var wantDests []string
		switch x.Disposition {
		case "internal", "inbound":
			// Mesh-internal and inbound traffic is no external destination.
		default:
			wantDests = []string{fmt.Sprintf("%s:%d %s", x.Host, x.Port, x.Disposition)}
		}
		check(fmt.Sprintf("destination of line %d", entry.Line), cmp.Diff(wantDests, got))
	}
}

func checkStats(t *testing.T, raw []byte, want expectation, check func(string, string)) {
	st, err := ParseStats(raw)
	if err != nil {
		t.Fatal(err)
	}
	check("samples read", cmp.Diff(true, st.Samples > 0))
	for _, c := range []struct {
		cluster string
		want    *clusterCounts
	}{{clusterBlackHole, nil}, {clusterPassthrough, nil}} {
		if want.Stats != nil {
			c.want = map[string]*clusterCounts{clusterBlackHole: want.Stats.Blackhole, clusterPassthrough: want.Stats.Passthrough}[c.cluster]
		}
		got, ok := st.Clusters[c.cluster]
		if c.want == nil {
			check(c.cluster+" stats absent", cmp.Diff(false, ok))
			continue
		}
		check(c.cluster+" stats present", cmp.Diff(true, ok))
		if c.want.Connections != nil {
			check(c.cluster+" connections", cmp.Diff(*c.want.Connections, got.Connections))
		}
		if c.want.Requests != nil {
			check(c.cluster+" requests", cmp.Diff(*c.want.Requests, got.Requests))
		}
	}
}

// checkFileRead reads the capture as `inspect --file` does: it gives a report, or an error
// naming the file when it holds nothing to report; never an empty success.
func checkFileRead(t *testing.T, name string, want expectation, check func(string, string)) {
	path := filepath.Join(corpusDir, name)
	r, err := ReadFiles([]string{path}, DefaultReadConfig(), testNow)
	nothing := want.AccessLog != nil && len(want.AccessLog.Entries) == 0
	if fs := want.FromSource; fs != nil {
		// Route configurations alone name no destination: without clusters they are nothing to report.
		nothing = len(fs.Clusters) == 0 && fs.Listeners == 0 && fs.EndpointConfigs == 0
	}
	if nothing {
		check("--file of a capture with nothing to report fails", cmp.Diff(true, err != nil))
		if err != nil && !strings.Contains(err.Error(), name) {
			t.Errorf("the error does not name the file: %v", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("--file: %v", err)
	}
	p := r.Report.Pods[0]
	got := len(r.Report.Clusters) + len(r.Report.Endpoints) + p.AccessLog.Entries
	if got == 0 && p.OutboundMode == "" && len(r.Pods[0].Metrics) == 0 && len(p.Errors) == 0 && want.Stats == nil && !strings.HasPrefix(want.Kind, "stats") {
		t.Errorf("--file gave an empty report without an error")
	}
}

func physicalLines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

func hostsOf(eps []Endpoint, source string) []hostExpected {
	var out []hostExpected
	for _, e := range eps {
		if e.Source == source {
			out = append(out, hostExpected{Cluster: e.Cluster, Address: e.Address})
		}
	}
	return sortedHosts(out)
}

// socketHosts drops pipe addresses, which the expectations list apart.
func socketHosts(h []hostExpected) []hostExpected {
	var out []hostExpected
	for _, x := range h {
		if !strings.HasPrefix(x.Address, "unix://") {
			out = append(out, x)
		}
	}
	return out
}

func sortedHosts(h []hostExpected) []hostExpected {
	out := slices.Clone(h)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Cluster != out[j].Cluster {
			return out[i].Cluster < out[j].Cluster
		}
		return out[i].Address < out[j].Address
	})
	return out
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

// TestCorpusSize keeps the corpus at the size the issue asked for.
func TestCorpusSize(t *testing.T) {
	entries, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".expect.yaml") {
			n++
		}
	}
	if n < 30 {
		t.Errorf("%d captures with expectations, want at least 30", n)
	}
}
