package sidecar

import (
	"strings"
	"sync"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	celv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/filters/cel/v3"
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
)

// celFilterName is the access-log extension filter istiod writes for a Telemetry's
// accessLogging filter expression (pilot/pkg/networking/core/accesslog.go).
const celFilterName = "envoy.access_loggers.extension_filters.cel"

// celEnv declares Envoy's attribute roots as maps: an attribute a record lacks is a missing key,
// which CEL evaluates to an error, as Envoy does; Envoy then does not log.
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	var opts []cel.EnvOption
	for _, root := range []string{"request", "response", "connection", "upstream", "source", "destination", "xds"} {
		opts = append(opts, cel.Variable(root, cel.MapType(cel.StringType, cel.DynType)))
	}
	return cel.NewEnv(opts...)
})

var celPrograms sync.Map // expression → cel.Program

// logFilterMatches tells whether an access logger's filter lets the record through, the way
// Envoy evaluates it: no filter logs everything; and/or filters combine; the CEL extension filter
// evaluates its expression on the record's attributes (an error is no match); response flag
// filters match the record's flags. Filters the stand-in does not know let everything through.
func logFilterMatches(f *accesslogv3.AccessLogFilter, r *logRecord) bool {
	if f == nil {
		return true
	}
	switch {
	case f.GetAndFilter() != nil:
		for _, sub := range f.GetAndFilter().GetFilters() {
			if !logFilterMatches(sub, r) {
				return false
			}
		}
		return true
	case f.GetOrFilter() != nil:
		for _, sub := range f.GetOrFilter().GetFilters() {
			if logFilterMatches(sub, r) {
				return true
			}
		}
		return false
	case f.GetResponseFlagFilter() != nil:
		want := f.GetResponseFlagFilter().GetFlags()
		for _, flag := range strings.Split(r.flags, ",") {
			if flag != "-" && flag != "" && (len(want) == 0 || contains(want, flag)) {
				return true
			}
		}
		return false
	case f.GetExtensionFilter() != nil:
		ef := f.GetExtensionFilter()
		expr := &celv3.ExpressionFilter{}
		if ef.GetName() != celFilterName || ef.GetTypedConfig().UnmarshalTo(expr) != nil {
			return true
		}
		return celMatches(expr.GetExpression(), r)
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func celMatches(expression string, r *logRecord) bool {
	prg, ok := celPrograms.Load(expression)
	if !ok {
		env, err := celEnv()
		if err != nil {
			return false
		}
		ast, iss := env.Compile(expression)
		if iss.Err() != nil {
			return false
		}
		p, err := env.Program(ast)
		if err != nil {
			return false
		}
		prg, _ = celPrograms.LoadOrStore(expression, p)
	}
	out, _, err := prg.(cel.Program).Eval(r.attributes())
	return err == nil && out == types.True
}

// attributes are the record as Envoy's attributes (envoy docs: advanced/attributes); only the
// ones the record knows are set.
func (r *logRecord) attributes() map[string]any {
	set := func(m map[string]any, k string, v any, ok bool) {
		if ok {
			m[k] = v
		}
	}
	request, response, connection, upstream, xds := map[string]any{}, map[string]any{}, map[string]any{}, map[string]any{}, map[string]any{}
	set(request, "method", r.method, r.http)
	set(request, "path", r.path, r.http)
	set(request, "host", r.authority, r.http && r.authority != "")
	set(request, "protocol", r.protocol, r.http)
	set(request, "useragent", r.userAgent, r.http && r.userAgent != "")
	set(response, "code", int64(r.responseCode), r.http && r.responseCode != 0)
	set(response, "flags", r.flags, true)
	set(response, "code_details", r.details, r.details != "")
	set(connection, "requested_server_name", r.sni, r.sni != "")
	set(upstream, "address", r.upstreamHost, r.upstreamHost != "")
	set(xds, "cluster_name", r.cluster, r.cluster != "")
	set(xds, "route_name", r.route, r.route != "")
	return map[string]any{
		"request": request, "response": response, "connection": connection, "upstream": upstream,
		"source": map[string]any{"address": r.downstreamRemote}, "destination": map[string]any{"address": r.downstreamLocal},
		"xds": xds,
	}
}
