package sidecar

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
)

// fakeIstiod is an ADS server with istiod's SotW semantics: it answers a request whose nonce
// is empty or current and whose subscription changed, treats the rest as ACKs, sends EDS and
// RDS only for subscribed names, and can push new config to every stream.
type fakeIstiod struct {
	discoveryv3.UnimplementedAggregatedDiscoveryServiceServer

	mu        sync.Mutex
	resources map[string][]*entry
	version   int
	rejects   int // streams still to refuse with ResourceExhausted
	streams   map[*fakeStream]bool
	requests  []string // "TYPE names=[..] version=V nonce=N node=bool"
}

type fakeStream struct {
	mu    sync.Mutex
	srv   discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesServer
	subs  map[string][]string
	nonce map[string]string
	n     int
}

func newFakeIstiod(t *testing.T, snap *Snapshot) (*fakeIstiod, string) {
	t.Helper()
	f := &fakeIstiod{streams: map[*fakeStream]bool{}}
	f.set(snap)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(gs, f)
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	return f, ln.Addr().String()
}

func (f *fakeIstiod) set(snap *Snapshot) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resources = snap.raw
	f.version++
}

func (f *fakeIstiod) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

func (f *fakeIstiod) StreamAggregatedResources(srv discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesServer) error {
	f.mu.Lock()
	if f.rejects > 0 {
		f.rejects--
		f.mu.Unlock()
		return status.Error(codes.ResourceExhausted, "request rate limit exceeded")
	}
	s := &fakeStream{srv: srv, subs: map[string][]string{}, nonce: map[string]string{}}
	f.streams[s] = true
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.streams, s)
		f.mu.Unlock()
	}()
	for {
		req, err := srv.Recv()
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.requests = append(f.requests, fmt.Sprintf("%s names=%v version=%s nonce=%s node=%t",
			shortType(req.GetTypeUrl()), req.GetResourceNames(), req.GetVersionInfo(), req.GetResponseNonce(), req.GetNode() != nil))
		f.mu.Unlock()
		s.mu.Lock()
		t := req.GetTypeUrl()
		if n := req.GetResponseNonce(); n != "" && n != s.nonce[t] {
			s.mu.Unlock()
			continue // stale
		}
		prev, subscribed := s.subs[t]
		s.subs[t] = req.GetResourceNames()
		changed := !subscribed || !slices.Equal(prev, req.GetResourceNames())
		s.mu.Unlock()
		if changed {
			if err := f.send(s, t); err != nil {
				return err
			}
		}
	}
}

func (f *fakeIstiod) send(s *fakeStream, t string) error {
	f.mu.Lock()
	version := fmt.Sprintf("2026-11-21T10:00:00Z/%d", f.version)
	all := f.resources[t]
	f.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	var res []*anypb.Any
	names := s.subs[t]
	for _, e := range all {
		if (t == typeEndpoint || t == typeRoute) && !slices.Contains(names, e.name) {
			continue
		}
		res = append(res, e.raw)
	}
	s.n++
	nonce := fmt.Sprintf("%s-%d", shortType(t), s.n)
	s.nonce[t] = nonce
	return s.srv.Send(&discoveryv3.DiscoveryResponse{TypeUrl: t, VersionInfo: version, Nonce: nonce, Resources: res})
}

