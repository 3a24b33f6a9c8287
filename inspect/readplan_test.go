package inspect

import (
	"context"
	"errors"
	"net/url"
	"os"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// statsOf is a /stats/prometheus text of a proxy holding clusters clusters, with the given
// extra sample lines.
func statsOf(clusters int, lines ...string) []byte {
	text := "# TYPE envoy_cluster_manager_active_clusters gauge\n" +
		"envoy_cluster_manager_active_clusters{} " + strconv.Itoa(clusters) + "\n" +
		"# TYPE istio_tcp_connections_opened_total counter\n" + strings.Join(lines, "\n") + "\n"
	return []byte(text)
}

// Samples of Istio's TCP metric: connections through PassthroughCluster, and to a registered host.
const (
	passthroughSample = `istio_tcp_connections_opened_total{reporter="source",destination_service="unknown",destination_service_name="PassthroughCluster"} 2`
	registeredSample  = `istio_tcp_connections_opened_total{reporter="source",destination_service="api1.saas.example",destination_service_name="api1.saas.example"} 3`
)

// listenerPart is the virtualOutbound read of a proxy, from one of istiod's real pushes: with
// an access log (meshConfig accessLogFile) or without.
func listenerPart(t *testing.T, logs bool) Part {
	t.Helper()
	file := "../fixtures/samples/istio-sidecar-config_dump-with-eds.json"
	if logs {
		file = "../fixtures/samples/istiod/registry-only.json"
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return Part{Name: "/" + VirtualOutboundConfigPath, Data: b}
}

func paths(reads []adminRead) []string {
	var p []string
	for _, r := range reads {
		p = append(p, r.path)
	}
	return p
}

// clustersRegex is the name_regex a traffic read's cluster read asks for.
func clustersRegex(t *testing.T, reads []adminRead) *regexp.Regexp {
	t.Helper()
	for _, r := range reads {
		if rest, ok := strings.CutPrefix(r.path, ClustersConfigPath+"&name_regex="); ok {
			re, err := url.QueryUnescape(rest)
			if err != nil {
				t.Fatal(err)
			}
			return regexp.MustCompile(re)
		}
	}
	t.Fatalf("no cluster read by name among %v", paths(reads))
	return nil
}

func TestPlanReadsWholeUnlessBig(t *testing.T) {
	tests := []struct {
		name    string
		scope   ConfigScope
		stats   []byte
		traffic bool
	}{
		{"auto, a small proxy", ConfigAuto, statsOf(TrafficPlanClusters, passthroughSample), false},
		{"auto, a big proxy", ConfigAuto, statsOf(TrafficPlanClusters+1, passthroughSample), true},
		{"auto, stats without the count", ConfigAuto, []byte(passthroughSample + "\n"), false},
		{"auto, no stats", ConfigAuto, nil, false},
		{"the zero scope is auto", "", statsOf(5000), true},
		{"all, a big proxy", ConfigAll, statsOf(5000), false},
		{"traffic, a small proxy", ConfigTraffic, statsOf(12), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &Sources{Stats: tt.stats, MoreConfig: []Part{listenerPart(t, true)}}
			reads, traffic := planReads(src, ConfigRead{Scope: tt.scope})
			if traffic != tt.traffic {
				t.Fatalf("traffic = %v, want %v (reads %v)", traffic, tt.traffic, paths(reads))
			}
			if !traffic && !slices.Equal(paths(reads), paths(wholeReads)) {
				t.Errorf("reads %v, want the whole read %v", paths(reads), paths(wholeReads))
			}
		})
	}
}

func TestTrafficReadNamesTheClustersOfTheTraffic(t *testing.T) {
	stats := statsOf(5012,
		registeredSample,
		`istio_tcp_connections_opened_total{reporter="source",destination_service="api9.saas.example",destination_service_name="api9.saas.example"} 0`,
		`istio_tcp_connections_opened_total{reporter="source",destination_service="istio-egressgateway.istio-system.svc.cluster.local",destination_service_name="istio-egressgateway"} 1`,
		`istio_tcp_connections_opened_total{reporter="source",destination_service="10.0.0.9",destination_service_name="10.0.0.9"} 1`,
		`istio_tcp_connections_opened_total{reporter="source",destination_service="api7.saas.example:443",destination_service_name="api7.saas.example"} 2`,
		"# TYPE envoy_cluster_upstream_cx_total counter",
		`envoy_cluster_upstream_cx_total{cluster_name="outbound|8443|v1|api.partner.example"} 4`,
		`envoy_cluster_upstream_cx_total{cluster_name="outbound|8443||idle.partner.example"} 0`,
	)
	src := &Sources{Stats: stats, MoreConfig: []Part{listenerPart(t, true)}}
	reads, traffic := planReads(src, ConfigRead{Hosts: []string{"api.fixed.example"}})
	if !traffic {
		t.Fatalf("a proxy of 5012 clusters is read whole (%v)", paths(reads))
	}
	re := clustersRegex(t, reads)
	for name, want := range map[string]bool{
		"PassthroughCluster":                                               true,
		"BlackHoleCluster":                                                 true,
		"AllowAnyDynamicDNSCluster":                                        true,
		"outbound|443||api1.saas.example":                                  true,
		"outbound|80|v2|api1.saas.example":                                 true, // any port and subset of a named host
		"outbound|443||api9.saas.example":                                  false,
		"outbound|443||api7.saas.example":                                  true, // destination_service with a port
		"outbound|443||istio-egressgateway.istio-system.svc.cluster.local": true,
		"outbound|8443|v1|api.partner.example":                             true,
		"outbound|8443||idle.partner.example":                              false,
		"outbound|443||api.fixed.example":                                  true, // ConfigRead.Hosts
		"outbound|443||xapi1.saas.example":                                 false,
		"outbound|443||api1.saas.example.evil":                             false,
		"outbound|443||api1XsaasXexample":                                  false, // dots are quoted
		"inbound|8080||":                                                   false,
		"inbound-vip|80|http|api1.saas.example":                            true, // a waypoint's
		"inbound-vip|80|http|api9.saas.example":                            false,
	} {
		if got := re.MatchString(name); got != want {
			t.Errorf("%s: read = %v, want %v (regex %s)", name, got, want, re)
		}
	}
	for _, p := range paths(reads) {
		if p == RoutesConfigPath || p == OutboundListenersConfigPath || p == ClusterStatusPath {
			t.Errorf("a traffic read of a proxy that logs reads %s", p)
		}
	}
}

// /clusters is the only source of passthrough destinations when nothing logs them.
func TestTrafficReadsClusterHostsOnlyWithoutAccessLog(t *testing.T) {
	tests := []struct {
		name  string
		logs  bool
		stats []byte
		want  bool
	}{
		{"passthrough, logged", true, statsOf(5000, passthroughSample), false},
		{"passthrough, not logged", false, statsOf(5000, passthroughSample), true},
		{"registered only, not logged", false, statsOf(5000, registeredSample), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &Sources{Stats: tt.stats, MoreConfig: []Part{listenerPart(t, tt.logs)}}
			reads, _ := planReads(src, ConfigRead{Scope: ConfigTraffic})
			if got := slices.Contains(paths(reads), ClusterStatusPath); got != tt.want {
				t.Errorf("reads /clusters = %v, want %v: %v", got, tt.want, paths(reads))
			}
		})
	}
}

