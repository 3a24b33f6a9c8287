package inspect

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// ReadConfig bounds how proxies are read. One value serves every command that reads them
// (inspect, verify, the observation of the fix commands), so none can forget a cap.
type ReadConfig struct {
	// AdminPort is Envoy's admin port in the pod (proxyAdminPort).
	AdminPort int
	// Concurrency is how many pods are read at once; the client's QPS budget scales with it.
	Concurrency int
	// Caps bound each admin response.
	Caps Caps
	// Since bounds the access-log window (kubectl logs --since); 0 reads the whole log.
	Since time.Duration
	// MaxLogBytes caps the access log read per pod (kubectl logs --limit-bytes); 0 is no cap.
	MaxLogBytes int64
	// LogFormat is the access-log format to read logs by before the proxy's own and Istio's
	// defaults (--log-format): an Envoy text format or a JSON object of keys to operators.
	LogFormat string
	// ViaPodsProxy reads admin APIs through the API server's pods/proxy, not port-forwards.
	ViaPodsProxy bool
	// Config is how much of each proxy's configuration is read (--config-scope).
	Config ConfigRead
}

// DefaultReadConfig is what the commands start from before their flags.
func DefaultReadConfig() ReadConfig {
	return ReadConfig{
		AdminPort:   DefaultAdminPort,
		Concurrency: 8,
		Caps:        DefaultCaps,
		Since:       time.Hour,
		MaxLogBytes: 256 << 20,
		Config:      ConfigRead{Scope: ConfigAuto},
	}
}

// Validate checks the bounds; the errors name the flags that set them.
func (c ReadConfig) Validate() error {
	switch {
	case c.Concurrency < 1:
		return fmt.Errorf("--concurrency must be at least 1, not %d", c.Concurrency)
	case c.Caps.MaxBytes < 1024:
		return fmt.Errorf("--max-bytes must be at least 1024, not %d", c.Caps.MaxBytes)
	case c.AdminPort < 1 || c.AdminPort > 65535:
		return fmt.Errorf("--admin-port must be a port number, not %d", c.AdminPort)
	case c.MaxLogBytes < 0:
		return fmt.Errorf("--max-log-bytes must not be negative, not %d", c.MaxLogBytes)
	}
	if err := c.Config.Validate(); err != nil {
		return err
	}
	if c.LogFormat != "" {
		if _, err := ParseLogFormat("--log-format", c.LogFormat); err != nil {
			return err
		}
	}
	return nil
}

// Reading is what one read of proxies gives: each pod's report (with its errors and Istio
// metric samples), the pods that matched but were skipped, and the pods joined into one report.
type Reading struct {
	Pods    []PodReport
	Skipped []Skipped
	Report  Report
	// Unread counts the target pods an interrupt left unread; they are not in Pods.
	Unread int
}

// Failed counts the pods that could not be read whole.
func (r Reading) Failed() int {
	n := 0
	for _, p := range r.Report.Pods {
		if len(p.Errors) > 0 {
			n++
		}
	}
	return n
}

// Reader is the one configured proxy reader: scope → pods → port-forward → admin reads and
// access log → parse → classify → report. Making one does no I/O; Read does it all.
type Reader struct {
	config ReadConfig
	getter genericclioptions.RESTClientGetter
	rest   *rest.Config
	client kubernetes.Interface
	// podProxy is set when admin APIs are read through pods/proxy.
	podProxy *PodProxy
	// Progress is told each time a pod is done; nil draws nothing.
	Progress Progress
	// Now stamps the reports; nil is time.Now.
	Now func() time.Time
}

// NewReader builds the clients for getter's cluster. client-go's default 5 QPS would make a
// 500-pod read take minutes (each pod costs a port-forward and a log request), so the budget
// scales with the concurrency.
func NewReader(getter genericclioptions.RESTClientGetter, c ReadConfig) (*Reader, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	config, err := getter.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	config = rest.CopyConfig(config)
	config.QPS, config.Burst = float32(10*c.Concurrency), 20*c.Concurrency
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	r := &Reader{config: c, getter: getter, rest: config, client: client}
	if c.ViaPodsProxy {
		hc, err := rest.HTTPClientFor(config)
		if err != nil {
			return nil, err
		}
		r.podProxy = &PodProxy{Host: config.Host, Client: hc}
	}
	return r, nil
}

