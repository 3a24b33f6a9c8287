// Package ztunnel is a stand-in for Istio's ztunnel, the node proxy of ambient mode, in the local
// mesh.
//
// There is no ztunnel binary in the test environment, so each node's ztunnel pod is served by
// this package: a real delta-xDS client of istiod's workload discovery (istio.workload.Address
// and istio.security.Authorization, pilot/pkg/xds/workload.go), ztunnel's admin /config_dump
// built from what istiod pushed, its /stats/prometheus (istio_tcp_* with reporter="source"), and
// a replay of the captured pods' calls routed the way ztunnel's outbound path routes them: to a
// service's waypoint over HBONE when it has one (handed to that waypoint's Envoy stand-in), to a
// service's endpoint otherwise, and straight out when the address is unknown; each connection
// ends with a ztunnel-format access-log line.
//
// It is test infrastructure: the plugin never imports it.
package ztunnel

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"istio.io/istio/pkg/workloadapi"

	"github.com/kubectl-egress/kubectl-egress/e2e/sidecar"
)

// Config describes one ztunnel pod.
type Config struct {
	Namespace, Name, IP string // the ztunnel pod
	Node                string // the node it serves
	// XDSAddr is istiod's plaintext gRPC xDS address.
	XDSAddr string
	// AdminAddr serves /config_dump (ztunnel's port 15000); StatsAddr serves /stats/prometheus
	// (port 15020). Port 0 picks a free port.
	AdminAddr, StatsAddr string
	// LogPath is the istio-proxy container log, in CRI format; empty writes none.
	LogPath      string
	IstioVersion string
	// Waypoint finds the waypoint stand-in serving a pod IP; nil or a nil result means nothing
	// answers there.
	Waypoint func(ip string) *sidecar.Sidecar
	// ConnectionLinger is how long an app keeps a connection open after a call (its pool), so
	// it is listed in workloadState.
	ConnectionLinger time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Pod is an ambient pod on the node, captured by this ztunnel (what istio-cni hands it).
type Pod struct {
	UID, Namespace, Name, ServiceAccount, IP string
	Calls                                    []sidecar.Call
}

// Ztunnel is one running stand-in.
type Ztunnel struct {
	cfg     Config
	clock   func() time.Time
	state   *state
	xds     *xdsClient
	metrics *metrics
	log     *sidecar.ContainerLog

	mu   sync.Mutex
	pods map[string]*capturedPod // by pod UID
	rng  *rand.Rand
	port int

	admin, stats     *http.Server
	adminLn, statsLn net.Listener
	cancel           context.CancelFunc
	wg               sync.WaitGroup
	closeOnce        sync.Once
}

type capturedPod struct {
	Pod
	open map[string]openConn // by original destination: the app's pooled connection
}

type openConn struct {
	conn  dumpConnection
	until time.Time
}

// Start connects to istiod and serves the admin and stats ports.
func Start(cfg Config) (*Ztunnel, error) {
	if cfg.Name == "" || cfg.Namespace == "" || cfg.IP == "" {
		return nil, errors.New("ztunnel config needs Namespace, Name and IP")
	}
	clock := cfg.Now
	if clock == nil {
		clock = time.Now
	}
	h := fnv.New64a()
	h.Write([]byte(cfg.Namespace + "/" + cfg.Name))
	z := &Ztunnel{cfg: cfg, clock: clock, state: newState(), metrics: newMetrics(), pods: map[string]*capturedPod{},
		rng: rand.New(rand.NewPCG(h.Sum64(), 0x2e7)), port: 40000}
	var err error
	if z.log, err = sidecar.OpenContainerLog(cfg.LogPath); err != nil {
		return nil, err
	}
	z.logf("info", "ztunnel", fmt.Sprintf("version: %s-%s", cfg.IstioVersion, fakeRevision(cfg.IstioVersion)))
	for _, l := range []struct {
		addr string
		ln   *net.Listener
		srv  **http.Server
		h    http.Handler
	}{{cfg.AdminAddr, &z.adminLn, &z.admin, z.adminHandler()}, {cfg.StatsAddr, &z.statsLn, &z.stats, z.statsHandler()}} {
		addr := l.addr
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			z.Close()
			return nil, fmt.Errorf("ztunnel %s/%s: %w", cfg.Namespace, cfg.Name, err)
		}
		*l.ln = ln
		*l.srv = &http.Server{Handler: l.h, ReadHeaderTimeout: 10 * time.Second}
		srv := *l.srv
		z.wg.Add(1)
		go func() {
			defer z.wg.Done()
			_ = srv.Serve(ln)
		}()
	}
	ctx, cancel := context.WithCancel(context.Background())
	z.cancel = cancel
	if cfg.XDSAddr != "" {
		xc, err := newXDSClient(cfg.XDSAddr, nodeOf(cfg), z.state)
		if err != nil {
			z.Close()
			return nil, fmt.Errorf("failed to dial istiod for ztunnel %s/%s: %w", cfg.Namespace, cfg.Name, err)
		}
		z.xds = xc
		z.wg.Add(1)
		go func() {
			defer z.wg.Done()
			xc.run(ctx)
		}()
	}
	return z, nil
}