func TestTrafficReadOfTooManyHostsReadsEveryCluster(t *testing.T) {
	var hosts []string
	for i := range 2000 {
		hosts = append(hosts, "api"+strconv.Itoa(i)+".saas.example")
	}
	reads, traffic := planReads(&Sources{Stats: statsOf(5000)}, ConfigRead{Scope: ConfigTraffic, Hosts: hosts})
	if !traffic || !slices.Contains(paths(reads), ClustersConfigPath) {
		t.Errorf("reads %v, want every cluster (%s)", paths(reads), ClustersConfigPath)
	}
}

func TestActiveClustersInBothStatsForms(t *testing.T) {
	for name, text := range map[string]string{
		"prometheus": "# TYPE envoy_cluster_manager_active_clusters gauge\nenvoy_cluster_manager_active_clusters{} 5012\n",
		"raw":        "cluster_manager.active_clusters: 5012\ncluster.PassthroughCluster.upstream_cx_total: 3\n",
	} {
		st, err := ParseStats([]byte(text))
		if err != nil || st.ActiveClusters != 5012 {
			t.Errorf("%s: ActiveClusters %d, err %v; want 5012", name, st.ActiveClusters, err)
		}
	}
}

// scriptedAdmin answers each path with answer, and remembers what was asked.
type scriptedAdmin struct {
	mu     sync.Mutex
	asked  []string
	answer func(path string) ([]byte, error)
}

func (a *scriptedAdmin) Get(_ context.Context, path string) ([]byte, error) {
	a.mu.Lock()
	a.asked = append(a.asked, strings.TrimPrefix(path, "/"))
	a.mu.Unlock()
	return a.answer(strings.TrimPrefix(path, "/"))
}

