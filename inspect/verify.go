package inspect

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Verification is the contract of `kubectl egress verify -o json`: whether a fix for one host
// took effect on each proxy that calls it, and what is still missing.
type Verification struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Host       string `json:"host"`
	// Fix is the fix verified: the one the managed objects record, the one asked for, or the one
	// the proxies' configuration shows.
	Fix Fix `json:"fix"`
	// FixedAt is when the fix was applied (the managed objects' creation), when known.
	FixedAt *time.Time `json:"fixedAt,omitempty"`
	// CheckedAt is when the proxies were read.
	CheckedAt time.Time `json:"checkedAt"`
	// Passed is true when every pod passed.
	Passed bool              `json:"passed"`
	Pods   []PodVerification `json:"pods"`
}

// VerificationKind identifies the JSON/YAML document.
const VerificationKind = "EgressVerification"

// PodVerification is the verdict for one pod's proxy.
type PodVerification struct {
	Pod string `json:"pod"`
	// Passed is true when no check failed or is still pending.
	Passed bool `json:"passed"`
	// Clusters are the proxy's own clusters for the host (outbound|PORT||HOST).
	Clusters []string `json:"clusters"`
	Checks   []Check  `json:"checks"`
	// Missing says, one line each, what is still missing and why.
	Missing []string `json:"missing,omitempty"`
}

// CheckName names one verification.
type CheckName string

// Checks, in the order they are reported.
const (
	// CheckCluster: the host has its own cluster (or an egress gateway route) on the proxy.
	CheckCluster CheckName = "cluster"
	// CheckTLS: for TLS origination, the cluster has an upstream TLS transport socket with the host's SNI.
	CheckTLS CheckName = "tls"
	// CheckMetrics: Istio's standard metrics name the host (istio_requests_total for L7).
	CheckMetrics CheckName = "metrics"
	// CheckPassthrough: no recent traffic to the host left through PassthroughCluster or died in BlackHoleCluster.
	CheckPassthrough CheckName = "passthrough"
	// CheckApp: for TLS origination, the app calls http://HOST, not https://HOST.
	CheckApp CheckName = "app"
	// CheckLimits: the connection pool and outlier detection the fix asked for are on the
	// proxy's cluster for the host (or its egress gateway route).
	CheckLimits CheckName = "limits"
)

// CheckStatus is the outcome of one check.
type CheckStatus string

// Check outcomes. Pending means nothing contradicts the fix but the evidence (traffic) is not
// there yet; skipped means the check does not apply or cannot be made.
const (
	CheckPass    CheckStatus = "pass"
	CheckFail    CheckStatus = "fail"
	CheckPending CheckStatus = "pending"
	CheckSkipped CheckStatus = "skipped"
)

// Check is one verification of one proxy.
type Check struct {
	Name   CheckName   `json:"name"`
	Status CheckStatus `json:"status"`
	// Detail is what was found ("outbound|80||httpbin.org", "12 requests", "none since the fix").
	Detail string `json:"detail"`
	// Reason is, for a failed or pending check, why and what to do.
	Reason string `json:"reason,omitempty"`
}

// VerifyRequest says what to verify.
type VerifyRequest struct {
	Host string
	// Fix is the fix that should be in place; "" or FixNone infers it from the proxies' config.
	Fix Fix
	// FixedAt is when the fix was applied; zero when unknown (no managed objects found).
	FixedAt time.Time
	// Limits are the connection settings the fix's DestinationRule sets; nil when none.
	Limits *ClusterLimits
}

// ProxyState is what verification reads of one proxy: its inspect report and the Istio standard
// metric samples of its /stats/prometheus (ParseStats(...).Istio), nil when stats were not read.
type ProxyState struct {
	Report  PodReport
	Metrics []MetricSample
}

// pushGrace is how long istiod may reasonably take to push a new object before a missing
// cluster is blamed on visibility (exportTo, Sidecar egress hosts) instead.
const pushGrace = time.Minute

