package mesh

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/yaml"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/kubectl-egress/kubectl-egress/e2e/sidecar"
	"github.com/kubectl-egress/kubectl-egress/e2e/ztunnel"
)

var (
	portForwardGVR = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "portforwards"}
	logsGVR        = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "logs"}
)

// Sidecars runs one stand-in per Running pod that has an istio-proxy container, and tells kwok
// to forward the pod's admin ports to it and to serve its access log as the container's log.
type Sidecars struct {
	m       *Mesh
	mu      sync.Mutex
	running map[string]*sidecar.Sidecar // by namespace/name
	pods    map[string]*corev1.Pod      // the pod each stand-in serves
	synced  map[string]bool
	// Ambient mode: the ztunnel stand-in of each node (and by its pod), the ambient pods each
	// captured (namespace/name → pod UID), and ambient pods seen before their node's ztunnel.
	ztunnels       map[string]*ztunnel.Ztunnel
	ztunnelPods    map[string]*ztunnel.Ztunnel
	ambient        map[string]string
	pendingAmbient map[string][]*corev1.Pod
	sem            chan struct{}
	ctx            context.Context
	cancel         context.CancelFunc
	wg             sync.WaitGroup
}

func newSidecars(m *Mesh) *Sidecars {
	return &Sidecars{m: m, running: map[string]*sidecar.Sidecar{}, pods: map[string]*corev1.Pod{}, synced: map[string]bool{},
		ztunnels: map[string]*ztunnel.Ztunnel{}, ztunnelPods: map[string]*ztunnel.Ztunnel{}, ambient: map[string]string{},
		pendingAmbient: map[string][]*corev1.Pod{}, sem: make(chan struct{}, 32)}
}

// start watches the fake node's pods.
func (s *Sidecars) start(ctx context.Context) error {
	ctx, s.cancel = context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactoryWithOptions(s.m.Client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", nodeName).String()
	}))
	inf := factory.Core().V1().Pods().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.observe(ctx, obj.(*corev1.Pod)) },
		UpdateFunc: func(_, obj any) { s.observe(ctx, obj.(*corev1.Pod)) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				s.forget(p.Namespace + "/" + p.Name)
			}
		},
	})
	if err != nil {
		return err
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return nil
}

func hasProxy(p *corev1.Pod) bool {
	for _, c := range p.Spec.Containers {
		if c.Name == "istio-proxy" {
			return true
		}
	}
	return false
}

func (s *Sidecars) observe(ctx context.Context, p *corev1.Pod) {
	key := p.Namespace + "/" + p.Name
	if p.DeletionTimestamp != nil {
		s.forget(key)
		return
	}
	if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
		return
	}
	if s.isAmbient(ctx, p) {
		s.mu.Lock()
		s.ctx = ctx
		s.mu.Unlock()
		s.capture(ctx, p)
		return
	}
	if !hasProxy(p) {
		return
	}
	s.mu.Lock()
	if _, ok := s.running[key]; ok {
		s.mu.Unlock()
		return
	}
	s.running[key] = nil // claimed; filled once started
	s.pods[key] = p.DeepCopy()
	s.ctx = ctx
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.sem <- struct{}{}
		defer func() { <-s.sem }()
		run := s.run
		if isZtunnelPod(p) {
			run = s.startZtunnel
		}
		if err := run(ctx, p.DeepCopy()); err != nil {
			s.m.opts.Log("sidecar stand-in for pod %s: %v", key, err)
			s.mu.Lock()
			delete(s.running, key)
			s.mu.Unlock()
		}
	}()
}

