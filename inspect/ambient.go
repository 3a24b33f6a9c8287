package inspect

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ambientView is what the ztunnel of an ambient pod's node said about the pod: its
// configuration (the services and workloads istiod sent it), the pod's connections from its
// log, and its metrics. Parse builds it; nothing in it came from the pod itself.
type ambientView struct {
	ztunnel string
	podIPs  []string
	config  *ZtunnelConfig
	// flows are the pod's outbound connections in the log, grouped by where they went.
	flows    []*ztunnelFlow
	logLines int
	logRead  bool
	stats    *Stats
}

// ztunnelFlow is the logged connections of one pod that went to the same place.
type ztunnelFlow struct {
	ztunnelFlowKey
	connections          int64
	bytesSent, bytesRecv int64
	errors               map[string]int64
	lastSeen             time.Time
}

type ztunnelFlowKey struct {
	dstAddr, hboneAddr, service, dstWorkload, dstNamespace string
}

// parseAmbient reads a ztunnel's outputs for one ambient pod: the config dump, the metrics, and
// the log lines whose source is one of the pod's addresses. Errors follow Parse's rules.
func parseAmbient(src Sources, s Snapshot) (Snapshot, error) {
	z := src.Ztunnel
	v := &ambientView{ztunnel: z.Pod.Key(), podIPs: z.PodIPs}
	s.ambient = v
	given, failed := 0, 0
	var failures []string
	fail := func(what string, err error) {
		failed++
		failures = append(failures, fmt.Sprintf("%s: %v", what, err))
	}
	if len(z.ConfigDump) > 0 {
		given++
		if cfg, err := ParseZtunnelConfig(z.ConfigDump); err != nil {
			fail("ztunnel config dump", err)
		} else {
			v.config = &cfg
		}
	}
	if len(z.Stats) > 0 {
		given++
		st, err := ParseStats(z.Stats)
		switch {
		case err != nil:
			fail("ztunnel stats", err)
		case st.Samples == 0:
			fail("ztunnel stats", fmt.Errorf("no sample among its %d lines", bytes.Count(z.Stats, []byte("\n"))))
		default:
			v.stats = &st
		}
	}
	if z.Log != nil {
		given++
		v.logRead = true
		flows := map[ztunnelFlowKey]*ztunnelFlow{}
		lines, _, err := ScanZtunnelLog(z.Log, func(e ZtunnelLogEntry) {
			if e.Direction != "" && e.Direction != "outbound" || !v.isPod(e) {
				return
			}
			k := ztunnelFlowKey{e.DstAddr, e.DstHBONEAddr, e.DstService, e.DstWorkload, e.DstNamespace}
			f := flows[k]
			if f == nil {
				f = &ztunnelFlow{ztunnelFlowKey: k, errors: map[string]int64{}}
				flows[k] = f
				v.flows = append(v.flows, f)
			}
			f.connections++
			f.bytesSent += e.BytesSent
			f.bytesRecv += e.BytesRecv
			if e.Error != "" {
				f.errors[e.Error]++
			}
			if e.Time.After(f.lastSeen) {
				f.lastSeen = e.Time
			}
		})
		v.logLines = lines
		if err != nil {
			fail("ztunnel log", err)
		}
	}
	pod := src.Pod.Key()
	switch {
	case given > 0 && failed == given:
		return s, fmt.Errorf("nothing the ztunnel %s said of ambient pod %s could be read (%s)", v.ztunnel, pod, strings.Join(failures, "; "))
	case failed > 0:
		s.Errors = append(s.Errors, fmt.Sprintf("failed to parse part of what the ztunnel %s said of ambient pod %s (%s): run again", v.ztunnel, pod, strings.Join(failures, "; ")))
	}
	return s, nil
}

// isPod tells whether a logged connection's source is the pod.
func (v *ambientView) isPod(e ZtunnelLogEntry) bool {
	return slices.Contains(v.podIPs, hostOf(e.SrcAddr))
}

