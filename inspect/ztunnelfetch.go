package inspect

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// ztunnel's ports and names, as Istio's ztunnel chart installs it.
const (
	// ZtunnelAdminPort serves /config_dump (ztunnel's admin server, localhost only: a
	// port-forward reaches it, as istioctl ztunnel-config does).
	ZtunnelAdminPort = 15000
	// ZtunnelStatsPort serves /stats/prometheus.
	ZtunnelStatsPort = 15020
	// ztunnelSelector finds the ztunnel DaemonSet's pods.
	ztunnelSelector = "app=ztunnel"
	// ztunnelContainer is the chart's container name; its log holds the access lines.
	ztunnelContainer = "istio-proxy"
	// ztunnelNamespace is where the chart installs ztunnel; looked in alone when listing pods in
	// every namespace is forbidden.
	ztunnelNamespace = "istio-system"
)

// fetchAmbient reads what the ztunnel of an ambient pod's node says about it: its config dump,
// its metrics and its log. The node's ztunnel is read once per run for all the ambient pods of
// that node the run reads (ztunnelShare); without a share, for this pod alone.
func (f *Fetcher) fetchAmbient(ctx context.Context, pod *corev1.Pod) (src Sources, finish func() error) {
	src = Sources{Pod: PodOf(pod), LogFormat: f.LogFormat}
	finish = func() error { return nil }
	if pod.Spec.NodeName == "" {
		src.Errors = append(src.Errors, fmt.Errorf("pod %s/%s is in ambient mode but not scheduled on a node: no ztunnel carries its traffic", pod.Namespace, pod.Name))
		return src, finish
	}
	share := f.ztunnels
	if share == nil {
		share = newZtunnelShare([]corev1.Pod{*pod})
	}
	zr, first := share.read(ctx, f, pod.Spec.NodeName)
	inAmbient := func(err error) error {
		return fmt.Errorf("pod %s/%s is in ambient mode: %w", pod.Namespace, pod.Name, err)
	}
	if zr.err != nil {
		src.Errors = append(src.Errors, inAmbient(zr.err))
		return src, finish
	}
	z := &ZtunnelSources{Pod: PodOf(zr.zt), ConfigDump: zr.configDump, Stats: zr.stats, PodIPs: podIPs(pod)}
	src.Ztunnel = z
	for _, err := range zr.readErrs {
		src.Errors = append(src.Errors, inAmbient(err))
	}
	if first {
		src.ztunnelBytes = zr.bytes // charged once, to the pod whose fetch read it
	}
	if zr.logErr != nil {
		src.Errors = append(src.Errors, inAmbient(zr.logErr))
		return src, finish
	}
	z.Log = bytes.NewReader(zr.log)
	return src, func() error {
		if zr.logCut {
			return fmt.Errorf("the log of ztunnel %s/%s was cut at the %d-byte cap (--max-log-bytes): the rest of the last %s was not read; raise the cap or lower --since", zr.zt.Namespace, zr.zt.Name, f.MaxLogBytes, f.Since)
		}
		return nil
	}
}

// podIPs are the pod's addresses.
func podIPs(pod *corev1.Pod) []string {
	var ips []string
	for _, ip := range pod.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	if len(ips) == 0 && pod.Status.PodIP != "" {
		ips = []string{pod.Status.PodIP}
	}
	return ips
}

// ztunnelShare reads each node's ztunnel once per run for the ambient pods of that node the run
// reads: its config dump and metrics, and its log, scanned once and cut to the lines whose
// source is one of those pods.
type ztunnelShare struct {
	mu    sync.Mutex
	nodes map[string]*ztunnelRead
	// ips are, by node, the addresses of the run's ambient pods there.
	ips map[string]map[string]bool
}

// ztunnelRead is what one node's ztunnel gave.
type ztunnelRead struct {
	once              sync.Once
	zt                *corev1.Pod
	err               error // finding the ztunnel: nothing was read
	configDump, stats []byte
	readErrs          []error
	log               []byte
	logErr            error
	logCut            bool
	bytes             int64 // read from the ztunnel, log included
}

func newZtunnelShare(pods []corev1.Pod) *ztunnelShare {
	s := &ztunnelShare{nodes: map[string]*ztunnelRead{}, ips: map[string]map[string]bool{}}
	for i := range pods {
		p := &pods[i]
		if !IsAmbient(p) || p.Spec.NodeName == "" {
			continue
		}
		if s.ips[p.Spec.NodeName] == nil {
			s.ips[p.Spec.NodeName] = map[string]bool{}
		}
		for _, ip := range podIPs(p) {
			s.ips[p.Spec.NodeName][ip] = true
		}
	}
	return s
}