// push sends the current config to every stream, CDS and LDS first as istiod does.
func (f *fakeIstiod) push() error {
	f.mu.Lock()
	var streams []*fakeStream
	for s := range f.streams {
		streams = append(streams, s)
	}
	f.mu.Unlock()
	for _, s := range streams {
		for _, t := range []string{typeCluster, typeEndpoint, typeListener, typeRoute} {
			s.mu.Lock()
			_, ok := s.subs[t]
			s.mu.Unlock()
			if ok {
				if err := f.send(s, t); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startLive(t *testing.T, addr string, calls []Call) (*Sidecar, string) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "istio-proxy.log")
	s, err := Start(context.Background(), Config{
		Namespace: "demo", Name: "curl-0", IP: "10.0.0.1", Labels: map[string]string{"app": "curl"},
		XDSAddr: addr, AdminAddr: "127.0.0.1:0", LogPath: logPath, Calls: calls, Hosts: testDNS,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	return s, logPath
}

func TestADSSubscribesLikeEnvoy(t *testing.T) {
	f, addr := newFakeIstiod(t, loadSample(t, "egress-gateway.json"))
	s, logPath := startLive(t, addr, []Call{call(SchemeHTTPS, "edition.cnn.com", 443)})

	eds := "[outbound|443|cnn|istio-egressgateway.istio-system.svc.cluster.local outbound|443||istio-egressgateway.istio-system.svc.cluster.local outbound|443||kubernetes.default.svc.cluster.local outbound|80|cnn|istio-egressgateway.istio-system.svc.cluster.local outbound|80||istio-egressgateway.istio-system.svc.cluster.local]"
	want := []string{
		"CDS names=[] version= nonce= node=true",
		"EDS names=" + eds + " version= nonce= node=false",
		"CDS names=[] version=2026-11-21T10:00:00Z/1 nonce=CDS-1 node=false",
		"EDS names=" + eds + " version=2026-11-21T10:00:00Z/1 nonce=EDS-2 node=false",
		"LDS names=[] version= nonce= node=false",
		"RDS names=[80] version= nonce= node=false",
		"LDS names=[] version=2026-11-21T10:00:00Z/1 nonce=LDS-3 node=false",
		"RDS names=[80] version=2026-11-21T10:00:00Z/1 nonce=RDS-4 node=false",
	}
	waitFor(t, "all ACKs", func() bool { return len(f.log()) >= len(want) })
	reqs := f.log()
	if got := strings.Join(reqs[:len(want)], "\n"); got != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}

	// The calls ran once synced: to the egress gateway's subset cluster.
	waitFor(t, "the first replay's log line", func() bool {
		b, _ := os.ReadFile(logPath)
		return strings.Contains(string(b), "outbound|443|cnn|istio-egressgateway.istio-system.svc.cluster.local")
	})

	// istiod pushes a new mesh config: REGISTRY_ONLY, no ServiceEntry.
	f.set(loadSample(t, "registry-only.json"))
	if err := f.push(); err != nil {
		t.Fatal(err)
	}
	// The push is whole once the listeners are in too (CDS and EDS come first): routes the
	// listeners no longer name are gone then, as are endpoints of removed clusters.
	waitFor(t, "the pushed config, stale resources dropped", func() bool {
		snap, err := s.state.snapshot()
		return err == nil && snap.Cluster("outbound|443||edition.cnn.com") == nil &&
			snap.Cluster("outbound|443|cnn|istio-egressgateway.istio-system.svc.cluster.local") == nil &&
			len(snap.Endpoints) == 1 && len(snap.Routes) == 0
	})
	if err := s.Replay(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(logPath)
	if !strings.Contains(string(b), `"- - -" 0 UH - - "-" 0 0 0 - "-" "-" "-" "-" "-" BlackHoleCluster`) {
		t.Errorf("no blackhole line after the push:\n%s", b)
	}
	if ready, err := httpGet("http://" + s.AdminAddr() + "/ready"); err != nil || ready != "LIVE\n" {
		t.Errorf("/ready = %q, %v", ready, err)
	}
}

func TestADSReconnectsAfterResourceExhausted(t *testing.T) {
	f, addr := newFakeIstiod(t, loadSample(t, "allow-any.json"))
	f.mu.Lock()
	f.rejects = 3
	f.mu.Unlock()
	s, _ := startLive(t, addr, nil)
	if n := s.xds.progress(); !strings.Contains(n, "4 connection attempts") {
		t.Errorf("progress: %s", n)
	}
}

func httpGet(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
