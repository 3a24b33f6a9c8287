package fixflow

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kubectl-egress/kubectl-egress/inspect"
	"github.com/kubectl-egress/kubectl-egress/remedy"
)

// Observation is what the proxies of the target namespace showed: the ports, protocols and
// callers of each host, and the Istio version they run. Its zero value observed nothing.
type Observation struct {
	Report inspect.Report
	// Pods are each proxy's own report (with its pod's labels), for what is judged per workload.
	Pods []inspect.PodReport
	// Skipped are the pods that matched but have no sidecar to read, with the reason.
	Skipped []inspect.Skipped
	// Read tells whether the proxies were read at all (false when the flags said everything).
	Read bool
}

// Ports are the ports and protocols seen for host, as a ServiceEntry names them, sorted.
// Bypassed traffic (excluded from the sidecar) is not the proxy's to register.
func (o Observation) Ports(host string) []remedy.Port {
	var out []remedy.Port
	for _, d := range o.Report.Destinations {
		if !inspect.DestinationOf(host, d) || d.Port == 0 || d.Disposition == inspect.DispositionBypassed {
			continue
		}
		p := remedy.Port{Number: d.Port, Protocol: ServiceEntryProtocol(d)}
		if !slices.ContainsFunc(out, func(q remedy.Port) bool { return q.Number == p.Number }) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b remedy.Port) int { return int(a.Number) - int(b.Number) })
	return out
}

// Protocol is the protocol seen on host:port, else the port's usual one (80 HTTP, 443 TLS,
// anything else TCP).
func (o Observation) Protocol(host string, port uint32) string {
	for _, p := range o.Ports(host) {
		if p.Number == port {
			return p.Protocol
		}
	}
	switch port {
	case 80:
		return "HTTP"
	case 443:
		return "TLS"
	}
	return "TCP"
}

// ServiceEntryProtocol is the ServiceEntry protocol for what inspect saw: HTTP, TLS or TCP. An
// unknown protocol on 443 is taken as TLS, elsewhere as TCP.
func ServiceEntryProtocol(d inspect.Destination) string {
	switch strings.ToUpper(d.Protocol) {
	case "HTTP", "TLS", "TCP":
		return strings.ToUpper(d.Protocol)
	}
	if d.Port == 443 {
		return "TLS"
	}
	return "TCP"
}

// TLSCallers are the pods that call https://host today: after TLS origination they must switch
// to http://.
func (o Observation) TLSCallers(host string) []string {
	var out []string
	for _, d := range o.Report.Destinations {
		if inspect.DestinationOf(host, d) && strings.EqualFold(d.Protocol, "TLS") {
			for _, p := range d.Pods {
				if !slices.Contains(out, p) {
					out = append(out, p)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// Ambient tells whether an observed pod is in ambient mode.
func (o Observation) Ambient() bool {
	return slices.ContainsFunc(o.Report.Pods, func(p inspect.PodFacts) bool {
		return inspect.IsAmbientDataplane(p.Dataplane)
	})
}

// IstioVersion is the oldest Istio version among the observed proxies; unknown when none says.
// The oldest decides: a recipe must work on every proxy of the namespace.
func (o Observation) IstioVersion() remedy.IstioVersion {
	var oldest remedy.IstioVersion
	for _, p := range o.Report.Pods {
		v, err := remedy.ParseIstioVersion(p.IstioVersion)
		if err != nil || !v.Known() {
			continue
		}
		if !oldest.Known() || v.Before(oldest.Major, oldest.Minor) {
			oldest = v
		}
	}
	return oldest
}

// Candidate is one host the interactive fix offers to fix: its passthrough or blocked traffic,
// all ports together, with the fix inspect recommends.
type Candidate struct {
	Host        string
	Ports       []uint32
	Protocol    string
	Disposition inspect.Disposition
	Pods        []string
	Fix         inspect.Fix
	Reason      string
}

// Candidates are the passthrough, dynamic-DNS and blocked hosts of a report that a fix can name, one per
// host, sorted by host; traffic no signal could name ("unknown") cannot be fixed by host. TLS
// origination wins over register when any port of the host recommends it.
func Candidates(r inspect.Report) []Candidate {
	var out []Candidate
	for _, d := range r.Destinations {
		if !d.Disposition.Unregistered() {
			continue
		}
		if d.Host == "" || d.Host == "unknown" || d.Host == "*" {
			continue
		}
		i := slices.IndexFunc(out, func(c Candidate) bool { return c.Host == d.Host })
		if i < 0 {
			out = append(out, Candidate{Host: d.Host, Disposition: d.Disposition, Fix: d.Recommendation.Fix, Reason: d.Recommendation.Reason})
			i = len(out) - 1
		}
		c := &out[i]
		if d.Port != 0 && !slices.Contains(c.Ports, d.Port) {
			c.Ports = append(c.Ports, d.Port)
			slices.Sort(c.Ports)
		}
		if c.Protocol == "" || d.Protocol == "TLS" {
			c.Protocol = d.Protocol
		}
		if d.Recommendation.Fix == inspect.FixTLSOrigination {
			c.Fix, c.Reason = d.Recommendation.Fix, d.Recommendation.Reason
		}
		for _, p := range d.Pods {
			if !slices.Contains(c.Pods, p) {
				c.Pods = append(c.Pods, p)
			}
		}
	}
	slices.SortFunc(out, func(a, b Candidate) int { return strings.Compare(a.Host, b.Host) })
	return out
}

// Recommended is the fix preselected for the candidate: inspect's recommendation, or none.
func (c Candidate) Recommended() inspect.Fix {
	switch c.Fix {
	case inspect.FixRegister, inspect.FixTLSOrigination, inspect.FixEgressGateway:
		return c.Fix
	}
	return inspect.FixNone
}

// PortList is the candidate's ports as "80,443", or "-".
func (c Candidate) PortList() string {
	if len(c.Ports) == 0 {
		return "-"
	}
	s := make([]string, len(c.Ports))
	for i, p := range c.Ports {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, ",")
}
