// Package plugin holds the cobra commands of `kubectl egress`: one Options struct per command,
// each with Complete, Validate and Run. It is the only package that imports cobra, and it does
// three things only: maps flags to plain configuration (inspect.ReadConfig, fixflow.Config),
// wires the clients, and does the terminal I/O (prompts, progress, warnings). Reading proxies
// is inspect.Reader; fixing is fixflow.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"
)

// clock is what every command reads the time from: when sources were read, ages in tables.
// The command golden tests stop it.
var clock = time.Now

// ErrPartial marks a run that printed its result but could not read every target.
var ErrPartial = errors.New("some targets could not be read")

// ErrInterrupted marks a run stopped by Ctrl-C or SIGTERM, after it printed what it had.
var ErrInterrupted = errors.New("interrupted")

// ExitInterrupted is the exit code of a run stopped by a signal, as a shell reports Ctrl-C.
const ExitInterrupted = 130

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
	cmd.AddCommand(NewCmdPolicy(configFlags, streams))
	cmd.AddCommand(NewCmdLockdown(configFlags, streams))
	cmd.AddCommand(NewCmdLogging(configFlags, streams))
	cmd.AddCommand(NewCmdAlias(configFlags, streams))
	cmd.AddCommand(NewCmdFix(configFlags, streams))
	cmd.AddCommand(NewCmdRegister(configFlags, streams))
	cmd.AddCommand(NewCmdTLSOrigination(configFlags, streams))
	cmd.AddCommand(NewCmdGateway(configFlags, streams))
	cmd.AddCommand(NewCmdList(configFlags, streams))
	cmd.AddCommand(NewCmdUndo(configFlags, streams))
	return cmd
}

// Execute runs the root command with args and no signal handling; see ExecuteContext.
func Execute(streams genericiooptions.IOStreams, args []string) int {
	return ExecuteContext(context.Background(), streams, args)
}

// ExecuteContext runs the root command with args and returns the process exit code: 0 on
// success, 1 on failure, 2 when the run was partial (some targets failed, the rest were
// printed), 130 when ctx was cancelled (Ctrl-C, SIGTERM) and the run stopped early: applies are
// rolled back, reads print what they had.
func ExecuteContext(ctx context.Context, streams genericiooptions.IOStreams, args []string) int {
	// Istio's validation library hands klog to its own logger, which writes to stdout, and
	// client-go logs what it also returns ("couldn't get current server API group list", a
	// port-forward's broken streams): its lines would land in the data or repeat the one error
	// line each problem gets.
	klog.SetLogger(logr.Discard())
	cmd := NewCmdEgress(streams)
	cmd.SetArgs(args)
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	err := unreachableError(cmd.ExecuteContext(ctx))
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrInterrupted) || ctx.Err() != nil:
		if errors.Is(err, context.Canceled) {
			err = fmt.Errorf("%w: nothing was changed", ErrInterrupted) // client-go's "context canceled", mid-request
		}
		fmt.Fprintf(streams.ErrOut, "error: %v\n", err)
		return ExitInterrupted
	case errors.Is(err, ErrPartial):
		fmt.Fprintf(streams.ErrOut, "error: %v\n", err)
		return 2
	default:
		fmt.Fprintf(streams.ErrOut, "error: %v\n", err)
		return 1
	}
}
