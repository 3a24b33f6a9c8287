package fixflow

import (
	"context"
	"fmt"
	"strings"

	"github.com/kubectl-egress/kubectl-egress/internal/table"
	"github.com/kubectl-egress/kubectl-egress/remedy"
)

// previewWords say what applying would do, as the preview announces it.
var previewWords = map[string]string{
	remedy.ActionCreated:    "create",
	remedy.ActionConfigured: "update",
	remedy.ActionUnchanged:  "unchanged",
}

// preview prints, for the plans, every object with what applying would do to it, then the
// diff against the live objects; both come from one server-side dry run, so they are what the
// API server would store. A new object's diff is its whole YAML, once.
func (f *Flow) preview(ctx context.Context, plans []*remedy.Plan) error {
	var rows [][]string
	var diffs strings.Builder
	for _, p := range plans {
		changes, err := f.applier.Preview(ctx, p, f.cfg.Force)
		if err != nil {
			return err
		}
		for _, c := range changes {
			rows = append(rows, []string{c.Ref(), c.Namespace, p.Host, string(p.Fix), previewWords[c.Action]})
			diffs.WriteString(c.Diff)
		}
	}
	fmt.Fprintf(f.cfg.Out, "Plan for namespace %s (%s):\n", f.cfg.Namespace, objectCount(plans))
	if err := table.Write(f.cfg.Out, []string{"OBJECT", "NAMESPACE", "HOST", "FIX", "ACTION"}, rows); err != nil {
		return err
	}
	if diffs.Len() == 0 {
		fmt.Fprintf(f.cfg.Out, "\nNo changes: the live objects already match.\n\n")
		return nil
	}
	fmt.Fprintf(f.cfg.Out, "\nDiff against the live objects (server-side dry run):\n%s\n", diffs.String())
	return nil
}
