// Package deps pins the module's dependencies until the code that uses them lands. Temporary.
package deps

import (
	_ "github.com/creack/pty"
	_ "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/olekukonko/tablewriter"
	_ "github.com/prometheus/common/expfmt"
	_ "google.golang.org/grpc"
	_ "google.golang.org/protobuf/encoding/protojson"
	_ "istio.io/client-go/pkg/clientset/versioned"
	_ "istio.io/istio/pkg/config/validation"
	_ "istio.io/istio/pkg/config/xds"
	_ "k8s.io/cli-runtime/pkg/resource"
	_ "k8s.io/client-go/kubernetes"
	_ "k8s.io/client-go/tools/portforward"
	_ "k8s.io/client-go/transport/spdy"
	_ "sigs.k8s.io/yaml"
)
