package inspect

import (
	"context"
	"fmt"
	"io"

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
// its metrics and its log (read as a stream, like a sidecar's access log).
func (f *Fetcher) fetchAmbient(ctx context.Context, pod *corev1.Pod) (src Sources, finish func() error) {
	src = Sources{Pod: PodOf(pod), LogFormat: f.LogFormat}
	finish = func() error { return nil }
	zt, err := f.ztunnelOf(ctx, pod)
	if err != nil {
		src.Errors = append(src.Errors, err)
		return src, finish
	}
	z := &ZtunnelSources{Pod: PodOf(zt)}
	for _, ip := range pod.Status.PodIPs {
		z.PodIPs = append(z.PodIPs, ip.IP)
	}
	if len(z.PodIPs) == 0 && pod.Status.PodIP != "" {
		z.PodIPs = []string{pod.Status.PodIP}
	}
	src.Ztunnel = z
	type opened struct {
		rc  io.ReadCloser
		err error
	}
	logCh := make(chan opened, 1)
	go func() {
		rc, err := f.openZtunnelLog(ctx, pod, zt)
		logCh <- opened{rc, err}
	}()
	for _, read := range []struct {
		port int
		path string
		into *[]byte
	}{{ZtunnelAdminPort, "/config_dump", &z.ConfigDump}, {ZtunnelStatsPort, "/stats/prometheus", &z.Stats}} {
		admin, done, err := f.adminAt(ctx, zt, read.port)
		if err != nil {
			src.Errors = append(src.Errors, fmt.Errorf("pod %s/%s is in ambient mode: failed to reach its ztunnel %s/%s on port %d: %w", pod.Namespace, pod.Name, zt.Namespace, zt.Name, read.port, err))
			continue
		}
		b, err := admin.Get(ctx, read.path)
		done()
		if err != nil {
			src.Errors = append(src.Errors, fmt.Errorf("pod %s/%s is in ambient mode: its ztunnel %s/%s: %w", pod.Namespace, pod.Name, zt.Namespace, zt.Name, err))
			continue
		}
		*read.into = b
	}
	l := <-logCh
	if l.err != nil {
		src.Errors = append(src.Errors, l.err)
		return src, finish
	}
	counted := &countingReader{r: l.rc}
	z.Log = counted
	return src, func() error {
		l.rc.Close()
		if f.MaxLogBytes > 0 && counted.n >= f.MaxLogBytes {
			return fmt.Errorf("the log of ztunnel %s/%s was cut at the %d-byte cap (--max-log-bytes): the rest of the last %s was not read; raise the cap or lower --since", zt.Namespace, zt.Name, f.MaxLogBytes, f.Since)
		}
		return nil
	}
}

// ztunnelOf finds the running ztunnel pod on the pod's node, in any namespace, or in
// istio-system when listing pods everywhere is forbidden.
func (f *Fetcher) ztunnelOf(ctx context.Context, pod *corev1.Pod) (*corev1.Pod, error) {
	node := pod.Spec.NodeName
	if node == "" {
		return nil, fmt.Errorf("pod %s/%s is in ambient mode but not scheduled on a node: no ztunnel carries its traffic", pod.Namespace, pod.Name)
	}
	opts := metav1.ListOptions{LabelSelector: ztunnelSelector, FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String()}
	list, err := f.Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, opts)
	if apierrors.IsForbidden(err) {
		list, err = f.Client.CoreV1().Pods(ztunnelNamespace).List(ctx, opts)
	}
	if apierrors.IsForbidden(err) {
		return nil, fmt.Errorf("pod %s/%s is in ambient mode: listing the ztunnel pods is forbidden: ask for RBAC verb \"list\" on \"pods\" in namespace %s", pod.Namespace, pod.Name, ztunnelNamespace)
	}
	if err != nil {
		return nil, fmt.Errorf("pod %s/%s is in ambient mode: failed to find the ztunnel of node %s: %w", pod.Namespace, pod.Name, node, err)
	}
	for i := range list.Items {
		if z := &list.Items[i]; z.Spec.NodeName == node && z.Status.Phase == corev1.PodRunning && z.DeletionTimestamp == nil {
			return z, nil
		}
	}
	return nil, fmt.Errorf("pod %s/%s is in ambient mode but no running ztunnel pod (label %s) is on its node %s: is ztunnel installed?", pod.Namespace, pod.Name, ztunnelSelector, node)
}

// openZtunnelLog streams the ztunnel container's log, where ztunnel writes a line per connection.
func (f *Fetcher) openZtunnelLog(ctx context.Context, pod, zt *corev1.Pod) (io.ReadCloser, error) {
	rc, err := f.streamLog(ctx, zt, ztunnelContainer)
	if err != nil {
		if apierrors.IsForbidden(err) {
			return nil, fmt.Errorf("pod %s/%s is in ambient mode: reading the log of its ztunnel %s/%s is forbidden: ask for RBAC verb \"get\" on \"pods/log\" in namespace %s", pod.Namespace, pod.Name, zt.Namespace, zt.Name, zt.Namespace)
		}
		return nil, fmt.Errorf("pod %s/%s is in ambient mode: failed to read the log of its ztunnel %s/%s: %w", pod.Namespace, pod.Name, zt.Namespace, zt.Name, err)
	}
	return rc, nil
}