func (s *Sidecars) run(ctx context.Context, p *corev1.Pod) error {
	key := p.Namespace + "/" + p.Name
	var calls []sidecar.Call
	if a := p.Annotations[CallsAnnotation]; a != "" {
		if err := json.Unmarshal([]byte(a), &calls); err != nil {
			return fmt.Errorf("bad %s annotation: %w", CallsAnnotation, err)
		}
	}
	var excluded []string
	if r := p.Annotations["traffic.sidecar.istio.io/excludeOutboundIPRanges"]; r != "" {
		for _, c := range strings.Split(r, ",") {
			excluded = append(excluded, strings.TrimSpace(c))
		}
	}
	logPath := filepath.Join(s.m.opts.Dir, "sidecars", p.Namespace+"_"+p.Name+".log")
	sc, err := sidecar.Start(ctx, sidecar.Config{
		Namespace: p.Namespace, Name: p.Name, IP: p.Status.PodIP, Labels: p.Labels,
		Router: isGatewayPod(p), Waypoint: isWaypointPod(p),
		ServiceAccount: p.Spec.ServiceAccountName,
		XDSAddr:        s.m.XDSAddr, AdminAddr: "127.0.0.1:0", LogPath: logPath,
		AccessLogEncoding: "TEXT", IstioVersion: IstioVersion,
		Calls: calls, ExcludedCIDRs: excluded, ProxyMetadata: proxyMetadata(p),
		// Apps keep pooled connections open, so PassthroughCluster's original destinations stay
		// listed in /clusters, as on a busy pod.
		ConnectionLinger: time.Hour,
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	if _, claimed := s.running[key]; !claimed { // deleted meanwhile
		s.mu.Unlock()
		return sc.Close()
	}
	s.running[key] = sc
	s.mu.Unlock()

	if err := s.expose(ctx, p, map[int64]string{15000: sc.AdminAddr(), 15090: sc.AdminAddr()}, logPath); err != nil {
		return err
	}
	// The stand-in's admin API (and /stats/prometheus) listens on a loopback port, not on the
	// fake pod IP: the annotation tells a Prometheus of the local mesh where to scrape the pod.
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{ScrapeAddressAnnotation: sc.AdminAddr()}}})
	if _, err := s.m.Client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("failed to annotate pod %s with its scrape address: %w", key, err)
	}
	syncCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	// The stand-in runs the pod's calls once, on its first synced configuration.
	if err := sc.WaitSynced(syncCtx); err != nil {
		return fmt.Errorf("no xDS from istiod: %w", err)
	}
	s.mu.Lock()
	s.synced[key] = true
	s.mu.Unlock()
	if every := s.m.opts.ReplayEvery; every > 0 {
		s.wg.Add(1)
		go s.replayEvery(ctx, key, sc, every)
	}
	return nil
}

// expose tells kwok to forward the pod's ports to the stand-in's addresses and to serve the
// stand-in's log as the istio-proxy container's log.
func (s *Sidecars) expose(ctx context.Context, p *corev1.Pod, ports map[int64]string, logPath string) error {
	key := p.Namespace + "/" + p.Name
	byTarget := map[string][]any{}
	var targets []string
	for port, addr := range ports {
		if byTarget[addr] == nil {
			targets = append(targets, addr)
		}
		byTarget[addr] = append(byTarget[addr], port)
	}
	sort.Strings(targets)
	var forwards []any
	for _, addr := range targets {
		_, portStr, err := net.SplitHostPort(addr)
		if err != nil {
			return err
		}
		port, err := strconv.ParseInt(portStr, 10, 64)
		if err != nil {
			return err
		}
		forwards = append(forwards, map[string]any{
			"ports":  byTarget[addr],
			"target": map[string]any{"address": "127.0.0.1", "port": port},
		})
	}
	pf := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "PortForward",
		"metadata": map[string]any{"name": p.Name, "namespace": p.Namespace},
		"spec":     map[string]any{"forwards": forwards},
	}}
	logs := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Logs",
		"metadata": map[string]any{"name": p.Name, "namespace": p.Namespace},
		"spec": map[string]any{"logs": []any{map[string]any{
			"containers": []any{"istio-proxy"}, "logsFile": logPath, "follow": true,
		}}},
	}}
	for _, obj := range []struct {
		gvr schema.GroupVersionResource
		u   *unstructured.Unstructured
	}{{portForwardGVR, pf}, {logsGVR, logs}} {
		_, err := s.m.Dynamic.Resource(obj.gvr).Namespace(p.Namespace).Apply(ctx, p.Name, obj.u, metav1.ApplyOptions{FieldManager: "localmesh", Force: true})
		if err != nil {
			return fmt.Errorf("failed to create kwok %s for pod %s: %w", obj.u.GetKind(), key, err)
		}
	}
	return nil
}

