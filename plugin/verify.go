package plugin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-egress/kubectl-egress/fixflow"
	"github.com/kubectl-egress/kubectl-egress/inspect"
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

	now func() time.Time
	genericiooptions.IOStreams
}

// NewVerifyOptions returns the defaults.
func NewVerifyOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *VerifyOptions {
	return &VerifyOptions{
		configFlags: configFlags,
		proxyFlags:  newProxyFlags(15 * time.Minute),
		Interval:    2 * time.Second,
		now:         clock,
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

// Verify reads the proxies and returns the verdict; with --wait it polls until every pod
// passes or the time is up, and returns the last verdict.
func (o *VerifyOptions) Verify(ctx context.Context) (inspect.Verification, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	v, err := fixflow.NewVerifier(o.configFlags, o.Read)
	if err != nil {
		return inspect.Verification{}, err
	}
	v.Now = o.now
	return v.Verify(ctx, fixflow.VerifyConfig{
		Host: o.Host, Fix: inspect.Fix(o.Fix), Wait: o.Wait, Interval: o.Interval,
		Scope: inspect.Scope{Args: o.Args, Namespace: o.Namespace, AllNamespaces: o.AllNamespaces, Selector: o.Selector},
	})
}
