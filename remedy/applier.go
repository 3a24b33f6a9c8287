package remedy

import (
	"context"
	"encoding/json"
	"fmt"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	telemetryv1 "istio.io/client-go/pkg/apis/telemetry/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
)

var (
	servicesGVR = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	podsGVR     = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
)

// Applier does the I/O of a fix against one API server: reads what exists, previews, applies
// all or nothing, lists and undoes. It takes the dynamic client and discovery of a real
// cluster as they are, or fakes of them.
type Applier struct {
	client     dynamic.Interface
	apiVersion string
}

// Connect asks the API server which networking.istio.io version it serves and returns the
// Applier for it; it fails with ErrIstioCRDsAbsent when Istio is not installed.
func Connect(client dynamic.Interface, d discovery.DiscoveryInterface) (*Applier, error) {
	v, err := DiscoverNetworking(d)
	if err != nil {
		return nil, err
	}
	return &Applier{client: client, apiVersion: v}, nil
}

// APIVersion is the networking.istio.io version to plan with (Target.APIVersion).
func (a *Applier) APIVersion() string { return a.apiVersion }

// Existing reads what the guards compare a plan with: ServiceEntries and Services of every
// namespace (only namespace's when listing all is forbidden, with a warning), and the
// DestinationRules, VirtualServices and Gateways of namespace.
func (a *Applier) Existing(ctx context.Context, namespace string) (Existing, error) {
	var ex Existing
	ses, warn, err := a.listWide(ctx, a.gvr("ServiceEntry"), namespace)
	if err != nil {
		return ex, err
	}
	if warn != "" {
		ex.Warnings = append(ex.Warnings, warn)
	}
	if ex.ServiceEntries, err = decodeAll[networkingv1.ServiceEntry](ses); err != nil {
		return ex, err
	}
	svcs, warn, err := a.listWide(ctx, servicesGVR, namespace)
	if err != nil {
		return ex, err
	}
	if warn != "" {
		ex.Warnings = append(ex.Warnings, warn)
	}
	if ex.Services, err = decodeAll[corev1.Service](svcs); err != nil {
		return ex, err
	}
	for _, kind := range []string{"DestinationRule", "VirtualService", "Gateway", "Sidecar", "Telemetry"} {
		list, err := a.client.Resource(a.gvr(kind)).Namespace(namespace).List(ctx, metav1.ListOptions{})
		if kind == "Telemetry" && apierrors.IsNotFound(err) {
			continue // telemetry.istio.io/v1 is served from Istio 1.22
		}
		if err != nil {
			return ex, fmt.Errorf("failed to list %s in namespace %s: %w", a.gvr(kind).Resource, namespace, err)
		}
		switch kind {
		case "DestinationRule":
			ex.DestinationRules, err = decodeAll[networkingv1.DestinationRule](list.Items)
		case "VirtualService":
			ex.VirtualServices, err = decodeAll[networkingv1.VirtualService](list.Items)
		case "Gateway":
			ex.Gateways, err = decodeAll[networkingv1.Gateway](list.Items)
		case "Sidecar":
			ex.Sidecars, err = decodeAll[networkingv1.Sidecar](list.Items)
		case "Telemetry":
			ex.Telemetries, err = decodeAll[telemetryv1.Telemetry](list.Items)
		}
		if err != nil {
			return ex, err
		}
	}
	return ex, nil
}

func (a *Applier) gvr(kind string) schema.GroupVersionResource {
	gvr, _ := gvrFor(apiVersionOf(kind, a.apiVersion), kind)
	return gvr
}

// listWide lists gvr in every namespace, falling back to namespace when that is forbidden.
func (a *Applier) listWide(ctx context.Context, gvr schema.GroupVersionResource, namespace string) ([]unstructured.Unstructured, string, error) {
	list, err := a.client.Resource(gvr).List(ctx, metav1.ListOptions{})
	if err == nil {
		return list.Items, "", nil
	}
	if !apierrors.IsForbidden(err) {
		return nil, "", fmt.Errorf("failed to list %s: %w", gvr.Resource, err)
	}
	list, err = a.client.Resource(gvr).Namespace(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, "", fmt.Errorf("failed to list %s in namespace %s: %w", gvr.Resource, namespace, err)
	}
	return list.Items, fmt.Sprintf("cannot list %s in all namespaces (forbidden): conflicts with other namespaces' %s are not checked",
		gvr.Resource, gvr.Resource), nil
}

