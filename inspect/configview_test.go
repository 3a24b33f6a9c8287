package inspect

import (
	"testing"
	"time"
)

// With ambient enabled, istiod may send HBONE (PILOT_ENABLE_SENDING_HBONE), and a sidecar's
// cluster with a DestinationRule's TLS SIMPLE carries it in two transport socket matches, "hbone"
// (tunnelled) and "user", with no transport_socket (pilot's applyHBONETransportSocketMatches):
// the cluster still originates TLS. The cluster below has that shape.
func TestClusterTLSInUserTransportSocketMatch(t *testing.T) {
	dump := `{"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump", "dynamic_active_clusters": [{"cluster": {
  "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
  "name": "outbound|80||httpbin.org", "type": "STRICT_DNS",
  "metadata": {"filter_metadata": {"istio": {"services": [{"host": "httpbin.org", "name": "httpbin.org", "namespace": "demo-originated"}], "external": true}}},
  "load_assignment": {"cluster_name": "outbound|80||httpbin.org", "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "httpbin.org", "port_value": 443}}}}]}]},
  "transport_socket_matches": [
    {"name": "hbone", "match": {"istio.io/tls-mode": "hbone"}, "transport_socket": {"name": "envoy.transport_sockets.raw_buffer", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer"}}},
    {"name": "user", "transport_socket": {"name": "envoy.transport_sockets.tls", "typed_config": {
      "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
      "common_tls_context": {"combined_validation_context": {"default_validation_context": {}, "validation_context_sds_secret_config": {"name": "file-root:system"}}},
      "sni": "httpbin.org"}}}
  ]}}]}]}`
	rep, err := Inspect(Sources{Pod: Pod{Namespace: "demo-originated", Name: "checkout-0"}, ConfigDump: []byte(dump)}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Clusters) != 1 || rep.Clusters[0].TLS != "SIMPLE" || rep.Clusters[0].SNI != "httpbin.org" {
		t.Fatalf("clusters: %+v", rep.Clusters)
	}
	if len(rep.Destinations) != 1 || rep.Destinations[0].Disposition != DispositionTLSOrigination {
		t.Errorf("destinations: %+v", rep.Destinations)
	}
}
