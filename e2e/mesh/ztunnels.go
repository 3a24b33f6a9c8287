package mesh

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-egress/kubectl-egress/e2e/sidecar"
	"github.com/kubectl-egress/kubectl-egress/e2e/ztunnel"
)

// Ambient mode in the mesh: each node's ztunnel pod gets a ztunnel stand-in, and the pods of
// ambient namespaces are captured by it the way istio-cni hands them over (annotating them
// ambient.istio.io/redirection: enabled, which istiod reads).

// isAmbient tells whether a pod without a sidecar is in ambient mode: its own label, else its
// namespace's (istio-cni's rule; "none" opts a pod out).
func (s *Sidecars) isAmbient(ctx context.Context, p *corev1.Pod) bool {
	if hasProxy(p) || isZtunnelPod(p) {
		return false
	}
	if mode, ok := p.Labels[DataplaneModeLabel]; ok {
		return mode == "ambient"
	}
	ns, err := s.m.Client.CoreV1().Namespaces().Get(ctx, p.Namespace, metav1.GetOptions{})
	return err == nil && ns.Labels[DataplaneModeLabel] == "ambient"
}

// startZtunnel runs the stand-in of a ztunnel pod and exposes its admin (15000) and stats
// (15020) ports and its log through kwok.
func (s *Sidecars) startZtunnel(ctx context.Context, p *corev1.Pod) error {
	key := p.Namespace + "/" + p.Name
	logPath := filepath.Join(s.m.opts.Dir, "sidecars", p.Namespace+"_"+p.Name+".log")
	z, err := ztunnel.Start(ztunnel.Config{
		Namespace: p.Namespace, Name: p.Name, IP: p.Status.PodIP, Node: p.Spec.NodeName,
		XDSAddr: s.m.XDSAddr, LogPath: logPath, IstioVersion: IstioVersion,
		Waypoint: s.byIP, ConnectionLinger: time.Hour,
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	if _, claimed := s.running[key]; !claimed {
		s.mu.Unlock()
		z.Close()
		return nil
	}
	s.ztunnels[p.Spec.NodeName] = z
	s.ztunnelPods[key] = z
	s.mu.Unlock()
	if err := s.expose(ctx, p, map[int64]string{15000: z.AdminAddr(), 15020: z.StatsAddr()}, logPath); err != nil {
		return err
	}
	syncCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := z.WaitSynced(syncCtx); err != nil {
		return err
	}
	s.mu.Lock()
	pending := s.pendingAmbient[p.Spec.NodeName]
	delete(s.pendingAmbient, p.Spec.NodeName)
	s.mu.Unlock()
	for _, ap := range pending {
		s.capture(ctx, ap)
	}
	if every := s.m.opts.ReplayEvery; every > 0 {
		s.wg.Add(1)
		go s.replayZtunnel(ctx, key, z, every)
	}
	return nil
}

// replayZtunnel replays the captured pods' calls at the interval until the stand-in is gone.
func (s *Sidecars) replayZtunnel(ctx context.Context, key string, z *ztunnel.Ztunnel, every time.Duration) {
	s.replayLoop(ctx, every, func() bool { return s.ztunnelPods[key] == z }, func() { z.Replay() })
}

// capture hands an ambient pod to its node's ztunnel, annotating it as istio-cni does; the pod
// counts as synced once istiod has sent ztunnel its workload, and its calls run then.
func (s *Sidecars) capture(ctx context.Context, p *corev1.Pod) {
	key := p.Namespace + "/" + p.Name
	s.mu.Lock()
	z := s.ztunnels[p.Spec.NodeName]
	if z == nil {
		s.pendingAmbient[p.Spec.NodeName] = append(s.pendingAmbient[p.Spec.NodeName], p.DeepCopy())
		s.mu.Unlock()
		return
	}
	if _, done := s.ambient[key]; done {
		s.mu.Unlock()
		return
	}
	s.ambient[key] = string(p.UID)
	s.pods[key] = p.DeepCopy()
	s.mu.Unlock()
	var calls []sidecar.Call
	if a := p.Annotations[CallsAnnotation]; a != "" {
		if err := json.Unmarshal([]byte(a), &calls); err != nil {
			s.m.opts.Log("ambient pod %s: bad %s annotation: %v", key, CallsAnnotation, err)
		}
	}
	sa := p.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	z.Capture(ztunnel.Pod{UID: string(p.UID), Namespace: p.Namespace, Name: p.Name, ServiceAccount: sa, IP: p.Status.PodIP, Calls: calls})
	if p.Annotations[redirectionAnnotation] != "enabled" {
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"enabled"}}}`, redirectionAnnotation)
		if _, err := s.m.Client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			s.m.opts.Log("ambient pod %s: %v", key, err)
		}
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		deadline := time.Now().Add(2 * time.Minute)
		for !z.Knows(p.Namespace, p.Name) {
			if time.Now().After(deadline) || ctx.Err() != nil {
				s.m.opts.Log("ambient pod %s: ztunnel never got its workload from istiod", key)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		z.Replay(string(p.UID))
		s.mu.Lock()
		s.synced[key] = true
		s.mu.Unlock()
	}()
}

// release takes an ambient pod back from its ztunnel.
func (s *Sidecars) release(key string) {
	s.mu.Lock()
	uid, ok := s.ambient[key]
	p := s.pods[key]
	delete(s.ambient, key)
	var z *ztunnel.Ztunnel
	if ok && p != nil {
		z = s.ztunnels[p.Spec.NodeName]
	}
	s.mu.Unlock()
	if z != nil {
		z.Release(uid)
	}
}

// byIP is the sidecar or waypoint stand-in serving a pod IP, for ztunnel's HBONE connections.
func (s *Sidecars) byIP(ip string) *sidecar.Sidecar {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sc := range s.running {
		if sc != nil && sc.IP() == ip {
			return sc
		}
	}
	return nil
}

// Ztunnel returns the stand-in of the ztunnel on a node, or nil.
func (s *Sidecars) Ztunnel(node string) *ztunnel.Ztunnel {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ztunnels[node]
}