func TestReadAdminWaves(t *testing.T) {
	big := statsOf(5000, registeredSample)
	tests := []struct {
		name        string
		scope       ConfigScope
		answer      func(path string) ([]byte, error)
		wantAsked   int
		wantTraffic bool
	}{
		{"all: one wave of every read", ConfigAll, func(string) ([]byte, error) { return big, nil }, len(firstReads) + len(wholeReads), false},
		{"auto, a big proxy: the first reads, then the clusters by name", ConfigAuto, func(p string) ([]byte, error) {
			if p == StatsPath {
				return big, nil
			}
			return []byte("{}"), nil
		}, len(firstReads) + 1, true},
		{"auto, every first read refused by policy: no second wave", ConfigAuto, func(string) ([]byte, error) {
			return nil, errors.New("admin API answered 403 Forbidden: denied")
		}, len(firstReads), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			admin := &scriptedAdmin{answer: tt.answer}
			var src Sources
			ReadAdmin(context.Background(), admin, &src, ConfigRead{Scope: tt.scope})
			if len(admin.asked) != tt.wantAsked {
				t.Errorf("asked %d paths, want %d: %v", len(admin.asked), tt.wantAsked, admin.asked)
			}
			if got := src.ConfigScope == ConfigTraffic; got != tt.wantTraffic {
				t.Errorf("ConfigScope %q, want traffic %v", src.ConfigScope, tt.wantTraffic)
			}
		})
	}
}

// Envoy compiles name_regex with RE2 and refuses a program of more than
// re2.max_program_size.error_level instructions (32768 in Istio's bootstrap). Go's regexp/syntax
// compiles RE2 syntax to the same kind of program: the largest regex a traffic read sends stays
// under half of it.
func TestTrafficRegexFitsEnvoysRE2Limit(t *testing.T) {
	var hosts []string
	re := ""
	for i := 0; ; i++ {
		next := trafficClustersRegex(Stats{}, append(hosts, "service-"+strconv.Itoa(i)+".api.example.com"))
		if next == "" {
			break
		}
		hosts, re = append(hosts, "service-"+strconv.Itoa(i)+".api.example.com"), next
	}
	parsed, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(prog.Inst); n > 32768/2 {
		t.Errorf("a name_regex of %d hosts (%d bytes) compiles to %d instructions", len(hosts), len(re), n)
	} else {
		t.Logf("%d hosts, %d bytes, %d instructions", len(hosts), len(re), n)
	}
}

// An IP-only host is tied to its ServiceEntry's cluster only by the listener bound to its IP: a
// traffic read about an IP (verify's host, or a metric's destination) reads that listener.
func TestTrafficReadsTheListenersOfItsIPs(t *testing.T) {
	stats := statsOf(5000, `istio_tcp_connections_opened_total{reporter="source",destination_service="203.0.113.9:443",destination_service_name="PassthroughCluster"} 1`)
	reads, _ := planReads(&Sources{Stats: stats}, ConfigRead{Scope: ConfigTraffic, Hosts: []string{"198.51.100.7", "2001:db8::7", "api.example.com"}})
	var re *regexp.Regexp
	for _, r := range reads {
		if rest, ok := strings.CutPrefix(r.path, "config_dump?resource=dynamic_listeners&name_regex="); ok {
			s, err := url.QueryUnescape(rest)
			if err != nil {
				t.Fatal(err)
			}
			re = regexp.MustCompile(s)
		}
	}
	if re == nil {
		t.Fatalf("no listener read by name among %v", paths(reads))
	}
	for name, want := range map[string]bool{
		"198.51.100.7_8443":  true,
		"[2001:db8::7]_8443": true,
		"203.0.113.9_443":    true,
		"198.51.100.70_8443": false,
		"198x51.100.7_8443":  false,
		"0.0.0.0_8443":       false,
		"virtualOutbound":    false,
	} {
		if got := re.MatchString(name); got != want {
			t.Errorf("%s: read = %v, want %v (regex %s)", name, got, want, re)
		}
	}
	if reads, _ := planReads(&Sources{Stats: statsOf(5000)}, ConfigRead{Scope: ConfigTraffic, Hosts: []string{"api.example.com"}}); slices.ContainsFunc(reads, func(r adminRead) bool {
		return strings.Contains(r.path, "resource=dynamic_listeners")
	}) {
		t.Errorf("a read about no IP reads listeners: %v", paths(reads))
	}
}
