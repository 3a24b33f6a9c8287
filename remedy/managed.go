package remedy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kubectl-egress/kubectl-egress/inspect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ManagedObject is one object kubectl-egress wrote, as `kubectl egress list` shows it.
type ManagedObject struct {
	// Group is the kind's API group: networking.istio.io, gateway.networking.k8s.io, ...
	Group     string      `json:"group,omitempty"`
	Kind      string      `json:"kind"`
	Namespace string      `json:"namespace"`
	Name      string      `json:"name"`
	Host      string      `json:"host"`
	Fix       inspect.Fix `json:"fix"`
	Created   metav1.Time `json:"created"`
	// Waypoint is, for a ServiceEntry of an ambient namespace, the waypoint it is bound to
	// (NAMESPACE/NAME).
	Waypoint string `json:"waypoint,omitempty"`
	// IsWaypoint tells a Gateway of class istio-waypoint.
	IsWaypoint bool `json:"-"`
}

// Ref is the object's kubectl name.
func (m ManagedObject) Ref() string { return Ref(m.Group, m.Kind, m.Name) }

// ErrNothingToUndo is returned by Undo when no managed object matches.
var ErrNothingToUndo = errors.New("no objects managed by kubectl-egress match")

// List returns the objects labelled as managed by kubectl-egress in namespace ("" = all
// namespaces), sorted by namespace, host and apply order.
func (a *Applier) List(ctx context.Context, namespace string) ([]ManagedObject, error) {
	var out []ManagedObject
	for _, k := range kinds {
		if k.Group == GatewayAPIGroup && !a.gatewayAPI.serves(k.Kind) {
			continue // its CRD is not installed: nothing of that kind can be ours
		}
		gvr := a.gvr(k.Group, k.Kind)
		list, err := a.client.Resource(gvr).Namespace(namespace).List(ctx, metav1.ListOptions{
			LabelSelector: LabelManagedBy + "=" + ManagedByValue,
		})
		if apierrors.IsNotFound(err) && k.Group != NetworkingGroup {
			continue // Telemetry v1 before Istio 1.22: nothing of that kind can be ours
		}
		if err != nil {
			where := "all namespaces"
			if namespace != "" {
				where = "namespace " + namespace
			}
			return nil, fmt.Errorf("failed to list %s in %s: %w", gvr.Resource, where, err)
		}
		for _, u := range list.Items {
			if !isManaged(u.GetLabels()) {
				continue // a label selector a fake or proxy ignored must not widen what Undo deletes
			}
			out = append(out, ManagedObject{
				Group: k.Group, Kind: k.Kind, Namespace: u.GetNamespace(), Name: u.GetName(),
				Host: u.GetAnnotations()[AnnotationHost], Fix: inspect.Fix(u.GetAnnotations()[AnnotationFix]),
				Created: u.GetCreationTimestamp(),
			})
			if k.Kind == "ServiceEntry" {
				out[len(out)-1].Waypoint = UsesWaypoint(u.GetNamespace(), u.GetLabels())
			}
			if class, _, _ := unstructured.NestedString(u.Object, "spec", "gatewayClassName"); k.Group == GatewayAPIGroup && class == GatewayClassWaypoint {
				out[len(out)-1].IsWaypoint = true
			}
		}
	}
	slices.SortStableFunc(out, func(x, y ManagedObject) int {
		return cmp.Or(cmp.Compare(x.Namespace, y.Namespace), cmp.Compare(x.Host, y.Host),
			cmp.Compare(kindOrder(x.Group, x.Kind), kindOrder(y.Group, y.Kind)), cmp.Compare(x.Name, y.Name))
	})
	return out, nil
}

// UndoOptions choose what Undo removes: the objects of Host, the objects of one Fix (the
// lockdown, the logging), or All of them, in Namespace ("" = all namespaces).
type UndoOptions struct {
	Namespace string
	Host      string
	Fix       inspect.Fix
	All       bool
	DryRun    DryRun
}

// Matches tells whether the options select a managed object.
func (o UndoOptions) Matches(m ManagedObject) bool {
	switch {
	case o.All:
		return true
	case o.Fix != "":
		return m.Fix == o.Fix && (o.Host == "" || m.Host == o.Host)
	}
	return m.Host == o.Host
}

// Undo deletes managed objects only: routing first, the ServiceEntry last, so no route is left
// pointing at a host the mesh no longer knows. It goes on past a failed delete and reports it.
func (a *Applier) Undo(ctx context.Context, o UndoOptions) ([]Result, error) {
	if o.Host == "" && o.Fix == "" && !o.All {
		return nil, fmt.Errorf("name a host to undo, or ask for all")
	}
	if o.DryRun == "" {
		o.DryRun = DryRunNone
	}
	all, err := a.List(ctx, o.Namespace)
	if err != nil {
		return nil, err
	}
	objs := slices.DeleteFunc(slices.Clone(all), func(m ManagedObject) bool { return !o.Matches(m) })
	objs, kept := keepUsedWaypoints(all, objs)
	if len(objs) == 0 && len(kept) == 0 {
		what := "host " + o.Host
		switch {
		case o.All:
			what = "any host"
		case o.Fix != "":
			what = "fix " + string(o.Fix)
		}
		if o.Namespace != "" {
			what += " in namespace " + o.Namespace
		}
		return nil, fmt.Errorf("%w %s", ErrNothingToUndo, what)
	}
	slices.SortStableFunc(objs, func(x, y ManagedObject) int {
		return cmp.Or(cmp.Compare(x.Namespace, y.Namespace), cmp.Compare(x.Host, y.Host),
			cmp.Compare(kindOrder(y.Group, y.Kind), kindOrder(x.Group, x.Kind)), cmp.Compare(x.Name, y.Name))
	})
	var (
		results []Result
		failed  []string
	)
	for _, m := range objs {
		if o.DryRun != DryRunClient {
			opts := metav1.DeleteOptions{}
			if o.DryRun == DryRunServer {
				opts.DryRun = []string{metav1.DryRunAll}
			}
			err := a.client.Resource(a.gvr(m.Group, m.Kind)).Namespace(m.Namespace).Delete(ctx, m.Name, opts)
			if err != nil && !apierrors.IsNotFound(err) {
				failed = append(failed, fmt.Sprintf("%s in namespace %s: %v", m.Ref(), m.Namespace, err))
				continue
			}
		}
		results = append(results, Result{Group: m.Group, Kind: m.Kind, Namespace: m.Namespace, Name: m.Name, Action: ActionDeleted, DryRun: o.DryRun})
	}
	for _, m := range kept {
		results = append(results, Result{Group: m.Group, Kind: m.Kind, Namespace: m.Namespace, Name: m.Name, Action: ActionKept, DryRun: o.DryRun})
	}
	if len(failed) > 0 {
		return results, fmt.Errorf("failed to delete %s", strings.Join(failed, "; "))
	}
	return results, nil
}
