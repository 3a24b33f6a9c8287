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

// LockdownOptions is `kubectl egress lockdown`.
type LockdownOptions struct {
	configFlags *genericclioptions.ConfigFlags
	fixFlags

	Workload       string
	Lock           bool
	Gateway        string
	IstioNamespace string
	MeshWide       bool

	now func() time.Time
	genericiooptions.IOStreams
}

// NewLockdownOptions returns the defaults.
func NewLockdownOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *LockdownOptions {
	return &LockdownOptions{configFlags: configFlags, fixFlags: newFixFlags(), Gateway: fixflow.DefaultEgressGateway,
		IstioNamespace: "istio-system", now: clock, IOStreams: streams}
}

// NewCmdLockdown returns `kubectl egress lockdown`.
func NewCmdLockdown(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewLockdownOptions(configFlags, streams)
	cmd := &cobra.Command{
		Use:   "lockdown [TYPE/NAME] -n NAMESPACE [--lock] | --mesh-wide",
		Short: "Take a namespace, or one workload first, to REGISTRY_ONLY without breaking what it calls",
		Long: `Lockdown reads the proxies of the namespace, registers every host that REGISTRY_ONLY would break
(a ServiceEntry with the ports and protocols the pods were seen using), and applies a Sidecar
with outboundTrafficPolicy REGISTRY_ONLY: for one workload first (TYPE/NAME, a canary; the
Sidecar selects its pods), or for the whole namespace. Everything goes in together or not at all,
after a preview and your confirmation; undo --lockdown reverts the Sidecar.

With --lock it also writes a NetworkPolicy so the pods can leave the cluster only through the
egress gateway (plus DNS and other pods), and routes the would-break hosts through the gateway
instead of registering them: an egress gateway alone is no security boundary.

It refuses when hosts could not be named (turn access logging on with kubectl egress logging on),
and when the namespace has a Sidecar it does not manage (--force adds the lockdown's beside it,
unless that Sidecar would still win). --mesh-wide changes nothing: it prints the meshConfig
change for istioctl or Helm and the namespaces not ready for it.`,
		Example: `  # One workload first: its pods go to REGISTRY_ONLY, the namespace's others stay as they are
  kubectl egress lockdown deploy/checkout -n shop

  # The whole namespace, egress only through the gateway, without asking
  kubectl egress lockdown -n shop --lock --yes

  # What a mesh-wide switch needs
  kubectl egress lockdown --mesh-wide`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: CompleteTarget(configFlags),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(cmd, args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	o.addFlags(fs)
	fs.BoolVar(&o.Lock, "lock", o.Lock, "Also write a NetworkPolicy: the pods leave the cluster only through the egress gateway")
	fs.StringVar(&o.Gateway, "gateway", o.Gateway, "The egress gateway's Service, NAMESPACE/NAME")
	fs.StringVar(&o.IstioNamespace, "istio-namespace", o.IstioNamespace, "Namespace of the mesh ConfigMaps (istio, istio-<revision>)")
	fs.BoolVar(&o.MeshWide, "mesh-wide", o.MeshWide, "Print the meshConfig change for a mesh-wide REGISTRY_ONLY and the namespaces not ready; apply nothing")
	return cmd
}

// Complete takes the workload and the namespace.
func (o *LockdownOptions) Complete(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		o.Workload = args[0]
	}
	return o.complete(cmd, o.configFlags)
}

// Validate checks the flags.
func (o *LockdownOptions) Validate() error {
	if o.MeshWide && (o.Workload != "" || o.Lock) {
		return fmt.Errorf("--mesh-wide reads every namespace and applies nothing: drop the workload and --lock")
	}
	if o.Timeout != 0 || o.RetriesSet || !o.Traffic.Empty() || o.Outlier != "" {
		return fmt.Errorf("--timeout, --retries and the connection settings are for one host's fix, not a lockdown")
	}
	return o.validate()
}

// Run locks down, or with --mesh-wide prints what the mesh-wide switch needs.
func (o *LockdownOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.MeshWide {
		return o.meshWide(ctx)
	}
	cfg := o.config(o.IOStreams)
	if o.Workload != "" {
		cfg.Observe = inspect.Scope{Args: []string{o.Workload}}
	}
	flow := fixflow.New(o.configFlags, cfg)
	flow.Now = o.now
	return flow.Lockdown(ctx, fixflow.Lockdown{Workload: o.Workload, NetworkPolicy: o.Lock, Gateway: o.Gateway, IstioNamespace: o.IstioNamespace})
}

// meshWide reads every proxy's policy and prints the meshConfig change and who is not ready.
func (o *LockdownOptions) meshWide(ctx context.Context) error {
	r, err := inspect.NewReader(o.configFlags, o.Read)
	if err != nil {
		return err
	}
	r.Now = o.now
	reading, err := r.Read(ctx, inspect.Scope{AllNamespaces: true})
	if err != nil {
		return err
	}
	in, err := policy.Gather(ctx, o.configFlags, reading.Pods, policy.GatherOptions{IstioNamespace: o.IstioNamespace})
	if err != nil {
		return err
	}
	if err := policy.PrintMeshWide(o.Out, policy.Evaluate(in, o.now())); err != nil {
		return err
	}
	printPodErrors(o.ErrOut, reading.Report)
	return nil
}