// Verify checks, for each proxy, that the fix for req.Host took effect. It does no I/O.
func Verify(req VerifyRequest, proxies []ProxyState) Verification {
	v := Verification{Kind: VerificationKind, APIVersion: ReportAPIVersion, Host: req.Host, Fix: req.Fix,
		Pods: []PodVerification{}, Passed: len(proxies) > 0}
	if !req.FixedAt.IsZero() {
		t := req.FixedAt.UTC()
		v.FixedAt = &t
	}
	if v.Fix == "" || v.Fix == FixNone {
		v.Fix = inferFix(req.Host, proxies)
	}
	for _, p := range proxies {
		if p.Report.GeneratedAt.After(v.CheckedAt) {
			v.CheckedAt = p.Report.GeneratedAt
		}
		pv := verifyProxy(req.Host, v.Fix, req.FixedAt, req.Limits, p)
		v.Passed = v.Passed && pv.Passed
		v.Pods = append(v.Pods, pv)
	}
	slices.SortFunc(v.Pods, func(a, b PodVerification) int { return strings.Compare(a.Pod, b.Pod) })
	return v
}

// inferFix reads the fix from what the proxies have for the host: a gateway route, an
// originating cluster, or a plain cluster; register when they have nothing yet.
func inferFix(host string, proxies []ProxyState) Fix {
	fix := FixRegister
	for _, p := range proxies {
		for _, d := range p.Report.Destinations {
			if DestinationOf(host, d) && d.Disposition == DispositionEgressGateway {
				return FixEgressGateway
			}
			if DestinationOf(host, d) && d.HostRewrite != "" {
				return FixAlias
			}
		}
		for _, c := range p.Report.Clusters {
			if sendsOut(c.Direction) && ClusterServes(host, c) && c.OriginatesTLS() {
				fix = FixTLSOrigination
			}
		}
	}
	return fix
}

// MatchHost reports whether name is host, or falls under host when host is a wildcard (*.example.com).
func MatchHost(host, name string) bool {
	if strings.EqualFold(host, name) {
		return true
	}
	if suffix, ok := strings.CutPrefix(host, "*"); ok && suffix != "" {
		return strings.HasSuffix(strings.ToLower(name), strings.ToLower(suffix))
	}
	return false
}

// CallsHost reports whether a pod's report shows traffic to host: a destination for it that
// some signal other than the proxy's configuration saw. A gateway or waypoint (any proxy type
// but sidecar, or ztunnel for an ambient pod) calls no host of its own: what it sends out is its clients' traffic, which a
// fix routes to it.
func CallsHost(r PodReport, host string) bool {
	if r.Facts.ProxyType != "" && r.Facts.ProxyType != ProxySidecar && r.Facts.ProxyType != ProxyZtunnel {
		return false
	}
	for _, d := range r.Destinations {
		if !DestinationOf(host, d) {
			continue
		}
		for _, s := range d.Signals {
			if s != SignalConfig {
				return true
			}
		}
	}
	return false
}

// hostEvidence is what one proxy shows about one host.
type hostEvidence struct {
	own         []Cluster     // outbound clusters of the host
	gateway     []Destination // egress-gateway destinations of the host
	unreg       []Destination // passthrough or blocked destinations of the host
	registered  []Destination // registered (TLS by the app, or plain) destinations with traffic
	originated  []Destination // tls-origination destinations
	l7Requests  int64
	tcpConns    int64
	metricsRead bool
	// ambient is an ambient pod's evidence: ztunnel's, with the waypoint's clusters and metrics.
	ambient bool
	// rewrite is the authority the proxy's route for the host sends instead (an alias's real host).
	rewrite string
}

