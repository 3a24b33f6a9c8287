// Package plugin holds the cobra commands of `kubectl egress`: one Options struct per command,
// each with Complete, Validate and Run. It is the only package that imports cobra, and it does
// three things only: maps flags to plain configuration (inspect.ReadConfig, fixflow.Config),
// wires the clients, and does the terminal I/O (prompts, progress, warnings). Reading proxies
// is inspect.Reader; fixing is fixflow.
package plugin

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// clock is what every command reads the time from: when sources were read, ages in tables.
// The command golden tests stop it.
var clock = time.Now

// ErrPartial marks a run that printed its result but could not read every target.
var ErrPartial = errors.New("some targets could not be read")

// NewCmdEgress returns the root command, `kubectl egress`.
func NewCmdEgress(streams genericiooptions.IOStreams) *cobra.Command {
	configFlags := genericclioptions.NewConfigFlags(true)
	cmd := &cobra.Command{
		Use:   "kubectl-egress",
		Short: "Find and fix Istio egress traffic that leaves through PassthroughCluster or dies in BlackHoleCluster",
		Long: `kubectl egress inspects Istio sidecars through the Envoy admin API and reports every external
destination by host, and how the proxy treats it: passthrough, blocked, registered,
tls-origination, egress-gateway or bypassed. It then writes the fix (a ServiceEntry, TLS
origination or egress gateway routing) and verifies it on the proxy.`,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl egress"},
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	// Bare `kubectl egress`: the interactive fix on a terminal, the help otherwise.
	cmd.RunE = bareEgress(configFlags, streams)
	configFlags.AddFlags(cmd.PersistentFlags())
	if err := RegisterCompletions(cmd, configFlags); err != nil {
		panic(err) // a flag named in the registration is missing: a programming error
	}
	cmd.AddCommand(NewCmdVersion(streams))
	cmd.AddCommand(NewCmdCompletion(streams))
	cmd.AddCommand(NewCmdInspect(configFlags, streams))
	cmd.AddCommand(NewCmdVerify(configFlags, streams))
	cmd.AddCommand(NewCmdFix(configFlags, streams))
	cmd.AddCommand(NewCmdRegister(configFlags, streams))
	cmd.AddCommand(NewCmdTLSOrigination(configFlags, streams))
	cmd.AddCommand(NewCmdGateway(configFlags, streams))
	cmd.AddCommand(NewCmdList(configFlags, streams))
	cmd.AddCommand(NewCmdUndo(configFlags, streams))
	return cmd
}

// Execute runs the root command with args and returns the process exit code: 0 on success,
// 1 on failure, 2 when the run was partial (some targets failed, the rest were printed).
func Execute(streams genericiooptions.IOStreams, args []string) int {
	cmd := NewCmdEgress(streams)
	cmd.SetArgs(args)
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	err := unreachableError(cmd.Execute())
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrPartial):
		fmt.Fprintf(streams.ErrOut, "error: %v\n", err)
		return 2
	default:
		fmt.Fprintf(streams.ErrOut, "error: %v\n", err)
		return 1
	}
}