// classifyAmbient is Classify for an ambient pod. ztunnel sees connections, not requests: every
// destination is L4 (no protocol, no response code), named by the service ztunnel matched or,
// for passthrough, by the address the app dialed.
func classifyAmbient(s Snapshot, rep PodReport, c *classifier) PodReport {
	v := s.ambient
	rep.Facts.Dataplane = DataplaneAmbient
	rep.Facts.Ztunnel = v.ztunnel
	rep.Facts.ProxyType = ProxyZtunnel
	cfg := v.config
	if cfg == nil {
		cfg = &ZtunnelConfig{}
	}
	if v.config != nil {
		rep.Facts.IstioVersion = v.config.IstioVersion
	}
	workloadName := ""
	if w := cfg.PodWorkload(s.Pod.Namespace, s.Pod.Name); w != nil {
		workloadName = w.WorkloadName
		if w.Waypoint != "" {
			rep.Facts.Dataplane = DataplaneAmbientWaypoint
		}
	}
	for _, f := range v.flows {
		a := ambientDest(c, cfg, f.ztunnelFlowKey)
		if a == nil {
			continue
		}
		a.signals[SignalAccessLog] = true
		b := a.bucket(bucketAccessLog)
		b.Connections += f.connections
		b.BytesSent += f.bytesSent
		b.BytesReceived += f.bytesRecv
		for e, n := range f.errors {
			problem := fmt.Sprintf("ztunnel: %s (%d connections)", e, n)
			if !slices.Contains(a.d.Problems, problem) {
				a.d.Problems = append(a.d.Problems, problem)
			}
		}
		if f.lastSeen.After(a.lastSeen) {
			a.lastSeen = f.lastSeen
		}
		rep.Facts.AccessLog.Entries += int(f.connections)
	}
	rep.Facts.AccessLog.Lines = v.logLines
	for _, p := range cfg.Pods {
		if p.Namespace != s.Pod.Namespace || p.Name != s.Pod.Name {
			continue
		}
		for _, conn := range p.Outbound {
			if a := ambientDest(c, cfg, openConnection(cfg, conn)); a != nil {
				a.signals[SignalConfig] = true
			}
		}
	}
	if v.stats != nil && workloadName != "" {
		addAmbientMetrics(c, cfg, v.stats.Istio, s.Pod.Namespace, workloadName)
	}
	switch {
	case rep.Facts.AccessLog.Entries > 0:
		rep.Facts.AccessLogging, rep.Facts.AccessLoggingReason = AccessLoggingOn, fmt.Sprintf("%d connections of the pod in the ztunnel log", rep.Facts.AccessLog.Entries)
	case v.logRead:
		rep.Facts.AccessLogging, rep.Facts.AccessLoggingReason = AccessLoggingOn, fmt.Sprintf("ztunnel logs every connection; none of the pod's among %d lines", v.logLines)
	default:
		rep.Facts.AccessLogging, rep.Facts.AccessLoggingReason = AccessLoggingUnknown, "the ztunnel log was not read"
	}
	rep.Facts.OutboundModeSource = "ambient: ztunnel has no outbound policy of its own (passthrough unless an AuthorizationPolicy or a waypoint denies)"
	rep.Destinations = c.finish()
	for _, d := range rep.Destinations {
		if d.Disposition == DispositionEgressWaypoint {
			rep.Facts.Dataplane = DataplaneAmbientWaypoint
		}
	}
	return rep
}

// ambientDest finds the destination a logged connection went to, or nil for mesh-internal
// traffic: ztunnel's rules (src/proxy/outbound.rs) send a connection to a service's waypoint
// over HBONE (dst.hbone_addr is then the service address the app dialed), to a service's
// endpoint (dst.service set), or, for an address no service or workload owns, straight out.
func ambientDest(c *classifier, cfg *ZtunnelConfig, k ztunnelFlowKey) *destAcc {
	if k.hboneAddr != "" {
		ip, port := splitAddr(k.hboneAddr)
		svc := cfg.ServiceByVIP(ip)
		if svc == nil && k.service != "" {
			svc = cfg.serviceByHostname(k.service)
		}
		switch {
		case svc != nil && svc.Waypoint != "" && svc.external(cfg):
			a := c.dest(svc.Hostname, port, DispositionEgressWaypoint)
			a.d.Gateway = WaypointName(svc.Waypoint)
			a.addrs[k.hboneAddr] = true
			return a
		case svc == nil && k.service != "" && !internalHostname(k.service) && cfg.WorkloadByIP(ip) == nil:
			// No config to tell the waypoint by: the connection went through one (HBONE to a
			// service address ztunnel named), named after the pod that took it.
			a := c.dest(k.service, port, DispositionEgressWaypoint)
			if k.dstWorkload != "" {
				a.d.Gateway = k.dstNamespace + "/" + k.dstWorkload
			}
			a.addrs[k.hboneAddr] = true
			return a
		}
		return nil
	}
	ip, port := splitAddr(k.dstAddr)
	if k.service != "" {
		svc := cfg.serviceByHostname(k.service)
		if svc != nil && !svc.external(cfg) || svc == nil && internalHostname(k.service) {
			return nil
		}
		a := c.dest(k.service, port, DispositionRegistered)
		a.addrs[k.dstAddr] = true
		return a
	}
	if cfg.WorkloadByIP(ip) != nil || cfg.ServiceByVIP(ip) != nil {
		return nil
	}
	a := c.dest(ip, port, DispositionPassthrough)
	a.addrs[k.dstAddr] = true
	return a
}