func collectEvidence(host string, p ProxyState) hostEvidence {
	e := hostEvidence{ambient: p.Report.Facts.ProxyType == ProxyZtunnel}
	// The names host goes by on this proxy: itself, and the service host of a cluster bound to
	// it by address (a ServiceEntry for an IP), which is what metrics name.
	names := []string{host}
	for _, c := range p.Report.Clusters {
		if sendsOut(c.Direction) && ClusterServes(host, c) {
			e.own = append(e.own, c)
			if !slices.Contains(names, c.Host) {
				names = append(names, c.Host)
			}
		}
	}
	for _, d := range p.Report.Destinations {
		if !DestinationOf(host, d) {
			continue
		}
		if d.HostRewrite != "" {
			e.rewrite = d.HostRewrite
		}
		switch d.Disposition {
		case DispositionEgressGateway:
			e.gateway = append(e.gateway, d)
		case DispositionPassthrough, DispositionDynamicDNS, DispositionBlocked:
			e.unreg = append(e.unreg, d)
		case DispositionRegistered, DispositionEgressWaypoint:
			// Through a waypoint that does not originate TLS, an ambient pod's call is as the
			// app made it: TLS by the app, or plain.
			if hasTraffic(d) {
				e.registered = append(e.registered, d)
			}
		case DispositionTLSOrigination:
			e.originated = append(e.originated, d)
		}
	}
	e.metricsRead = p.Metrics != nil
	for _, s := range p.Metrics {
		// An ambient pod's requests are reported by its waypoint (AttachWaypoint).
		if r, ok := s.Labels["reporter"]; ok && r != "source" && r != "waypoint" {
			continue
		}
		name := s.Labels["destination_service_name"]
		if name == clusterPassthrough || name == clusterBlackHole || name == clusterAllowAnyDynamicDNS ||
			strings.HasPrefix(name, clusterInboundPassthrough) {
			continue
		}
		svc, _ := splitHostPort(s.Labels["destination_service"])
		if !slices.ContainsFunc(names, func(n string) bool { return MatchHost(n, name) || MatchHost(n, svc) }) {
			continue
		}
		switch s.Name {
		case metricRequests:
			e.l7Requests += int64(s.Value)
		case metricTCPOpened:
			e.tcpConns += int64(s.Value)
		}
	}
	return e
}

// ClusterServes reports whether a cluster is host's: its service host matches, or host is an IP
// the proxy's listeners send to it (a ServiceEntry's address).
func ClusterServes(host string, c Cluster) bool {
	return MatchHost(host, c.Host) || hasAddress(c.Addresses, host)
}

// DestinationOf reports whether a destination is host's: by name, or by one of its addresses.
func DestinationOf(host string, d Destination) bool {
	return MatchHost(host, d.Host) || hasAddress(d.Addresses, host)
}

func hasAddress(addrs []string, ip string) bool {
	for _, a := range addrs {
		if h, _ := splitHostPort(a); h == ip {
			return true
		}
	}
	return false
}

func hasTraffic(d Destination) bool {
	for _, s := range d.Signals {
		if s != SignalConfig && s != SignalAnnotation {
			return true
		}
	}
	return false
}

// lastSeen is the newest access-log time among destinations, zero when none has one.
func lastSeen(ds []Destination) time.Time {
	var t time.Time
	for _, d := range ds {
		if d.LastSeen != nil && d.LastSeen.After(t) {
			t = *d.LastSeen
		}
	}
	return t
}

func verifyProxy(host string, fix Fix, fixedAt time.Time, limits *ClusterLimits, p ProxyState) PodVerification {
	pv := PodVerification{Pod: p.Report.Facts.Key(), Clusters: []string{}}
	if pv.Pod == "" {
		pv.Pod = p.Report.Pod.Key()
	}
	if len(p.Report.Errors) > 0 && len(p.Report.Clusters) == 0 && len(p.Report.Destinations) == 0 {
		pv.Checks = []Check{{Name: CheckCluster, Status: CheckFail, Detail: "proxy not read", Reason: p.Report.Errors[0]}}
		pv.Missing = []string{"the proxy could not be read: " + p.Report.Errors[0]}
		return pv
	}
	e := collectEvidence(host, p)
	for _, c := range e.own {
		pv.Clusters = append(pv.Clusters, c.Name)
	}
	now := p.Report.GeneratedAt
	pv.Checks = append(pv.Checks, checkCluster(host, fix, fixedAt, now, e))
	pv.Checks = append(pv.Checks, checkTLS(host, fix, e))
	pv.Checks = append(pv.Checks, checkMetrics(host, fix, fixedAt, e))
	pv.Checks = append(pv.Checks, checkPassthrough(host, fixedAt, e, p.Report.Facts))
	pv.Checks = append(pv.Checks, checkApp(host, fix, fixedAt, e))
	pv.Checks = append(pv.Checks, checkLimits(host, limits, e, p.Report.Clusters))
	pv.Passed = true
	for _, c := range pv.Checks {
		if c.Status == CheckFail || c.Status == CheckPending {
			pv.Passed = false
			pv.Missing = append(pv.Missing, string(c.Name)+": "+c.Reason)
		}
	}
	return pv
}

