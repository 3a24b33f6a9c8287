// Command istioctl is Istio's own istioctl, built from the module proxy so tests can compare
// kubectl-egress's reading of saved config dumps with `istioctl proxy-config ... --file`.
package main

import (
	"fmt"
	"os"

	// import all known client auth plugins
	_ "k8s.io/client-go/plugin/pkg/client/auth"

	"istio.io/istio/istioctl/cmd"
	"istio.io/istio/pkg/log"
)

func main() {
	if err := cmd.ConfigAndEnvProcessing(); err != nil {
		fmt.Fprintf(os.Stderr, "Could not initialize: %v\n", err)
		os.Exit(cmd.GetExitCode(err))
	}
	rootCmd := cmd.GetRootCmd(os.Args[1:])
	log.EnableKlogWithCobra()
	if err := rootCmd.Execute(); err != nil {
		os.Exit(cmd.GetExitCode(err))
	}
}
