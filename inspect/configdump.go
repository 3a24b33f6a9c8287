package inspect

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"
	"sigs.k8s.io/yaml"

	// The typed configs the classifier unpacks; registering them lets protojson keep their content.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

// ProxyConfig is the part of a proxy's xDS configuration the classifier reads. Its messages
// usually hold only the fields in readFields (configdump_masked.go): a field the classifier
// starts to read must be added there.
type ProxyConfig struct {
	Clusters  []*clusterv3.Cluster
	Listeners []*listenerv3.Listener
	Routes    []*routev3.RouteConfiguration
	// Endpoints are the dump's EDS load assignments (dynamic and static endpoint configs).
	Endpoints []*endpointv3.ClusterLoadAssignment
	// Node is the bootstrap node (metadata ISTIO_VERSION); nil in istiod's debug dumps.
	Node *corev3.Node
	// Sections are the type names of the dump's config sections, in order, for messages about
	// what a dump held; Unreadable are those this binary could not decode.
	Sections, Unreadable []string
}

// ParseConfigDump decodes an Envoy /config_dump: a full dump, one filtered by resource=
// (whose configs are the individual DynamicCluster/DynamicListener/... elements), masked or not,
// in JSON (snake_case or lowerCamelCase) or YAML, of the v3 API or of the v2 API Istio ≤ 1.7
// ran (see configdump_v2.go). Extension types this binary does not link are tolerated. Empty
// input gives an empty config.
func ParseConfigDump(b []byte) (*ProxyConfig, error) {
	j, err := configDumpJSON(b)
	switch {
	case err != nil:
		return nil, err
	case j == nil:
		return &ProxyConfig{}, nil
	}
	if pc, err := parseConfigDumpMasked(j); err == nil {
		return pc, nil
	}
	return parseConfigDumpProtojson(j)
}

// configDumpJSON is a dump as v3 JSON, nil for an empty one.
func configDumpJSON(b []byte) ([]byte, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, nil
	}
	if b[0] != '{' {
		j, err := yaml.YAMLToJSON(b)
		if err != nil {
			return nil, fmt.Errorf("config dump is neither JSON nor YAML: %w", err)
		}
		b = j
	}
	if isV2Dump(b) {
		return upgradeV2(b)
	}
	return b, nil
}

// parseConfigDumpProtojson decodes a JSON config dump whole: the judge of every dump the masked
// decoder leaves undecided (malformed ones, forms Envoy does not write).
func parseConfigDumpProtojson(b []byte) (*ProxyConfig, error) {
	var dump adminv3.ConfigDump
	if err := jsonOptions.Unmarshal(b, &dump); err != nil {
		return nil, fmt.Errorf("failed to decode config dump (truncated or not a config_dump?): %w", err)
	}
	return proxyConfigOf(&dump), nil
}

// proxyConfigOf takes the resources of a decoded dump's sections.
func proxyConfigOf(dump *adminv3.ConfigDump) *ProxyConfig {
	pc := &ProxyConfig{}
	for _, a := range dump.GetConfigs() {
		pc.addSection(a.GetTypeUrl(), unmarshalResource(a))
	}
	return pc
}

// Merge appends other's resources to c, skipping clusters, listeners and routes c already has by name,
// so a full dump and a separately fetched listener dump can be combined.
func (c *ProxyConfig) Merge(other *ProxyConfig) {
	if other == nil {
		return
	}
	seen := map[string]bool{}
	for _, x := range c.Clusters {
		seen["c/"+x.GetName()] = true
	}
	for _, x := range c.Listeners {
		seen["l/"+x.GetName()] = true
	}
	for _, x := range c.Routes {
		seen["r/"+x.GetName()] = true
	}
	for _, x := range c.Endpoints {
		seen["e/"+x.GetClusterName()] = true
	}
	for _, x := range other.Clusters {
		if !seen["c/"+x.GetName()] {
			c.Clusters = append(c.Clusters, x)
		}
	}
	for _, x := range other.Listeners {
		if !seen["l/"+x.GetName()] {
			c.Listeners = append(c.Listeners, x)
		}
	}
	for _, x := range other.Routes {
		if !seen["r/"+x.GetName()] {
			c.Routes = append(c.Routes, x)
		}
	}
	for _, x := range other.Endpoints {
		if !seen["e/"+x.GetClusterName()] {
			c.Endpoints = append(c.Endpoints, x)
		}
	}
	if c.Node == nil {
		c.Node = other.Node
	}
	c.Sections = append(c.Sections, other.Sections...)
	c.Unreadable = append(c.Unreadable, other.Unreadable...)
}

// Empty reports whether the config holds no cluster, listener, route or endpoint: nothing the
// report is made of (a bootstrap alone only tells versions).
func (c *ProxyConfig) Empty() bool {
	return c == nil || len(c.Clusters)+len(c.Listeners)+len(c.Routes)+len(c.Endpoints) == 0
}

// Describe says what a dump held, for a message about one that gave nothing:
// "sections SecretsConfigDump, EcdsConfigDump".
func (c *ProxyConfig) Describe() string {
	if c == nil || len(c.Sections) == 0 {
		return "no config sections"
	}
	s := "sections " + strings.Join(compactNames(c.Sections), ", ")
	if len(c.Unreadable) > 0 {
		s += " (unreadable here: " + strings.Join(compactNames(c.Unreadable), ", ") + ")"
	}
	if v := nodeIstioVersion(c.Node); v != "" {
		s += ", Istio " + v
	}
	return s
}