func checkCluster(host string, fix Fix, fixedAt, now time.Time, e hostEvidence) Check {
	if fix == FixEgressGateway {
		if len(e.gateway) > 0 {
			c := Check{Name: CheckCluster, Status: CheckPass, Detail: "routed to " + e.gateway[0].Gateway}
			return coverObservedPorts(c, host, fix, e)
		}
		c := Check{Name: CheckCluster, Status: CheckFail, Detail: "no egress gateway route"}
		c.Reason = notPushed(host, fixedAt, now, "the route (VirtualService, or HTTPRoute/TLSRoute) that sends "+host+" to the egress gateway",
			"run kubectl egress route-via-gateway "+host)
		return c
	}
	if len(e.own) > 0 {
		names := make([]string, len(e.own))
		for i, c := range e.own {
			names[i] = c.Name
		}
		c := Check{Name: CheckCluster, Status: CheckPass, Detail: strings.Join(names, ", ")}
		return coverObservedPorts(c, host, fix, e)
	}
	c := Check{Name: CheckCluster, Status: CheckFail, Detail: "none"}
	fixCmd := "kubectl egress register " + host
	switch fix {
	case FixTLSOrigination:
		fixCmd = "kubectl egress enable-tls-origination " + host
	case FixAlias:
		fixCmd = "kubectl egress alias " + host + " REAL-HOST"
	}
	c.Reason = notPushed(host, fixedAt, now, "the ServiceEntry for "+host, "run "+fixCmd)
	return c
}

// coverObservedPorts fails a passing cluster check when a port the app was seen calling host on
// (through PassthroughCluster or into BlackHoleCluster, at any time) has no route of the fix: its
// calls still leave that way, whatever the other ports do. Fresh traffic is not needed to see it:
// the proxy's own configuration says where that port goes.
func coverObservedPorts(c Check, host string, fix Fix, e hostEvidence) Check {
	var uncovered []string
	for _, d := range e.unreg {
		if d.Port == 0 {
			continue
		}
		covered := false
		if fix == FixEgressGateway {
			for _, g := range e.gateway {
				covered = covered || g.Port == d.Port
			}
		} else {
			for _, cl := range e.own {
				covered = covered || cl.Port == d.Port
			}
		}
		if p := fmt.Sprint(d.Port); !covered && !slices.Contains(uncovered, p) {
			uncovered = append(uncovered, p)
		}
	}
	if len(uncovered) == 0 {
		return c
	}
	slices.Sort(uncovered)
	c.Status = CheckFail
	ports := strings.Join(uncovered, ", ")
	c.Detail += "; port " + ports + " not covered"
	if fix == FixEgressGateway {
		c.Reason = fmt.Sprintf("the app calls %s on port %s, which no egress gateway route covers: those calls do not go through the gateway; route that port too (kubectl egress route-via-gateway %s)", host, ports, host)
	} else {
		where := clusterPassthrough
		if e.unreg[0].Disposition == DispositionBlocked {
			where = clusterBlackHole
		}
		c.Reason = fmt.Sprintf("the app calls %s on port %s, which the ServiceEntry does not declare: those calls still go to %s; add the port", host, ports, where)
	}
	return c
}

// notPushed explains a missing piece of config: no fix applied, istiod not done yet, or the
// object not visible to the pod.
func notPushed(host string, fixedAt, now time.Time, what, todo string) string {
	switch {
	case fixedAt.IsZero():
		return fmt.Sprintf("%s has no own cluster on this proxy and no fix by kubectl-egress was found: %s", host, todo)
	case now.Sub(fixedAt) < pushGrace:
		return fmt.Sprintf("istiod has not pushed %s to this proxy yet (applied %s ago): wait, or use --wait", what, roundAge(now.Sub(fixedAt)))
	}
	return fmt.Sprintf("%s was applied %s ago but this proxy does not have it: check its exportTo, the pod's Sidecar egress hosts, and that istiod is running", what, roundAge(now.Sub(fixedAt)))
}

func roundAge(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	return d.Round(time.Second).String()
}

