package remedy

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/types/known/durationpb"
	networking "istio.io/api/networking/v1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
)

// Protocol classes as Istio's listeners see them: an HTTP-family port shares the 0.0.0.0:PORT
// HTTP listener, everything else is matched by SNI or by address.
var httpProtocols = []string{"HTTP", "HTTP2", "GRPC", "GRPC-WEB", "HTTP_PROXY"}

func isHTTPProtocol(p string) bool { return slices.Contains(httpProtocols, strings.ToUpper(p)) }

func isTLSProtocol(p string) bool {
	p = strings.ToUpper(p)
	return p == "TLS" || p == "HTTPS"
}

// needsAddress tells whether a port is matched only by destination address and port: TCP-like
// protocols with no SNI and no Host header (IST0134).
func needsAddress(p string) bool { return !isHTTPProtocol(p) && !isTLSProtocol(p) }

// portName is the ServiceEntry port name: "http" for 80/HTTP and "https" / "tls" for 443, as the
// istio.io recipes write them, else "<protocol>-<number>" so names stay unique.
func portName(p Port) string {
	proto := strings.ToLower(p.Protocol)
	switch {
	case p.Number == 80 && proto == "http", p.Number == 443 && (proto == "https" || proto == "tls"):
		return proto
	}
	return hostLabel(proto) + "-" + fmt.Sprint(p.Number)
}

func servicePorts(ports []Port) []*networking.ServicePort {
	out := make([]*networking.ServicePort, 0, len(ports))
	for _, p := range ports {
		out = append(out, &networking.ServicePort{Number: p.Number, Protocol: p.Protocol, Name: portName(p)})
	}
	return out
}

// The client-go objects embed their spec by value; specs are protobuf messages, which must not be
// copied as values, so they are built apart and copied in with the generated DeepCopyInto.

func (p *Plan) serviceEntry(spec *networking.ServiceEntry) *networkingv1.ServiceEntry {
	se := &networkingv1.ServiceEntry{ObjectMeta: p.meta(ObjectName(p.Host, ""))}
	spec.Location = networking.ServiceEntry_MESH_EXTERNAL
	spec.DeepCopyInto(&se.Spec)
	return se
}

func (p *Plan) destinationRule(name string, spec *networking.DestinationRule) *networkingv1.DestinationRule {
	dr := &networkingv1.DestinationRule{ObjectMeta: p.meta(name)}
	spec.DeepCopyInto(&dr.Spec)
	return dr
}

func (p *Plan) virtualService(spec *networking.VirtualService) *networkingv1.VirtualService {
	vs := &networkingv1.VirtualService{ObjectMeta: p.meta(ObjectName(p.Host, ""))}
	spec.DeepCopyInto(&vs.Spec)
	return vs
}

func (p *Plan) gateway(spec *networking.Gateway) *networkingv1.Gateway {
	gw := &networkingv1.Gateway{ObjectMeta: p.meta(ObjectName(p.Host, ""))}
	spec.DeepCopyInto(&gw.Spec)
	return gw
}

// httpRoute returns a route to dest with the plan's route policy (timeout, retries) set.
func httpRoute(match []*networking.HTTPMatchRequest, dest *networking.Destination, weight int32, rp RoutePolicy) *networking.HTTPRoute {
	r := &networking.HTTPRoute{
		Match: match,
		Route: []*networking.HTTPRouteDestination{{Destination: dest, Weight: weight}},
	}
	if rp.Timeout > 0 {
		r.Timeout = durationpb.New(rp.Timeout)
	}
	if rp.Retries != nil || rp.PerTryTimeout > 0 || rp.RetryOn != "" {
		r.Retries = &networking.HTTPRetry{RetryOn: rp.RetryOn}
		if rp.Retries != nil {
			r.Retries.Attempts = *rp.Retries
		}
		if rp.PerTryTimeout > 0 {
			r.Retries.PerTryTimeout = durationpb.New(rp.PerTryTimeout)
		}
	}
	return r
}

func destination(host string, port uint32, subset string) *networking.Destination {
	d := &networking.Destination{Host: host, Subset: subset}
	if port != 0 {
		d.Port = &networking.PortSelector{Number: port}
	}
	return d
}

// clientTLS is the SIMPLE origination setting for host, verifying the server with the CA file or
// the credential when one is given.
func clientTLS(sni, caCertificates, credentialName string) *networking.ClientTLSSettings {
	return &networking.ClientTLSSettings{
		Mode:           networking.ClientTLSSettings_SIMPLE,
		Sni:            sni,
		CaCertificates: caCertificates,
		CredentialName: credentialName,
	}
}

func portTLS(port uint32, tls *networking.ClientTLSSettings) *networking.TrafficPolicy_PortTrafficPolicy {
	return &networking.TrafficPolicy_PortTrafficPolicy{Port: &networking.PortSelector{Number: port}, Tls: tls}
}
