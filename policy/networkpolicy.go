package policy

import (
	"fmt"
	"net"
	"slices"

	networkingk8s "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// networkPolicy says which NetworkPolicies restrict the namespace's egress and which observed
// destinations they would not let out. An egress gateway alone is no security boundary: a pod
// can still dial out directly unless a NetworkPolicy stops it.
func (in Inputs) networkPolicy(ns string, pods []inspect.PodReport) NetworkPolicyStatus {
	var st NetworkPolicyStatus
	var egress []*networkingk8s.NetworkPolicy
	for _, np := range in.NetworkPolicies {
		if np.Namespace == ns && restrictsEgress(np) {
			egress = append(egress, np)
			st.Policies = append(st.Policies, np.Name)
		}
	}
	if len(egress) == 0 {
		return st
	}
	st.Restricted = true
	for _, p := range pods {
		var selecting []*networkingk8s.NetworkPolicy
		for _, np := range egress {
			if selects(np.Spec.PodSelector, p.Pod.Labels) {
				selecting = append(selecting, np)
			}
		}
		if len(selecting) == 0 {
			continue
		}
		for _, d := range p.Destinations {
			if !leaves(d) || in.allowed(selecting, d) {
				continue
			}
			cut := fmt.Sprintf("%s:%d (%s)", d.Host, d.Port, d.Disposition)
			if d.Port == 0 {
				cut = fmt.Sprintf("%s (%s)", d.Host, d.Disposition)
			}
			if !slices.Contains(st.Cuts, cut) {
				st.Cuts = append(st.Cuts, cut)
			}
		}
	}
	slices.Sort(st.Cuts)
	return st
}

// restrictsEgress tells whether a NetworkPolicy governs egress: Egress in its policyTypes, or,
// when they are unset, egress rules (as the API server defaults them).
func restrictsEgress(np *networkingk8s.NetworkPolicy) bool {
	if len(np.Spec.PolicyTypes) == 0 {
		return len(np.Spec.Egress) > 0
	}
	return slices.Contains(np.Spec.PolicyTypes, networkingk8s.PolicyTypeEgress)
}

func selects(sel metav1.LabelSelector, l map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(&sel)
	return err == nil && s.Matches(labels.Set(l))
}

// leaves tells whether traffic to a destination leaves the pod for outside the cluster, directly
// or through the egress gateway; bypassed traffic leaves too, without the sidecar.
func leaves(d inspect.Destination) bool {
	switch d.Disposition {
	case inspect.DispositionPassthrough, inspect.DispositionDynamicDNS, inspect.DispositionRegistered, inspect.DispositionTLSOrigination,
		inspect.DispositionEgressGateway, inspect.DispositionBypassed:
		return d.Host != "unknown"
	}
	return false
}

// allowed tells whether any of the policies lets the destination's traffic out.
func (in Inputs) allowed(nps []*networkingk8s.NetworkPolicy, d inspect.Destination) bool {
	for _, np := range nps {
		for _, rule := range np.Spec.Egress {
			if d.Disposition == inspect.DispositionEgressGateway {
				if in.Gateway != nil && peersAllowGateway(rule.To, np.Namespace, in.Gateway) {
					return true
				}
				continue
			}
			if !portsAllow(rule.Ports, d.Port) {
				continue
			}
			if len(rule.To) == 0 {
				return true
			}
			for _, peer := range rule.To {
				if peer.IPBlock != nil && ipBlockAllows(peer.IPBlock, d) {
					return true
				}
			}
		}
	}
	return false
}

func portsAllow(ports []networkingk8s.NetworkPolicyPort, port uint32) bool {
	if len(ports) == 0 || port == 0 {
		return len(ports) == 0
	}
	for _, p := range ports {
		if p.Port == nil {
			return true
		}
		if p.Port.IntValue() == int(port) || p.EndPort != nil && int32(port) >= p.Port.IntVal && int32(port) <= *p.EndPort {
			return true
		}
	}
	return false
}

// ipBlockAllows tells whether an ipBlock holds every address the destination was seen at; a
// destination known by name only is let out by a block of the whole address space alone.
func ipBlockAllows(b *networkingk8s.IPBlock, d inspect.Destination) bool {
	_, cidr, err := net.ParseCIDR(b.CIDR)
	if err != nil {
		return false
	}
	var ips []net.IP
	if ip := net.ParseIP(d.Host); ip != nil {
		ips = append(ips, ip)
	}
	for _, a := range d.Addresses {
		if h, _, err := net.SplitHostPort(a); err == nil {
			if ip := net.ParseIP(h); ip != nil {
				ips = append(ips, ip)
			}
		}
	}
	if len(ips) == 0 {
		ones, _ := cidr.Mask.Size()
		return ones == 0 && len(b.Except) == 0
	}
	for _, ip := range ips {
		if !cidr.Contains(ip) {
			return false
		}
		for _, ex := range b.Except {
			if _, e, err := net.ParseCIDR(ex); err == nil && e.Contains(ip) {
				return false
			}
		}
	}
	return true
}

// peersAllowGateway tells whether a rule's peers include the egress gateway's pods.
func peersAllowGateway(peers []networkingk8s.NetworkPolicyPeer, policyNS string, g *GatewayPods) bool {
	if len(peers) == 0 {
		return true
	}
	for _, p := range peers {
		if p.IPBlock != nil {
			continue
		}
		nsOK := p.NamespaceSelector == nil && policyNS == g.Namespace ||
			p.NamespaceSelector != nil && selects(*p.NamespaceSelector, g.NamespaceLabels)
		podOK := p.PodSelector == nil || selects(*p.PodSelector, g.PodLabels)
		if nsOK && podOK {
			return true
		}
	}
	return false
}