// decodeAll converts unstructured objects to typed ones through JSON, the encoding the Istio
// spec types define for themselves.
func decodeAll[T any](items []unstructured.Unstructured) ([]*T, error) {
	out := make([]*T, 0, len(items))
	for i := range items {
		raw, err := json.Marshal(items[i].Object)
		if err != nil {
			return nil, err
		}
		obj := new(T)
		if err := json.Unmarshal(raw, obj); err != nil {
			return nil, fmt.Errorf("failed to decode %s %s/%s: %w", items[i].GetKind(), items[i].GetNamespace(), items[i].GetName(), err)
		}
		out = append(out, obj)
	}
	return out, nil
}

// EgressGateway reads the egress gateway's Service namespace/name and the labels of the pods of
// its namespace, for PlanEgressGateway.
func (a *Applier) EgressGateway(ctx context.Context, namespace, name string) (EgressGateway, error) {
	u, err := a.client.Resource(servicesGVR).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return EgressGateway{}, fmt.Errorf("egress gateway service %s/%s not found: install an egress gateway, or name its Service", namespace, name)
	}
	if err != nil {
		return EgressGateway{}, fmt.Errorf("failed to read egress gateway service %s/%s: %w", namespace, name, err)
	}
	var svc corev1.Service
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &svc); err != nil {
		return EgressGateway{}, fmt.Errorf("failed to decode service %s/%s: %w", namespace, name, err)
	}
	g := EgressGateway{Namespace: namespace, Name: name, Selector: svc.Spec.Selector}
	for _, p := range svc.Spec.Ports {
		g.ServicePorts = append(g.ServicePorts, uint32(p.Port))
	}
	pods, err := a.client.Resource(podsGVR).Namespace(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return EgressGateway{}, fmt.Errorf("failed to list pods in %s to check the egress gateway's selector: %w", namespace, err)
	}
	for _, p := range pods.Items {
		g.PodLabels = append(g.PodLabels, p.GetLabels())
	}
	return g, nil
}

// ApplyOptions are kubectl's --dry-run and --force for a fix.
type ApplyOptions struct {
	DryRun DryRun
	// Force takes over fields other managers own (server-side apply force conflicts).
	Force bool
}

// applied is one object written during Apply, with what it was before, for rollback.
type applied struct {
	gvr      schema.GroupVersionResource
	obj      *unstructured.Unstructured
	previous *unstructured.Unstructured
	// inFlight is an object whose apply an interrupt cut: it may or may not have landed.
	inFlight bool
}

// Apply sends one plan: ApplyAll with that plan alone.
func (a *Applier) Apply(ctx context.Context, p *Plan, o ApplyOptions) ([]Result, error) {
	return a.ApplyAll(ctx, []*Plan{p}, o)
}

