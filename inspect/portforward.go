package inspect

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	//lint:ignore SA1019 client-go v0.36 portforward still takes apimachinery's httpstream.Dialer
	"k8s.io/apimachinery/pkg/util/httpstream"
)

// Forwarder opens a tunnel from a local port to a pod's port. It is the seam between the
// inspector and the cluster: the real one goes through the API server, tests may dial directly.
type Forwarder interface {
	// Forward returns the local address that reaches pod:port, and a function that closes it.
	Forward(ctx context.Context, pod *corev1.Pod, port int) (addr string, stop func(), err error)
}

// PortForwarder forwards through the API server's pods/portforward subresource, over WebSocket
// with a fallback to SPDY for older servers, as kubectl does.
type PortForwarder struct {
	Config *rest.Config
	Client kubernetes.Interface
}

// Forward implements Forwarder on local port 0 (the kernel picks a free one).
func (f *PortForwarder) Forward(ctx context.Context, pod *corev1.Pod, port int) (string, func(), error) {
	url := f.Client.CoreV1().RESTClient().Post().
		Resource("pods").Namespace(pod.Namespace).Name(pod.Name).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(f.Config)
	if err != nil {
		return "", nil, err
	}
	var dialer httpstream.Dialer = spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	ws, err := portforward.NewSPDYOverWebsocketDialer(url, f.Config)
	if err != nil {
		return "", nil, err
	}
	dialer = portforward.NewFallbackDialer(ws, dialer, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	stopCh, readyCh := make(chan struct{}), make(chan struct{})
	errOut := &syncBuffer{}
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, stopCh, readyCh, io.Discard, errOut)
	if err != nil {
		return "", nil, err
	}
	failed := make(chan error, 1)
	go func() { failed <- fw.ForwardPorts() }()
	var once sync.Once
	stop := func() { once.Do(func() { close(stopCh) }) }
	select {
	case <-readyCh:
	case err := <-failed:
		return "", nil, forwardError(pod, port, err)
	case <-ctx.Done():
		stop()
		return "", nil, ctx.Err()
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		stop()
		return "", nil, fmt.Errorf("port-forward to pod %s/%s started but reported no local port: %v", pod.Namespace, pod.Name, err)
	}
	return fmt.Sprintf("127.0.0.1:%d", ports[0].Local), stop, nil
}

// forwardError turns a port-forward failure into one line naming the pod and the remedy.
func forwardError(pod *corev1.Pod, port int, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "forbidden") || strings.Contains(msg, "403"):
		return fmt.Errorf("port-forward to pod %s/%s is forbidden: ask for RBAC verbs \"get\" and \"create\" on \"pods/portforward\" in namespace %s (WebSocket port-forwards are GETs)", pod.Namespace, pod.Name, pod.Namespace)
	case strings.Contains(msg, "not running") || strings.Contains(msg, "does not have a host assigned"):
		return fmt.Errorf("pod %s/%s is not running: cannot port-forward to its sidecar", pod.Namespace, pod.Name)
	}
	return fmt.Errorf("port-forward to pod %s/%s port %d failed: %w", pod.Namespace, pod.Name, port, err)
}

// syncBuffer collects the forwarder's error chatter, which it writes from its own goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}
