package plugin

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-egress/kubectl-egress/fixflow"
	"github.com/kubectl-egress/kubectl-egress/inspect"
	"github.com/kubectl-egress/kubectl-egress/internal/table"
	"github.com/kubectl-egress/kubectl-egress/remedy"
)

// UndoOptions is `kubectl egress undo HOST | --all`.
type UndoOptions struct {
	configFlags *genericclioptions.ConfigFlags

	Host          string
	All           bool
	Lockdown      bool
	Namespace     string
	AllNamespaces bool
	Yes           bool
	DryRun        string

	genericiooptions.IOStreams
}

// NewUndoOptions returns the defaults.
func NewUndoOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *UndoOptions {
	return &UndoOptions{configFlags: configFlags, DryRun: string(remedy.DryRunNone), IOStreams: streams}
}

// NewCmdUndo returns `kubectl egress undo`.
func NewCmdUndo(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewUndoOptions(configFlags, streams)
	cmd := &cobra.Command{
		Use:   "undo HOST | --lockdown | --all [-n NAMESPACE | -A]",
		Short: "Remove the objects kubectl-egress wrote for a host, a lockdown, or everything",
		Long: `Undo deletes the Istio objects labelled app.kubernetes.io/managed-by=kubectl-egress for HOST (or
for every host with --all): routing first, the ServiceEntry last. --lockdown removes the Sidecar
(and NetworkPolicy) of kubectl egress lockdown, so the pods are back in the mesh's outbound mode;
the ServiceEntries it wrote stay. Objects it does not manage are never touched. On a terminal it
lists what it will delete and asks first.`,
		Example: `  # Remove the fix for httpbin.org in the current namespace
  kubectl egress undo httpbin.org

  # Take a namespace out of its lockdown
  kubectl egress undo --lockdown -n shop

  # Remove every fix in every namespace, without asking
  kubectl egress undo --all -A --yes`,
		Args: cobra.MaximumNArgs(1),
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
	fs.BoolVar(&o.All, "all", o.All, "Undo the fixes of every host")
	fs.BoolVar(&o.Lockdown, "lockdown", o.Lockdown, "Undo the lockdown (its Sidecar and NetworkPolicy), not the ServiceEntries")
	fs.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", o.AllNamespaces, "Undo in every namespace")
	fs.BoolVarP(&o.Yes, "yes", "y", o.Yes, "Delete without asking for confirmation")
	fs.StringVar(&o.DryRun, "dry-run", o.DryRun, `Must be "none", "server", or "client"`)
	return cmd
}

// Complete takes the host and fills the namespace.
func (o *UndoOptions) Complete(args []string) error {
	if len(args) > 0 {
		o.Host = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(args[0]), "."))
	}
	ns, _, err := o.configFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return err
	}
	o.Namespace = ns
	return nil
}

// Validate checks that exactly one of HOST and --all is given.
func (o *UndoOptions) Validate() error {
	given := 0
	for _, b := range []bool{o.Host != "", o.All, o.Lockdown} {
		if b {
			given++
		}
	}
	switch {
	case given == 0:
		return fmt.Errorf("name the host to undo, or pass --lockdown or --all")
	case given > 1:
		return fmt.Errorf("a host, --lockdown and --all do not go together: pick one")
	}
	if _, err := remedy.ParseDryRun(o.DryRun); err != nil {
		return err
	}
	return nil
}

// Run lists what will go, confirms, deletes and prints the result lines.
func (o *UndoOptions) Run(ctx context.Context) error {
	dry, _ := remedy.ParseDryRun(o.DryRun)
	uo := remedy.UndoOptions{Namespace: o.Namespace, Host: o.Host, All: o.All, DryRun: dry}
	if o.Lockdown {
		uo.Fix = inspect.FixLockdown
	}
	if o.AllNamespaces {
		uo.Namespace = ""
	}
	return undo(ctx, o.configFlags, uo, o.Yes, o.IOStreams)
}

// undo deletes the managed objects uo selects: on a terminal it lists them and asks (unless
// yes); elsewhere it needs yes; dry runs delete nothing and ask nobody.
func undo(ctx context.Context, getter genericclioptions.RESTClientGetter, uo remedy.UndoOptions, yes bool, streams genericiooptions.IOStreams) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ap, err := fixflow.Connect(getter)
	if err != nil {
		return err
	}
	if uo.DryRun == remedy.DryRunNone {
		objs, err := ap.List(ctx, uo.Namespace)
		if err != nil {
			return err
		}
		objs = slices.DeleteFunc(objs, func(m remedy.ManagedObject) bool { return !uo.Matches(m) })
		if len(objs) == 0 {
			// Undo says what matched nothing, in its own words.
			_, err := ap.Undo(ctx, uo)
			return err
		}
		if isTerminal(streams.In) && isTerminal(streams.Out) {
			fmt.Fprintf(streams.Out, "Objects managed by kubectl-egress to delete:\n")
			rows := make([][]string, len(objs))
			for i, m := range objs {
				rows[i] = []string{m.Ref(), m.Namespace, table.Dash(m.Host), table.Dash(string(m.Fix))}
			}
			if err := table.Write(streams.Out, []string{"OBJECT", "NAMESPACE", "HOST", "FIX"}, rows); err != nil {
				return err
			}
			if !yes {
				ok, err := (&linePrompt{in: streams.In, out: streams.Out}).Confirm(fmt.Sprintf("Delete %d objects?", len(objs)))
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("nothing deleted: not confirmed")
				}
			}
		} else if !yes {
			return fmt.Errorf("refusing to delete without confirmation: stdin is not a terminal; pass --yes to delete, or --dry-run=server to see what would go")
		}
	}
	results, err := ap.Undo(ctx, uo)
	for _, res := range results {
		fmt.Fprintln(streams.Out, res)
	}
	return err
}
