package plugin

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-egress/kubectl-egress/fixflow"
	"github.com/kubectl-egress/kubectl-egress/inspect"
	"github.com/kubectl-egress/kubectl-egress/remedy"
)

// fixFlags are the flags every fix command shares; config maps them to the fix flow's Config.
type fixFlags struct {
	// Namespace receives the objects; from -n or the kubeconfig.
	Namespace    string
	Yes          bool
	DryRun       string
	Output       string
	Force        bool
	IstioVersion string
	ExportTo     []string
	Waypoint     string
	Timeout      time.Duration
	// Retries is --retries; RetriesSet tells whether it was given (0 disables retries).
	Retries    int
	RetriesSet bool
	// Traffic is the connection pool and outlier detection for the host; Outlier is
	// --outlier-detection as typed.
	Traffic remedy.TrafficPolicy
	Outlier string
	// Read bounds how the proxies observed and verified are read.
	Read inspect.ReadConfig
	// Observe bounds the whole observation of the namespace's proxies.
	Observe time.Duration
}

func newFixFlags() fixFlags {
	return fixFlags{DryRun: string(remedy.DryRunNone), Read: inspect.DefaultReadConfig(), Observe: 60 * time.Second}
}

func (f *fixFlags) addFlags(fs *pflag.FlagSet) {
	fs.BoolVarP(&f.Yes, "yes", "y", f.Yes, "Apply without asking for confirmation")
	fs.StringVar(&f.DryRun, "dry-run", f.DryRun, `Must be "none", "server", or "client": server sends the objects with dryRun=All, client sends nothing`)
	fs.StringVarP(&f.Output, "output", "o", f.Output, "Output format: yaml writes the manifests to stdout and applies nothing")
	fs.BoolVar(&f.Force, "force", f.Force, "Take over objects of the same name that kubectl-egress does not manage, and fields other managers own")
	fs.StringVar(&f.IstioVersion, "istio-version", f.IstioVersion, "Istio version to plan for (default: the proxies' own)")
	fs.StringSliceVar(&f.ExportTo, "export-to", f.ExportTo, `Namespaces that see the objects (default ".": this namespace only)`)
	fs.StringVar(&f.Waypoint, "waypoint", f.Waypoint, `In an ambient namespace: the waypoint to bind the host to, NAME or NAMESPACE/NAME (default: the namespace's, or a new one named waypoint)`)
	fs.DurationVar(&f.Timeout, "timeout", f.Timeout, "Request timeout for the host (adds a VirtualService route; HTTP only)")
	fs.IntVar(&f.Retries, "retries", f.Retries, "Retry attempts for the host (adds a VirtualService route; HTTP only; 0 disables retries)")
	fs.DurationVar(&f.Traffic.ConnectTimeout, "connect-timeout", f.Traffic.ConnectTimeout, "TCP connect timeout to the host (DestinationRule connectionPool)")
	fs.Int32Var(&f.Traffic.MaxConnections, "max-connections", f.Traffic.MaxConnections, "Most connections to the host at once (circuit breaker)")
	fs.Int32Var(&f.Traffic.MaxPendingRequests, "max-pending-requests", f.Traffic.MaxPendingRequests, "Most HTTP requests waiting for a connection (circuit breaker; HTTP only)")
	fs.Int32Var(&f.Traffic.MaxRequestsPerConnection, "max-requests-per-connection", f.Traffic.MaxRequestsPerConnection, "HTTP requests per connection before it is closed (HTTP only)")
	fs.DurationVar(&f.Traffic.IdleTimeout, "idle-timeout", f.Traffic.IdleTimeout, "Close connections to the host idle this long")
	fs.StringVar(&f.Outlier, "outlier-detection", f.Outlier, "Eject the host's endpoints after errors: consecutive5xx=N,consecutiveGatewayErrors=N,interval=D,baseEjectionTime=D,maxEjectionPercent=N")
	addReadFlags(fs, &f.Read)
}

