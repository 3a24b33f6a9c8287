package fixflow

import (
	"fmt"
	"strings"

	"github.com/kubectl-egress/kubectl-egress/inspect"
	"github.com/kubectl-egress/kubectl-egress/remedy"
)

// DefaultEgressGateway is the egress gateway Service istioctl's default profile installs.
const DefaultEgressGateway = "istio-system/istio-egressgateway"

// EgressAPI is the API an egress gateway is written with.
type EgressAPI string

const (
	// EgressAPIAuto picks EgressAPIGateway when the cluster serves the Gateway API and has no
	// classic egress gateway (the request's Gateway Service), else EgressAPIIstio.
	EgressAPIAuto EgressAPI = ""
	// EgressAPIIstio routes through the classic egress gateway with Istio's Gateway,
	// DestinationRule and VirtualService.
	EgressAPIIstio EgressAPI = "istio"
	// EgressAPIGateway writes a Gateway API Gateway of class istio, for which istiod deploys the
	// gateway, and HTTPRoutes/TLSRoutes to and from it.
	EgressAPIGateway EgressAPI = "gateway"
)

// ParseEgressAPI reads a --api value; "" is EgressAPIAuto.
func ParseEgressAPI(s string) (EgressAPI, error) {
	switch a := EgressAPI(s); a {
	case EgressAPIAuto, EgressAPIIstio, EgressAPIGateway:
		return a, nil
	}
	return "", fmt.Errorf("invalid --api %q: use %s or %s", s, EgressAPIGateway, EgressAPIIstio)
}

// Request is one host and the fix chosen for it, with the options of that fix.
type Request struct {
	Host string
	Fix  inspect.Fix
	// Ports for register; empty means the ports observed for the host.
	Ports []remedy.Port
	// Addresses for register (IST0134).
	Addresses []string
	// CACertificates, CredentialName and WorkloadSelector verify the server (TLS origination,
	// or origination at the gateway).
	CACertificates   string
	CredentialName   string
	WorkloadSelector map[string]string
	// Gateway is the egress gateway Service as NAMESPACE/NAME; "" is DefaultEgressGateway.
	Gateway string
	// GatewayTLSOrigination makes the egress gateway originate TLS.
	GatewayTLSOrigination bool
	// Lock (route-via-gateway --lock) also writes the NetworkPolicy that lets the namespace's
	// pods leave the cluster only through the egress gateway.
	Lock bool
	// EgressAPI is the API of the egress gateway; Flow.Plan resolves EgressAPIAuto, and
	// PlanRequest, which reads nothing, takes it as EgressAPIIstio.
	EgressAPI EgressAPI
	// AliasOf is, for an alias (Host is its short name), the real host; Port and TargetPort are
	// the plain HTTP port the app calls and the real host's TLS port (0: 80 and 443).
	AliasOf          string
	Port, TargetPort uint32
}

// NormalizedHost is the host as the objects name it: lower case, no trailing dot.
func (r Request) NormalizedHost() string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(r.Host), "."))
}

// GatewayRef splits the request's gateway into namespace and name.
func (r Request) GatewayRef() (namespace, name string, err error) {
	gw := r.Gateway
	if gw == "" {
		gw = DefaultEgressGateway
	}
	ns, name, ok := strings.Cut(gw, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("invalid gateway %q: want NAMESPACE/NAME of its Service, e.g. %s", gw, DefaultEgressGateway)
	}
	return ns, name, nil
}

// needsObservation tells whether the proxies have anything to tell this request that its own
// options do not: register with every port given needs nothing; TLS origination and gateway
// routing always read the app's own ports (double TLS) and callers.
func (r Request) needsObservation() bool {
	return r.Fix != inspect.FixRegister || len(r.Ports) == 0
}

// Inputs are what planning a request reads besides the request: the target every planner
// shares, what was observed, what exists, and the egress gateway when one is routed through.
type Inputs struct {
	Target      remedy.Target
	Observation Observation
	Existing    remedy.Existing
	// Gateway is the egress gateway of the request, read from the cluster; nil when unused.
	Gateway *remedy.EgressGateway
}

