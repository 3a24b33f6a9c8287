// Command kubectl-egress is the kubectl plugin `kubectl egress`.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	_ "k8s.io/client-go/plugin/pkg/client/auth" // cloud providers' kubeconfig auth

	"github.com/kubectl-egress/kubectl-egress/plugin"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	os.Exit(plugin.Execute(streams, os.Args[1:]))
}
