package remedy

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// What a planned DestinationRule asks for is what verify looks for on the cluster.
func TestLimitsOfPlannedDestinationRules(t *testing.T) {
	traffic := TrafficPolicy{ConnectTimeout: 3 * time.Second, MaxConnections: 50, MaxPendingRequests: 20, IdleTimeout: time.Minute,
		Outlier: &OutlierPolicy{Consecutive5xxErrors: 5, Interval: 10 * time.Second, BaseEjectionTime: 30 * time.Second, MaxEjectionPercent: 100}}
	tests := []struct {
		name string
		plan func() (*Plan, error)
		want *inspect.ClusterLimits
	}{
		{"register: the top-level policy; the HTTP idle timeout only where a port is HTTP", func() (*Plan, error) {
			return PlanRegister(Target{Host: "api.example.com", Namespace: "demo", Traffic: traffic}, RegisterOptions{Ports: []Port{{443, "TLS"}}}, Existing{})
		}, &inspect.ClusterLimits{ConnectTimeout: "3s", MaxConnections: 50, MaxPendingRequests: 20, Consecutive5xx: 5, OutlierInterval: "10s", BaseEjectionTime: "30s", MaxEjectionPercent: 100}},
		{"TLS origination: the origination port's", func() (*Plan, error) {
			return PlanTLSOrigination(Target{Host: "httpbin.org", Namespace: "demo", Traffic: traffic}, TLSOriginationOptions{}, Existing{})
		}, &inspect.ClusterLimits{ConnectTimeout: "3s", MaxConnections: 50, MaxPendingRequests: 20, IdleTimeout: "1m0s", Consecutive5xx: 5, OutlierInterval: "10s", BaseEjectionTime: "30s", MaxEjectionPercent: 100}},
		{"no settings", func() (*Plan, error) {
			return PlanTLSOrigination(Target{Host: "httpbin.org", Namespace: "demo"}, TLSOriginationOptions{}, Existing{})
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tt.plan()
			if err != nil {
				t.Fatal(err)
			}
			var got *inspect.ClusterLimits
			for _, o := range p.Objects {
				if dr, ok := o.(*networkingv1.DestinationRule); ok {
					got = LimitsOf(dr)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