// parseOutlier reads --outlier-detection: comma-separated key=value pairs, the
// DestinationRule's own field names.
func parseOutlier(s string) (*remedy.OutlierPolicy, error) {
	if s == "" {
		return nil, nil
	}
	o := &remedy.OutlierPolicy{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return nil, fmt.Errorf("--outlier-detection: %q is not key=value", kv)
		}
		var err error
		switch k {
		case "consecutive5xx", "consecutive5xxErrors":
			var n uint64
			n, err = strconv.ParseUint(v, 10, 32)
			o.Consecutive5xxErrors = uint32(n)
		case "consecutiveGatewayErrors":
			var n uint64
			n, err = strconv.ParseUint(v, 10, 32)
			o.ConsecutiveGatewayErrors = uint32(n)
		case "interval":
			o.Interval, err = time.ParseDuration(v)
		case "baseEjectionTime":
			o.BaseEjectionTime, err = time.ParseDuration(v)
		case "maxEjectionPercent":
			var n int64
			n, err = strconv.ParseInt(v, 10, 32)
			o.MaxEjectionPercent = int32(n)
		default:
			return nil, fmt.Errorf("--outlier-detection: unknown key %q: use consecutive5xx, consecutiveGatewayErrors, interval, baseEjectionTime or maxEjectionPercent", k)
		}
		if err != nil {
			return nil, fmt.Errorf("--outlier-detection: invalid %s %q", k, v)
		}
	}
	return o, nil
}

// complete fills the namespace from -n or the kubeconfig and records which flags were given.
func (f *fixFlags) complete(cmd *cobra.Command, configFlags *genericclioptions.ConfigFlags) error {
	if cmd != nil {
		f.RetriesSet = cmd.Flags().Changed("retries")
	}
	ns, _, err := configFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return err
	}
	f.Namespace = ns
	return nil
}

func (f *fixFlags) validate() error {
	if _, err := remedy.ParseDryRun(f.DryRun); err != nil {
		return err
	}
	switch f.Output {
	case "", "yaml":
	default:
		return fmt.Errorf("unknown output format %q: use yaml", f.Output)
	}
	if _, err := remedy.ParseIstioVersion(f.IstioVersion); err != nil {
		return fmt.Errorf("--istio-version: %w", err)
	}
	if f.Timeout < 0 {
		return fmt.Errorf("--timeout must not be negative, not %s", f.Timeout)
	}
	if f.RetriesSet && f.Retries < 0 {
		return fmt.Errorf("--retries must not be negative, not %d", f.Retries)
	}
	o, err := parseOutlier(f.Outlier)
	if err != nil {
		return err
	}
	f.Traffic.Outlier = o
	t := f.Traffic
	if t.ConnectTimeout < 0 || t.IdleTimeout < 0 || t.MaxConnections < 0 || t.MaxPendingRequests < 0 || t.MaxRequestsPerConnection < 0 {
		return fmt.Errorf("--connect-timeout, --idle-timeout and the --max-* limits must not be negative")
	}
	return f.Read.Validate()
}

// config is the fix flow's configuration for these flags: on a terminal it previews and asks
// (unless --yes); elsewhere --yes confirms and nothing else does.
func (f *fixFlags) config(streams genericiooptions.IOStreams) fixflow.Config {
	dry, _ := remedy.ParseDryRun(f.DryRun)
	istio, _ := remedy.ParseIstioVersion(f.IstioVersion)
	route := remedy.RoutePolicy{Timeout: f.Timeout}
	if f.RetriesSet {
		n := int32(f.Retries)
		route.Retries = &n
	}
	c := fixflow.Config{
		Namespace: f.Namespace, Read: f.Read, ObserveTimeout: f.Observe,
		IstioVersion: istio, ExportTo: f.ExportTo, Waypoint: f.Waypoint, Force: f.Force, Route: route, Traffic: f.Traffic, DryRun: dry,
		WriteYAML: f.Output == "yaml", Out: streams.Out, ErrOut: streams.ErrOut,
	}
	onTerminal := isTerminal(streams.In) && isTerminal(streams.Out)
	c.Preview = onTerminal
	switch {
	case f.Yes:
		c.Confirm = fixflow.Yes{}
	case onTerminal:
		c.Confirm = &linePrompt{in: streams.In, out: streams.Out}
	}
	return c
}
