package inspect

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

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
}

// DefaultReadConfig is what the commands start from before their flags.
func DefaultReadConfig() ReadConfig {
	return ReadConfig{
		AdminPort:   DefaultAdminPort,
		Concurrency: 8,
		Caps:        DefaultCaps,
		Since:       time.Hour,
		MaxLogBytes: 256 << 20,
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
	return &Reader{config: c, getter: getter, rest: config, client: client}, nil
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
	t, err := r.Targets(ctx, scope)
	if err != nil {
		return Reading{}, err
	}
	return r.ReadTargets(ctx, t), nil
}

// ReadTargets reads pods already resolved.
func (r *Reader) ReadTargets(ctx context.Context, t Targets) Reading {
	pods := InspectPods(ctx, r.fetcher(), t.Pods, r.config.Concurrency, r.now(), r.Progress)
	return Reading{Pods: pods, Skipped: t.Skipped, Report: Aggregate(pods), Unread: len(t.Pods) - len(pods)}
}

func (r *Reader) fetcher() *Fetcher {
	return &Fetcher{
		Forwarder: &PortForwarder{Config: r.rest, Client: r.client},
		Client:    r.client, AdminPort: r.config.AdminPort, Caps: r.config.Caps,
		Since: r.config.Since, MaxLogBytes: r.config.MaxLogBytes, LogFormat: r.config.LogFormat,
	}
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
	ReadAdmin(ctx, &HTTPAdmin{Base: rawURL, Caps: c.Caps, Client: client}, &src)
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
