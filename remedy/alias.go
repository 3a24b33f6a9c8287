package remedy

import (
	"fmt"
	"strings"

	networking "istio.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// AliasOptions are the choices of `kubectl egress alias SHORT LONG`; the Target's host is SHORT.
type AliasOptions struct {
	// Long is the real external host the alias stands for.
	Long string
	// Port the app calls SHORT on (plain HTTP; 80), and TargetPort LONG serves TLS on (443).
	Port, TargetPort uint32
	// CACertificates or CredentialName verify LONG's certificate.
	CACertificates, CredentialName string
}

// PlanAlias plans a short name for a long external host, the recipe a real istiod renders
// (checked on the local mesh): a ServiceEntry for SHORT whose one endpoint is LONG on the TLS
// port (resolution DNS: the sidecar resolves LONG), a DestinationRule originating TLS with SNI
// LONG, and a VirtualService rewriting the authority to LONG, so LONG sees its own name in both
// the handshake and the request. The app calls http://SHORT; resolving SHORT needs the sidecar's
// DNS capture (ISTIO_META_DNS_CAPTURE), which the caller checks on the proxies.
func PlanAlias(t Target, o AliasOptions, ex Existing) (*Plan, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	short, long := t.Host, strings.ToLower(strings.TrimSuffix(strings.TrimSpace(o.Long), "."))
	for _, h := range []struct{ what, host string }{{"the alias", short}, {"the real host", long}} {
		if err := checkDNSHost("an alias", h.host); err != nil {
			return nil, err
		}
		if errs := validation.IsDNS1123Subdomain(h.host); len(errs) > 0 {
			return nil, fmt.Errorf("%s %q is not a DNS name: %s", h.what, h.host, strings.Join(errs, "; "))
		}
	}
	if short == long {
		return nil, fmt.Errorf("the alias and the real host are both %s: an alias needs a name of its own", short)
	}
	if o.Port == 0 {
		o.Port = 80
	}
	if o.TargetPort == 0 {
		o.TargetPort = 443
	}
	if o.CACertificates != "" && o.CredentialName != "" {
		return nil, fmt.Errorf("give either a CA file or a credential name for %s, not both: Istio takes only one", long)
	}
	p := newPlan(t, inspect.FixAlias)
	p.Warnings = append(p.Warnings, ex.Warnings...)
	name := ObjectName(short, "")
	se := p.serviceEntry(&networking.ServiceEntry{
		Hosts:      []string{short},
		Ports:      []*networking.ServicePort{{Number: o.Port, Name: portName(Port{o.Port, "HTTP"}), Protocol: "HTTP", TargetPort: o.TargetPort}},
		Resolution: networking.ServiceEntry_DNS,
		Endpoints:  []*networking.WorkloadEntry{{Address: long}},
		ExportTo:   t.exportTo(),
	})
	se.Annotations[AnnotationAliasOf] = long
	dr := &networking.DestinationRule{
		Host:          short,
		ExportTo:      t.exportTo(),
		TrafficPolicy: &networking.TrafficPolicy{PortLevelSettings: []*networking.TrafficPolicy_PortTrafficPolicy{t.Traffic.origination(o.Port, clientTLS(long, o.CACertificates, o.CredentialName))}},
	}
	route := httpRoute([]*networking.HTTPMatchRequest{{Port: o.Port}}, destination(short, o.Port, ""), 0, t.Route)
	route.Rewrite = &networking.HTTPRewrite{Authority: long}
	p.Objects = append(p.Objects, se, p.destinationRule(name, dr),
		p.virtualService(&networking.VirtualService{Hosts: []string{short}, ExportTo: t.exportTo(), Http: []*networking.HTTPRoute{route}}))
	if o.CACertificates == "" && o.CredentialName == "" {
		p.warnf("DestinationRule %s/%s originates TLS to %s without caCertificates or credentialName (istioctl analyze IST0129): "+
			"the server is checked only against the proxy's default roots", t.Namespace, name, long)
	}
	p.notef("the app calls http://%s:%d; its sidecar resolves %s, sends the request to %s:%d over TLS with SNI and Host %s",
		short, o.Port, short, long, o.TargetPort, long)
	p.guardTrafficPolicy(t.Traffic, true, true)
	if err := p.finish(ex, t); err != nil {
		return nil, err
	}
	return p, nil
}
