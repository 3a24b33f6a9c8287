package inspect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Istio up to 1.7 ran Envoy's v2 xDS API, and its config dumps say so: admin types
// envoy.admin.v2alpha.* (Istio ≤ 1.4, whose sections hold resources as plain messages, and whose
// 0.8-era dumps key `configs` by section name), or admin.v3 sections holding envoy.api.v2.*
// resources (1.5-1.7). This binary links only v3 types, so such a dump decodes to nothing unless
// it is first rewritten into the v3 shape. upgradeV2 does that for what the report reads:
// resource type URLs, the section layout, filters configured by an untyped `config` struct, a
// cluster's deprecated `hosts` (now load_assignment) and `tls_context` (now transport_socket).

// v2TypeURLs maps v2 type names to their v3 successors.
var v2TypeURLs = map[string]string{
	"envoy.api.v2.Cluster":                                                         typeCluster,
	"envoy.api.v2.Listener":                                                        typeListener,
	"envoy.api.v2.RouteConfiguration":                                              typeRouteConfiguration,
	"envoy.api.v2.ClusterLoadAssignment":                                           "envoy.config.endpoint.v3.ClusterLoadAssignment",
	"envoy.api.v2.auth.UpstreamTlsContext":                                         typeUpstreamTLS,
	"envoy.api.v2.auth.DownstreamTlsContext":                                       "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
	"envoy.config.accesslog.v2.FileAccessLog":                                      typeFileAccessLog,
	"envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager": typeHCM,
	"envoy.config.filter.network.tcp_proxy.v2.TcpProxy":                            typeTCPProxy,
}

const (
	typeCluster            = "envoy.config.cluster.v3.Cluster"
	typeListener           = "envoy.config.listener.v3.Listener"
	typeRouteConfiguration = "envoy.config.route.v3.RouteConfiguration"
	typeUpstreamTLS        = "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
	typeFileAccessLog      = "envoy.extensions.access_loggers.file.v3.FileAccessLog"
	typeHCM                = "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
	typeTCPProxy           = "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"
	typeURLPrefix          = "type.googleapis.com/"
)

// v2FilterTypes are the v3 types of the filters and loggers v2 configured by name and `config`.
var v2FilterTypes = map[string]string{
	"envoy.tcp_proxy":                               typeTCPProxy,
	"envoy.filters.network.tcp_proxy":               typeTCPProxy,
	"envoy.http_connection_manager":                 typeHCM,
	"envoy.filters.network.http_connection_manager": typeHCM,
	"envoy.file_access_log":                         typeFileAccessLog,
	"envoy.access_loggers.file":                     typeFileAccessLog,
}

// isV2Dump reports whether a JSON config dump uses the v2 API anywhere.
func isV2Dump(b []byte) bool {
	// One pass over a big dump for the rarer part of both names.
	for i := bytes.Index(b, []byte(".v2")); i >= 0; {
		before, after := b[:i], b[i:]
		if bytes.HasSuffix(before, []byte("envoy.admin")) && bytes.HasPrefix(after, []byte(".v2alpha.")) ||
			bytes.HasSuffix(before, []byte("envoy.api")) && bytes.HasPrefix(after, []byte(".v2.")) {
			return true
		}
		next := bytes.Index(b[i+1:], []byte(".v2"))
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return false
}

// upgradeV2 rewrites a v2 config dump (JSON) into the v3 shape.
func upgradeV2(b []byte) ([]byte, error) {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("failed to decode v2 config dump: %w", err)
	}
	configs, key := field(doc, "configs")
	if byName, ok := configs.(map[string]any); ok {
		names := make([]string, 0, len(byName))
		for n := range byName {
			names = append(names, n)
		}
		sort.Strings(names)
		list := make([]any, 0, len(names))
		for _, n := range names {
			list = append(list, byName[n])
		}
		configs = list
		doc[key] = list
	}
	list, _ := configs.([]any)
	for _, s := range list {
		if m, ok := s.(map[string]any); ok {
			upgradeV2Section(m)
		}
	}
	upgradeV2Node(doc)
	return json.Marshal(doc)
}