// openConnection is an open connection of ztunnel's config dump (workloadState) as the log would
// name it: tunnelled to a waypoint (HBONE to the address the app dialed), or sent to the
// service the dialed address belongs to, or straight out.
func openConnection(cfg *ZtunnelConfig, conn ZtunnelConnection) ztunnelFlowKey {
	if conn.Protocol == "HBONE" || conn.Protocol == "DOUBLEHBONE" {
		k := ztunnelFlowKey{dstAddr: conn.ActualDst, hboneAddr: conn.OriginalDst}
		if w := cfg.WorkloadByIP(hostOf(conn.ActualDst)); w != nil {
			k.dstWorkload, k.dstNamespace = w.Name, w.Namespace
		}
		return k
	}
	k := ztunnelFlowKey{dstAddr: conn.ActualDst}
	if svc := cfg.ServiceByVIP(hostOf(conn.OriginalDst)); svc != nil {
		k.service = svc.Hostname
	}
	return k
}

func hostOf(addr string) string {
	h, _ := splitAddr(addr)
	return h
}

// addAmbientMetrics adds ztunnel's TCP metrics of the pod's workload: ztunnel labels them by
// workload, not pod, so on a node with several pods of one workload they count them all.
func addAmbientMetrics(c *classifier, cfg *ZtunnelConfig, samples []MetricSample, namespace, workload string) {
	for _, s := range samples {
		l := s.Labels
		if l["reporter"] != "source" || l["source_workload_namespace"] != namespace || l["source_workload"] != workload || s.Value == 0 {
			continue
		}
		var a *destAcc
		host := l["destination_service"]
		switch svc := cfg.serviceByHostname(host); {
		case host == "" || host == hostUnknown:
			a = c.dest(hostUnknown, 0, DispositionPassthrough)
		case svc != nil && !svc.external(cfg), svc == nil && internalHostname(host):
			continue
		case svc != nil && svc.Waypoint != "":
			a = c.dest(host, 0, DispositionEgressWaypoint)
			a.d.Gateway = WaypointName(svc.Waypoint)
		default:
			a = c.dest(host, 0, DispositionRegistered)
		}
		a.signals[SignalMetrics] = true
		b := a.bucket(bucketIstioMetrics)
		a.addTCPMetric(b, s.Name, s.Value)
	}
}

// serviceByHostname finds a service by hostname alone (a log line names no namespace of it).
func (c ZtunnelConfig) serviceByHostname(hostname string) *ZtunnelService {
	for i := range c.Services {
		if c.Services[i].Hostname == hostname {
			return &c.Services[i]
		}
	}
	return nil
}

// external tells a ServiceEntry host from a Kubernetes Service: its endpoints are ServiceEntry
// workloads, or it has no pod behind it and no cluster-local name.
func (s ZtunnelService) external(cfg *ZtunnelConfig) bool {
	for _, uid := range s.Endpoints {
		if strings.Contains(uid, "/ServiceEntry/") {
			return true
		}
		if strings.Contains(uid, "/Pod/") {
			return false
		}
	}
	return !internalHostname(s.Hostname)
}

// internalHostname tells a Kubernetes Service's name (NAME.NAMESPACE.svc.DOMAIN).
func internalHostname(h string) bool {
	return strings.Contains(h, ".svc.")
}

// splitAddr splits IP:port; the port is 0 when absent.
func splitAddr(addr string) (string, uint32) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0
	}
	port, _ := strconv.ParseUint(p, 10, 32)
	return host, uint32(port)
}
