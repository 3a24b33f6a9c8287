package remedy

import (
	"fmt"
	"maps"

	"github.com/kubectl-egress/kubectl-egress/inspect"

	networking "istio.io/api/networking/v1"
	typev1beta1 "istio.io/api/type/v1beta1"
)

// TLSOriginationOptions are the choices of `kubectl egress enable-tls-origination HOST`.
type TLSOriginationOptions struct {
	// Port is the plain-HTTP port the app calls after the fix; 0 means 80.
	Port uint32
	// TargetPort is the host's TLS port; 0 means 443.
	TargetPort uint32
	// CACertificates is a CA bundle path inside the proxy to verify the host's certificate.
	CACertificates string
	// CredentialName is a Secret with the CA (key cacert); at sidecars Istio reads it only when the
	// DestinationRule has a workload selector, so WorkloadSelector is then required.
	CredentialName string
	// WorkloadSelector limits the DestinationRule to the app's pods (labels).
	WorkloadSelector map[string]string
	// SNI sent to the host; "" means the host itself.
	SNI string
	// AppPorts is what inspect observed the app sending to the host (for the double-TLS guard).
	AppPorts []Port
}

// PlanTLSOrigination plans TLS origination by the sidecar, the istio.io egress-tls-origination
// recipe: the app calls http://HOST, the sidecar sends TLS to HOST:443 and sees every request (L7
// metrics, retries, timeouts). For Istio older than 1.8, which ignores targetPort on DNS
// ServiceEntries, it plans the older recipe (port 443 declared HTTP and a VirtualService 80 → 443).
func PlanTLSOrigination(t Target, o TLSOriginationOptions, ex Existing) (*Plan, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	if err := checkDNSHost("TLS origination", t.Host); err != nil {
		return nil, err
	}
	if o.Port == 0 {
		o.Port = 80
	}
	if o.TargetPort == 0 {
		o.TargetPort = 443
	}
	if o.SNI == "" {
		o.SNI = t.Host
	}
	if o.Port == o.TargetPort {
		return nil, fmt.Errorf("refusing TLS origination on %s:%d: the app would call the port the server speaks TLS on; "+
			"originate on a plain-HTTP port such as 80", t.Host, o.Port)
	}
	if err := GuardDoubleTLS(t.Host, o.Port, o.AppPorts); err != nil {
		return nil, err
	}
	if err := checkTrust(t.Host, o.CACertificates, o.CredentialName, o.WorkloadSelector); err != nil {
		return nil, err
	}

	p := newPlan(t, inspect.FixTLSOrigination)
	p.Warnings = append(p.Warnings, ex.Warnings...)
	name := ObjectName(t.Host, "")
	tls := clientTLS(o.SNI, o.CACertificates, o.CredentialName)
	var selector *typev1beta1.WorkloadSelector
	if len(o.WorkloadSelector) > 0 {
		selector = &typev1beta1.WorkloadSelector{MatchLabels: maps.Clone(o.WorkloadSelector)}
	}

	if t.Istio.Before(1, 8) {
		// Pre-1.8 recipe: the TLS port itself is declared HTTP and port 80 is routed to it.
		p.Objects = append(p.Objects,
			p.serviceEntry(&networking.ServiceEntry{
				Hosts: []string{t.Host},
				Ports: []*networking.ServicePort{
					{Number: o.Port, Name: "http", Protocol: "HTTP"},
					{Number: o.TargetPort, Name: "http-port-for-tls-origination", Protocol: "HTTP"},
				},
				Resolution: networking.ServiceEntry_DNS,
				ExportTo:   t.exportTo(),
			}),
			p.virtualService(&networking.VirtualService{
				Hosts:    []string{t.Host},
				ExportTo: t.exportTo(),
				Http: []*networking.HTTPRoute{httpRoute(
					[]*networking.HTTPMatchRequest{{Port: o.Port}},
					destination(t.Host, o.TargetPort, ""), 0, t.Route)},
			}),
			p.destinationRule(name, &networking.DestinationRule{
				Host:             t.Host,
				ExportTo:         t.exportTo(),
				WorkloadSelector: selector,
				TrafficPolicy: &networking.TrafficPolicy{
					PortLevelSettings: []*networking.TrafficPolicy_PortTrafficPolicy{t.Traffic.origination(o.TargetPort, tls)},
				},
			}))
		p.warnf("Istio %s predates targetPort for DNS ServiceEntries (1.8): port %d of %s is declared HTTP, so no pod "+
			"that sees this ServiceEntry can send TLS to %s:%d any more", t.Istio, o.TargetPort, t.Host, t.Host, o.TargetPort)
	} else {
		p.Objects = append(p.Objects,
			p.serviceEntry(&networking.ServiceEntry{
				Hosts: []string{t.Host},
				Ports: []*networking.ServicePort{
					{Number: o.Port, Name: portName(Port{o.Port, "HTTP"}), Protocol: "HTTP", TargetPort: o.TargetPort},
					{Number: o.TargetPort, Name: portName(Port{o.TargetPort, "HTTPS"}), Protocol: "HTTPS"},
				},
				Resolution: networking.ServiceEntry_DNS,
				ExportTo:   t.exportTo(),
			}),
			p.destinationRule(name, &networking.DestinationRule{
				Host:             t.Host,
				ExportTo:         t.exportTo(),
				WorkloadSelector: selector,
				TrafficPolicy: &networking.TrafficPolicy{
					PortLevelSettings: []*networking.TrafficPolicy_PortTrafficPolicy{t.Traffic.origination(o.Port, tls)},
				},
			}))
		if !t.Route.Empty() {
			p.Objects = append(p.Objects, p.virtualService(&networking.VirtualService{
				Hosts:    []string{t.Host},
				ExportTo: t.exportTo(),
				Http: []*networking.HTTPRoute{httpRoute(
					[]*networking.HTTPMatchRequest{{Port: o.Port}},
					destination(t.Host, o.Port, ""), 0, t.Route)},
			}))
		}
	}
	if o.CACertificates == "" && o.CredentialName == "" {
		p.warnf("DestinationRule %s/%s originates TLS to %s without caCertificates or credentialName (istioctl analyze "+
			"IST0129): the server is checked only against the proxy's default roots; pass a CA to pin it", t.Namespace, name, t.Host)
	}
	p.notef("tell the app owner: call http://%s (port %d), not https://: %s now does TLS to %s:%d", t.Host, o.Port, t.proxy(), t.Host, o.TargetPort)
	p.guardTrafficPolicy(t.Traffic, true, true)
	if err := p.finish(ex, t); err != nil {
		return nil, err
	}
	return p, nil
}

// checkTrust refuses CA settings Istio would reject or silently ignore.
func checkTrust(host, caCertificates, credentialName string, selector map[string]string) error {
	if caCertificates != "" && credentialName != "" {
		return fmt.Errorf("give either a CA file or a credential name for %s, not both: Istio takes only one", host)
	}
	if credentialName != "" && len(selector) == 0 {
		return fmt.Errorf("credential %s for %s would be ignored: sidecars read credentialName only from a DestinationRule "+
			"with a workload selector; give the app's pod labels, or a CA file instead", credentialName, host)
	}
	return nil
}
