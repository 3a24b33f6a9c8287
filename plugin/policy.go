package plugin

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-egress/kubectl-egress/fixflow"
	"github.com/kubectl-egress/kubectl-egress/inspect"
	"github.com/kubectl-egress/kubectl-egress/policy"
)

// PolicyOptions is `kubectl egress policy`.
type PolicyOptions struct {
	configFlags *genericclioptions.ConfigFlags
	proxyFlags

	Args           []string
	Namespace      string
	Output         string
	IstioNamespace string
	Gateway        string

	now func() time.Time
	genericiooptions.IOStreams
}

// NewPolicyOptions returns the defaults.
func NewPolicyOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *PolicyOptions {
	return &PolicyOptions{configFlags: configFlags, proxyFlags: newProxyFlags(time.Hour), IstioNamespace: "istio-system",
		Gateway: fixflow.DefaultEgressGateway, now: clock, IOStreams: streams}
}

// NewCmdPolicy returns `kubectl egress policy`.
func NewCmdPolicy(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewPolicyOptions(configFlags, streams)
	cmd := &cobra.Command{
		Use:   "policy [POD | TYPE/NAME] [-l SELECTOR] [-n NAMESPACE | -A]",
		Short: "Show the effective outbound traffic policy of each workload, and what REGISTRY_ONLY would break",
		Long: `Policy shows, per namespace and workload, the outbound traffic policy from each place it is set,
side by side: the mesh config of the pod's revision (ConfigMap istio or istio-<revision>), the
Sidecar that applies (a workload selector in the namespace, else the namespace's, else the root
namespace's), and the mode the proxies' own listeners enforce; where they disagree, a line says
why. For workloads still in ALLOW_ANY it lists every destination seen in passthrough that no
ServiceEntry visible to them covers (exportTo, Sidecar egress hosts and ports honoured): what a
switch to REGISTRY_ONLY would break. It also lists registered hosts nobody called, capture
exclusions, and each namespace's egress NetworkPolicies with the destinations they would cut.`,
		Example: `  # Every namespace
  kubectl egress policy -A

  # One namespace, as JSON
  kubectl egress policy -n shop -o json`,
		ValidArgsFunction: CompleteTarget(configFlags),
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
	o.addFlags(fs, "Show every namespace")
	fs.StringVarP(&o.Output, "output", "o", o.Output, "Output format: json or yaml (default: tables)")
	fs.StringVar(&o.IstioNamespace, "istio-namespace", o.IstioNamespace, "Namespace of the mesh ConfigMaps (istio, istio-<revision>)")
	fs.StringVar(&o.Gateway, "gateway", o.Gateway, "The egress gateway's Service, NAMESPACE/NAME, for NetworkPolicy checks")
	return cmd
}

// Complete takes the target and the namespace from the kubeconfig.
func (o *PolicyOptions) Complete(args []string) error {
	o.Args = args
	ns, _, err := o.configFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return err
	}
	o.Namespace = ns
	return nil
}

// Validate checks the flags.
func (o *PolicyOptions) Validate() error {
	switch o.Output {
	case "", inspect.FormatJSON, inspect.FormatYAML:
	default:
		return fmt.Errorf("unknown output format %q: use json or yaml", o.Output)
	}
	return o.proxyFlags.validate()
}

// Run reads the proxies and what their policy depends on, and prints the report.
func (o *PolicyOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	r, err := inspect.NewReader(o.configFlags, o.Read)
	if err != nil {
		return err
	}
	r.Now = o.now
	reading, err := r.Read(ctx, inspect.Scope{Args: o.Args, Namespace: o.Namespace, AllNamespaces: o.AllNamespaces, Selector: o.Selector})
	if err != nil {
		return err
	}
	in, err := policy.Gather(ctx, o.configFlags, reading.Pods, policy.GatherOptions{IstioNamespace: o.IstioNamespace, Gateway: o.Gateway})
	if err != nil {
		return err
	}
	report := policy.Evaluate(in, o.now())
	if err := policy.PrintReport(o.Out, report, o.Output); err != nil {
		return err
	}
	printSkipped(o.ErrOut, reading.Skipped)
	for _, w := range report.Warnings {
		fmt.Fprintf(o.ErrOut, "Warning: %s\n", w)
	}
	printPodErrors(o.ErrOut, reading.Report)
	if failed := reading.Failed(); failed > 0 {
		return fmt.Errorf("%w: %d of %d pods", ErrPartial, failed, len(reading.Report.Pods))
	}
	return nil
}
