package sidecar

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	xdstypev3 "github.com/cncf/xds/go/xds/type/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// fakeClock is a settable clock for deterministic timestamps.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// offlineSidecar is a stand-in whose config comes from a snapshot instead of istiod, with its
// admin API on an httptest server.
type offlineSidecar struct {
	*Sidecar
	url     string
	logPath string
}

func startOffline(t *testing.T, snap *Snapshot, cfg Config) *offlineSidecar {
	t.Helper()
	if cfg.Namespace == "" {
		cfg.Namespace, cfg.Name, cfg.IP = "demo", "curl-0", "10.0.0.1"
		cfg.Labels = map[string]string{"app": "curl"}
	}
	if cfg.LogPath == "" {
		cfg.LogPath = filepath.Join(t.TempDir(), "istio-proxy.log")
	}
	if cfg.Now == nil {
		cfg.Now = newFakeClock().Now
	}
	if cfg.Hosts == nil {
		cfg.Hosts = testDNS
	}
	s, err := newSidecar(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if snap != nil {
		s.state = stateFromSnapshot(snap)
	}
	if err := s.alog.open(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.adminHandler())
	t.Cleanup(func() {
		srv.Close()
		s.alog.close()
	})
	return &offlineSidecar{Sidecar: s, url: srv.URL, logPath: cfg.LogPath}
}

func (o *offlineSidecar) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(o.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func (o *offlineSidecar) mustGet(t *testing.T, path string) string {
	t.Helper()
	code, body := o.get(t, path)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	return body
}

// accessLogLines returns the access-log payloads of the CRI log (agent lines skipped).
func (o *offlineSidecar) accessLogLines(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(o.logPath)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	if len(b) == 0 {
		return nil
	}
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		parts := strings.SplitN(l, " ", 4)
		if len(parts) != 4 || parts[2] != "F" {
			t.Fatalf("not a CRI log line: %q", l)
		}
		if strings.HasPrefix(parts[3], "[") || strings.HasPrefix(parts[3], "{") {
			out = append(out, parts[3])
		}
	}
	return out
}

// withIstioStats adds the istio.stats filters istiod generates when the mesh config has
// defaultProviders.metrics [prometheus] (the istiod samples were taken without it).
func withIstioStats(t *testing.T, snap *Snapshot) *Snapshot {
	t.Helper()
	ts, err := anypb.New(&xdstypev3.TypedStruct{TypeUrl: "type.googleapis.com/stats.PluginConfig"})
	if err != nil {
		t.Fatal(err)
	}
	raw := map[string][]*entry{}
	for typ, es := range snap.raw {
		if typ != typeListener {
			raw[typ] = es
			continue
		}
		for _, e := range es {
			l := &listenerv3.Listener{}
			if err := e.raw.UnmarshalTo(l); err != nil {
				t.Fatal(err)
			}
			chains := append([]*listenerv3.FilterChain{}, l.GetFilterChains()...)
			if l.GetDefaultFilterChain() != nil {
				chains = append(chains, l.GetDefaultFilterChain())
			}
			for _, fc := range chains {
				var filters []*listenerv3.Filter
				for _, f := range fc.GetFilters() {
					h := &hcmv3.HttpConnectionManager{}
					if f.GetTypedConfig().MessageIs(h) {
						if err := f.GetTypedConfig().UnmarshalTo(h); err != nil {
							t.Fatal(err)
						}
						h.HttpFilters = append([]*hcmv3.HttpFilter{{Name: istioStatsFilter, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: ts}}}, h.HttpFilters...)
						f.ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(h)}
					} else if f.GetName() == "envoy.filters.network.tcp_proxy" {
						filters = append(filters, &listenerv3.Filter{Name: istioStatsFilter, ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: ts}})
					}
					filters = append(filters, f)
				}
				fc.Filters = filters
			}
			cp := *e
			cp.raw = mustAny(l)
			raw[typ] = append(raw[typ], &cp)
		}
	}
	out, err := newSnapshot(raw, snap.versions)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