// replayEvery replays the pod's calls at the interval until the stand-in is gone.
func (s *Sidecars) replayEvery(ctx context.Context, key string, sc *sidecar.Sidecar, every time.Duration) {
	s.replayLoop(ctx, every, func() bool { return s.running[key] == sc }, func() { _ = sc.Replay(ctx) })
}

// replayLoop calls replay at the interval, starting at a random offset so a fleet's stand-ins
// do not all call at once, for as long as current (asked under s.mu) says the stand-in is still
// the one running.
func (s *Sidecars) replayLoop(ctx context.Context, every time.Duration, current func() bool, replay func()) {
	defer s.wg.Done()
	select {
	case <-ctx.Done():
		return
	case <-time.After(time.Duration(rand.Int64N(int64(every)))):
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.mu.Lock()
		still := current()
		s.mu.Unlock()
		if !still {
			return
		}
		replay()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// proxyMetadata reads the proxyMetadata of the pod's proxy.istio.io/config annotation, as the
// injector turns them into the istio-proxy container's environment.
func proxyMetadata(p *corev1.Pod) map[string]string {
	var pc struct {
		ProxyMetadata map[string]string `json:"proxyMetadata"`
	}
	if a := p.Annotations["proxy.istio.io/config"]; a != "" {
		_ = yaml.Unmarshal([]byte(a), &pc)
	}
	return pc.ProxyMetadata
}

func (s *Sidecars) forget(key string) {
	s.release(key)
	s.mu.Lock()
	if z := s.ztunnelPods[key]; z != nil {
		delete(s.ztunnelPods, key)
		for node, nz := range s.ztunnels {
			if nz == z {
				delete(s.ztunnels, node)
			}
		}
		defer z.Close()
	}
	sc := s.running[key]
	delete(s.running, key)
	delete(s.synced, key)
	delete(s.pods, key)
	s.mu.Unlock()
	if sc != nil {
		_ = sc.Close()
	}
}

// restart replaces a pod's stand-in with a new one, which connects to istiod afresh.
func (s *Sidecars) restart(namespace, name string) {
	key := namespace + "/" + name
	s.mu.Lock()
	p, ctx := s.pods[key], s.ctx
	s.mu.Unlock()
	if p == nil {
		return
	}
	s.forget(key)
	s.observe(ctx, p)
}

// Get returns the stand-in of pod namespace/name, or nil.
func (s *Sidecars) Get(namespace, name string) *sidecar.Sidecar {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running[namespace+"/"+name]
}

// InNamespace returns the synced stand-ins of a namespace.
func (s *Sidecars) InNamespace(namespace string) []*sidecar.Sidecar {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*sidecar.Sidecar
	for k, sc := range s.running {
		if sc != nil && s.synced[k] && strings.HasPrefix(k, namespace+"/") {
			out = append(out, sc)
		}
	}
	return out
}

// waitExpected blocks until each namespace has at least want[ns] synced stand-ins.
func (s *Sidecars) waitExpected(ctx context.Context, want map[string]int) error {
	for {
		have := map[string]int{}
		s.mu.Lock()
		for k := range s.synced {
			have[k[:strings.Index(k, "/")]]++
		}
		s.mu.Unlock()
		var missing []string
		for ns, n := range want {
			if have[ns] < n {
				missing = append(missing, fmt.Sprintf("%s %d/%d", ns, have[ns], n))
			}
		}
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sidecar stand-ins not synced: %s: %w", strings.Join(missing, ", "), ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (s *Sidecars) stop() {
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Lock()
	all := s.running
	s.running = map[string]*sidecar.Sidecar{}
	zs := s.ztunnelPods
	s.ztunnelPods, s.ztunnels = map[string]*ztunnel.Ztunnel{}, map[string]*ztunnel.Ztunnel{}
	s.mu.Unlock()
	for _, z := range zs {
		z.Close()
	}
	for _, sc := range all {
		if sc != nil {
			_ = sc.Close()
		}
	}
}

// podsIn returns the pods of a namespace that have a stand-in.
func (s *Sidecars) podsIn(namespace string) []*corev1.Pod {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*corev1.Pod
	for k, p := range s.pods {
		if strings.HasPrefix(k, namespace+"/") {
			out = append(out, p)
		}
	}
	return out
}
