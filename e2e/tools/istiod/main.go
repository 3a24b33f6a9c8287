// Command pilot-discovery is Istio's own istiod, built from the module proxy so the local mesh
// turns ServiceEntries, DestinationRules and Sidecars into real Envoy configuration.
package main

import (
	"os"

	"istio.io/istio/pilot/cmd/pilot-discovery/app"
	"istio.io/istio/pkg/log"
)

func main() {
	log.EnableKlogWithCobra()
	if err := app.NewRootCommand().Execute(); err != nil {
		log.Error(err)
		os.Exit(1)
	}
}