// AdminAddr is where /config_dump is served.
func (z *Ztunnel) AdminAddr() string { return z.adminLn.Addr().String() }

// StatsAddr is where /stats/prometheus is served.
func (z *Ztunnel) StatsAddr() string { return z.statsLn.Addr().String() }

// WaitSynced returns once istiod answered both subscriptions.
func (z *Ztunnel) WaitSynced(ctx context.Context) error {
	if z.xds == nil {
		return errors.New("ztunnel has no xDS address")
	}
	select {
	case <-z.xds.synced:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ztunnel %s/%s not synced with istiod (%s): %w", z.cfg.Namespace, z.cfg.Name, z.xds.progress(), ctx.Err())
	}
}

// Capture adds an ambient pod, as istio-cni hands a pod's network namespace to ztunnel.
func (z *Ztunnel) Capture(p Pod) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if old := z.pods[p.UID]; old != nil {
		old.Pod = p
		return
	}
	z.pods[p.UID] = &capturedPod{Pod: p, open: map[string]openConn{}}
	z.logf("info", "inpod", fmt.Sprintf("pod received, starting proxy uid=%q name=%q namespace=%q", p.UID, p.Name, p.Namespace))
}

// Release drops a pod (deleted, or no longer ambient).
func (z *Ztunnel) Release(uid string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	delete(z.pods, uid)
}

// Knows tells whether istiod has sent the workload of pod namespace/name.
func (z *Ztunnel) Knows(namespace, name string) bool {
	return z.state.view().workloadByUID("Kubernetes//Pod/"+namespace+"/"+name) != nil
}

// SetCalls replaces a captured pod's calls; they run on the next Replay.
func (z *Ztunnel) SetCalls(uid string, calls []sidecar.Call) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if p := z.pods[uid]; p != nil {
		p.Calls = append([]sidecar.Call(nil), calls...)
	}
}

// Replay runs every captured pod's calls once against the current state; with uids, only
// those pods' calls.
func (z *Ztunnel) Replay(uids ...string) {
	v := z.state.view()
	z.mu.Lock()
	if len(uids) == 0 {
		for uid := range z.pods {
			uids = append(uids, uid)
		}
	}
	sort.Strings(uids)
	var pods []*capturedPod
	for _, uid := range uids {
		if p := z.pods[uid]; p != nil {
			pods = append(pods, p)
		}
	}
	z.mu.Unlock()
	for _, p := range pods {
		for _, c := range p.Calls {
			n := max(c.Count, 1)
			for range n {
				z.call(v, p, c)
			}
		}
	}
}

// call runs one connection of a pod's app through the outbound path.
func (z *Ztunnel) call(v *view, p *capturedPod, c sidecar.Call) {
	now := z.clock()
	z.mu.Lock()
	srcAddr := net.JoinHostPort(p.IP, strconv.Itoa(z.ephemeralPort()))
	z.mu.Unlock()
	src := v.workloadByUID("Kubernetes//Pod/" + p.Namespace + "/" + p.Name)
	if src == nil {
		// ztunnel refuses traffic from a workload it does not know.
		z.logf("warn", "access", fmt.Sprintf("connection failed\tsrc.addr=%s dst.addr=%s direction=\"outbound\" error=\"unknown source: %s\"",
			srcAddr, net.JoinHostPort(c.IP, strconv.Itoa(c.Port)), p.IP))
		return
	}
	if c.Scheme == "" {
		c.Scheme = sidecar.SchemeTCP
	}
	r := buildRequest(v, src, c)
	sent, recv, dur := 0, 0, time.Duration(0)
	if r.err == "" {
		if r.viaWaypoint {
			sent, recv, dur = z.throughWaypoint(src, p, c, r)
		} else {
			sent, recv, dur = z.direct(c)
		}
	}
	l := labelsOf(src, r)
	if r.err != "" {
		l.responseFlags = "CONNECT"
		z.metrics.add("istio_tcp_connections_failed", l, 1)
	}
	z.metrics.add("istio_tcp_connections_opened", l, 1)
	z.metrics.add("istio_tcp_connections_closed", l, 1)
	// Istio flips the byte metrics for the source reporter (ztunnel metrics.rs): "received" is
	// what the workload sent.
	z.metrics.add("istio_tcp_received_bytes", l, uint64(sent))
	z.metrics.add("istio_tcp_sent_bytes", l, uint64(recv))
	z.log.Write(now, "stdout", accessLine(now, srcAddr, src, r, l, sent, recv, dur))
	if r.err == "" {
		z.mu.Lock()
		p.open[r.originalDst] = openConn{
			conn:  dumpConnection{Src: srcAddr, OriginalDst: r.originalDst, ActualDst: r.actualDst, Protocol: r.protocol},
			until: now.Add(z.cfg.ConnectionLinger),
		}
		z.mu.Unlock()
	}
}

