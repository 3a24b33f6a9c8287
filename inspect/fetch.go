package inspect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
)

// DefaultAdminPort is Envoy's admin port in an Istio sidecar (proxyAdminPort).
const DefaultAdminPort = 15000

// ReadAdmin fills src from an admin API: firstReads, then what planReads makes of them under c.
// A failed read is recorded in src.Errors, named after what it was for, and the other reads go
// on: a partial report beats none. The reads of a wave run at once (a port-forward carries each
// on its own stream), and are recorded in their order; after a refusal or a read that got no
// answer in time, the rest are not recorded, nor read: they failed the same way. c.Scope
// ConfigAll reads everything in one wave.
func ReadAdmin(ctx context.Context, admin AdminClient, src *Sources, c ConfigRead) {
	if c.Scope == ConfigAll {
		readWave(ctx, admin, src, append(slices.Clone(firstReads), wholeReads...))
		return
	}
	if !readWave(ctx, admin, src, firstReads) {
		return
	}
	reads, traffic := planReads(src, c)
	if traffic {
		src.ConfigScope = ConfigTraffic
	}
	readWave(ctx, admin, src, reads)
}

// readWave reads at once and records in order; false when it stopped at a refusal or a read that
// got no answer, or when every read failed: the next wave would fail the same way.
func readWave(ctx context.Context, admin AdminClient, src *Sources, reads []adminRead) bool {
	type result struct {
		b   []byte
		err error
	}
	results := make([]result, len(reads))
	var wg sync.WaitGroup
	for i, r := range reads {
		wg.Go(func() {
			b, err := admin.Get(ctx, "/"+r.path)
			results[i] = result{b, err}
		})
	}
	wg.Wait()
	read := 0
	for i, r := range reads {
		if err := results[i].err; err != nil {
			src.Errors = append(src.Errors, err)
			if isRefused(err) || errors.Is(err, errNoAnswer) || errors.Is(err, errIncomplete) {
				return false // the rest failed the same way
			}
			continue
		}
		r.into(src, results[i].b)
		read++
	}
	return read > 0
}

// isRefused tells that nothing serves the admin port: the connection was refused or reset, or,
// through a port-forward (which accepts locally, then fails to dial in the pod), closed before
// any response (io.EOF), or the forward itself ended (errTunnelLost). A body cut short (io.ErrUnexpectedEOF) is not a refusal.
func isRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, errTunnelLost)
}

// Fetcher reads a live pod's sidecar: its admin API through a port-forward and its access log
// from the istio-proxy container's log.
type Fetcher struct {
	Forwarder Forwarder
	Client    kubernetes.Interface
	AdminPort int
	Caps      Caps
	// Since bounds the access log read (kubectl logs --since).
	Since time.Duration
	// MaxLogBytes caps the access log read per pod (kubectl logs --limit-bytes); 0 is no cap.
	MaxLogBytes int64
	// LogFormat is the user's access-log format (--log-format), or "".
	LogFormat string
	// PodProxy, when set, reads the admin API through the API server's pods/proxy instead of a
	// port-forward (--via-pods-proxy).
	PodProxy *PodProxy
	// AdminConns caps the connections to one pod's admin API, each a pair of streams in the
	// forward: 0 opens one per read, so a single pod's reads run at once; a fleet, whose read
	// is CPU-bound, is cheaper over one.
	AdminConns int
	// Config is how much of each proxy's configuration is read.
	Config ConfigRead
	// ztunnels shares each node's ztunnel read among the ambient pods of one InspectPods call.
	ztunnels *ztunnelShare
}

// Fetch returns the pod's sources, and finish, which releases the access-log stream once it has
// been read and reports whether the log cap cut it. Errors are in Sources.Errors, each one line
// naming the pod and what to do.
func (f *Fetcher) Fetch(ctx context.Context, pod *corev1.Pod) (src Sources, finish func() error) {
	if IsAmbient(pod) {
		return f.fetchAmbient(ctx, pod)
	}
	src = Sources{Pod: PodOf(pod), LogFormat: f.LogFormat}
	finish = func() error { return nil }
	// The log request needs no forward: it runs while the forward is set up and read.
	type opened struct {
		rc  io.ReadCloser
		err error
	}
	logCh := make(chan opened, 1)
	go func() {
		rc, err := f.openLog(ctx, pod)
		logCh <- opened{rc, err}
	}()
	admin, done, err := f.admin(ctx, pod)
	if err != nil {
		src.Errors = append(src.Errors, err)
		if l := <-logCh; l.rc != nil {
			l.rc.Close()
		}
		return src, finish
	}
	var raw Sources
	ReadAdmin(ctx, admin, &raw, f.Config)
	done()
	src.ConfigDump, src.MoreConfig = raw.ConfigDump, raw.MoreConfig
	src.Clusters, src.Stats, src.ServerInfo = raw.Clusters, raw.Stats, raw.ServerInfo
	src.ConfigScope = raw.ConfigScope
	for _, e := range sameReason(raw.Errors) {
		src.Errors = append(src.Errors, adminError(pod, f.AdminPort, e))
	}
	l := <-logCh
	logs, err := l.rc, l.err
	if err != nil {
		src.Errors = append(src.Errors, err)
		return src, finish
	}
	counted := &countingReader{r: logs}
	src.AccessLog = counted
	return src, func() error {
		logs.Close()
		if f.MaxLogBytes > 0 && counted.n >= f.MaxLogBytes {
			return fmt.Errorf("the istio-proxy log of pod %s/%s was cut at the %d-byte cap (--max-log-bytes): the rest of the last %s was not read; raise the cap or lower --since", pod.Namespace, pod.Name, f.MaxLogBytes, f.Since)
		}
		return nil
	}
}

