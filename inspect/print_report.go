package inspect

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-egress/kubectl-egress/internal/table"
)

// Output formats of PrintReport.
const (
	FormatTable = ""
	FormatWide  = "wide"
	FormatJSON  = "json"
	FormatYAML  = "yaml"
)

// Formats lists the accepted -o values.
var Formats = []string{FormatWide, FormatJSON, FormatYAML}

// PrintReport writes the destinations as a table (format "" or "wide"), or the whole report as JSON or YAML.
func PrintReport(w io.Writer, r Report, format string) error {
	switch format {
	case FormatTable, FormatWide:
		return printDestinations(w, r, format == FormatWide)
	case FormatJSON, FormatYAML:
		return PrintDocument(w, r, "report", format)
	}
	return fmt.Errorf("unknown output format %q: use one of %s", format, strings.Join(Formats, "|"))
}

// PrintDocument writes a whole document (a report, a verification) as JSON or YAML.
func PrintDocument(w io.Writer, doc any, what, format string) error {
	var b []byte
	var err error
	if format == FormatJSON {
		if b, err = json.MarshalIndent(doc, "", "  "); err == nil {
			b = append(b, '\n')
		}
	} else if b, err = json.Marshal(doc); err == nil {
		b, err = yaml.JSONToYAML(yamlReadableJSON(b))
	}
	if err != nil {
		return fmt.Errorf("failed to encode the %s as %s: %w", what, strings.ToUpper(format), err)
	}
	_, err = w.Write(b)
	return err
}

func printDestinations(w io.Writer, r Report, wide bool) error {
	header := []string{"HOST", "PORT", "PROTOCOL", "DISPOSITION", "CONNS/REQS", "PODS", "FIX"}
	requests := wide && slices.ContainsFunc(r.Destinations, func(d Destination) bool { return len(d.Requests) > 0 })
	if wide {
		header = append(header, "CLUSTER", "SIGNALS", "LAST SEEN")
	}
	if requests {
		header = append(header, "REQUESTS")
	}
	rows := make([][]string, 0, len(r.Destinations))
	for _, d := range r.Destinations {
		row := []string{
			d.Host, portString(d.Port), table.Dash(d.Protocol), string(d.Disposition),
			fmt.Sprintf("%d/%d", d.Counts.Connections, d.Counts.Requests),
			strconv.Itoa(len(d.Pods)), string(d.Recommendation.Fix),
		}
		if wide {
			signals := make([]string, len(d.Signals))
			for i, s := range d.Signals {
				signals[i] = string(s)
			}
			lastSeen := "-"
			if d.LastSeen != nil {
				lastSeen = duration.HumanDuration(r.GeneratedAt.Sub(*d.LastSeen))
			}
			row = append(row, table.Dash(d.Cluster), strings.Join(signals, ","), lastSeen)
		}
		if requests {
			row = append(row, topRequests(d.Requests, 3))
		}
		rows = append(rows, row)
	}
	return table.Write(w, header, rows)
}

// PrintClusters writes the clusters like `istioctl proxy-config cluster`; unless all is set, only
// the egress-relevant ones: external hosts, PassthroughCluster, BlackHoleCluster and egress gateways.
func PrintClusters(w io.Writer, r Report, all bool) error {
	header := []string{"SERVICE FQDN", "PORT", "SUBSET", "DIRECTION", "TYPE", "TLS", "DESTINATION RULE"}
	gateways := egressGatewayClusters(r)
	var rows [][]string
	var ports []uint32
	for _, c := range r.Clusters {
		if !all && !isEgressCluster(c, gateways) {
			continue
		}
		fqdn, port, subset, dir := c.Host, portString(c.Port), table.Dash(c.Subset), table.Dash(c.Direction)
		if c.Direction == "" {
			fqdn = c.Name
		}
		rows = append(rows, []string{fqdn, port, subset, dir, table.Dash(c.Type), table.Dash(c.TLS), table.Dash(c.DestinationRule)})
		ports = append(ports, c.Port)
	}
	// istioctl's order: by FQDN, then port, then subset.
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ra, rb := rows[idx[a]], rows[idx[b]]
		if ra[0] != rb[0] {
			return ra[0] < rb[0]
		}
		if ports[idx[a]] != ports[idx[b]] {
			return ports[idx[a]] < ports[idx[b]]
		}
		return ra[2] < rb[2]
	})
	sorted := make([][]string, len(rows))
	for i, j := range idx {
		sorted[i] = rows[j]
	}
	rows = sorted
	return table.Write(w, header, rows)
}

