package plugin

import (
	"fmt"
	"slices"
	"time"

	"github.com/spf13/pflag"

	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// proxyFlags choose pods and bound how their sidecars are read; inspect and verify share them.
type proxyFlags struct {
	AllNamespaces bool
	Selector      string
	Read          inspect.ReadConfig
}

func newProxyFlags(since time.Duration) proxyFlags {
	r := inspect.DefaultReadConfig()
	r.Since = since
	return proxyFlags{Read: r}
}

// addFlags binds the flags; allHelp says what -A does for the command.
func (p *proxyFlags) addFlags(fs *pflag.FlagSet, allHelp string) {
	fs.BoolVarP(&p.AllNamespaces, "all-namespaces", "A", p.AllNamespaces, allHelp)
	fs.StringVarP(&p.Selector, "selector", "l", p.Selector, "Label selector for the pods (e.g. app=shop)")
	addReadFlags(fs, &p.Read)
}

// addReadFlags binds the flags that bound reading a proxy; the fix commands take them too, for
// the proxies they observe.
func addReadFlags(fs *pflag.FlagSet, r *inspect.ReadConfig) {
	fs.IntVar(&r.AdminPort, "admin-port", r.AdminPort, "Envoy admin port in the pod (proxyAdminPort)")
	fs.DurationVar(&r.Since, "since", r.Since, "Read access logs this far back")
	fs.IntVar(&r.Concurrency, "concurrency", r.Concurrency, "Pods read at once")
	fs.DurationVar(&r.Caps.Timeout, "admin-timeout", r.Caps.Timeout, "Longest wait for one admin response")
	fs.Int64Var(&r.Caps.MaxBytes, "max-bytes", r.Caps.MaxBytes, "Largest admin response read from one sidecar")
	fs.Int64Var(&r.MaxLogBytes, "max-log-bytes", r.MaxLogBytes, "Largest access log read from one sidecar (0: no cap)")
	fs.Var(configScopeFlag{&r.Config.Scope}, "config-scope", "How much of each proxy's configuration to read: all; traffic (the clusters its traffic used: registered hosts it never called are left out); auto (all, or traffic past 1000 clusters)")
	fs.BoolVar(&r.ViaPodsProxy, "via-pods-proxy", r.ViaPodsProxy, "Read each sidecar's admin API through the API server's pods/proxy (multiplexed requests, no port-forward); the API server must reach pod IPs, and RBAC must allow get on pods/proxy")
	fs.StringVar(&r.LogFormat, "log-format", r.LogFormat, "Access-log format to read logs by, before the proxy's own and Istio's defaults: an Envoy format string, or a JSON object of keys to %OPERATORS%")
}

func (p *proxyFlags) validate() error { return p.Read.Validate() }

// configScopeFlag is --config-scope: one of inspect.ConfigScopes, checked as it is set.
type configScopeFlag struct{ scope *inspect.ConfigScope }

func (f configScopeFlag) String() string {
	if f.scope == nil {
		return ""
	}
	return string(*f.scope)
}

func (f configScopeFlag) Set(v string) error {
	if !slices.Contains(inspect.ConfigScopes, inspect.ConfigScope(v)) {
		return fmt.Errorf("must be auto, all or traffic")
	}
	*f.scope = inspect.ConfigScope(v)
	return nil
}

func (configScopeFlag) Type() string { return "auto|all|traffic" }
