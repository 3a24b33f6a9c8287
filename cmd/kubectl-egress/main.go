// Command kubectl-egress is the kubectl plugin `kubectl egress`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	_ "k8s.io/client-go/plugin/pkg/client/auth" // cloud providers' kubeconfig auth

	"github.com/kubectl-egress/kubectl-egress/plugin"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	// Ctrl-C or SIGTERM cancels the run: an apply rolls back, a read prints what it has. Later
	// signals are caught too, so a second Ctrl-C cannot cut a rollback short (it is bounded).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := plugin.ExecuteContext(ctx, streams, os.Args[1:])
	stop()
	os.Exit(code)
}