// admin opens the pod's admin API: through the API server's pods/proxy when the fetcher has one,
// else through a port-forward; done releases it.
func (f *Fetcher) admin(ctx context.Context, pod *corev1.Pod) (admin AdminClient, done func(), err error) {
	return f.adminAt(ctx, pod, f.AdminPort)
}

// adminAt opens an HTTP port of the pod the way admin does.
func (f *Fetcher) adminAt(ctx context.Context, pod *corev1.Pod, port int) (admin AdminClient, done func(), err error) {
	if f.PodProxy != nil {
		return f.PodProxy.Admin(pod, port, f.Caps), func() {}, nil
	}
	t, err := f.Forwarder.Forward(ctx, pod, port)
	if err != nil {
		return nil, nil, err
	}
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: f.AdminConns}}
	return &HTTPAdmin{Base: "http://" + t.Addr, Caps: f.Caps, Client: client, Lost: t.Lost}, func() {
		client.CloseIdleConnections()
		t.Stop()
	}, nil
}

// countingReader counts what the access-log scan read, to tell when the log cap was reached.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// readsError is reads of one admin API that failed alike: "GET /clusters, /stats: …".
type readsError struct {
	paths  []string
	reason string
	first  error
}

func (e *readsError) Error() string { return "GET " + strings.Join(e.paths, ", ") + ": " + e.reason }
func (e *readsError) Unwrap() error { return e.first }

// sameReason joins admin read errors that differ only in the read ("GET PATH: reason") into one,
// so a proxy that fails every read the same way (a 2 GiB body each time) is one line.
func sameReason(errs []error) []error {
	if len(errs) < 2 {
		return errs
	}
	joined := &readsError{first: errs[0]}
	for _, err := range errs {
		path, reason, ok := strings.Cut(strings.TrimPrefix(err.Error(), "GET "), ": ")
		if !ok || joined.reason != "" && reason != joined.reason {
			return errs
		}
		joined.paths, joined.reason = append(joined.paths, path), reason
	}
	return []error{joined}
}

func adminError(pod *corev1.Pod, port int, err error) error {
	if isRefused(err) {
		return fmt.Errorf("pod %s/%s: the Envoy admin port %d did not answer (%v): is the sidecar up? if proxyAdminPort was changed, pass --admin-port", pod.Namespace, pod.Name, port, err)
	}
	return fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err)
}

// openLog streams the istio-proxy container's log, where Istio writes access logs.
func (f *Fetcher) openLog(ctx context.Context, pod *corev1.Pod) (io.ReadCloser, error) {
	return f.openContainerLog(ctx, pod, ProxyContainer, "the istio-proxy log of pod "+pod.Namespace+"/"+pod.Name)
}

// openContainerLog streams a container's log (streamLog); an error names it as what says.
func (f *Fetcher) openContainerLog(ctx context.Context, pod *corev1.Pod, container, what string) (io.ReadCloser, error) {
	rc, err := f.streamLog(ctx, pod, container)
	if err != nil {
		if apierrors.IsForbidden(err) {
			return nil, fmt.Errorf("reading %s is forbidden: ask for RBAC verb \"get\" on \"pods/log\" in namespace %s", what, pod.Namespace)
		}
		return nil, fmt.Errorf("failed to read %s: %w", what, err)
	}
	return rc, nil
}

// streamLog streams a container's log within the fetcher's window (--since) and cap.
func (f *Fetcher) streamLog(ctx context.Context, pod *corev1.Pod, container string) (io.ReadCloser, error) {
	opts := &corev1.PodLogOptions{Container: container}
	if f.Since > 0 {
		s := int64(f.Since.Seconds())
		opts.SinceSeconds = &s
	}
	if f.MaxLogBytes > 0 {
		opts.LimitBytes = &f.MaxLogBytes
	}
	return f.Client.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, opts).Stream(ctx)
}

// Progress is told each time a pod is done; done counts up to total.
type Progress func(done, total int)

// InspectPods fetches and inspects pods concurrently (at most concurrency at once). A pod that
// fails is still in the result, with its errors: one failing pod never hides the others. When
// ctx is cancelled (an interrupt), no more pods are started, and only the pods read whole before
// it are in the result: a pod cut mid-read would report the interrupt as its own failure.
func InspectPods(ctx context.Context, f *Fetcher, pods []corev1.Pod, concurrency int, now time.Time, progress Progress) []PodReport {
	if concurrency < 1 {
		concurrency = 1
	}
	shared := *f
	shared.ztunnels = newZtunnelShare(pods)
	f = &shared
	reports := make([]PodReport, len(pods))
	whole := make([]bool, len(pods))
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for i := range pods {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			src, finish := f.Fetch(ctx, &pods[i])
			rep, err := Inspect(src, now)
			if err != nil {
				rep.Pod = src.Pod
				rep.Errors = append(rep.Errors, err.Error())
			}
			if err := finish(); err != nil {
				rep.Errors = append(rep.Errors, err.Error())
			}
			rep.Facts.BytesRead = src.adminBytes()
			if c, ok := src.AccessLog.(*countingReader); ok {
				rep.Facts.BytesRead += c.n
			}
			rep.Facts.BytesRead += src.ztunnelBytes
			reports[i], whole[i] = rep, ctx.Err() == nil
			if progress != nil {
				mu.Lock()
				done++
				progress(done, len(pods))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ctx.Err() == nil {
		return reports
	}
	var read []PodReport
	for i, rep := range reports {
		if whole[i] {
			read = append(read, rep)
		}
	}
	return read
}

// ErrNoSources is returned when --file was given nothing usable.
var ErrNoSources = errors.New("no admin output or access log recognised")