// WithHosts is the reader, also reading the clusters of hosts when it reads only the configuration
// the traffic used: a host just fixed has its cluster before it has traffic.
func (r *Reader) WithHosts(hosts ...string) *Reader {
	c := *r
	c.config.Config.Hosts = append(slices.Clone(r.config.Config.Hosts), hosts...)
	return &c
}

// Client is the reader's Kubernetes client, for callers that look at the same pods otherwise.
func (r *Reader) Client() kubernetes.Interface { return r.client }

// Config is how the reader reads.
func (r *Reader) Config() ReadConfig { return r.config }

func (r *Reader) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Targets resolves a scope to the pods Read would read, without reading them.
func (r *Reader) Targets(ctx context.Context, scope Scope) (Targets, error) {
	return ResolveTargets(ctx, r.getter, r.client, scope)
}

// Read reads every proxy the scope names. A pod that cannot be read is in the result with its
// errors; the error is for the scope itself (no such pod, namespace, or no right to list).
func (r *Reader) Read(ctx context.Context, scope Scope) (Reading, error) {
	var early *earlyForward
	if direct(scope) && len(scope.Args) == 1 && r.podProxy == nil {
		// One pod by name: its forward needs only the name, so it is set up while the pod is
		// fetched (two TLS handshakes at once, not one after the other).
		early = startEarlyForward(ctx, r.forwarder(), scope.Namespace, scope.Args[0], r.config.AdminPort)
		defer early.release()
	}
	t, err := r.Targets(ctx, scope)
	if err != nil {
		return Reading{}, err
	}
	if early != nil {
		return r.readTargets(ctx, t, early), nil
	}
	return r.ReadTargets(ctx, t), nil
}

// ReadTargets reads pods already resolved. A pod deleted while it was read (a rollout, a
// scale-down) is skipped, not failed.
func (r *Reader) ReadTargets(ctx context.Context, t Targets) Reading {
	return r.readTargets(ctx, t, nil)
}

func (r *Reader) readTargets(ctx context.Context, t Targets, early *earlyForward) Reading {
	f := r.fetcher()
	if early != nil {
		f.Forwarder = early
	}
	if len(t.Pods) > 1 {
		f.AdminConns = 1
	}
	pods := InspectPods(ctx, f, t.Pods, r.config.Concurrency, r.now(), r.Progress)
	r.attachWaypoints(ctx, f, pods)
	unread := len(t.Pods) - len(pods)
	pods, gone := dropDeleted(ctx, r.client, t.Pods, pods)
	return Reading{Pods: pods, Skipped: append(t.Skipped, gone...), Report: Aggregate(pods), Unread: unread}
}

// dropDeleted takes out of reports the pods that failed to read and, asked again, are gone,
// replaced by a pod of the same name, or terminating: what they would have said is no longer
// anyone's traffic. Pods read whole are not asked again.
func dropDeleted(ctx context.Context, client kubernetes.Interface, listed []corev1.Pod, reports []PodReport) ([]PodReport, []Skipped) {
	if ctx.Err() != nil {
		return reports, nil
	}
	uid := make(map[string]types.UID, len(listed))
	for _, p := range listed {
		uid[p.Namespace+"/"+p.Name] = p.UID
	}
	kept := reports[:0:0]
	var gone []Skipped
	for _, rep := range reports {
		if len(rep.Errors) == 0 {
			kept = append(kept, rep)
			continue
		}
		p, err := client.CoreV1().Pods(rep.Pod.Namespace).Get(ctx, rep.Pod.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err), err == nil && p.UID != uid[rep.Pod.Key()]:
			gone = append(gone, Skipped{Pod: rep.Pod, Reason: "deleted while it was being read"})
		case err == nil && p.DeletionTimestamp != nil:
			gone = append(gone, Skipped{Pod: rep.Pod, Reason: "terminating (deleted while it was being read)"})
		default:
			kept = append(kept, rep)
		}
	}
	return kept, gone
}

func (r *Reader) fetcher() *Fetcher {
	return &Fetcher{
		Forwarder: r.forwarder(),
		Client:    r.client, AdminPort: r.config.AdminPort, Caps: r.config.Caps,
		Since: r.config.Since, MaxLogBytes: r.config.MaxLogBytes, LogFormat: r.config.LogFormat,
		PodProxy: r.podProxy, Config: r.config.Config,
	}
}

