package plugin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubectl-egress/kubectl-egress/inspect"
	"github.com/kubectl-egress/kubectl-egress/remedy"
)

// ErrVerifyFailed marks a verification that ran and found pods where the fix has not taken effect.
var ErrVerifyFailed = errors.New("the fix has not taken effect on every pod")

// VerifyOptions is `kubectl egress verify`.
type VerifyOptions struct {
	configFlags *genericclioptions.ConfigFlags

	proxyFlags

	Host      string
	Args      []string
	Namespace string
	Output    string
	Fix       string
	Wait      time.Duration
	Interval  time.Duration

	// until ends the --wait polling early; nil waits for every pod to pass.
	until func(inspect.Verification) bool
	now   func() time.Time
	genericiooptions.IOStreams
}

// NewVerifyOptions returns the defaults.
func NewVerifyOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *VerifyOptions {
	return &VerifyOptions{
		configFlags: configFlags,
		proxyFlags:  newProxyFlags(15 * time.Minute),
		Interval:    2 * time.Second,
		now:         time.Now,
		IOStreams:   streams,
	}
}

// NewCmdVerify returns `kubectl egress verify`.
func NewCmdVerify(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewVerifyOptions(configFlags, streams)
	cmd := &cobra.Command{
		Use:   "verify HOST [POD | TYPE/NAME] [-l SELECTOR] [-n NAMESPACE | -A]",
		Short: "Check on the sidecars that a fix for HOST took effect",
		Long: `Verify re-reads the sidecars that call HOST and reports, per pod: whether HOST has its own
cluster (or egress gateway route), whether TLS origination has an upstream TLS transport socket
with HOST's SNI, whether Istio's L7 metrics (istio_requests_total) name HOST, whether calls still
leave through PassthroughCluster or die in BlackHoleCluster, and what is still missing and why.

Without POD or TYPE/NAME it checks the pods of the namespace whose traffic names HOST. It exits 0
when every checked pod passes and 1 otherwise; --wait polls until they pass.`,
		Example: `  # Right after enable-tls-origination: wait up to a minute for istiod's push and the first calls
  kubectl egress verify httpbin.org -n demo-passthrough --wait 1m

  # One workload, as JSON
  kubectl egress verify httpbin.org deploy/shop -n demo-passthrough -o json

  # A hand-written fix: say which one to check for
  kubectl egress verify api.example.com -n shop --fix tls-origination`,
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) == 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp // HOST
			}
			return CompleteTarget(configFlags)(cmd, args[1:], toComplete)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	o.addFlags(fs, "Check the pods of every namespace that call HOST")
	fs.StringVarP(&o.Output, "output", "o", o.Output, "Output format: json or yaml (default: table)")
	fs.StringVar(&o.Fix, "fix", o.Fix, "The fix to check for: register, tls-origination or egress-gateway (default: the one kubectl-egress applied, else what the proxies show)")
	fs.DurationVar(&o.Wait, "wait", o.Wait, "Poll until every pod passes or this much time has passed (e.g. 1m)")
	fs.DurationVar(&o.Interval, "interval", o.Interval, "Time between polls with --wait")
	return cmd
}

// Complete takes HOST and the optional target, and the namespace from the kubeconfig.
func (o *VerifyOptions) Complete(args []string) error {
	if len(args) > 0 {
		o.Host, o.Args = args[0], args[1:]
	}
	if o.Namespace != "" || o.configFlags == nil {
		return nil
	}
	ns, _, err := o.configFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return err
	}
	o.Namespace = ns
	return nil
}

// Validate checks the flags.
func (o *VerifyOptions) Validate() error {
	if o.Host == "" {
		return fmt.Errorf("name the host to verify: kubectl egress verify HOST")
	}
	switch o.Output {
	case inspect.FormatTable, inspect.FormatJSON, inspect.FormatYAML:
	default:
		return fmt.Errorf("unknown output format %q: use json or yaml", o.Output)
	}
	switch inspect.Fix(o.Fix) {
	case "", inspect.FixRegister, inspect.FixTLSOrigination, inspect.FixEgressGateway:
	default:
		return fmt.Errorf("unknown fix %q: use register, tls-origination or egress-gateway", o.Fix)
	}
	if o.Wait < 0 || o.Interval <= 0 {
		return fmt.Errorf("--wait must not be negative and --interval must be positive")
	}
	return o.proxyFlags.validate()
}

// Run verifies (polling with --wait), prints the last verdict, and fails when a pod did not pass.
func (o *VerifyOptions) Run(ctx context.Context) error {
	v, err := o.Verify(ctx)
	if err != nil {
		return err
	}
	if err := inspect.PrintVerification(o.Out, v, o.Output); err != nil {
		return err
	}
	if !v.Passed {
		failed := 0
		for _, p := range v.Pods {
			if !p.Passed {
				failed++
			}
		}
		return fmt.Errorf("%w: %d of %d pods are missing something (see above)", ErrVerifyFailed, failed, len(v.Pods))
	}
	return nil
}

