package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// Evaluate reads the inputs into the report. It does no I/O.
func Evaluate(in Inputs, now time.Time) Report {
	r := Report{Kind: ReportKind, APIVersion: inspect.ReportAPIVersion, GeneratedAt: now.UTC(),
		MeshConfigs: []MeshConfig{}, Namespaces: []NamespacePolicy{}, Warnings: in.Warnings}
	revisions := map[string]bool{}
	byNamespace := map[string][]inspect.PodReport{}
	for _, p := range in.Pods {
		byNamespace[p.Pod.Namespace] = append(byNamespace[p.Pod.Namespace], p)
		revisions[in.RevisionOf(p.Pod)] = true
	}
	for _, rev := range slices.Sorted(maps.Keys(revisions)) {
		r.MeshConfigs = append(r.MeshConfigs, in.MeshConfigOf(rev))
	}
	for _, ns := range slices.Sorted(maps.Keys(byNamespace)) {
		r.Namespaces = append(r.Namespaces, in.namespace(ns, byNamespace[ns]))
	}
	return r
}

func (in Inputs) namespace(ns string, pods []inspect.PodReport) NamespacePolicy {
	np := NamespacePolicy{Namespace: ns, Workloads: []WorkloadPolicy{}}
	byWorkload := map[string][]inspect.PodReport{}
	for _, p := range pods {
		w := p.Pod.Workload
		if w == "" {
			w = "pod/" + p.Pod.Name
		}
		byWorkload[w] = append(byWorkload[w], p)
	}
	for _, w := range slices.Sorted(maps.Keys(byWorkload)) {
		np.Workloads = append(np.Workloads, in.workload(ns, w, byWorkload[w]))
	}
	np.Unused = in.unused(ns, pods)
	np.NetworkPolicy = in.networkPolicy(ns, pods)
	return np
}

func (in Inputs) workload(ns, name string, pods []inspect.PodReport) WorkloadPolicy {
	first := pods[0].Pod
	rev := in.RevisionOf(first)
	mc := in.MeshConfigOf(rev)
	w := WorkloadPolicy{Workload: name, Revision: rev, Proxies: []ProxyMode{}, WouldBreak: []Finding{}}
	w.Mesh = PolicySource{Mode: mc.Mode, From: mc.Source}
	switch {
	case mc.Source == "":
		w.Mesh.From = "Istio's default (no mesh ConfigMap for revision " + rev + ")"
	case !mc.ModeSet:
		w.Mesh.From = mc.Source + " (unset: Istio's default)"
	}
	sc, scope := SidecarFor(in.Sidecars, ns, first.Labels, mc.RootNamespace)
	w.Configured = mc.Mode
	if sc != nil {
		w.Sidecar = &SidecarSource{Name: sc.Namespace + "/" + sc.Name, Scope: scope, Mode: sidecarMode(sc),
			EgressHosts: egressHosts(sc), Managed: sc.Labels["app.kubernetes.io/managed-by"] == "kubectl-egress"}
		if m := sidecarMode(sc); m != "" {
			w.Configured = m
		}
	}
	for _, p := range pods {
		w.Pods = append(w.Pods, p.Pod.Key())
		w.Proxies = append(w.Proxies, ProxyMode{Pod: p.Pod.Key(), Mode: p.Facts.OutboundMode})
		for _, b := range p.Facts.CaptureExclusions {
			if !slices.Contains(w.Exclusions, b) {
				w.Exclusions = append(w.Exclusions, b)
			}
		}
	}
	slices.Sort(w.Pods)
	w.Proxy = proxyMode(w.Proxies)
	w.Notes = in.notes(w, mc, sc)
	if inspect.IsAmbientDataplane(pods[0].Facts.Dataplane) {
		// ztunnel does not read the outbound traffic policy (istio#54281, ztunnel#369).
		w.Ambient = true
		w.Notes = append(w.Notes, "in ambient mode: ztunnel enforces no outbound traffic policy, so neither the mesh's "+
			"REGISTRY_ONLY nor a Sidecar blocks what it calls; register its hosts (bound to a waypoint) and restrict them with an AuthorizationPolicy")
		w.WouldBreak = in.wouldBreak(ns, sc, mc, pods)
		w.Ready = len(w.WouldBreak) == 0
		return w
	}

	mode := w.Configured
	if w.Proxy != "" && w.Proxy != "mixed" {
		mode = w.Proxy // what the proxies enforce now decides what a switch would change
	}
	if mode != inspect.ModeRegistryOnly {
		w.WouldBreak = in.wouldBreak(ns, sc, mc, pods)
	}
	w.Ready = mode == inspect.ModeRegistryOnly || len(w.WouldBreak) == 0
	return w
}

// proxyMode is the pods' common mode, "mixed" when they differ, "" when none was read.
func proxyMode(ps []ProxyMode) string {
	mode := ""
	for _, p := range ps {
		switch {
		case p.Mode == "":
		case mode == "":
			mode = p.Mode
		case mode != p.Mode:
			return "mixed"
		}
	}
	return mode
}

