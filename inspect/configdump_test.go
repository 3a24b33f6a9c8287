package inspect

import (
	"os"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// summary is what a test compares of a ProxyConfig: resource names.
type configSummary struct {
	Clusters, Listeners, Routes, Endpoints []string
	IstioVersion                           string
}

func summarize(pc *ProxyConfig) configSummary {
	var s configSummary
	for _, c := range pc.Clusters {
		s.Clusters = append(s.Clusters, c.GetName())
	}
	for _, l := range pc.Listeners {
		s.Listeners = append(s.Listeners, l.GetName())
	}
	for _, r := range pc.Routes {
		s.Routes = append(s.Routes, r.GetName())
	}
	for _, e := range pc.Endpoints {
		s.Endpoints = append(s.Endpoints, e.GetClusterName())
	}
	for _, x := range [][]string{s.Clusters, s.Listeners, s.Routes, s.Endpoints} {
		sort.Strings(x)
	}
	s.IstioVersion = nodeIstioVersion(pc.Node)
	return s
}

const snakeDump = `{"configs":[
 {"@type":"type.googleapis.com/envoy.admin.v3.BootstrapConfigDump","bootstrap":{"node":{"id":"sidecar~10.0.0.1~web-0.shop~shop.svc.cluster.local",
   "metadata":{"ISTIO_VERSION":"1.27.1","WASM_STUFF":{"nested":[1,2]}}}}},
 {"@type":"type.googleapis.com/envoy.admin.v3.ClustersConfigDump","dynamic_active_clusters":[
  {"version_info":"1","cluster":{"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster","name":"outbound|443||api.example.com","type":"STRICT_DNS",
    "filters":[{"name":"istio.metadata_exchange","typed_config":{"@type":"type.googleapis.com/udpa.type.v1.TypedStruct","type_url":"type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange","value":{"protocol":"istio-peer-exchange"}}}],
    "some_field_from_a_future_envoy":{"x":1}}}]},
 {"@type":"type.googleapis.com/envoy.admin.v3.ListenersConfigDump","dynamic_listeners":[{"name":"virtualOutbound","active_state":{"listener":{
   "@type":"type.googleapis.com/envoy.config.listener.v3.Listener","name":"virtualOutbound",
   "filter_chains":[{"filters":[{"name":"istio.stats","typed_config":{"@type":"type.googleapis.com/stats.PluginConfig","disable_host_header_fallback":true}},
     {"name":"envoy.filters.network.tcp_proxy","typed_config":{"@type":"type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy","stat_prefix":"PassthroughCluster","cluster":"PassthroughCluster"}}]}]}}}]},
 {"@type":"type.googleapis.com/envoy.admin.v3.RoutesConfigDump","dynamic_route_configs":[{"route_config":{"@type":"type.googleapis.com/envoy.config.route.v3.RouteConfiguration","name":"80",
   "virtual_hosts":[{"name":"allow_any","domains":["*"],"routes":[{"match":{"prefix":"/"},"route":{"cluster":"PassthroughCluster"},
     "typed_per_filter_config":{"istio.wasm":{"@type":"type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"}}}]}]}}]},
 {"@type":"type.googleapis.com/envoy.admin.v3.SecretsConfigDump","dynamic_active_secrets":[{"name":"default"}]},
 {"@type":"type.googleapis.com/some.future.AdminDump","x":1}
]}`

func TestParseConfigDump(t *testing.T) {
	full := configSummary{
		Clusters: []string{"outbound|443||api.example.com"}, Listeners: []string{"virtualOutbound"}, Routes: []string{"80"},
		IstioVersion: "1.27.1",
	}
	tests := []struct {
		name  string
		in    string
		want  configSummary
		error bool
	}{{
		name: "snake_case with unknown extension types and fields",
		in:   snakeDump,
		want: full,
	}, {
		name: "YAML",
		in: `configs:
- '@type': type.googleapis.com/envoy.admin.v3.ClustersConfigDump
  static_clusters:
  - cluster:
      '@type': type.googleapis.com/envoy.config.cluster.v3.Cluster
      name: prometheus_stats
      type: STATIC
  dynamic_active_clusters:
  - cluster:
      '@type': type.googleapis.com/envoy.config.cluster.v3.Cluster
      name: PassthroughCluster
      type: ORIGINAL_DST
`,
		want: configSummary{Clusters: []string{"PassthroughCluster", "prometheus_stats"}}, // static clusters too, as istioctl lists them
	}, {
		name: "resource=dynamic_active_clusters with a mask",
		in: `{"configs":[
 {"@type":"type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster","cluster":{"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster","name":"BlackHoleCluster","type":"STATIC"}},
 {"@type":"type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster","cluster":{"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster","name":"outbound|80||httpbin.org"}}]}`,
		want: configSummary{Clusters: []string{"BlackHoleCluster", "outbound|80||httpbin.org"}},
	}, {
		name: "resource=dynamic_listeners",
		in: `{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.ListenersConfigDump.DynamicListener","name":"virtualOutbound",
 "active_state":{"listener":{"@type":"type.googleapis.com/envoy.config.listener.v3.Listener","name":"virtualOutbound"}}}]}`,
		want: configSummary{Listeners: []string{"virtualOutbound"}},
	}, {
		name: "resource=static_clusters",
		in:   `{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.ClustersConfigDump.StaticCluster","cluster":{"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster","name":"xds-grpc","type":"STATIC"}}]}`,
		want: configSummary{Clusters: []string{"xds-grpc"}},
	}, {
		name: "Istio 0.8: v2alpha sections keyed by name, clusters with hosts",
		in: `{"configs":{"clusters":{"@type":"type.googleapis.com/envoy.admin.v2alpha.ClustersConfigDump",
  "staticClusters":[{"cluster":{"name":"xds-grpc","type":"STRICT_DNS","hosts":[{"socketAddress":{"address":"istio-pilot.istio-system","portValue":15010}}]}}],
  "dynamicActiveClusters":[{"cluster":{"name":"outbound|443||api.example.com","type":"EDS"}}]},
 "listeners":{"@type":"type.googleapis.com/envoy.admin.v2alpha.ListenersConfigDump","dynamicActiveListeners":[{"listener":{"name":"0.0.0.0_443","filterChains":[{"filters":[{"name":"envoy.tcp_proxy","config":{"cluster":"outbound|443||api.example.com","stat_prefix":"x"}}]}]}}]}}}`,
		want: configSummary{Clusters: []string{"outbound|443||api.example.com", "xds-grpc"}, Listeners: []string{"0.0.0.0_443"}},
	}, {
		name: "Istio 1.5: admin.v3 sections holding envoy.api.v2 resources",
		in: `{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.ClustersConfigDump","dynamic_active_clusters":[{"cluster":{"@type":"type.googleapis.com/envoy.api.v2.Cluster","name":"BlackHoleCluster","type":"STATIC","connectTimeout":"1s"}}]},
 {"@type":"type.googleapis.com/envoy.admin.v3.RoutesConfigDump","dynamic_route_configs":[{"route_config":{"@type":"type.googleapis.com/envoy.api.v2.RouteConfiguration","name":"8080"}}]}]}`,
		want: configSummary{Clusters: []string{"BlackHoleCluster"}, Routes: []string{"8080"}},
	}, {
		name:  "truncated",
		in:    snakeDump[:len(snakeDump)/2],
		error: true,
	}, {
		name:  "HTML error page",
		in:    "<html><body>403</body></html>",
		error: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc, err := ParseConfigDump([]byte(tt.in))
			if (err != nil) != tt.error {
				t.Fatalf("err = %v, want error %v", err, tt.error)
			}
			if tt.error {
				return
			}
			if diff := cmp.Diff(tt.want, summarize(pc)); diff != "" {
				t.Errorf("config mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseConfigDumpSamples decodes every real dump: Envoy's snake_case (with EDS) and istiod's lowerCamelCase.
func TestParseConfigDumpSamples(t *testing.T) {
	files := []string{"../fixtures/samples/istio-sidecar-config_dump-with-eds.json"}
	more, _ := os.ReadDir("../fixtures/samples/istiod")
	for _, f := range more {
		if !f.IsDir() && len(f.Name()) > 5 && f.Name()[len(f.Name())-5:] == ".json" {
			files = append(files, "../fixtures/samples/istiod/"+f.Name())
		}
	}
	if len(files) < 14 {
		t.Fatalf("found %d sample dumps, want at least 14", len(files))
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			pc, err := ParseConfigDump(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(pc.Clusters)+len(pc.Endpoints) == 0 {
				t.Fatal("no clusters or endpoints decoded")
			}
		})
	}
}

func TestParseConfigDumpKeepsTypedContent(t *testing.T) {
	b, err := os.ReadFile("../fixtures/samples/istiod/tls-origination-sni.json")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := ParseConfigDump(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range pc.Clusters {
		if c.GetName() == "outbound|80||httpbin.org" {
			if got := upstreamTLS(c.GetTransportSocket()).GetSni(); got != "httpbin.org" {
				t.Fatalf("sni = %q, want httpbin.org", got)
			}
			return
		}
	}
	t.Fatal("cluster outbound|80||httpbin.org not found")
}
