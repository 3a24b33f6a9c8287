package inspect

import (
	"fmt"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// PodProxy reads admin APIs through the API server's pods/proxy subresource: plain requests,
// multiplexed over the client's one HTTP/2 connection to the API server, with no upgrade, no
// tunnel and no streams per pod. The API server itself dials the pod IP, so it only works where
// the control plane reaches the pod network (not on some managed control planes, nor kwok's
// fake pod IPs); RBAC: "get" on "pods/proxy". It is opt-in (--via-pods-proxy).
type PodProxy struct {
	// Host is the API server's URL.
	Host string
	// Client carries the kubeconfig's credentials (rest.HTTPClientFor).
	Client *http.Client
}

// Admin is pod's admin API on port, through the API server.
func (p *PodProxy) Admin(pod *corev1.Pod, port int, caps Caps) AdminClient {
	return &HTTPAdmin{
		Base:   fmt.Sprintf("%s/api/v1/namespaces/%s/pods/%s:%d/proxy", strings.TrimSuffix(p.Host, "/"), pod.Namespace, pod.Name, port),
		Caps:   caps,
		Client: p.Client,
	}
}
