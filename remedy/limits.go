package remedy

import (
	"context"
	"fmt"

	networking "istio.io/api/networking/v1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// LimitsOf is what a DestinationRule's connection pool and outlier detection become on the
// proxy's cluster, in the report's terms (inspect.ClusterLimits), for verify to compare: the
// first traffic policy that sets any, at the top, on a port, or on a subset. nil when it sets
// none. The TCP idle timeout is the TCP proxy's, not the cluster's, so it is left out.
func LimitsOf(dr *networkingv1.DestinationRule) *inspect.ClusterLimits {
	var policies []*networking.TrafficPolicy
	if tp := dr.Spec.GetTrafficPolicy(); tp != nil {
		policies = append(policies, tp)
		for _, pt := range tp.GetPortLevelSettings() {
			policies = append(policies, &networking.TrafficPolicy{ConnectionPool: pt.GetConnectionPool(), OutlierDetection: pt.GetOutlierDetection()})
		}
	}
	for _, s := range dr.Spec.GetSubsets() {
		if s.GetTrafficPolicy() != nil {
			policies = append(policies, s.GetTrafficPolicy())
		}
	}
	for _, tp := range policies {
		cp, od := tp.GetConnectionPool(), tp.GetOutlierDetection()
		if cp == nil && od == nil {
			continue
		}
		l := &inspect.ClusterLimits{
			MaxConnections:           uint32(cp.GetTcp().GetMaxConnections()),
			MaxPendingRequests:       uint32(cp.GetHttp().GetHttp1MaxPendingRequests()),
			MaxRequestsPerConnection: uint32(cp.GetHttp().GetMaxRequestsPerConnection()),
		}
		if d := cp.GetTcp().GetConnectTimeout(); d != nil {
			l.ConnectTimeout = d.AsDuration().String()
		}
		if d := cp.GetHttp().GetIdleTimeout(); d != nil {
			l.IdleTimeout = d.AsDuration().String()
		}
		if od != nil {
			l.Consecutive5xx = od.GetConsecutive_5XxErrors().GetValue()
			l.ConsecutiveGatewayErrors = od.GetConsecutiveGatewayErrors().GetValue()
			l.MaxEjectionPercent = uint32(od.GetMaxEjectionPercent())
			if d := od.GetInterval(); d != nil {
				l.OutlierInterval = d.AsDuration().String()
			}
			if d := od.GetBaseEjectionTime(); d != nil {
				l.BaseEjectionTime = d.AsDuration().String()
			}
		}
		return l
	}
	return nil
}

// ManagedLimits are the connection settings of the DestinationRules kubectl-egress wrote for
// host in namespace (LimitsOf the first that sets any); nil when none does.
func (a *Applier) ManagedLimits(ctx context.Context, namespace, host string) (*inspect.ClusterLimits, error) {
	list, err := a.client.Resource(a.gvr(NetworkingGroup, "DestinationRule")).Namespace(namespace).List(ctx, metav1.ListOptions{
		LabelSelector: LabelManagedBy + "=" + ManagedByValue,
	})
	if err != nil {
		return nil, fmt.Errorf("failed to list destinationrules in namespace %s: %w", namespace, err)
	}
	drs, err := decodeAll[networkingv1.DestinationRule](list.Items)
	if err != nil {
		return nil, err
	}
	for _, dr := range drs {
		if dr.Annotations[AnnotationHost] == host {
			if l := LimitsOf(dr); l != nil {
				return l, nil
			}
		}
	}
	return nil, nil
}
