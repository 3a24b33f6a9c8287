package sidecar

import (
	"testing"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	celv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/filters/cel/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

func celFilter(t *testing.T, expr string) *accesslogv3.AccessLogFilter {
	t.Helper()
	a, err := anypb.New(&celv3.ExpressionFilter{Expression: expr})
	if err != nil {
		t.Fatal(err)
	}
	return &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_ExtensionFilter{
		ExtensionFilter: &accesslogv3.ExtensionFilter{Name: celFilterName, ConfigType: &accesslogv3.ExtensionFilter_TypedConfig{TypedConfig: a}}}}
}

// The filter kubectl egress logging on writes: passthrough and blocked traffic only.
func TestLogFilterMatches(t *testing.T) {
	const egressOnly = `xds.cluster_name == "PassthroughCluster" || xds.cluster_name == "BlackHoleCluster" || xds.route_name == "block_all"`
	tests := []struct {
		name string
		expr string
		rec  logRecord
		want bool
	}{
		{"TLS passthrough", egressOnly, logRecord{cluster: "PassthroughCluster", flags: "-"}, true},
		{"TCP blocked", egressOnly, logRecord{cluster: "BlackHoleCluster", flags: "UH"}, true},
		{"HTTP blocked: no cluster, route block_all", egressOnly, logRecord{http: true, responseCode: 502, route: "block_all", flags: "-"}, true},
		{"a registered host", egressOnly, logRecord{cluster: "outbound|443||httpbin.org", flags: "-"}, false},
		{"a mesh service", egressOnly, logRecord{http: true, responseCode: 200, cluster: "outbound|80||web.shop.svc.cluster.local", route: "web.shop.svc.cluster.local:80", flags: "-"}, false},
		{"errors only", "response.code >= 400", logRecord{http: true, responseCode: 503, flags: "UH"}, true},
		{"a TCP record has no response code: an error, so no log", "response.code >= 400", logRecord{cluster: "PassthroughCluster", flags: "-"}, false},
		{"an expression that does not compile logs nothing", "xds.cluster_name ==", logRecord{cluster: "PassthroughCluster"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := logFilterMatches(celFilter(t, tt.expr), &tt.rec); got != tt.want {
				t.Errorf("%s on %+v: %v, want %v", tt.expr, tt.rec, got, tt.want)
			}
		})
	}
	if !logFilterMatches(nil, &logRecord{}) {
		t.Errorf("no filter must log everything")
	}
	and := &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_AndFilter{AndFilter: &accesslogv3.AndFilter{
		Filters: []*accesslogv3.AccessLogFilter{celFilter(t, egressOnly), {FilterSpecifier: &accesslogv3.AccessLogFilter_ResponseFlagFilter{ResponseFlagFilter: &accesslogv3.ResponseFlagFilter{Flags: []string{"UH"}}}}},
	}}}
	if logFilterMatches(and, &logRecord{cluster: "PassthroughCluster", flags: "-"}) || !logFilterMatches(and, &logRecord{cluster: "BlackHoleCluster", flags: "UH"}) {
		t.Errorf("an and-filter needs both")
	}
}