func (r *Reader) forwarder() Forwarder { return &PortForwarder{Config: r.rest, Client: r.client} }

// earlyForward is a forward to one pod started before the pod was fetched; Forward hands it
// out once, for that pod and port, and forwards anything else anew.
type earlyForward struct {
	Forwarder
	namespace, name string
	port            int
	result          chan forwardResult
	once            sync.Once
}

type forwardResult struct {
	tunnel Tunnel
	err    error
}

func startEarlyForward(ctx context.Context, f Forwarder, namespace, name string, port int) *earlyForward {
	if namespace == "" {
		namespace = metav1.NamespaceDefault
	}
	e := &earlyForward{Forwarder: f, namespace: namespace, name: name, port: port, result: make(chan forwardResult, 1)}
	go func() {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
		t, err := f.Forward(ctx, pod, port)
		e.result <- forwardResult{t, err}
	}()
	return e
}

func (e *earlyForward) Forward(ctx context.Context, pod *corev1.Pod, port int) (Tunnel, error) {
	if pod.Namespace != e.namespace || pod.Name != e.name || port != e.port {
		return e.Forwarder.Forward(ctx, pod, port)
	}
	taken := false
	e.once.Do(func() { taken = true })
	if !taken {
		return e.Forwarder.Forward(ctx, pod, port)
	}
	res := <-e.result
	return res.tunnel, res.err
}

// release stops the early forward when no read took it (the pod was skipped, or not found).
func (e *earlyForward) release() {
	e.once.Do(func() {
		go func() {
			if res := <-e.result; res.err == nil {
				res.tunnel.Stop()
			}
		}()
	})
}

// ReadFiles reads saved admin outputs and access logs of one proxy (--file), recognised by
// content, and istioctl bug-report archives (or their unpacked directories), one report per
// proxy they hold.
func ReadFiles(paths []string, c ReadConfig, now time.Time) (Reading, error) {
	var pods []PodReport
	var plain []string
	for _, p := range paths {
		if !IsBugReport(p) {
			plain = append(plain, p)
			continue
		}
		reps, err := ReadBugReport(p, c.Caps, c.LogFormat, now)
		if err != nil {
			return Reading{}, err
		}
		pods = append(pods, reps...)
	}
	if len(plain) > 0 {
		src, closeFn, err := OpenFiles(plain, c.Caps, c.LogFormat)
		if err != nil {
			return Reading{}, err
		}
		s, err := Parse(src)
		closeFn()
		switch {
		case err != nil && len(s.failures) > 0:
			return Reading{}, fmt.Errorf("no admin output in --file could be parsed: %s", s.failureSummary()) // each part names its file
		case err != nil:
			return Reading{}, fmt.Errorf("--file %s: %w", strings.Join(plain, ", "), err)
		}
		pods = append(pods, Classify(s, now))
	}
	return Reading{Pods: pods, Report: Aggregate(pods)}, nil
}

// ReadAdminURL reads one Envoy admin API reachable at rawURL (--admin-url). The URL is named in
// the report and in errors without user information or query, which can hold credentials.
func ReadAdminURL(ctx context.Context, rawURL string, c ReadConfig, now time.Time) (Reading, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Reading{}, fmt.Errorf("--admin-url must look like http://127.0.0.1:15000")
	}
	name := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: strings.TrimSuffix(u.Path, "/")}).String()
	src := Sources{Pod: Pod{Name: name}, LogFormat: c.LogFormat}
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	ReadAdmin(ctx, &HTTPAdmin{Base: rawURL, Caps: c.Caps, Client: client}, &src, c.Config)
	if len(src.Errors) > 0 && src.ConfigDump == nil && src.MoreConfig == nil && src.Clusters == nil && src.Stats == nil {
		if isRefused(src.Errors[0]) {
			return Reading{}, fmt.Errorf("cannot read the Envoy admin API at %s: nothing answers there; check the URL, and that its port-forward runs", name)
		}
		return Reading{}, fmt.Errorf("cannot read the Envoy admin API at %s: %v", name, src.Errors[0])
	}
	rep, err := Inspect(src, now)
	if err != nil {
		return Reading{}, err
	}
	return readingOf(rep), nil
}

func readingOf(rep PodReport) Reading {
	pods := []PodReport{rep}
	return Reading{Pods: pods, Report: Aggregate(pods)}
}
