package sidecar

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
)

func names(snap *Snapshot) (clusters, listeners, routes []string) {
	for _, c := range snap.Clusters {
		clusters = append(clusters, c.GetName())
	}
	for _, l := range snap.Listeners {
		listeners = append(listeners, l.GetName())
	}
	for n := range snap.Routes {
		routes = append(routes, n)
	}
	sort.Strings(clusters)
	sort.Strings(listeners)
	sort.Strings(routes)
	return
}

func TestConfigDumpKeepsIstiodResources(t *testing.T) {
	samples, err := filepath.Glob(filepath.Join(samplesDir, "istiod", "*.json"))
	if err != nil || len(samples) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, path := range samples {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			in := loadSample(t, name)
			sb := startOffline(t, in, Config{})
			body := sb.mustGet(t, "/config_dump?include_eds")
			// Strict parse: every Any must resolve, snake_case must be what protojson expects.
			dump := &adminv3.ConfigDump{}
			if err := protojson.Unmarshal([]byte(body), dump); err != nil {
				t.Fatalf("config dump does not parse as admin.v3.ConfigDump: %v", err)
			}
			var types []string
			for _, c := range dump.GetConfigs() {
				types = append(types, strings.TrimPrefix(c.GetTypeUrl(), "type.googleapis.com/envoy.admin.v3."))
			}
			wantTypes := []string{"BootstrapConfigDump", "ClustersConfigDump", "EndpointsConfigDump", "ListenersConfigDump", "ScopedRoutesConfigDump", "RoutesConfigDump", "SecretsConfigDump"}
			if diff := cmp.Diff(wantTypes, types); diff != "" {
				t.Errorf("sections (-want +got):\n%s", diff)
			}
			if !strings.Contains(body, "\n \"configs\": [\n  {\n   \"@type\"") {
				t.Errorf("not Envoy's one-space indented layout:\n%.200s", body)
			}
			if strings.Contains(body, "dynamicActiveClusters") || !strings.Contains(body, "dynamic_active_clusters") {
				t.Error("field names are not snake_case")
			}
			out, err := LoadConfigDump([]byte(body))
			if err != nil {
				t.Fatal(err)
			}
			wc, wl, wr := names(in)
			gc, gl, gr := names(out)
			if diff := cmp.Diff(wc, gc); diff != "" {
				t.Errorf("clusters (-istiod +stand-in):\n%s", diff)
			}
			if diff := cmp.Diff(wl, gl); diff != "" {
				t.Errorf("listeners (-istiod +stand-in):\n%s", diff)
			}
			if diff := cmp.Diff(wr, gr); diff != "" {
				t.Errorf("routes (-istiod +stand-in):\n%s", diff)
			}
			boot := &adminv3.BootstrapConfigDump{}
			if err := dump.GetConfigs()[0].UnmarshalTo(boot); err != nil {
				t.Fatal(err)
			}
			if v := boot.GetBootstrap().GetNode().GetMetadata().GetFields()["ISTIO_VERSION"].GetStringValue(); v != "1.31.1" {
				t.Errorf("bootstrap node ISTIO_VERSION = %q", v)
			}
		})
	}
}

func TestLoadRealEnvoyDump(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(samplesDir, "istio-sidecar-config_dump-with-eds.json"))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := LoadConfigDump(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Endpoints) < 10 {
		t.Errorf("read %d endpoint configs from a real Envoy's snake_case dump", len(snap.Endpoints))
	}
}