func checkTLS(host string, fix Fix, e hostEvidence) Check {
	c := Check{Name: CheckTLS}
	sni := host
	if fix == FixAlias {
		// The alias's own name is SHORT; the handshake must name the real host, which the route
		// rewrites the authority to.
		if e.rewrite == "" {
			c.Status, c.Detail = CheckFail, "no authority rewrite"
			c.Reason = "no route of this proxy rewrites the authority of " + host + ": the alias's VirtualService has not reached it (pushed yet? exported to this namespace?)"
			if len(e.own) == 0 {
				c.Status, c.Reason = CheckPending, "no cluster for "+host+" yet, so no TLS origination either"
			}
			return c
		}
		sni = e.rewrite
	}
	if fix != FixTLSOrigination && fix != FixAlias {
		c.Status = CheckSkipped
		c.Detail = "not TLS origination"
		if fix == FixRegister {
			c.Detail = "the app does TLS itself"
		}
		return c
	}
	if len(e.own) == 0 {
		c.Status, c.Detail = CheckPending, "no cluster"
		c.Reason = "no cluster for " + host + " yet, so no TLS origination either"
		return c
	}
	var wrong []string
	for _, cl := range e.own {
		if cl.TLS != "SIMPLE" && cl.TLS != "MUTUAL" {
			continue
		}
		switch {
		case cl.SNI == "auto":
			c.Status, c.Detail = CheckPass, fmt.Sprintf("%s on %s, SNI from the Host header (auto_sni)", cl.TLS, cl.Name)
			return c
		case strings.EqualFold(cl.SNI, sni) || cl.SNI != "" && MatchHost(sni, cl.SNI):
			c.Status, c.Detail = CheckPass, fmt.Sprintf("%s on %s, sni %s", cl.TLS, cl.Name, cl.SNI)
			if fix == FixAlias {
				c.Detail += ", authority rewritten to " + e.rewrite
			}
			return c
		}
		wrong = append(wrong, fmt.Sprintf("%s sends sni %q", cl.Name, cl.SNI))
	}
	c.Status = CheckFail
	if len(wrong) > 0 {
		c.Detail = strings.Join(wrong, "; ")
		c.Reason = fmt.Sprintf("the DestinationRule's tls.sni is not %s: the server may reject the handshake or present another certificate; set sni: %s", sni, sni)
		return c
	}
	c.Detail = "no upstream TLS transport socket"
	for _, cl := range e.own {
		if cl.Port != 443 && slices.Contains(cl.EndpointPorts, 443) {
			c.Reason = fmt.Sprintf("%s sends plaintext HTTP to port 443: the DestinationRule with tls mode SIMPLE has not reached this proxy (pushed yet? host and port %d match?)", cl.Name, cl.Port)
			return c
		}
	}
	c.Reason = "no cluster of " + host + " originates TLS: the DestinationRule with tls mode SIMPLE is missing or does not apply to this pod"
	return c
}

func checkMetrics(host string, fix Fix, fixedAt time.Time, e hostEvidence) Check {
	c := Check{Name: CheckMetrics}
	if !e.metricsRead {
		c.Status, c.Detail = CheckSkipped, "stats not read"
		return c
	}
	switch fix {
	case FixEgressGateway:
		c.Status, c.Detail = CheckSkipped, "the egress gateway reports "+host+" in its own metrics"
		return c
	case FixRegister:
		// A host the app reaches over TLS stays L4: connections counted under its name are the evidence.
		switch {
		case e.l7Requests > 0:
			c.Status, c.Detail = CheckPass, fmt.Sprintf("%d requests (istio_requests_total)", e.l7Requests)
		case e.tcpConns > 0:
			c.Status, c.Detail = CheckPass, fmt.Sprintf("%d connections (istio_tcp_connections_opened_total, L4: the app does TLS)", e.tcpConns)
		case len(e.registered) > 0:
			c.Status, c.Detail = CheckPass, "no Istio metric names "+host+", but calls use its own cluster (access log, /clusters)"
		default:
			c.Status, c.Detail = CheckPending, "no metric names "+host
			c.Reason = noTrafficReason(host, fixedAt)
		}
		return c
	}
	if e.l7Requests > 0 {
		c.Status, c.Detail = CheckPass, fmt.Sprintf("%d requests (istio_requests_total)", e.l7Requests)
		return c
	}
	c.Detail = "no istio_requests_total for " + host
	if e.tcpConns > 0 || len(e.registered) > 0 {
		c.Status = CheckPending
		c.Reason = fmt.Sprintf("calls to https://%s are L4 only: L7 metrics appear once the app calls http://%s", host, host)
		return c
	}
	c.Status = CheckPending
	c.Reason = noTrafficReason(host, fixedAt)
	return c
}

