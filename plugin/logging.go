package plugin

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-egress/kubectl-egress/fixflow"
	"github.com/kubectl-egress/kubectl-egress/inspect"
	"github.com/kubectl-egress/kubectl-egress/remedy"
)

// LoggingOptions is `kubectl egress logging on|off`.
type LoggingOptions struct {
	configFlags *genericclioptions.ConfigFlags
	fixFlags

	On bool
	genericiooptions.IOStreams
}

// NewCmdLogging returns `kubectl egress logging`.
func NewCmdLogging(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &LoggingOptions{configFlags: configFlags, fixFlags: newFixFlags(), IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "logging on|off [-n NAMESPACE]",
		Short: "Log only passthrough and blocked traffic, so inspect can name TLS hosts",
		Long: `Logging on writes a Telemetry for the namespace that turns the Envoy access log on only for
traffic to PassthroughCluster and BlackHoleCluster (an access-log filter on the upstream cluster):
inspect then names external TLS hosts by their SNI, at the cost of one log line per call to an
unregistered host. Logging off removes that Telemetry.`,
		Example: `  kubectl egress logging on -n shop
  kubectl egress logging off -n shop --yes`,
		ValidArgs: []string{"on", "off"},
		Args:      cobra.ExactArgs(1),
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
	o.addFlags(cmd.Flags())
	return cmd
}

// Complete reads on or off and the namespace.
func (o *LoggingOptions) Complete(cmd *cobra.Command, args []string) error {
	switch args[0] {
	case "on":
		o.On = true
	case "off":
	default:
		return fmt.Errorf("logging takes on or off, not %q", args[0])
	}
	return o.complete(cmd, o.configFlags)
}

// Validate checks the flags.
func (o *LoggingOptions) Validate() error {
	if o.Timeout != 0 || o.RetriesSet || !o.Traffic.Empty() || o.Outlier != "" {
		return fmt.Errorf("--timeout, --retries and the connection settings are for one host's fix, not the access logging")
	}
	if !o.On && o.Output == "yaml" {
		return fmt.Errorf("-o yaml writes what logging on applies; logging off deletes")
	}
	return o.validate()
}

// Run writes or removes the Telemetry.
func (o *LoggingOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.On {
		return fixflow.New(o.configFlags, o.config(o.IOStreams)).LoggingOn(ctx)
	}
	dry, _ := remedy.ParseDryRun(o.DryRun)
	return undo(ctx, o.configFlags, remedy.UndoOptions{Namespace: o.Namespace, Fix: inspect.FixLogging, DryRun: dry}, o.Yes, o.IOStreams)
}
