package remedy

import (
	"fmt"
	"maps"
	"slices"

	networking "istio.io/api/networking/v1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	networkingk8s "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// LockdownOptions are the choices of `kubectl egress lockdown`.
type LockdownOptions struct {
	// Workload is the one workload to lock down first (a canary), e.g. "deploy/api", with its
	// pods' labels in WorkloadSelector; "" locks down the whole namespace.
	Workload         string
	WorkloadSelector map[string]string
	// EgressHosts are the Sidecar's egress hosts: those of the Sidecar that applies today, so the
	// lockdown changes the mode and nothing of what the proxies see; empty is "*/*".
	EgressHosts []string
	// NetworkPolicy also writes a NetworkPolicy that lets the pods reach other pods (the egress
	// gateway, istiod, the mesh) and DNS, and nothing outside the cluster: the egress gateway
	// becomes the only way out.
	NetworkPolicy bool
}

// PlanLockdown plans the objects that take a namespace, or one workload of it, to
// REGISTRY_ONLY: a Sidecar with outboundTrafficPolicy REGISTRY_ONLY (a workloadSelector for a
// canary) and, when asked, the NetworkPolicy. The ServiceEntries that keep the traffic going are
// other plans of the same run, applied first, all together.
func PlanLockdown(t Target, o LockdownOptions, ex Existing) (*Plan, error) {
	if t.Namespace == "" {
		return nil, fmt.Errorf("no namespace given to lock down")
	}
	if o.Workload != "" && len(o.WorkloadSelector) == 0 {
		return nil, fmt.Errorf("workload %s has no pod labels to select it by: lock the namespace down instead", o.Workload)
	}
	t.Host = ""
	p := newPlan(t, inspect.FixLockdown)
	p.Warnings = append(p.Warnings, ex.Warnings...)
	name := "egress-lockdown"
	if o.Workload != "" {
		name = dns1123("egress-lockdown-"+hostLabel(o.Workload), "")
	}
	hosts := slices.Clone(o.EgressHosts)
	if len(hosts) == 0 {
		hosts = []string{"*/*"}
	}
	sc := &networkingv1.Sidecar{ObjectMeta: p.meta(name)}
	sc.Spec.Egress = []*networking.IstioEgressListener{{Hosts: hosts}}
	sc.Spec.OutboundTrafficPolicy = &networking.OutboundTrafficPolicy{Mode: networking.OutboundTrafficPolicy_REGISTRY_ONLY}
	if o.Workload != "" {
		sc.Spec.WorkloadSelector = &networking.WorkloadSelector{Labels: maps.Clone(o.WorkloadSelector)}
	}
	p.Objects = append(p.Objects, sc)
	scope := "namespace " + t.Namespace
	if o.Workload != "" {
		scope = o.Workload + " in namespace " + t.Namespace
	}
	if o.NetworkPolicy {
		p.Objects = append(p.Objects, lockdownNetworkPolicy(p.meta(name), o.WorkloadSelector))
		p.notef("the NetworkPolicy lets %s reach other pods (the egress gateway among them) and DNS only: every external host must now go through the egress gateway", scope)
	}
	p.notef("%s is in REGISTRY_ONLY once istiod pushes the Sidecar: calls to hosts no ServiceEntry registers now fail (BlackHoleCluster); kubectl egress undo --lockdown -n %s reverts it", scope, t.Namespace)
	if err := p.finish(ex, t); err != nil {
		return nil, err
	}
	return p, nil
}

// lockdownNetworkPolicy lets the selected pods (all of the namespace's for a nil selector) send
// to any pod of any namespace, and DNS anywhere, and nothing else: NetworkPolicy peers by
// namespace or pod selector are pods only, never addresses outside the cluster.
func lockdownNetworkPolicy(meta metav1.ObjectMeta, selector map[string]string) *networkingk8s.NetworkPolicy {
	udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
	dns := intstr.FromInt32(53)
	return &networkingk8s.NetworkPolicy{
		ObjectMeta: meta,
		Spec: networkingk8s.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: maps.Clone(selector)},
			PolicyTypes: []networkingk8s.PolicyType{networkingk8s.PolicyTypeEgress},
			Egress: []networkingk8s.NetworkPolicyEgressRule{
				{To: []networkingk8s.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}},
				{Ports: []networkingk8s.NetworkPolicyPort{{Protocol: &udp, Port: &dns}, {Protocol: &tcp, Port: &dns}}},
			},
		},
	}
}

// PlanGatewayLock plans the NetworkPolicy of route-via-gateway --lock alone: the namespace's pods
// may leave the cluster only through the egress gateway.
func PlanGatewayLock(t Target, ex Existing) (*Plan, error) {
	if t.Namespace == "" {
		return nil, fmt.Errorf("no namespace given to lock")
	}
	t.Host = ""
	p := newPlan(t, inspect.FixLockdown)
	p.Objects = append(p.Objects, lockdownNetworkPolicy(p.meta("egress-lockdown"), nil))
	p.notef("the NetworkPolicy lets namespace %s reach other pods (the egress gateway among them) and DNS only: hosts not routed through the egress gateway are cut", t.Namespace)
	if err := p.finish(ex, t); err != nil {
		return nil, err
	}
	return p, nil
}
