// Package sidecar is a stand-in for an Istio sidecar (Envoy + pilot-agent) in the local mesh.
//
// There is no Envoy binary in the test environment, so each pod's proxy is replaced by this
// package: a real xDS client of a real istiod, an Envoy-compatible admin API (/config_dump,
// /clusters, /stats, /stats/prometheus, /server_info, /ready) built from the config istiod
// pushed, and a traffic simulator that routes the app's calls through that config the way
// Envoy would, producing the counters, Istio metrics and access-log lines a real proxy would.
//
// It is test infrastructure: the plugin never imports it.
package sidecar

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
)

// Call is one kind of outbound call the app in the pod makes.
type Call struct {
	Host   string // DNS name the app calls, e.g. "httpbin.org"
	IP     string // resolved IP the app connects to (simulated DNS), e.g. "203.0.113.10"
	Port   int
	Scheme string // "http" (plaintext HTTP/1.1), "https" (TLS with SNI=Host), "tls-nosni", "tcp"
	Path   string // for http; "/" when empty
	Count  int    // how many calls at start and on each Replay; 1 when 0
	// Method and UserAgent of HTTP calls; "GET" and "curl/8.5.0" when empty.
	Method    string
	UserAgent string
}

// Call schemes.
const (
	SchemeHTTP     = "http"
	SchemeHTTPS    = "https"
	SchemeTLSNoSNI = "tls-nosni"
	SchemeTCP      = "tcp"
)

// Config describes one pod and its proxy.
type Config struct {
	Namespace, Name, IP string // pod identity
	Labels              map[string]string
	// Router makes this an egress gateway pod (node id "router~...").
	Router bool
	// Waypoint makes this an ambient waypoint (node id "waypoint~..."): it receives the
	// connections ztunnel tunnels to it (AcceptHBONE) and calls nothing itself.
	Waypoint bool
	// ServiceAccount is the pod's service account; "default" when empty.
	ServiceAccount string
	// XDSAddr is istiod's plaintext gRPC xDS address, 127.0.0.1:PORT.
	XDSAddr string
	// AdminAddr is where to serve the admin API; port 0 picks a free port (see Sidecar.AdminAddr).
	AdminAddr string
	// LogPath is the istio-proxy container log, written in CRI format. Empty: no log file.
	LogPath string
	// AccessLogEncoding is what the mesh config says ("TEXT", "JSON", "" for off). The proxy
	// itself follows the access loggers in the xDS config istiod sends, as a real Envoy does;
	// this field is only consulted when the config carries no format (see accesslog.go).
	AccessLogEncoding string
	// IstioVersion, e.g. "1.31.1": node metadata ISTIO_VERSION and /server_info.
	IstioVersion string
	// ProxyMetadata are the pod's proxyMetadata (ISTIO_META_DNS_CAPTURE, …).
	ProxyMetadata map[string]string
	Calls         []Call
	// ExcludedCIDRs bypass the proxy entirely (traffic.sidecar.istio.io/excludeOutboundIPRanges):
	// calls to them leave no stats and no logs.
	ExcludedCIDRs []string
	// ClusterStatsPrefixes are proxyStatsMatcher inclusionPrefixes, e.g.
	// "cluster.PassthroughCluster": per-cluster Envoy stats are emitted only for these, as
	// Istio's bootstrap stats_matcher does.
	ClusterStatsPrefixes []string
	// Hosts adds simulated DNS entries (name -> IP) used to resolve STRICT_DNS clusters;
	// the Calls' Host/IP pairs are always included.
	Hosts map[string]string
	// Workload is the WORKLOAD_NAME metadata (source_workload in metrics); the app label or
	// the pod name when empty.
	Workload string
	// ConnectionLinger is how long the app keeps a TCP/TLS connection open after a call
	// (0: closes at once, like curl). An ORIGINAL_DST host stays listed in /clusters while a
	// connection uses it, plus the cluster's cleanup interval (5 s by default).
	ConnectionLinger time.Duration
	// Now is the clock for timestamps; time.Now when nil.
	Now func() time.Time
	// Seed makes request ids and ephemeral ports reproducible; derived from the pod name when 0.
	Seed int64
}