// ApplyAll sends the objects of every plan by server-side apply with field manager
// kubectl-egress, in order. It is all or nothing across the plans: when one object fails, every
// object written before it is deleted (or restored to what it was) and the error says what was
// rolled back. Every object is validated before anything is sent. An interrupt (ctx cancelled:
// Ctrl-C, SIGTERM) between or during objects rolls back the same way, and says so.
func (a *Applier) ApplyAll(ctx context.Context, plans []*Plan, o ApplyOptions) ([]Result, error) {
	if o.DryRun == "" {
		o.DryRun = DryRunNone
	}
	var objs []*unstructured.Unstructured
	for _, p := range plans {
		if err := a.checkServed(p); err != nil {
			return nil, err
		}
		us, err := p.Unstructured()
		if err != nil {
			return nil, err
		}
		objs = append(objs, us...)
	}
	for _, u := range objs {
		if _, err := Validate(u); err != nil {
			return nil, err
		}
	}
	var (
		results []Result
		done    []applied
	)
	for _, u := range objs {
		gvr, err := gvrFor(u.GetAPIVersion(), u.GetKind())
		if err != nil {
			return nil, a.rollback(ctx, done, err)
		}
		if ctx.Err() != nil {
			return nil, a.rollback(ctx, done, interrupted("before applying", u))
		}
		res := a.client.Resource(gvr).Namespace(u.GetNamespace())
		previous, err := res.Get(ctx, u.GetName(), metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			previous = nil
		case err != nil && ctx.Err() != nil:
			return nil, a.rollback(ctx, done, interrupted("before applying", u))
		case err != nil:
			return nil, a.rollback(ctx, done, fmt.Errorf("failed to read %s in namespace %s: %w", Ref(u.GetKind(), u.GetName()), u.GetNamespace(), err))
		}
		var after *unstructured.Unstructured
		if o.DryRun == DryRunClient {
			after = u
		} else {
			opts := metav1.ApplyOptions{FieldManager: FieldManager, Force: o.Force}
			if o.DryRun == DryRunServer {
				opts.DryRun = []string{metav1.DryRunAll}
			}
			after, err = res.Apply(ctx, u.GetName(), u, opts)
			if err != nil && ctx.Err() != nil && o.DryRun == DryRunNone {
				// The request may have reached the server before the interrupt: undo it too.
				done = append(done, applied{gvr: gvr, obj: u, previous: previous, inFlight: true})
				return nil, a.rollback(ctx, done, interrupted("while applying", u))
			}
			if err != nil {
				err = fmt.Errorf("failed to apply %s in namespace %s: %w", Ref(u.GetKind(), u.GetName()), u.GetNamespace(), explainApplyError(err))
				if o.DryRun == DryRunNone {
					return nil, a.rollback(ctx, done, err)
				}
				return nil, err
			}
			if o.DryRun == DryRunNone {
				done = append(done, applied{gvr: gvr, obj: u, previous: previous})
			}
		}
		results = append(results, Result{
			Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName(),
			Action: action(previous, after, o.DryRun == DryRunClient), DryRun: o.DryRun,
		})
	}
	return results, nil
}

// checkServed refuses a plan written for a newer networking.istio.io version than the cluster
// serves, which the API server would answer with a bare "not found".
func (a *Applier) checkServed(p *Plan) error {
	rank := map[string]int{NetworkingV1alpha3: 1, NetworkingV1beta1: 2, NetworkingV1: 3}
	if rank[p.APIVersion] > rank[a.apiVersion] {
		return fmt.Errorf("the plan for %s is written as %s but this cluster serves %s at most (Istio older than 1.22): "+
			"plan with Target.APIVersion set to the cluster's version", p.Host, p.APIVersion, a.apiVersion)
	}
	return nil
}

// explainApplyError adds the way out to a server-side apply conflict.
func explainApplyError(err error) error {
	if apierrors.IsConflict(err) {
		return fmt.Errorf("%w; another field manager owns these fields: pass --force to take them over", err)
	}
	return err
}

// action is kubectl's word for going from previous to after.
func action(previous, after *unstructured.Unstructured, clientSide bool) string {
	if previous == nil {
		return ActionCreated
	}
	if clientSide {
		// Nothing was sent: compare what the plan sets with what is there.
		if equality.Semantic.DeepEqual(previous.Object["spec"], after.Object["spec"]) &&
			subset(after.GetLabels(), previous.GetLabels()) && subset(after.GetAnnotations(), previous.GetAnnotations()) {
			return ActionUnchanged
		}
		return ActionConfigured
	}
	if equality.Semantic.DeepEqual(stripServerFields(previous).Object, stripServerFields(after).Object) {
		return ActionUnchanged
	}
	return ActionConfigured
}

func subset(small, big map[string]string) bool {
	for k, v := range small {
		if big[k] != v {
			return false
		}
	}
	return true
}

// stripServerFields strips what the server changes on every write or keeps for itself, leaving what a
// user would compare: metadata names, labels, annotations, and spec.
func stripServerFields(u *unstructured.Unstructured) *unstructured.Unstructured {
	c := u.DeepCopy()
	delete(c.Object, "status")
	for _, f := range []string{"managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink"} {
		unstructured.RemoveNestedField(c.Object, "metadata", f)
	}
	if len(c.GetAnnotations()) == 0 {
		unstructured.RemoveNestedField(c.Object, "metadata", "annotations")
	}
	return c
}
