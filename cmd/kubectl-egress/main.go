// Command kubectl-egress is the kubectl plugin `kubectl egress`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	_ "k8s.io/client-go/plugin/pkg/client/auth" // cloud providers' kubeconfig auth
	"k8s.io/klog/v2"

	"github.com/kubectl-egress/kubectl-egress/plugin"
)

func main() {
	// Istio's validation library hands klog to its own logger, which writes to stdout, and
	// client-go logs what it also returns ("couldn't get current server API group list", a
	// port-forward's broken streams): its lines would land in the data or repeat the one error
	// line each problem gets.
	klog.SetLogger(logr.Discard())
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	// Ctrl-C or SIGTERM cancels the run: an apply rolls back, a read prints what it has. Later
	// signals are caught too, so a second Ctrl-C cannot cut a rollback short (it is bounded).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := plugin.ExecuteContext(ctx, streams, os.Args[1:])
	stop()
	os.Exit(code)
}
