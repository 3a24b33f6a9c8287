package policy

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/kubectl-egress/kubectl-egress/inspect"
	"github.com/kubectl-egress/kubectl-egress/internal/table"
)

// PrintReport writes the report as tables (format ""), or whole as JSON or YAML: one row per
// workload with each source's mode side by side, then, where there is any, the notes on
// disagreements, what REGISTRY_ONLY would break, the registered hosts nobody called, the traffic
// no policy governs, and the namespaces' egress NetworkPolicies.
func PrintReport(w io.Writer, r Report, format string) error {
	switch format {
	case inspect.FormatJSON, inspect.FormatYAML:
		return inspect.PrintDocument(w, r, "policy report", format)
	case "":
	default:
		return fmt.Errorf("unknown output format %q: use json or yaml", format)
	}
	var rows, notes, breaks, unused, excl, nps [][]string
	for _, ns := range r.Namespaces {
		for _, wl := range ns.Workloads {
			sidecar := "-"
			if wl.Sidecar != nil {
				mode := wl.Sidecar.Mode
				if mode == "" {
					mode = "inherits"
				}
				sidecar = fmt.Sprintf("%s (%s, %s)", mode, wl.Sidecar.Name, wl.Sidecar.Scope)
			}
			ready := "yes"
			if !wl.Ready {
				ready = fmt.Sprintf("no: %d would break", len(wl.WouldBreak))
			}
			rows = append(rows, []string{ns.Namespace, wl.Workload, wl.Revision, wl.Mesh.Mode, sidecar, table.Dash(wl.Proxy), ready})
			for _, n := range wl.Notes {
				notes = append(notes, []string{ns.Namespace, wl.Workload, n})
			}
			for _, f := range wl.WouldBreak {
				last := "-"
				if f.LastSeen != nil {
					last = duration.HumanDuration(r.GeneratedAt.Sub(*f.LastSeen)) + " ago"
				}
				port := "-"
				if f.Port != 0 {
					port = strconv.Itoa(int(f.Port))
				}
				breaks = append(breaks, []string{ns.Namespace, wl.Workload, f.Host, port, table.Dash(f.Protocol),
					fmt.Sprintf("%d/%d", f.Calls.Connections, f.Calls.Requests), strings.Join(f.Pods, ","), last, f.Reason})
			}
			for _, b := range wl.Exclusions {
				excl = append(excl, []string{ns.Namespace, wl.Workload, b.Annotation + "=" + b.Value})
			}
		}
		for _, u := range ns.Unused {
			ports := make([]string, len(u.Ports))
			for i, p := range u.Ports {
				ports[i] = strconv.Itoa(int(p))
			}
			unused = append(unused, []string{ns.Namespace, u.Host, table.Dash(strings.Join(ports, ",")), u.ServiceEntry})
		}
		np := "none"
		if ns.NetworkPolicy.Restricted {
			np = strings.Join(ns.NetworkPolicy.Policies, ",")
		}
		nps = append(nps, []string{ns.Namespace, np, table.Dash(strings.Join(ns.NetworkPolicy.Cuts, ", "))})
	}
	sections := []struct {
		title  string
		header []string
		rows   [][]string
	}{
		{"", []string{"NAMESPACE", "WORKLOAD", "REVISION", "MESH CONFIG", "SIDECAR", "PROXY", "READY FOR REGISTRY_ONLY"}, rows},
		{"Where the sources disagree:", []string{"NAMESPACE", "WORKLOAD", "WHY"}, notes},
		{"What REGISTRY_ONLY would break:", []string{"NAMESPACE", "WORKLOAD", "HOST", "PORT", "PROTOCOL", "CONNS/REQS", "PODS", "LAST SEEN", "WHY"}, breaks},
		{"Registered, but no pod called them (candidates to drop):", []string{"NAMESPACE", "HOST", "PORTS", "SERVICEENTRY"}, unused},
		{"Traffic no outbound policy governs (capture exclusions):", []string{"NAMESPACE", "WORKLOAD", "EXCLUSION"}, excl},
		{"Egress NetworkPolicies (an egress gateway alone is no security boundary):", []string{"NAMESPACE", "POLICIES", "WOULD CUT"}, nps},
	}
	for i, s := range sections {
		if len(s.rows) == 0 {
			continue
		}
		if i > 0 {
			fmt.Fprintf(w, "\n%s\n", s.title)
		}
		if err := table.Write(w, s.header, s.rows); err != nil {
			return err
		}
	}
	return nil
}

// PrintMeshWide writes what a mesh-wide REGISTRY_ONLY needs: the meshConfig change, for
// istioctl or Helm (kubectl-egress never edits the mesh ConfigMap: the installer owns it and
// would revert it), and the namespaces whose workloads would break, with how many hosts.
func PrintMeshWide(w io.Writer, r Report) error {
	fmt.Fprint(w, `# The mesh-wide switch belongs to the installer; kubectl-egress does not edit the mesh ConfigMap.
# istioctl:
#   istioctl install --set meshConfig.outboundTrafficPolicy.mode=REGISTRY_ONLY
# Helm (istiod chart values):
meshConfig:
  outboundTrafficPolicy:
    mode: REGISTRY_ONLY
`)
	var rows [][]string
	for _, ns := range r.Namespaces {
		hosts := map[string]bool{}
		var workloads []string
		sidecars := false
		for _, wl := range ns.Workloads {
			if wl.Ready {
				continue
			}
			workloads = append(workloads, wl.Workload)
			sidecars = sidecars || !wl.Ambient
			for _, f := range wl.WouldBreak {
				hosts[f.Host] = true
			}
		}
		todo := "kubectl egress lockdown -n " + ns.Namespace
		if !sidecars { // ambient only: no REGISTRY_ONLY to switch to
			todo = "kubectl egress register HOST -n " + ns.Namespace + " (ambient: binds it to a waypoint)"
		}
		if len(workloads) > 0 {
			rows = append(rows, []string{ns.Namespace, strings.Join(workloads, ","), strconv.Itoa(len(hosts)), todo})
		}
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintf(w, "\nEvery namespace read is ready: nothing seen in passthrough lacks a ServiceEntry.\n")
		return err
	}
	fmt.Fprintf(w, "\nNot ready yet (what they call would break):\n")
	return table.Write(w, []string{"NAMESPACE", "WORKLOADS", "HOSTS", "TO GET READY"}, rows)
}
