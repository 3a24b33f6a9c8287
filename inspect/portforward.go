package inspect

import (
	"context"
	"errors"
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
	// Forward returns the tunnel that reaches pod:port; its Stop closes it.
	Forward(ctx context.Context, pod *corev1.Pod, port int) (Tunnel, error)
}

// Tunnel is an open forward to a pod's port.
type Tunnel struct {
	Addr string // the local address, 127.0.0.1:PORT
	Stop func()
	// Lost, when set, is done once the tunnel ended on its own, with the reason as its cause.
	// client-go closes a whole forward when one of its connections fails in the pod (nothing
	// listens on the port there), and a read whose stream was still being opened would then wait
	// the stream-creation timeout (30 s) for an answer that cannot come: reads end at Lost instead.
	Lost context.Context
}

// PortForwarder forwards through the API server's pods/portforward subresource, over WebSocket
// with a fallback to SPDY for older servers, as kubectl does.
type PortForwarder struct {
	Config *rest.Config
	Client kubernetes.Interface
}

// Forward implements Forwarder on local port 0 (the kernel picks a free one).
func (f *PortForwarder) Forward(ctx context.Context, pod *corev1.Pod, port int) (Tunnel, error) {
	url := f.Client.CoreV1().RESTClient().Post().
		Resource("pods").Namespace(pod.Namespace).Name(pod.Name).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(f.Config)
	if err != nil {
		return Tunnel{}, err
	}
	var dialer httpstream.Dialer = spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	ws, err := portforward.NewSPDYOverWebsocketDialer(url, f.Config)
	if err != nil {
		return Tunnel{}, err
	}
	dialer = portforward.NewFallbackDialer(ws, dialer, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	stopCh, readyCh := make(chan struct{}), make(chan struct{})
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, stopCh, readyCh, io.Discard, io.Discard)
	if err != nil {
		return Tunnel{}, err
	}
	failed := make(chan error, 1)
	go func() { failed <- fw.ForwardPorts() }()
	var once sync.Once
	stop := func() { once.Do(func() { close(stopCh) }) }
	select {
	case <-readyCh:
	case err := <-failed:
		return Tunnel{}, forwardError(pod, port, err)
	case <-ctx.Done():
		stop()
		return Tunnel{}, ctx.Err()
	}
	lost, markLost := context.WithCancelCause(context.Background())
	go func() {
		err := <-failed
		if err == nil {
			err = errors.New("the port-forward was stopped")
		}
		markLost(err)
	}()
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		stop()
		return Tunnel{}, fmt.Errorf("port-forward to pod %s/%s started but reported no local port: %v", pod.Namespace, pod.Name, err)
	}
	return Tunnel{Addr: fmt.Sprintf("127.0.0.1:%d", ports[0].Local), Stop: stop, Lost: lost}, nil
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