func noTrafficReason(host string, fixedAt time.Time) string {
	if fixedAt.IsZero() {
		return "no traffic to " + host + " through its own cluster yet: metrics appear with the first call"
	}
	return "no traffic to " + host + " since the fix: metrics appear with the first call"
}

func checkPassthrough(host string, fixedAt time.Time, e hostEvidence, facts PodFacts) Check {
	c := Check{Name: CheckPassthrough}
	if len(e.unreg) == 0 {
		c.Status, c.Detail = CheckPass, "none"
		if facts.AccessLogging == AccessLoggingOff {
			c.Detail = "none seen (access logging is off: only HTTP metrics name hosts)"
		}
		return c
	}
	cluster := clusterPassthrough
	for _, d := range e.unreg {
		switch {
		case d.Disposition == DispositionBlocked:
			cluster = clusterBlackHole
		case d.Disposition == DispositionDynamicDNS && cluster == clusterPassthrough:
			cluster = clusterAllowAnyDynamicDNS
		}
	}
	lastUnreg := lastSeen(e.unreg)
	lastOwn := lastSeen(slices.Concat(e.gateway, e.registered, e.originated))
	if lastUnreg.IsZero() {
		// Metrics only: counters never reset, so they cannot tell old from new traffic.
		c.Status, c.Detail = CheckPass, cluster+" in cumulative metrics only (no access-log line)"
		if len(e.own) == 0 && len(e.gateway) == 0 {
			c.Status = CheckFail
			c.Reason = fmt.Sprintf("%s has no own cluster, so its traffic still goes to %s", host, cluster)
		}
		return c
	}
	when := lastUnreg.UTC().Format(time.RFC3339)
	switch {
	case !lastOwn.IsZero() && lastOwn.After(lastUnreg):
		c.Status, c.Detail = CheckPass, fmt.Sprintf("none since %s (later calls use its own cluster)", when)
		return c
	case !fixedAt.IsZero() && !lastUnreg.After(fixedAt):
		c.Status, c.Detail = CheckPass, "none since the fix (last "+when+")"
		return c
	}
	c.Status, c.Detail = CheckFail, fmt.Sprintf("%s, last at %s", cluster, when)
	var ports []string
	for _, d := range e.unreg {
		if d.LastSeen == nil || d.Port == 0 {
			continue
		}
		covered := false
		for _, cl := range e.own {
			covered = covered || cl.Port == d.Port
		}
		if !covered && len(e.own) > 0 {
			ports = append(ports, fmt.Sprint(d.Port))
		}
	}
	switch {
	case len(ports) > 0:
		c.Reason = fmt.Sprintf("the app calls %s on port %s, which the ServiceEntry does not declare: add the port", host, strings.Join(slices.Compact(ports), ", "))
	case len(e.own) == 0 && len(e.gateway) == 0:
		c.Reason = fmt.Sprintf("calls to %s still go to %s: it has no own cluster on this proxy", host, cluster)
	default:
		c.Reason = fmt.Sprintf("calls to %s went to %s after the fix (before istiod's push?): no call has used its own cluster since", host, cluster)
	}
	return c
}