// Verify reads the proxies and returns the verdict; with Wait it polls until every pod passes
// or the time is up, and returns the last verdict.
func (o *VerifyOptions) Verify(ctx context.Context) (inspect.Verification, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	c, err := o.clients()
	if err != nil {
		return inspect.Verification{}, err
	}
	deadline := o.now().Add(o.Wait)
	for {
		v, err := o.verifyOnce(ctx, c)
		done := v.Passed
		if o.until != nil {
			done = o.until(v)
		}
		if err != nil && !errors.Is(err, errNoCallers) || err == nil && done || !o.now().Before(deadline) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, ctx.Err()
		case <-time.After(o.Interval):
		}
	}
}

var errNoCallers = errors.New("no pod calls the host")

type verifyClients struct {
	config  *rest.Config
	client  kubernetes.Interface
	applier *remedy.Applier
}

func (o *VerifyOptions) clients() (verifyClients, error) {
	var c verifyClients
	config, err := o.configFlags.ToRESTConfig()
	if err != nil {
		return c, err
	}
	o.tuneClient(config)
	c.config = config
	if c.client, err = kubernetes.NewForConfig(config); err != nil {
		return c, err
	}
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return c, err
	}
	// Without Istio's CRDs (or the right to discover them) no fix can be found: verify what the proxies show.
	c.applier, _ = remedy.NewApplier(dyn, c.client.Discovery())
	return c, nil
}

func (o *VerifyOptions) verifyOnce(ctx context.Context, c verifyClients) (inspect.Verification, error) {
	targets, err := inspect.ResolveTargets(ctx, o.configFlags, c.client, inspect.TargetQuery{
		Args: o.Args, Namespace: o.Namespace, AllNamespaces: o.AllNamespaces, Selector: o.Selector,
	})
	if err != nil {
		return inspect.Verification{}, err
	}
	var proxies []inspect.ProxyState
	for _, r := range inspect.InspectPods(ctx, o.fetcher(c.config, c.client), targets.Pods, o.Concurrency, o.now(), nil) {
		// Istio metric samples keep every label, for the checks that need them.
		proxies = append(proxies, inspect.ProxyState{Report: r, Metrics: r.Metrics})
	}
	if len(o.Args) == 0 {
		// A namespace holds many pods that never call the host; check the ones whose traffic names it.
		proxies = slices.DeleteFunc(proxies, func(p inspect.ProxyState) bool {
			return len(p.Report.Errors) == 0 && !inspect.CallsHost(p.Report, o.Host)
		})
	}
	req := inspect.VerifyRequest{Host: o.Host, Fix: inspect.Fix(o.Fix)}
	if c.applier != nil {
		fix, at := o.appliedFix(ctx, c.applier, targets.Pods)
		if req.Fix == "" {
			req.Fix = fix
		}
		req.FixedAt = at
	}
	v := inspect.Verify(req, proxies)
	if len(proxies) == 0 {
		return v, fmt.Errorf("%w: no pod%s has traffic that names %s (no access-log line, metric or connection): name the pod with POD or TYPE/NAME, or make a call first",
			errNoCallers, scopeOf(o.Namespace, o.AllNamespaces), o.Host)
	}
	return v, nil
}

func scopeOf(ns string, all bool) string {
	switch {
	case all:
		return " in any namespace"
	case ns != "":
		return " in namespace " + ns
	}
	return ""
}

// appliedFix finds the objects kubectl-egress wrote for the host in the pods' namespaces (every
// namespace with -A): the fix they record and when the newest was created. Objects of another
// namespace are not looked at: with the default exportTo "." they do not reach these pods, and
// a fix exported from elsewhere is still recognised from the proxies' own configuration.
func (o *VerifyOptions) appliedFix(ctx context.Context, ap *remedy.Applier, pods []corev1.Pod) (inspect.Fix, time.Time) {
	namespaces := []string{}
	for _, p := range pods {
		if !slices.Contains(namespaces, p.Namespace) {
			namespaces = append(namespaces, p.Namespace)
		}
	}
	if o.AllNamespaces {
		namespaces = []string{""}
	}
	for _, ns := range namespaces {
		objs, err := ap.List(ctx, ns)
		if err != nil {
			continue
		}
		var fix inspect.Fix
		var at time.Time
		for _, m := range objs {
			if m.Host != o.Host {
				continue
			}
			if fix == "" || m.Kind == "ServiceEntry" {
				fix = inspect.Fix(m.Fix)
			}
			if m.Created.After(at) {
				at = m.Created.Time
			}
		}
		if fix != "" {
			return fix, at
		}
	}
	return "", time.Time{}
}
