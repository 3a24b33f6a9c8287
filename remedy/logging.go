package remedy

import (
	"fmt"

	telemetryapi "istio.io/api/telemetry/v1alpha1"
	telemetryv1 "istio.io/client-go/pkg/apis/telemetry/v1"

	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// EgressLogFilter is the access-log filter of `kubectl egress logging on`: Envoy logs a
// connection or request only when it went to PassthroughCluster or BlackHoleCluster, or was
// refused by the block_all route (plain HTTP under REGISTRY_ONLY has no upstream cluster). The
// names are Envoy's attributes (xds.cluster_name, xds.route_name); in CEL an attribute a
// request lacks is an error, and `error || true` is true, so either side may match alone.
const EgressLogFilter = `xds.cluster_name == "PassthroughCluster" || xds.cluster_name == "BlackHoleCluster" || xds.route_name == "block_all"`

// PlanLogging plans a Telemetry that turns the Envoy access log on for the namespace's proxies,
// only for traffic to unregistered hosts: inspect then names TLS hosts by SNI at a small cost.
func PlanLogging(t Target, ex Existing) (*Plan, error) {
	if t.Namespace == "" {
		return nil, fmt.Errorf("no namespace given for the access logging")
	}
	t.Host = ""
	p := newPlan(t, inspect.FixLogging)
	p.Warnings = append(p.Warnings, ex.Warnings...)
	tel := &telemetryv1.Telemetry{ObjectMeta: p.meta("egress-logging")}
	tel.Spec.AccessLogging = []*telemetryapi.AccessLogging{{
		Providers: []*telemetryapi.ProviderRef{{Name: "envoy"}},
		Filter:    &telemetryapi.AccessLogging_Filter{Expression: EgressLogFilter},
	}}
	p.Objects = append(p.Objects, tel)
	for _, other := range ex.Telemetries {
		if other.Name != tel.Name && len(other.Spec.GetAccessLogging()) > 0 && other.Spec.GetSelector() == nil {
			p.warnf("Telemetry %s/%s also configures access logging for the namespace: Istio applies only one namespace-wide Telemetry; remove it or merge the filter into it", other.Namespace, other.Name)
		}
	}
	p.notef("the proxies of namespace %s log only passthrough and blocked traffic once istiod pushes the Telemetry; kubectl egress logging off -n %s removes it", t.Namespace, t.Namespace)
	if err := p.finish(ex, t); err != nil {
		return nil, err
	}
	return p, nil
}
