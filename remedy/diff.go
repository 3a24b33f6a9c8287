package remedy

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Change is what applying one object of a plan would do: kubectl's action word and the
// unified diff from the live object to what the server would store ("" when unchanged).
type Change struct {
	Group, Kind, Namespace, Name string
	// Action is ActionCreated, ActionConfigured or ActionUnchanged, as Apply would report it.
	Action string
	Diff   string
}

// Ref is the object as kubectl names it.
func (c Change) Ref() string { return Ref(c.Group, c.Kind, c.Name) }

// Preview asks the server what the plan would change: for each object, a server-side dry-run
// apply compared with the live object, both without managedFields, resourceVersion, status and
// the other fields the server writes for itself. Nothing is written.
func (a *Applier) Preview(ctx context.Context, p *Plan, force bool) ([]Change, error) {
	if err := a.checkServed(p); err != nil {
		return nil, err
	}
	objs, err := p.Unstructured()
	if err != nil {
		return nil, err
	}
	changes := make([]Change, 0, len(objs))
	for _, u := range objs {
		gvr, err := gvrFor(u.GetAPIVersion(), u.GetKind())
		if err != nil {
			return nil, err
		}
		res := a.client.Resource(gvr).Namespace(u.GetNamespace())
		ref := refOf(u)
		live, err := res.Get(ctx, u.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			live = nil
		} else if err != nil {
			return nil, fmt.Errorf("failed to read %s in namespace %s: %w", ref, u.GetNamespace(), err)
		}
		planned, err := res.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{
			FieldManager: FieldManager, Force: force, DryRun: []string{metav1.DryRunAll},
		})
		if err != nil {
			return nil, fmt.Errorf("failed to dry-run %s in namespace %s: %w", ref, u.GetNamespace(), explainApplyError(err))
		}
		before, err := diffText(live)
		if err != nil {
			return nil, err
		}
		after, err := diffText(planned)
		if err != nil {
			return nil, err
		}
		name := u.GetNamespace() + "/" + ref
		changes = append(changes, Change{
			Group: u.GroupVersionKind().Group, Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName(),
			Action: action(live, planned, false),
			Diff:   UnifiedDiff("live/"+name, "planned/"+name, before, after),
		})
	}
	return changes, nil
}

// Diff is the preview's diffs joined, one hunk set per changed object.
func (a *Applier) Diff(ctx context.Context, p *Plan, force bool) (string, error) {
	changes, err := a.Preview(ctx, p, force)
	if err != nil {
		return "", err
	}
	var out strings.Builder
	for _, c := range changes {
		out.WriteString(c.Diff)
	}
	return out.String(), nil
}

func diffText(u *unstructured.Unstructured) (string, error) {
	if u == nil {
		return "", nil
	}
	b, err := yaml.Marshal(stripServerFields(u).Object)
	if err != nil {
		return "", fmt.Errorf("failed to render %s as YAML: %w", refOf(u), err)
	}
	return string(b), nil
}

// UnifiedDiff is a diff -u of two texts, by line, with three lines of context; "" when equal.
// Objects are a few dozen lines, so a plain longest-common-subsequence table is enough.
func UnifiedDiff(fromName, toName, from, to string) string {
	if from == to {
		return ""
	}
	a, b := splitLines(from), splitLines(to)
	ops := lineOps(a, b)

	const context = 3
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", fromName, toName)
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		// A hunk runs from `context` lines before the first change to `context` lines after the
		// last change that is less than 2*context lines from the next one.
		start := max(i-context, 0)
		end := i
		for j := i; j < len(ops); j++ {
			if ops[j].kind != ' ' {
				end = j
			} else if j-end > 2*context {
				break
			}
		}
		end = min(end+context+1, len(ops))
		aStart, bStart, aLen, bLen := ops[start].a, ops[start].b, 0, 0
		for _, op := range ops[start:end] {
			if op.kind != '+' {
				aLen++
			}
			if op.kind != '-' {
				bLen++
			}
		}
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(aStart, aLen), hunkRange(bStart, bLen))
		for _, op := range ops[start:end] {
			out.WriteByte(op.kind)
			out.WriteString(op.text)
			out.WriteByte('\n')
		}
		i = end
	}
	return out.String()
}

type lineOp struct {
	kind byte // ' ', '-' or '+'
	text string
	a, b int // line index in a and b where this op stands
}

func lineOps(a, b []string) []lineOp {
	// lcs[i][j] is the length of the longest common subsequence of a[i:] and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var ops []lineOp
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			ops = append(ops, lineOp{' ', a[i], i, j})
			i++
			j++
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			// Deletions before insertions, as diff -u prints them.
			ops = append(ops, lineOp{'-', a[i], i, j})
			i++
		default:
			ops = append(ops, lineOp{'+', b[j], i, j})
			j++
		}
	}
	return ops
}

// hunkRange is diff's "start,length", 1-based; an empty range names the line before it.
func hunkRange(start, length int) string {
	if length == 0 {
		return fmt.Sprintf("%d,0", start)
	}
	if length == 1 {
		return fmt.Sprintf("%d", start+1)
	}
	return fmt.Sprintf("%d,%d", start+1, length)
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
