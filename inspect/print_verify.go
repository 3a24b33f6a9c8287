package inspect

import (
	"fmt"
	"io"
	"strings"

	"github.com/kubectl-egress/kubectl-egress/internal/table"
)

// PrintVerification writes the verdict as a table, one row per pod with each check's status,
// followed by what is missing for the pods that did not pass; or the whole document as JSON or YAML.
func PrintVerification(w io.Writer, v Verification, format string) error {
	switch format {
	case FormatJSON, FormatYAML:
		return PrintDocument(w, v, "verification", format)
	case FormatTable:
	default:
		return fmt.Errorf("unknown output format %q: use json or yaml", format)
	}
	header := []string{"POD", "CLUSTER", "TLS", "METRICS", "PASSTHROUGH", "APP", "LIMITS", "RESULT"}
	rows := make([][]string, 0, len(v.Pods))
	for _, p := range v.Pods {
		status := map[CheckName]CheckStatus{}
		for _, c := range p.Checks {
			status[c.Name] = c.Status
		}
		cell := func(n CheckName) string {
			if s, ok := status[n]; ok && s != CheckSkipped {
				return string(s)
			}
			return "-"
		}
		cluster := cell(CheckCluster)
		if len(p.Clusters) > 0 {
			cluster = strings.Join(p.Clusters, ",")
		}
		// pending: nothing is wrong, the evidence (traffic since the fix) is not there yet.
		result := "pass"
		for _, c := range p.Checks {
			switch {
			case c.Status == CheckFail:
				result = "FAIL"
			case c.Status == CheckPending && result == "pass":
				result = "pending"
			}
		}
		rows = append(rows, []string{p.Pod, cluster, cell(CheckTLS), cell(CheckMetrics), cell(CheckPassthrough), cell(CheckApp), cell(CheckLimits), result})
	}
	if err := table.Write(w, header, rows); err != nil {
		return err
	}
	for _, p := range v.Pods {
		if len(p.Missing) == 0 {
			continue
		}
		if _, err := fmt.Fprintf(w, "\n%s is missing:\n", p.Pod); err != nil {
			return err
		}
		for _, m := range p.Missing {
			if _, err := fmt.Fprintf(w, "  - %s\n", m); err != nil {
				return err
			}
		}
	}
	return nil
}
