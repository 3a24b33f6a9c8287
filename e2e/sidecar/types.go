package sidecar

// Envoy dumps resolve every Any in the config istiod sends, including Istio's own extension
// types; registering them all (the way istioctl does) lets protojson print and parse them.
import (
	_ "github.com/cncf/xds/go/udpa/type/v1"
	_ "github.com/cncf/xds/go/xds/type/v3"

	// stats.PluginConfig, the istio.stats filter that meshConfig.defaultProviders.metrics adds;
	// pkg/config/xds does not register it.
	_ "istio.io/api/envoy/extensions/stats"
	_ "istio.io/istio/pkg/config/xds"
)