// throughWaypoint hands the connection to the waypoint's Envoy, as the HBONE CONNECT would.
func (z *Ztunnel) throughWaypoint(src *workloadapi.Workload, p *capturedPod, c sidecar.Call, r request) (sent, recv int, dur time.Duration) {
	ip, _, _ := net.SplitHostPort(r.actualDst)
	var wp *sidecar.Sidecar
	if z.cfg.Waypoint != nil {
		wp = z.cfg.Waypoint(ip)
	}
	if wp == nil {
		return 0, 0, 0
	}
	vip, port, _ := net.SplitHostPort(r.hboneTarget)
	call := c
	call.IP = vip
	call.Port, _ = strconv.Atoi(port)
	peer := &sidecar.Peer{Workload: src.GetWorkloadName(), Namespace: src.GetNamespace(), CanonicalName: src.GetCanonicalName(),
		CanonicalRevision: src.GetCanonicalRevision(), Principal: identity(src)}
	ex, err := wp.AcceptHBONE(sidecar.Flow{Call: call, SourceIP: p.IP, RealIP: r.realIP, Source: peer})
	if err != nil {
		return 0, 0, 0
	}
	sent = ex.BytesFromClient
	if ex.HTTP {
		sent += requestHead(c) // Envoy counts bodies; ztunnel sees the whole request
	}
	return sent, ex.BytesToClient, ex.Duration
}

// requestHead is the size of the request line and headers curl sends for an HTTP call.
func requestHead(c sidecar.Call) int {
	method, path, ua := c.Method, c.Path, c.UserAgent
	if method == "" {
		method = "GET"
	}
	if path == "" {
		path = "/"
	}
	if ua == "" {
		ua = "curl/8.5.0"
	}
	return len(method + " " + path + " HTTP/1.1\r\nHost: " + c.Host + "\r\nUser-Agent: " + ua + "\r\nAccept: */*\r\n\r\n")
}

// direct is a connection ztunnel makes itself (passthrough, or to a service's endpoint): bytes
// as a TLS or a plaintext exchange of the size curl makes.
func (z *Ztunnel) direct(c sidecar.Call) (sent, recv int, dur time.Duration) {
	z.mu.Lock()
	defer z.mu.Unlock()
	switch c.Scheme {
	case sidecar.SchemeHTTPS, sidecar.SchemeTLSNoSNI:
		return 700 + z.rng.IntN(200), 4000 + z.rng.IntN(3000), time.Duration(30+z.rng.IntN(900)) * time.Millisecond
	case sidecar.SchemeHTTP:
		return requestHead(c), 200 + z.rng.IntN(500), time.Duration(20+z.rng.IntN(400)) * time.Millisecond
	}
	return 60 + z.rng.IntN(100), 100 + z.rng.IntN(500), time.Duration(20+z.rng.IntN(400)) * time.Millisecond
}

func (z *Ztunnel) ephemeralPort() int {
	z.port += 1 + z.rng.IntN(7)
	if z.port > 60999 {
		z.port = 40000
	}
	return z.port
}

// logf writes a ztunnel log line: time, level, target, message.
func (z *Ztunnel) logf(level, target, msg string) {
	now := z.clock()
	z.log.Write(now, "stdout", now.UTC().Format("2006-01-02T15:04:05.000000Z")+"\t"+level+"\t"+target+"\t"+msg)
}

func (z *Ztunnel) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/config_dump", func(w http.ResponseWriter, r *http.Request) {
		b, err := z.configDump()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r)
	})
	return mux
}

func (z *Ztunnel) statsHandler() http.Handler {
	mux := http.NewServeMux()
	serve := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(z.metrics.render())
	}
	mux.HandleFunc("/stats/prometheus", serve)
	mux.HandleFunc("/metrics", serve)
	return mux
}

// Close stops the xDS client and the servers.
func (z *Ztunnel) Close() {
	z.closeOnce.Do(func() {
		if z.cancel != nil {
			z.cancel()
		}
		for _, s := range []*http.Server{z.admin, z.stats} {
			if s != nil {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_ = s.Shutdown(ctx)
				cancel()
			}
		}
		if z.xds != nil {
			_ = z.xds.close()
		}
		z.wg.Wait()
		_ = z.log.Close()
	})
}

func fakeRevision(seed string) string {
	h := sha1.Sum([]byte("ztunnel-" + seed))
	return hex.EncodeToString(h[:])
}