// notes explain, one line each, where the sources disagree.
func (in Inputs) notes(w WorkloadPolicy, mc MeshConfig, sc *networkingv1.Sidecar) []string {
	var out []string
	if m := sidecarMode(sc); m != "" && m != mc.Mode {
		out = append(out, fmt.Sprintf("Sidecar %s/%s (%s scope) sets %s, shadowing the mesh config's %s: change the Sidecar, not the ConfigMap (istio#37064)",
			sc.Namespace, sc.Name, w.Sidecar.Scope, m, mc.Mode))
	}
	switch {
	case w.Proxy == "mixed":
		var modes []string
		for _, p := range w.Proxies {
			modes = append(modes, p.Pod+" "+p.Mode)
		}
		out = append(out, fmt.Sprintf("the pods' proxies disagree (%s): some have not received istiod's last push", strings.Join(modes, ", ")))
	case w.Proxy != "" && w.Proxy != w.Configured:
		other := ""
		if sidecarMode(sc) == "" {
			for _, rev := range slices.Sorted(maps.Keys(in.MeshConfigs)) {
				if rev != w.Revision && in.MeshConfigs[rev].Mode == w.Proxy {
					other = rev
					break
				}
			}
		}
		if other != "" {
			out = append(out, fmt.Sprintf("the proxies enforce %s, the mode of revision %s's mesh config (%s), not their own revision %s's %s: another control plane serves them, or the istio.io/rev label is wrong",
				w.Proxy, other, in.MeshConfigs[other].Source, w.Revision, w.Configured))
		} else {
			out = append(out, fmt.Sprintf("the proxies enforce %s but the configuration says %s: they are stale (istiod has not pushed the change, or cannot reach them); check istiod and `istioctl proxy-status`",
				w.Proxy, w.Configured))
		}
	}
	return out
}

// wouldBreak lists the workload's passthrough destinations that no ServiceEntry visible to it
// covers on that port.
func (in Inputs) wouldBreak(ns string, sc *networkingv1.Sidecar, mc MeshConfig, pods []inspect.PodReport) []Finding {
	type key struct {
		host string
		port uint32
	}
	found := map[key]*Finding{}
	for _, p := range pods {
		for _, d := range p.Destinations {
			if !d.Disposition.Allowed() {
				continue
			}
			k := key{d.Host, d.Port}
			f := found[k]
			if f == nil {
				reason, covered := in.coverage(d.Host, d.Port, ns, sc, mc)
				if covered {
					continue
				}
				f = &Finding{Host: d.Host, Port: d.Port, Protocol: d.Protocol, Reason: reason}
				found[k] = f
			}
			f.Pods = append(f.Pods, d.Pods...)
			f.Calls.Connections += d.Counts.Connections
			f.Calls.Requests += d.Counts.Requests
			f.Calls.BytesSent += d.Counts.BytesSent
			f.Calls.BytesReceived += d.Counts.BytesReceived
			if d.LastSeen != nil && (f.LastSeen == nil || d.LastSeen.After(*f.LastSeen)) {
				t := *d.LastSeen
				f.LastSeen = &t
			}
			if d.Protocol != "" && f.Protocol == "" {
				f.Protocol = d.Protocol
			}
		}
	}
	out := []Finding{}
	for _, k := range slices.SortedFunc(maps.Keys(found), func(a, b key) int {
		if c := strings.Compare(a.host, b.host); c != 0 {
			return c
		}
		return int(a.port) - int(b.port)
	}) {
		f := found[k]
		slices.Sort(f.Pods)
		f.Pods = slices.Compact(f.Pods)
		out = append(out, *f)
	}
	return out
}

// coverage tells whether some ServiceEntry makes host:port visible to the workload; when none
// does, the reason names the closest miss.
func (in Inputs) coverage(host string, port uint32, ns string, sc *networkingv1.Sidecar, mc MeshConfig) (string, bool) {
	if host == "unknown" || host == "" {
		return "no host known for this traffic (TCP without SNI and no access-log line): turn access logging on (kubectl egress logging on -n " + ns + ") to name it", false
	}
	best, why := coverNone, ""
	for _, se := range in.ServiceEntries {
		c, reason := covers(se, host, port, ns, sc, mc.DefaultExportTo)
		if c == coverYes {
			return "", true
		}
		if c > best {
			best, why = c, reason
		}
	}
	if best == coverNone {
		return "no ServiceEntry registers it", false
	}
	return why, false
}

// unused lists the ServiceEntry hosts visible to the namespace that none of its pods called.
func (in Inputs) unused(ns string, pods []inspect.PodReport) []RegisteredHost {
	var out []RegisteredHost
	mcs := map[string]MeshConfig{}
	for _, se := range in.ServiceEntries {
		for _, h := range se.Spec.GetHosts() {
			called, visible := false, false
			for _, p := range pods {
				rev := in.RevisionOf(p.Pod)
				mc, ok := mcs[rev]
				if !ok {
					mc = in.MeshConfigOf(rev)
					mcs[rev] = mc
				}
				sc, _ := SidecarFor(in.Sidecars, ns, p.Pod.Labels, mc.RootNamespace)
				if exportedTo(se, ns, mc.DefaultExportTo) && imports(sc, ns, se.Namespace, h, 0) {
					visible = true
				}
				for _, d := range p.Destinations {
					if hostMatches(h, d.Host) && hasTraffic(d) {
						called = true
					}
				}
			}
			if visible && !called {
				var ports []uint32
				for _, sp := range se.Spec.GetPorts() {
					ports = append(ports, sp.GetNumber())
				}
				out = append(out, RegisteredHost{ServiceEntry: se.Namespace + "/" + se.Name, Host: h, Ports: ports})
			}
		}
	}
	slices.SortFunc(out, func(a, b RegisteredHost) int {
		if c := strings.Compare(a.Host, b.Host); c != 0 {
			return c
		}
		return strings.Compare(a.ServiceEntry, b.ServiceEntry)
	})
	return out
}

// hasTraffic tells whether a signal other than the proxy's configuration saw a destination.
func hasTraffic(d inspect.Destination) bool {
	for _, s := range d.Signals {
		if s != inspect.SignalConfig && s != inspect.SignalAnnotation {
			return true
		}
	}
	return false
}
