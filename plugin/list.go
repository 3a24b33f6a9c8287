package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-egress/kubectl-egress/fixflow"
	"github.com/kubectl-egress/kubectl-egress/internal/table"
	"github.com/kubectl-egress/kubectl-egress/remedy"
)

// ListOptions is `kubectl egress list`.
type ListOptions struct {
	configFlags *genericclioptions.ConfigFlags

	Namespace     string
	AllNamespaces bool
	Output        string

	now func() time.Time
	genericiooptions.IOStreams
}

// NewListOptions returns the defaults.
func NewListOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *ListOptions {
	return &ListOptions{configFlags: configFlags, now: clock, IOStreams: streams}
}

// NewCmdList returns `kubectl egress list`.
func NewCmdList(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewListOptions(configFlags, streams)
	cmd := &cobra.Command{
		Use:   "list [-n NAMESPACE | -A] [-o json|yaml]",
		Short: "List the Istio objects kubectl-egress manages, by host and fix",
		Long: `List shows the ServiceEntries, DestinationRules, Gateways and VirtualServices labelled
app.kubernetes.io/managed-by=kubectl-egress, with the host and the fix each was written for.`,
		Example: `  # What kubectl-egress manages in the current namespace
  kubectl egress list

  # Everywhere, as JSON
  kubectl egress list -A -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", o.AllNamespaces, "List in every namespace")
	fs.StringVarP(&o.Output, "output", "o", o.Output, "Output format: json or yaml (default: table)")
	return cmd
}

// Complete fills the namespace from -n or the kubeconfig.
func (o *ListOptions) Complete() error {
	ns, _, err := o.configFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return err
	}
	o.Namespace = ns
	return nil
}

// Validate checks the output format.
func (o *ListOptions) Validate() error {
	switch o.Output {
	case "", "json", "yaml":
		return nil
	}
	return fmt.Errorf("unknown output format %q: use json or yaml", o.Output)
}

// Run lists and prints.
func (o *ListOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ap, err := fixflow.Connect(o.configFlags)
	if err != nil {
		return err
	}
	ns := o.Namespace
	if o.AllNamespaces {
		ns = ""
	}
	objs, err := ap.List(ctx, ns)
	if err != nil {
		return err
	}
	return o.print(objs)
}

// managedList is the -o json|yaml document of `list`.
type managedList struct {
	Items []remedy.ManagedObject `json:"items"`
}

func (o *ListOptions) print(objs []remedy.ManagedObject) error {
	switch o.Output {
	case "json":
		b, err := json.MarshalIndent(managedList{Items: nonNil(objs)}, "", "  ")
		if err != nil {
			return err
		}
		_, err = o.Out.Write(append(b, '\n'))
		return err
	case "yaml":
		b, err := yaml.Marshal(managedList{Items: nonNil(objs)})
		if err != nil {
			return err
		}
		_, err = o.Out.Write(b)
		return err
	}
	if len(objs) == 0 {
		where := "namespace " + o.Namespace
		if o.AllNamespaces {
			where = "any namespace"
		}
		fmt.Fprintf(o.ErrOut, "No objects managed by kubectl-egress found in %s.\n", where)
		return nil
	}
	header := []string{"HOST", "FIX", "OBJECT", "AGE"}
	if o.AllNamespaces {
		header = append([]string{"NAMESPACE"}, header...)
	}
	rows := make([][]string, 0, len(objs))
	for _, m := range objs {
		age := "<unknown>"
		if !m.Created.IsZero() {
			age = duration.HumanDuration(o.now().Sub(m.Created.Time))
		}
		row := []string{table.Dash(m.Host), table.Dash(string(m.Fix)), m.Ref(), age}
		if o.AllNamespaces {
			row = append([]string{m.Namespace}, row...)
		}
		rows = append(rows, row)
	}
	return table.Write(o.Out, header, rows)
}

func nonNil(objs []remedy.ManagedObject) []remedy.ManagedObject {
	if objs == nil {
		return []remedy.ManagedObject{}
	}
	return objs
}