// Sidecar is one running stand-in.
type Sidecar struct {
	cfg   Config
	node  *nodeInfo
	clock func() time.Time

	state *xdsState
	xds   *xdsClient

	traffic *trafficSim
	stats   *statStore
	alog    *accessLogWriter

	bootOnce sync.Once
	bootCfg  *bootstrapv3.Bootstrap

	admin     *http.Server
	fault     atomic.Pointer[Fault]
	adminLn   net.Listener
	started   time.Time
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Start connects to istiod, serves the admin API and returns once the admin listener is
// bound. The calls in cfg.Calls run once the first config is synced.
func Start(ctx context.Context, cfg Config) (*Sidecar, error) {
	s, err := newSidecar(cfg)
	if err != nil {
		return nil, err
	}
	addr := cfg.AdminAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("failed to bind admin listener for pod %s/%s: %w", cfg.Namespace, cfg.Name, err)
	}
	s.adminLn = ln
	if err := s.alog.open(); err != nil {
		ln.Close()
		return nil, err
	}
	s.alog.agentLine(s.clock(), "info", fmt.Sprintf("Version %s-%s-Clean", s.node.istioVersion, fakeSHA(s.node.istioVersion)))
	s.alog.agentLine(s.clock(), "info", fmt.Sprintf("Proxy role ips=[%s] type=%s id=%s domain=%s.svc.cluster.local", cfg.IP, s.node.role, s.node.proxyID(), cfg.Namespace))

	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.admin = &http.Server{Handler: s.faulty(s.adminHandler()), ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.admin.Serve(ln)
	}()
	if cfg.XDSAddr != "" {
		xc, err := newXDSClient(cfg.XDSAddr, s.node, s.state, s.clock)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("failed to dial istiod for pod %s/%s: %w", cfg.Namespace, cfg.Name, err)
		}
		s.xds = xc
		s.wg.Add(2)
		go func() {
			defer s.wg.Done()
			xc.run(runCtx)
		}()
		go func() {
			defer s.wg.Done()
			select {
			case <-xc.synced:
				s.alog.agentLine(s.clock(), "info", "Envoy proxy is ready")
				_ = s.Replay(runCtx)
			case <-runCtx.Done():
			}
		}()
	}
	_ = ctx // the caller's ctx bounds only the start; the stand-in lives until Close.
	return s, nil
}

func newSidecar(cfg Config) (*Sidecar, error) {
	if cfg.Name == "" || cfg.Namespace == "" || cfg.IP == "" {
		return nil, errors.New("sidecar config needs Namespace, Name and IP")
	}
	if net.ParseIP(cfg.IP) == nil {
		return nil, fmt.Errorf("pod %s/%s: invalid IP %q", cfg.Namespace, cfg.Name, cfg.IP)
	}
	excluded, err := parseCIDRs(cfg.ExcludedCIDRs)
	if err != nil {
		return nil, fmt.Errorf("pod %s/%s: %w", cfg.Namespace, cfg.Name, err)
	}
	clock := cfg.Now
	if clock == nil {
		clock = time.Now
	}
	s := &Sidecar{cfg: cfg, clock: clock, started: clock()}
	s.node = newNodeInfo(cfg)
	s.state = newXDSState()
	s.stats = newStatStore()
	s.alog = &accessLogWriter{path: cfg.LogPath, encoding: cfg.AccessLogEncoding}
	s.traffic = newTrafficSim(cfg, s.node, excluded)
	return s, nil
}

// AdminAddr is the address the admin API listens on.
func (s *Sidecar) AdminAddr() string { return s.adminLn.Addr().String() }

// WaitSynced returns once the first CDS, EDS, LDS and RDS responses were received and ACKed.
func (s *Sidecar) WaitSynced(ctx context.Context) error {
	if s.xds == nil {
		return errors.New("sidecar has no xDS address")
	}
	select {
	case <-s.xds.synced:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("pod %s/%s not synced with istiod (%s): %w", s.cfg.Namespace, s.cfg.Name, s.xds.progress(), ctx.Err())
	}
}

// Replay runs the app's calls again against the current config.
func (s *Sidecar) Replay(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	snap, err := s.state.snapshot()
	if err != nil {
		return fmt.Errorf("pod %s/%s: %w", s.cfg.Namespace, s.cfg.Name, err)
	}
	s.traffic.replay(snap, s.stats, s.alog, s.clock)
	return nil
}

// AcceptHBONE runs one connection a ztunnel tunnelled to this waypoint (HTTP CONNECT to port
// 15008): f's IP and port are the CONNECT authority, the service address the app called, and
// f.Source the calling workload. It records what the waypoint's Envoy would and says what
// became of the connection.
func (s *Sidecar) AcceptHBONE(f Flow) (Exchange, error) {
	snap, err := s.state.snapshot()
	if err != nil {
		return Exchange{}, fmt.Errorf("pod %s/%s: %w", s.cfg.Namespace, s.cfg.Name, err)
	}
	return s.traffic.hbone(snap, f, s.stats, s.alog, s.clock()), nil
}

// IP is the pod's address.
func (s *Sidecar) IP() string { return s.cfg.IP }

// SetCalls replaces the app's calls; they run on the next Replay.
func (s *Sidecar) SetCalls(calls []Call) { s.traffic.setCalls(calls) }

// Close stops the xDS client and the admin server.
func (s *Sidecar) Close() error {
	s.closeOnce.Do(func() {
		if s.cancel != nil {
			s.cancel()
		}
		if s.admin != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = s.admin.Shutdown(ctx)
			cancel()
		}
		if s.xds != nil {
			s.closeErr = s.xds.close()
		}
		s.wg.Wait()
		if err := s.alog.close(); err != nil && s.closeErr == nil {
			s.closeErr = err
		}
	})
	return s.closeErr
}

func parseCIDRs(cidrs []string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, c := range cidrs {
		if c == "" {
			continue
		}
		if ip := net.ParseIP(c); ip != nil {
			bits := 32
			if ip.To4() == nil {
				bits = 128
			}
			out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, n, err := net.ParseCIDR(c)
		if err != nil {
			return nil, fmt.Errorf("invalid excluded CIDR %q: %w", c, err)
		}
		out = append(out, n)
	}
	return out, nil
}