// read returns the node's ztunnel read, reading it on the first call; first tells that call.
func (s *ztunnelShare) read(ctx context.Context, f *Fetcher, node string) (zr *ztunnelRead, first bool) {
	s.mu.Lock()
	zr = s.nodes[node]
	if zr == nil {
		zr = &ztunnelRead{}
		s.nodes[node] = zr
	}
	ips := s.ips[node]
	s.mu.Unlock()
	zr.once.Do(func() {
		first = true
		zr.readFrom(ctx, f, node, ips)
	})
	return zr, first
}

func (zr *ztunnelRead) readFrom(ctx context.Context, f *Fetcher, node string, ips map[string]bool) {
	if zr.zt, zr.err = f.ztunnelOf(ctx, node); zr.err != nil {
		return
	}
	zt := zr.zt
	type opened struct {
		rc  io.ReadCloser
		err error
	}
	logCh := make(chan opened, 1)
	go func() {
		rc, err := f.openZtunnelLog(ctx, zt)
		logCh <- opened{rc, err}
	}()
	for _, read := range []struct {
		port int
		path string
		into *[]byte
	}{{ZtunnelAdminPort, "/config_dump", &zr.configDump}, {ZtunnelStatsPort, "/stats/prometheus", &zr.stats}} {
		admin, done, err := f.adminAt(ctx, zt, read.port)
		if err != nil {
			zr.readErrs = append(zr.readErrs, fmt.Errorf("failed to reach its ztunnel %s/%s on port %d: %w", zt.Namespace, zt.Name, read.port, err))
			continue
		}
		b, err := admin.Get(ctx, read.path)
		done()
		if err != nil {
			zr.readErrs = append(zr.readErrs, fmt.Errorf("its ztunnel %s/%s: %w", zt.Namespace, zt.Name, err))
			continue
		}
		*read.into = b
		zr.bytes += int64(len(b))
	}
	l := <-logCh
	if zr.logErr = l.err; l.err != nil {
		return
	}
	defer l.rc.Close()
	counted := &countingReader{r: l.rc}
	zr.log, zr.logErr = linesFrom(counted, ips)
	zr.bytes += counted.n
	zr.logCut = f.MaxLogBytes > 0 && counted.n >= f.MaxLogBytes
}

// linesFrom keeps the log lines whose src.addr is one of ips: the connections of the run's
// pods of the node, out of those of every pod there.
func linesFrom(r io.Reader, ips map[string]bool) ([]byte, error) {
	var out []byte
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxLineBytes)
	for sc.Scan() {
		line := sc.Bytes()
		i := bytes.Index(line, []byte("src.addr="))
		if i < 0 {
			continue
		}
		addr := line[i+len("src.addr="):]
		if end := bytes.IndexAny(addr, " \t"); end >= 0 {
			addr = addr[:end]
		}
		if ips[hostOf(string(addr))] {
			out = append(append(out, line...), '\n')
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("failed to read the log of its ztunnel: %w", err)
	}
	return out, nil
}

// ztunnelOf finds the running ztunnel pod on a node, in any namespace, or in istio-system when
// listing pods everywhere is forbidden.
func (f *Fetcher) ztunnelOf(ctx context.Context, node string) (*corev1.Pod, error) {
	opts := metav1.ListOptions{LabelSelector: ztunnelSelector, FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String()}
	list, err := f.Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, opts)
	if apierrors.IsForbidden(err) {
		list, err = f.Client.CoreV1().Pods(ztunnelNamespace).List(ctx, opts)
	}
	if apierrors.IsForbidden(err) {
		return nil, fmt.Errorf("listing the ztunnel pods is forbidden: ask for RBAC verb \"list\" on \"pods\" in namespace %s", ztunnelNamespace)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to find the ztunnel of node %s: %w", node, err)
	}
	for i := range list.Items {
		if z := &list.Items[i]; z.Spec.NodeName == node && z.Status.Phase == corev1.PodRunning && z.DeletionTimestamp == nil {
			return z, nil
		}
	}
	return nil, fmt.Errorf("no running ztunnel pod (label %s) is on its node %s: is ztunnel installed?", ztunnelSelector, node)
}

// openZtunnelLog streams the ztunnel container's log, where ztunnel writes a line per connection.
func (f *Fetcher) openZtunnelLog(ctx context.Context, zt *corev1.Pod) (io.ReadCloser, error) {
	return f.openContainerLog(ctx, zt, ztunnelContainer, "the log of its ztunnel "+zt.Namespace+"/"+zt.Name)
}