// upgradeV2Section gives a v2alpha admin section the v3 layout: resources wrapped in Any, and
// listeners grouped by state.
func upgradeV2Section(s map[string]any) {
	t, _ := s["@type"].(string)
	name := strings.TrimPrefix(t, typeURLPrefix)
	if !strings.HasPrefix(name, "envoy.admin.v2alpha.") {
		return
	}
	s["@type"] = typeURLPrefix + "envoy.admin.v3." + strings.TrimPrefix(name, "envoy.admin.v2alpha.")
	wrap := func(list, inner, typ string) {
		items, _ := field(s, list)
		for _, it := range asList(items) {
			if r, ok := field(it, inner); ok != "" {
				setType(r, typ)
			}
		}
	}
	switch name {
	case "envoy.admin.v2alpha.ClustersConfigDump":
		for _, l := range []string{"static_clusters", "dynamic_active_clusters", "dynamic_warming_clusters"} {
			wrap(l, "cluster", typeCluster)
		}
	case "envoy.admin.v2alpha.RoutesConfigDump":
		for _, l := range []string{"static_route_configs", "dynamic_route_configs"} {
			wrap(l, "route_config", typeRouteConfiguration)
		}
	case "envoy.admin.v2alpha.ListenersConfigDump":
		wrap("static_listeners", "listener", typeListener)
		var dynamic []any
		for _, st := range []struct{ list, state string }{
			{"dynamic_active_listeners", "active_state"},
			{"dynamic_warming_listeners", "warming_state"},
			{"dynamic_draining_listeners", "draining_state"},
		} {
			items, key := field(s, st.list)
			for _, it := range asList(items) {
				l, _ := field(it, "listener")
				setType(l, typeListener)
				lm, _ := l.(map[string]any)
				name, _ := field(lm, "name")
				dynamic = append(dynamic, map[string]any{"name": name, st.state: it})
			}
			delete(s, key)
		}
		if dynamic != nil {
			s["dynamic_listeners"] = dynamic
		}
	}
}

// upgradeV2Node rewrites every object below v in place.
func upgradeV2Node(v any) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			upgradeV2Node(e)
		}
	case map[string]any:
		if t, ok := x["@type"].(string); ok {
			if v3, ok := v2TypeURLs[strings.TrimPrefix(t, typeURLPrefix)]; ok {
				x["@type"] = typeURLPrefix + v3
			}
		}
		upgradeV2Filter(x)
		if t, _ := x["@type"].(string); t == typeURLPrefix+typeCluster {
			upgradeV2Cluster(x)
		}
		if sni, key := field(x, "sni_domains"); key != "" {
			x["server_names"] = sni
			delete(x, key)
		}
		for _, e := range x {
			upgradeV2Node(e)
		}
	}
}

// upgradeV2Filter turns {name, config: {...}} into {name, typed_config: {@type, ...}} for the
// filters and loggers the report reads.
func upgradeV2Filter(f map[string]any) {
	name, _ := f["name"].(string)
	typ, ok := v2FilterTypes[name]
	cfg, key := field(f, "config")
	m, isMap := cfg.(map[string]any)
	if !ok || !isMap {
		return
	}
	if _, typed := field(f, "typed_config"); typed != "" {
		return
	}
	delete(f, key)
	setType(m, typ)
	if typ == typeTCPProxy {
		// 0.8's tcp_proxy routed by deprecated_v1 routes; the first names the cluster.
		if _, has := field(m, "cluster"); has == "" {
			if dv1, _ := field(m, "deprecated_v1"); dv1 != nil {
				routes, _ := field(dv1, "routes")
				for _, r := range asList(routes) {
					if c, k := field(r, "cluster"); k != "" {
						m["cluster"] = c
						break
					}
				}
			}
		}
	}
	f["typed_config"] = m
}

// upgradeV2Cluster moves a v2 cluster's `hosts` into load_assignment and `tls_context` into
// transport_socket.
func upgradeV2Cluster(c map[string]any) {
	if hosts, key := field(c, "hosts"); key != "" {
		delete(c, key)
		if _, has := field(c, "load_assignment"); has == "" {
			var lbs []any
			for _, h := range asList(hosts) {
				lbs = append(lbs, map[string]any{"endpoint": map[string]any{"address": h}})
			}
			name, _ := field(c, "name")
			c["load_assignment"] = map[string]any{"cluster_name": name, "endpoints": []any{map[string]any{"lb_endpoints": lbs}}}
		}
	}
	if tc, key := field(c, "tls_context"); key != "" {
		delete(c, key)
		if m, ok := tc.(map[string]any); ok {
			setType(m, typeUpstreamTLS)
			c["transport_socket"] = map[string]any{"name": "envoy.transport_sockets.tls", "typed_config": m}
		}
	}
}

// field reads a key in its snake_case or lowerCamelCase spelling, and says which one it found
// ("" when neither).
func field(v any, snake string) (any, string) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, ""
	}
	if x, ok := m[snake]; ok {
		return x, snake
	}
	camel := lowerCamel(snake)
	if x, ok := m[camel]; ok {
		return x, camel
	}
	return nil, ""
}

func lowerCamel(snake string) string {
	parts := strings.Split(snake, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func setType(v any, typ string) {
	if m, ok := v.(map[string]any); ok {
		if _, has := m["@type"]; !has {
			m["@type"] = typeURLPrefix + typ
		}
	}
}