// PrintEndpoints writes the cluster hosts like `istioctl proxy-config endpoint`, egress-relevant
// clusters only unless all is set.
func PrintEndpoints(w io.Writer, r Report, all bool) error {
	header := []string{"ENDPOINT", "STATUS", "CLUSTER"}
	gateways := egressGatewayClusters(r)
	byName := map[string]Cluster{}
	for _, c := range r.Clusters {
		byName[c.Name] = c
	}
	var rows [][]string
	for _, e := range r.Endpoints {
		c, ok := byName[e.Cluster]
		if !ok {
			c = clusterFromName(e.Cluster)
		}
		if !all && !isEgressCluster(c, gateways) {
			continue
		}
		rows = append(rows, []string{e.Address, e.Health, e.Cluster})
	}
	return table.Write(w, header, rows)
}

func egressGatewayClusters(r Report) map[string]bool {
	out := map[string]bool{}
	for _, d := range r.Destinations {
		if d.Disposition == DispositionEgressGateway && d.Cluster != "" {
			out[d.Cluster] = true
		}
	}
	return out
}

func isEgressCluster(c Cluster, gateways map[string]bool) bool {
	switch {
	case c.External, gateways[c.Name]:
		return true
	case c.Direction != "":
		return false
	}
	return isPassthroughCluster(c.Name) || c.Name == clusterBlackHole
}

func portString(p uint32) string {
	if p == 0 {
		return "-"
	}
	return strconv.FormatUint(uint64(p), 10)
}

// PrintPods writes what each inspected proxy says about itself: its data plane (a gateway's or
// waypoint's is its proxy type), version, the outbound mode its own virtualOutbound listener
// enforces, whether access logging is on, capture exclusions and errors.
func PrintPods(w io.Writer, r Report) error {
	header := []string{"NAMESPACE", "POD", "WORKLOAD", "DATA PLANE", "ISTIO", "OUTBOUND MODE", "ACCESS LOG", "EXCLUSIONS", "ERRORS"}
	rows := make([][]string, 0, len(r.Pods))
	for _, p := range r.Pods {
		var excl []string
		for _, b := range p.CaptureExclusions {
			excl = append(excl, strings.TrimPrefix(b.Annotation, "traffic.sidecar.istio.io/")+"="+b.Value)
		}
		rows = append(rows, []string{p.Namespace, p.Name, table.Dash(p.Workload), table.Dash(firstNonEmpty(p.Dataplane, p.ProxyType)), table.Dash(p.IstioVersion),
			table.Dash(p.OutboundMode), table.Dash(p.AccessLogging), table.Dash(strings.Join(excl, ",")), strconv.Itoa(len(p.Errors))})
	}
	return table.Write(w, header, rows)
}

// topRequests names the n most frequent requests, "GET /a (5), POST /b (2)", and how many more.
func topRequests(requests map[string]int64, n int) string {
	if len(requests) == 0 {
		return "-"
	}
	keys := slices.Collect(maps.Keys(requests))
	slices.SortFunc(keys, func(a, b string) int {
		if requests[a] != requests[b] {
			return cmp.Compare(requests[b], requests[a])
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, k := range keys[:min(n, len(keys))] {
		parts = append(parts, fmt.Sprintf("%s (%d)", k, requests[k]))
	}
	if len(keys) > n {
		parts = append(parts, fmt.Sprintf("+%d more", len(keys)-n))
	}
	return strings.Join(parts, ", ")
}
