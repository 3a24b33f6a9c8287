package sidecar

import (
	"net"
	"strconv"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
)

// The static resources of Istio's bootstrap (tools/packaging/common/envoy_bootstrap.json),
// trimmed to what shows in the admin API.
var (
	staticClusterNames  = []string{"prometheus_stats;", "agent;", "sds-grpc;", "xds-grpc;"}
	staticListenerNames = []string{"0.0.0.0_15090", "0.0.0.0_15021"}
)

// bootstrap is the Envoy bootstrap pilot-agent would generate for this proxy.
func bootstrap(n *nodeInfo, xdsAddr string) *bootstrapv3.Bootstrap {
	ads := &corev3.ConfigSource{
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
		InitialFetchTimeout:   durationpb.New(0),
		ResourceApiVersion:    corev3.ApiVersion_V3,
	}
	return &bootstrapv3.Bootstrap{
		Node: n.envoyNode(),
		StaticResources: &bootstrapv3.Bootstrap_StaticResources{
			Listeners: staticListeners(),
			Clusters:  staticClusters(xdsAddr),
		},
		DynamicResources: &bootstrapv3.Bootstrap_DynamicResources{
			LdsConfig: ads,
			CdsConfig: ads,
			AdsConfig: &corev3.ApiConfigSource{
				ApiType:                   corev3.ApiConfigSource_GRPC,
				TransportApiVersion:       corev3.ApiVersion_V3,
				SetNodeOnFirstMessageOnly: true,
				GrpcServices: []*corev3.GrpcService{{TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{
					EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: "xds-grpc"},
				}}},
			},
		},
		Admin: &bootstrapv3.Admin{
			Address:     socketAddress("127.0.0.1", 15000),
			ProfilePath: "/var/lib/istio/data/envoy.prof",
		},
	}
}

func socketAddress(ip string, port int) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address:       ip,
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(port)},
	}}}
}

func staticCluster(name string, host string, port int) *clusterv3.Cluster {
	return &clusterv3.Cluster{
		Name:                 name,
		AltStatName:          name + ";",
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
		ConnectTimeout:       durationpb.New(250 * time.Millisecond),
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: name,
			Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: socketAddress(host, port)}},
			}}}},
		},
	}
}

func staticClusters(xdsAddr string) []*clusterv3.Cluster {
	xdsHost, xdsPort := "istiod.istio-system.svc", 15012
	if h, p, err := net.SplitHostPort(xdsAddr); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			xdsHost, xdsPort = h, n
		}
	}
	sds := &clusterv3.Cluster{
		Name:                 "sds-grpc",
		AltStatName:          "sds-grpc;",
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
		ConnectTimeout:       durationpb.New(time.Second),
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: "sds-grpc",
			Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: &corev3.Address{
					Address: &corev3.Address_Pipe{Pipe: &corev3.Pipe{Path: "./var/run/secrets/workload-spiffe-uds/socket"}},
				}}},
			}}}},
		},
	}
	xds := staticCluster("xds-grpc", xdsHost, xdsPort)
	xds.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STRICT_DNS}
	xds.ConnectTimeout = durationpb.New(time.Second)
	return []*clusterv3.Cluster{
		staticCluster("prometheus_stats", "127.0.0.1", 15000),
		staticCluster("agent", "127.0.0.1", 15020),
		sds,
		xds,
	}
}

// staticListeners are the Prometheus (15090) and health (15021) listeners.
func staticListeners() []*listenerv3.Listener {
	mk := func(port int, prefix, cluster, path string) *listenerv3.Listener {
		router, _ := anypb.New(&routerv3.Router{})
		h := &hcmv3.HttpConnectionManager{
			StatPrefix: prefix,
			RouteSpecifier: &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: &routev3.RouteConfiguration{
				VirtualHosts: []*routev3.VirtualHost{{
					Name:    "backend",
					Domains: []string{"*"},
					Routes: []*routev3.Route{{
						Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: path}},
						Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: cluster}}},
					}},
				}},
			}},
			HttpFilters: []*hcmv3.HttpFilter{{Name: "envoy.filters.http.router", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: router}}},
		}
		hAny, _ := anypb.New(h)
		return &listenerv3.Listener{
			Name:    "0.0.0.0_" + strconv.Itoa(port),
			Address: socketAddress("0.0.0.0", port),
			FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
				Name:       "envoy.filters.network.http_connection_manager",
				ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: hAny},
			}}}},
		}
	}
	return []*listenerv3.Listener{
		mk(15090, "stats", "prometheus_stats", "/stats/prometheus"),
		mk(15021, "agent", "agent", "/healthz/ready"),
	}
}

// staticRouteConfigs are the inline route configs of the static listeners.
func staticRouteConfigs(ls []*listenerv3.Listener) []*routev3.RouteConfiguration {
	var out []*routev3.RouteConfiguration
	for _, l := range ls {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				h := &hcmv3.HttpConnectionManager{}
				if f.GetTypedConfig().UnmarshalTo(h) == nil && h.GetRouteConfig() != nil {
					out = append(out, proto.Clone(h.GetRouteConfig()).(*routev3.RouteConfiguration))
				}
			}
		}
	}
	return out
}