func TestConfigDumpQuery(t *testing.T) {
	sb := startOffline(t, loadSample(t, "se-tls.json"), Config{})
	tests := []struct {
		name     string
		path     string
		wantCode int
		check    func(t *testing.T, body string)
	}{
		{"resource with mask reaches into the Any", "/config_dump?resource=dynamic_active_clusters&mask=cluster.name,cluster.type", 200, func(t *testing.T, body string) {
			dump := &adminv3.ConfigDump{}
			if err := protojson.Unmarshal([]byte(body), dump); err != nil {
				t.Fatal(err)
			}
			if len(dump.GetConfigs()) != 5 {
				t.Fatalf("got %d clusters", len(dump.GetConfigs()))
			}
			for _, a := range dump.GetConfigs() {
				dc := &adminv3.ClustersConfigDump_DynamicCluster{}
				if err := a.UnmarshalTo(dc); err != nil {
					t.Fatalf("element is %s: %v", a.GetTypeUrl(), err)
				}
				c := &clusterv3.Cluster{}
				if err := dc.GetCluster().UnmarshalTo(c); err != nil {
					t.Fatal(err)
				}
				if c.GetName() == "" || c.GetConnectTimeout() != nil || dc.GetLastUpdated() != nil {
					t.Errorf("mask not applied: %v", dc)
				}
			}
		}},
		{"name_regex selects the listener", "/config_dump?resource=dynamic_listeners&name_regex=virtualOutbound", 200, func(t *testing.T, body string) {
			if n := strings.Count(body, "DynamicListener\""); n != 1 || !strings.Contains(body, `"name": "virtualOutbound"`) {
				t.Errorf("want only virtualOutbound:\n%.500s", body)
			}
		}},
		{"unknown resource", "/config_dump?resource=dynamic_foo", 404, func(t *testing.T, body string) {
			if body != "dynamic_foo not found in config dump" {
				t.Errorf("body %q", body)
			}
		}},
		{"non-repeated resource", "/config_dump?resource=version_info", 400, nil},
		{"invalid mask", "/config_dump?resource=dynamic_active_clusters&mask=cluster.nope", 400, nil},
		{"bad regex", "/config_dump?name_regex=(", 400, nil},
		{"mask on the whole dump keeps matching sections", "/config_dump?mask=version_info", 200, func(t *testing.T, body string) {
			if strings.Contains(body, "dynamic_active_clusters") || !strings.Contains(body, `"version_info"`) {
				t.Errorf("mask not applied:\n%.500s", body)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := sb.get(t, tc.path)
			if code != tc.wantCode {
				t.Fatalf("GET %s = %d, want %d: %s", tc.path, code, tc.wantCode, body)
			}
			if tc.check != nil {
				tc.check(t, body)
			}
		})
	}
}

func TestClustersEndpoint(t *testing.T) {
	clock := newFakeClock()
	calls := []Call{call(SchemeHTTPS, "httpbin.org", 443), call(SchemeHTTPS, "edition.cnn.com", 443)}
	sb := startOffline(t, loadSample(t, "se-tls.json"), Config{Calls: calls, Now: clock.Now})
	if err := sb.Replay(context.Background()); err != nil {
		t.Fatal(err)
	}
	hostsOf := func() map[string][]string {
		got := &adminv3.Clusters{}
		if err := protojson.Unmarshal([]byte(sb.mustGet(t, "/clusters?format=json")), got); err != nil {
			t.Fatal(err)
		}
		out := map[string][]string{}
		for _, cs := range got.GetClusterStatuses() {
			for _, h := range cs.GetHostStatuses() {
				sa := h.GetAddress().GetSocketAddress()
				out[cs.GetName()] = append(out[cs.GetName()], h.GetHostname()+"@"+sa.GetAddress()+":"+strconv.Itoa(int(sa.GetPortValue())))
				if h.GetHealthStatus() == nil || len(h.GetStats()) == 0 {
					t.Errorf("host without health or stats: %v", h)
				}
			}
		}
		return out
	}
	h := hostsOf()
	if diff := cmp.Diff([]string{"@203.0.113.20:443"}, h["PassthroughCluster"]); diff != "" {
		t.Errorf("PassthroughCluster hosts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"httpbin.org@203.0.113.10:443"}, h["outbound|443||httpbin.org"]); diff != "" {
		t.Errorf("STRICT_DNS hosts (-want +got):\n%s", diff)
	}
	if len(h["BlackHoleCluster"]) != 0 {
		t.Errorf("BlackHoleCluster has hosts: %v", h["BlackHoleCluster"])
	}
	clock.Advance(6 * time.Second) // past the ORIGINAL_DST cleanup interval
	if h := hostsOf(); len(h["PassthroughCluster"]) != 0 {
		t.Errorf("idle original destination still listed: %v", h["PassthroughCluster"])
	}
	text := sb.mustGet(t, "/clusters")
	if !strings.Contains(text, "outbound|443||httpbin.org::203.0.113.10:443::cx_total::1\n") ||
		!strings.Contains(text, "outbound|443||httpbin.org::added_via_api::true\n") {
		t.Errorf("text /clusters:\n%s", text)
	}
}

func TestServerInfoAndReady(t *testing.T) {
	sb := startOffline(t, loadSample(t, "allow-any.json"), Config{IstioVersion: "1.24.2"})
	info := &adminv3.ServerInfo{}
	if err := protojson.Unmarshal([]byte(sb.mustGet(t, "/server_info")), info); err != nil {
		t.Fatal(err)
	}
	if info.GetState() != adminv3.ServerInfo_LIVE || !strings.Contains(info.GetVersion(), "/1.32.0-dev/Clean/RELEASE/BoringSSL") {
		t.Errorf("server_info: state %v version %q", info.GetState(), info.GetVersion())
	}
	if v := info.GetNode().GetMetadata().GetFields()["ISTIO_VERSION"].GetStringValue(); v != "1.24.2" {
		t.Errorf("ISTIO_VERSION = %q", v)
	}
	if got := info.GetNode().GetId(); got != "sidecar~10.0.0.1~curl-0.demo~demo.svc.cluster.local" {
		t.Errorf("node id %q", got)
	}
	if body := sb.mustGet(t, "/ready"); body != "LIVE\n" {
		t.Errorf("/ready = %q", body)
	}
	if code, _ := sb.get(t, "/nope"); code != http.StatusNotFound {
		t.Errorf("unknown path: %d", code)
	}
}

func TestExcludedCIDRsBypassTheProxy(t *testing.T) {
	c := call(SchemeHTTPS, "httpbin.org", 443)
	sb := startOffline(t, withIstioStats(t, loadSample(t, "allow-any.json")), Config{
		Calls: []Call{c}, ExcludedCIDRs: []string{"203.0.113.0/24"}, ClusterStatsPrefixes: []string{"cluster.PassthroughCluster"},
	})
	if err := sb.Replay(context.Background()); err != nil {
		t.Fatal(err)
	}
	if lines := sb.accessLogLines(t); len(lines) != 0 {
		t.Errorf("excluded call logged: %q", lines)
	}
	if body := sb.mustGet(t, "/stats?usedonly&filter=Passthrough"); body != "" {
		t.Errorf("excluded call counted:\n%s", body)
	}
}