func checkApp(host string, fix Fix, fixedAt time.Time, e hostEvidence) Check {
	c := Check{Name: CheckApp}
	if fix == FixAlias {
		c.Status, c.Detail = CheckSkipped, "the app calls http://"+host
		return c
	}
	if fix != FixTLSOrigination {
		c.Status, c.Detail = CheckSkipped, "no change needed in the app"
		return c
	}
	var https []Destination
	for _, d := range e.registered {
		if d.Protocol != "HTTP" {
			https = append(https, d)
		}
	}
	// ztunnel counts the connections to the waypoint too: for an ambient pod only the ports
	// tell https:// calls (a destination not originated).
	if len(https) == 0 && (e.tcpConns == 0 || e.ambient) {
		c.Status, c.Detail = CheckPass, "no https:// calls through the sidecar"
		if e.ambient {
			c.Detail = "no https:// calls through ztunnel"
		}
		if e.l7Requests > 0 {
			c.Detail = "calls http://" + host
		}
		return c
	}
	lastTLS, lastHTTP := lastSeen(https), lastSeen(e.originated)
	switch {
	case !lastTLS.IsZero() && !lastHTTP.IsZero() && lastHTTP.After(lastTLS):
		c.Status, c.Detail = CheckPass, "calls http://"+host+" (https:// calls stopped at "+lastTLS.UTC().Format(time.RFC3339)+")"
		return c
	case !lastTLS.IsZero() && !fixedAt.IsZero() && !lastTLS.After(fixedAt):
		c.Status, c.Detail = CheckPass, "no https:// calls since the fix"
		return c
	case lastTLS.IsZero() && e.l7Requests > 0:
		// Only cumulative counters saw https: they cannot say it still happens.
		c.Status, c.Detail = CheckPass, "calls http://"+host+" (earlier https:// calls in cumulative metrics)"
		return c
	}
	c.Status, c.Detail = CheckFail, "calls https://"+host
	c.Reason = fmt.Sprintf("the app still calls https://%s: switch it to http://%s, the sidecar now originates TLS", host, host)
	return c
}

// checkLimits compares the connection settings the fix asked for with the clusters the host's
// traffic uses on this proxy: its own, or the egress gateway route's. A value the fix left unset
// is not compared.
func checkLimits(host string, want *ClusterLimits, e hostEvidence, clusters []Cluster) Check {
	c := Check{Name: CheckLimits}
	if want == nil {
		c.Status, c.Detail = CheckSkipped, "no connection settings asked for"
		return c
	}
	candidates := slices.Clone(e.own)
	for _, g := range e.gateway {
		for _, cl := range clusters {
			if cl.Name == g.Cluster {
				candidates = append(candidates, cl)
			}
		}
	}
	if len(candidates) == 0 {
		c.Status, c.Detail = CheckPending, "no cluster"
		c.Reason = "no cluster for " + host + " yet, so none of its connection settings either"
		return c
	}
	var best []string
	for _, cl := range candidates {
		diffs := limitDiffs(*want, cl.Limits)
		if len(diffs) == 0 {
			c.Status, c.Detail = CheckPass, "on "+cl.Name
			return c
		}
		if best == nil || len(diffs) < len(best) {
			best = append([]string{cl.Name + ":"}, diffs...)
		}
	}
	c.Status, c.Detail = CheckFail, strings.Join(best, " ")
	c.Reason = "the DestinationRule's connection settings have not reached this proxy's cluster (pushed yet? does the DestinationRule's host and port match, and is it exported to this namespace?)"
	return c
}

// limitDiffs lists each setting want asks for that have lacks or differs in.
func limitDiffs(want ClusterLimits, have *ClusterLimits) []string {
	if have == nil {
		have = &ClusterLimits{}
	}
	var out []string
	num := func(name string, w, h uint32) {
		if w != 0 && w != h {
			out = append(out, fmt.Sprintf("%s %d, want %d", name, h, w))
		}
	}
	dur := func(name, w, h string) {
		if w == "" {
			return
		}
		wd, err1 := time.ParseDuration(w)
		hd, err2 := time.ParseDuration(h)
		if err1 != nil || err2 != nil || wd != hd {
			out = append(out, fmt.Sprintf("%s %q, want %s", name, h, w))
		}
	}
	dur("connectTimeout", want.ConnectTimeout, have.ConnectTimeout)
	num("maxConnections", want.MaxConnections, have.MaxConnections)
	num("maxPendingRequests", want.MaxPendingRequests, have.MaxPendingRequests)
	num("maxRequestsPerConnection", want.MaxRequestsPerConnection, have.MaxRequestsPerConnection)
	dur("idleTimeout", want.IdleTimeout, have.IdleTimeout)
	num("consecutive5xx", want.Consecutive5xx, have.Consecutive5xx)
	num("consecutiveGatewayErrors", want.ConsecutiveGatewayErrors, have.ConsecutiveGatewayErrors)
	dur("outlierInterval", want.OutlierInterval, have.OutlierInterval)
	dur("baseEjectionTime", want.BaseEjectionTime, have.BaseEjectionTime)
	num("maxEjectionPercent", want.MaxEjectionPercent, have.MaxEjectionPercent)
	return out
}
