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
	"github.com/kubectl-egress/kubectl-egress/internal/table"
	"github.com/kubectl-egress/kubectl-egress/remedy"
)

// UndoOptions is `kubectl egress undo HOST | --all`.
type UndoOptions struct {
	configFlags *genericclioptions.ConfigFlags

	Host          string
	All           bool
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
		Use:   "undo HOST | --all [-n NAMESPACE | -A]",
		Short: "Remove the objects kubectl-egress wrote for a host, or for every host",
		Long: `Undo deletes the Istio objects labelled app.kubernetes.io/managed-by=kubectl-egress for HOST (or
for every host with --all): routing first, the ServiceEntry last. Objects it does not manage are
never touched. On a terminal it lists what it will delete and asks first.`,
		Example: `  # Remove the fix for httpbin.org in the current namespace
  kubectl egress undo httpbin.org

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
	switch {
	case o.Host == "" && !o.All:
		return fmt.Errorf("name the host to undo, or pass --all")
	case o.Host != "" && o.All:
		return fmt.Errorf("a host and --all do not go together: pick one")
	}
	if _, err := remedy.ParseDryRun(o.DryRun); err != nil {
		return err
	}
	return nil
}

// Run lists what will go, confirms, deletes and prints the result lines.
func (o *UndoOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ap, err := fixflow.Connect(o.configFlags)
	if err != nil {
		return err
	}
	dry, _ := remedy.ParseDryRun(o.DryRun)
	uo := remedy.UndoOptions{Namespace: o.Namespace, Host: o.Host, All: o.All, DryRun: dry}
	if o.AllNamespaces {
		uo.Namespace = ""
	}
	if uo.DryRun == remedy.DryRunNone {
		objs, err := ap.List(ctx, uo.Namespace)
		if err != nil {
			return err
		}
		objs = slices.DeleteFunc(objs, func(m remedy.ManagedObject) bool { return !o.All && m.Host != o.Host })
		if len(objs) == 0 {
			// Undo says what matched nothing, in its own words.
			_, err := ap.Undo(ctx, uo)
			return err
		}
		if isTerminal(o.In) && isTerminal(o.Out) {
			fmt.Fprintf(o.Out, "Objects managed by kubectl-egress to delete:\n")
			rows := make([][]string, len(objs))
			for i, m := range objs {
				rows[i] = []string{m.Ref(), m.Namespace, table.Dash(m.Host), table.Dash(string(m.Fix))}
			}
			if err := table.Write(o.Out, []string{"OBJECT", "NAMESPACE", "HOST", "FIX"}, rows); err != nil {
				return err
			}
			if !o.Yes {
				ok, err := (&linePrompt{in: o.In, out: o.Out}).Confirm(fmt.Sprintf("Delete %d objects?", len(objs)))
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("nothing deleted: not confirmed")
				}
			}
		} else if !o.Yes {
			return fmt.Errorf("refusing to delete without confirmation: stdin is not a terminal; pass --yes to delete, or --dry-run=server to see what would go")
		}
	}
	results, err := ap.Undo(ctx, uo)
	for _, res := range results {
		fmt.Fprintln(o.Out, res)
	}
	return err
}
