package plugin

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// proxyFlags choose pods and bound how their sidecars are read; inspect and verify share them.
type proxyFlags struct {
	AllNamespaces bool
	Selector      string
	AdminPort     int
	Since         time.Duration
	Concurrency   int
	AdminTimeout  time.Duration
	MaxBytes      int64
	MaxLogBytes   int64
}

func newProxyFlags(since time.Duration) proxyFlags {
	return proxyFlags{
		AdminPort:    inspect.DefaultAdminPort,
		Since:        since,
		Concurrency:  8,
		AdminTimeout: inspect.DefaultCaps.Timeout,
		MaxBytes:     inspect.DefaultCaps.MaxBytes,
		MaxLogBytes:  256 << 20,
	}
}

// addFlags binds the flags; allHelp says what -A does for the command.
func (p *proxyFlags) addFlags(fs *pflag.FlagSet, allHelp string) {
	fs.BoolVarP(&p.AllNamespaces, "all-namespaces", "A", p.AllNamespaces, allHelp)
	fs.StringVarP(&p.Selector, "selector", "l", p.Selector, "Label selector for the pods (e.g. app=shop)")
	fs.IntVar(&p.AdminPort, "admin-port", p.AdminPort, "Envoy admin port in the pod (proxyAdminPort)")
	fs.DurationVar(&p.Since, "since", p.Since, "Read access logs this far back")
	fs.IntVar(&p.Concurrency, "concurrency", p.Concurrency, "Pods read at once")
	fs.DurationVar(&p.AdminTimeout, "admin-timeout", p.AdminTimeout, "Longest wait for one admin response")
	fs.Int64Var(&p.MaxBytes, "max-bytes", p.MaxBytes, "Largest admin response read from one sidecar")
	fs.Int64Var(&p.MaxLogBytes, "max-log-bytes", p.MaxLogBytes, "Largest access log read from one sidecar (0: no cap)")
}

func (p *proxyFlags) validate() error {
	if p.Concurrency < 1 {
		return fmt.Errorf("--concurrency must be at least 1, not %d", p.Concurrency)
	}
	if p.MaxBytes < 1024 {
		return fmt.Errorf("--max-bytes must be at least 1024, not %d", p.MaxBytes)
	}
	if p.AdminPort < 1 || p.AdminPort > 65535 {
		return fmt.Errorf("--admin-port must be a port number, not %d", p.AdminPort)
	}
	return nil
}

func (p *proxyFlags) caps() inspect.Caps {
	return inspect.Caps{MaxBytes: p.MaxBytes, Timeout: p.AdminTimeout}
}

// tuneClient raises client-go's default 5 QPS, which would make a 500-pod mesh take minutes:
// each pod costs two API calls (port-forward, logs). The budget scales with --concurrency.
func (p *proxyFlags) tuneClient(config *rest.Config) {
	config.QPS, config.Burst = float32(10*p.Concurrency), 20*p.Concurrency
}

// fetcher reads pods' sidecars through port-forwards and their istio-proxy logs.
func (p *proxyFlags) fetcher(config *rest.Config, client kubernetes.Interface) *inspect.Fetcher {
	return &inspect.Fetcher{
		Forwarder: &inspect.PortForwarder{Config: config, Client: client},
		Client:    client, AdminPort: p.AdminPort, Caps: p.caps(), Since: p.Since, MaxLogBytes: p.MaxLogBytes,
	}
}