// compactNames drops the package of each type name and repeats.
func compactNames(names []string) []string {
	var out []string
	for _, n := range names {
		if i := strings.LastIndexByte(n, '.'); i >= 0 && !strings.HasSuffix(n[:i], "ConfigDump") {
			n = n[i+1:]
		} else if i >= 0 {
			// DynamicCluster and its kin are nested in their section's type.
			if j := strings.LastIndexByte(n[:i], '.'); j >= 0 {
				n = n[j+1:]
			}
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// addSection takes the resources of one config section (m, nil when this binary does not know
// the section's type).
func (c *ProxyConfig) addSection(typeURL string, m proto.Message) {
	name := strings.TrimPrefix(typeURL, typeURLPrefix)
	c.Sections = append(c.Sections, name)
	if m == nil {
		if _, err := protoregistry.GlobalTypes.FindMessageByURL(typeURL); err != nil {
			// A config section of a type this binary does not know (ECDS, scoped routes, a v2 type
			// upgradeV2 does not cover…).
			c.Unreadable = append(c.Unreadable, name)
		}
		return
	}
	switch v := m.(type) {
	case *adminv3.BootstrapConfigDump:
		c.Node = v.GetBootstrap().GetNode()
	case *adminv3.ClustersConfigDump:
		// istioctl proxy-config cluster lists the active dynamic clusters and the static ones
		// (the bootstrap's xds-grpc, sds-grpc, agent, prometheus_stats…), not warming ones.
		for _, d := range v.GetDynamicActiveClusters() {
			c.addCluster(unmarshalResource(d.GetCluster()))
		}
		for _, s := range v.GetStaticClusters() {
			c.addCluster(unmarshalResource(s.GetCluster()))
		}
	case *adminv3.ClustersConfigDump_DynamicCluster:
		c.addCluster(unmarshalResource(v.GetCluster()))
	case *adminv3.ClustersConfigDump_StaticCluster:
		c.addCluster(unmarshalResource(v.GetCluster()))
	case *adminv3.ListenersConfigDump:
		for _, s := range v.GetStaticListeners() {
			c.addListener(unmarshalResource(s.GetListener()))
		}
		for _, d := range v.GetDynamicListeners() {
			c.addDynamicListener(d)
		}
	case *adminv3.ListenersConfigDump_DynamicListener:
		c.addDynamicListener(v)
	case *adminv3.ListenersConfigDump_StaticListener:
		c.addListener(unmarshalResource(v.GetListener()))
	case *adminv3.RoutesConfigDump:
		for _, s := range v.GetStaticRouteConfigs() {
			c.addRoute(unmarshalResource(s.GetRouteConfig()))
		}
		for _, d := range v.GetDynamicRouteConfigs() {
			c.addRoute(unmarshalResource(d.GetRouteConfig()))
		}
	case *adminv3.RoutesConfigDump_DynamicRouteConfig:
		c.addRoute(unmarshalResource(v.GetRouteConfig()))
	case *adminv3.RoutesConfigDump_StaticRouteConfig:
		c.addRoute(unmarshalResource(v.GetRouteConfig()))
	case *adminv3.EndpointsConfigDump:
		for _, s := range v.GetStaticEndpointConfigs() {
			c.addEndpoints(unmarshalResource(s.GetEndpointConfig()))
		}
		for _, d := range v.GetDynamicEndpointConfigs() {
			c.addEndpoints(unmarshalResource(d.GetEndpointConfig()))
		}
	case *adminv3.EndpointsConfigDump_DynamicEndpointConfig:
		c.addEndpoints(unmarshalResource(v.GetEndpointConfig()))
	case *adminv3.EndpointsConfigDump_StaticEndpointConfig:
		c.addEndpoints(unmarshalResource(v.GetEndpointConfig()))
	}
}

// unmarshalResource is the message of an Any, nil when it has none or
// one of a type this binary does not link.
func unmarshalResource(a *anypb.Any) proto.Message {
	if a == nil {
		return nil
	}
	m, err := a.UnmarshalNew()
	if err != nil {
		return nil
	}
	return m
}

func (c *ProxyConfig) addCluster(m proto.Message) {
	if cl, ok := m.(*clusterv3.Cluster); ok {
		c.Clusters = append(c.Clusters, cl)
	}
}

func (c *ProxyConfig) addDynamicListener(d *adminv3.ListenersConfigDump_DynamicListener) {
	switch {
	case d.GetActiveState() != nil:
		c.addListener(unmarshalResource(d.GetActiveState().GetListener()))
	case d.GetWarmingState() != nil:
		c.addListener(unmarshalResource(d.GetWarmingState().GetListener()))
	}
}

func (c *ProxyConfig) addListener(m proto.Message) {
	if l, ok := m.(*listenerv3.Listener); ok {
		c.Listeners = append(c.Listeners, l)
	}
}

func (c *ProxyConfig) addRoute(m proto.Message) {
	if r, ok := m.(*routev3.RouteConfiguration); ok {
		c.Routes = append(c.Routes, r)
	}
}

func (c *ProxyConfig) addEndpoints(m proto.Message) {
	if e, ok := m.(*endpointv3.ClusterLoadAssignment); ok {
		c.Endpoints = append(c.Endpoints, e)
	}
}

// unpack decodes a into m, or returns nil when a is absent or of another type.
func unpack[M proto.Message](a *anypb.Any, m M) M {
	var zero M
	if a == nil || !a.MessageIs(m) {
		return zero
	}
	if err := a.UnmarshalTo(m); err != nil {
		return zero
	}
	return m
}