// PlanRequest plans one request. It is pure: the guards and Istio's validation run inside the
// planners, so an error is a one-line refusal with its way out.
func PlanRequest(req Request, in Inputs) (*remedy.Plan, error) {
	host := req.NormalizedHost()
	t := in.Target
	t.Host = host
	obs := in.Observation
	switch req.Fix {
	case inspect.FixRegister:
		ports := req.Ports
		if len(ports) == 0 {
			ports = obs.Ports(host)
			if len(ports) == 0 {
				return nil, fmt.Errorf("no traffic to %s was seen from the pods of namespace %s: give its port and protocol, e.g. --port 443 --protocol TLS", host, t.Namespace)
			}
		}
		return remedy.PlanRegister(t, remedy.RegisterOptions{Ports: ports, Addresses: req.Addresses}, in.Existing)
	case inspect.FixTLSOrigination:
		p, err := remedy.PlanTLSOrigination(t, remedy.TLSOriginationOptions{
			CACertificates:   req.CACertificates,
			CredentialName:   req.CredentialName,
			WorkloadSelector: req.WorkloadSelector,
			AppPorts:         obs.Ports(host),
		}, in.Existing)
		if err != nil {
			return nil, err
		}
		addCallersNote(p, obs, host)
		return p, nil
	case inspect.FixEgressGateway:
		if req.EgressAPI == EgressAPIGateway {
			return remedy.PlanGatewayAPIEgress(t, remedy.GatewayAPIEgressOptions{AppPorts: obs.Ports(host)}, in.Existing)
		}
		if in.Gateway == nil {
			return nil, fmt.Errorf("no egress gateway read for %s", host)
		}
		p, err := remedy.PlanEgressGateway(t, remedy.EgressGatewayOptions{
			Gateway:        *in.Gateway,
			TLSOrigination: req.GatewayTLSOrigination,
			CACertificates: req.CACertificates,
			CredentialName: req.CredentialName,
			AppPorts:       obs.Ports(host),
		}, in.Existing)
		if err != nil {
			return nil, err
		}
		if req.GatewayTLSOrigination {
			addCallersNote(p, obs, host)
		}
		return p, nil
	case inspect.FixAlias:
		p, err := remedy.PlanAlias(t, remedy.AliasOptions{Long: req.AliasOf, Port: req.Port, TargetPort: req.TargetPort,
			CACertificates: req.CACertificates, CredentialName: req.CredentialName}, in.Existing)
		if err != nil {
			return nil, err
		}
		if pods := withoutDNSCapture(obs); len(pods) > 0 {
			p.Warnings = append(p.Warnings, fmt.Sprintf("pods %s do not capture DNS, so they cannot resolve %s, which only the mesh knows: "+
				"turn it on with the pod annotation proxy.istio.io/config: '{\"proxyMetadata\":{\"ISTIO_META_DNS_CAPTURE\":\"true\",\"ISTIO_META_DNS_AUTO_ALLOCATE\":\"true\"}}' "+
				"(or meshConfig.defaultConfig.proxyMetadata mesh-wide) and restart them", strings.Join(pods, ", "), host))
		}
		return p, nil
	}
	return nil, fmt.Errorf("unknown fix %q for %s: use %s, %s or %s", req.Fix, host,
		inspect.FixRegister, inspect.FixTLSOrigination, inspect.FixEgressGateway)
}

// withoutDNSCapture are the observed pods whose sidecar does not answer DNS (node metadata
// DNS_CAPTURE is not "true").
func withoutDNSCapture(obs Observation) []string {
	var out []string
	for _, p := range obs.Report.Pods {
		if p.DNSCapture == "off" {
			out = append(out, p.Key())
		}
	}
	return out
}

// addCallersNote names the pods the app owner must change: they call https://host today.
func addCallersNote(p *remedy.Plan, obs Observation, host string) {
	if callers := obs.TLSCallers(host); len(callers) > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("pods that call https://%s today and must switch to http://%s: %s",
			host, host, strings.Join(callers, ", ")))
	}
}
