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
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

var (
	servicesGVR       = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	podsGVR           = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	namespacesGVR     = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	gatewayClassesGVR = schema.GroupVersionResource{Group: GatewayAPIGroup, Version: "v1", Resource: "gatewayclasses"}
)

// Applier does the I/O of a fix against one API server: reads what exists, previews, applies
// all or nothing, lists and undoes. It takes the dynamic client and discovery of a real
// cluster as they are, or fakes of them.
type Applier struct {
	client     dynamic.Interface
	apiVersion string
	gatewayAPI GatewayAPI
}

// Connect asks the API server which networking.istio.io version it serves, and what of the
// Gateway API, and returns the Applier for it; it fails with ErrIstioCRDsAbsent when Istio is
// not installed.
func Connect(client dynamic.Interface, d discovery.DiscoveryInterface) (*Applier, error) {
	v, err := DiscoverNetworking(d)
	if err != nil {
		return nil, err
	}
	g, err := DiscoverGatewayAPI(d)
	if err != nil {
		return nil, err
	}
	return &Applier{client: client, apiVersion: v, gatewayAPI: g}, nil
}

// APIVersion is the networking.istio.io version to plan with (Target.APIVersion).
func (a *Applier) APIVersion() string { return a.apiVersion }

// GatewayAPI is what the cluster serves of the Gateway API.
func (a *Applier) GatewayAPI() GatewayAPI { return a.gatewayAPI }

// Existing reads what the guards compare a plan with: ServiceEntries and Services of every
// namespace (only namespace's when listing all is forbidden, with a warning), and the
// DestinationRules, VirtualServices and Gateways of namespace.
func (a *Applier) Existing(ctx context.Context, namespace string) (Existing, error) {
	var ex Existing
	ses, warn, err := a.listWide(ctx, a.gvr(NetworkingGroup, "ServiceEntry"), namespace)
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
		list, err := a.client.Resource(a.gvr("", kind)).Namespace(namespace).List(ctx, metav1.ListOptions{})
		if kind == "Telemetry" && apierrors.IsNotFound(err) {
			continue // telemetry.istio.io/v1 is served from Istio 1.22
		}
		if err != nil {
			return ex, fmt.Errorf("failed to list %s in namespace %s: %w", a.gvr("", kind).Resource, namespace, err)
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
	return ex, a.existingGatewayAPI(ctx, namespace, &ex)
}

// existingGatewayAPI reads the GatewayClasses and the namespace's Gateways and routes of the
// Gateway API, as far as the cluster serves them.
func (a *Applier) existingGatewayAPI(ctx context.Context, namespace string, ex *Existing) error {
	ex.GatewayAPI = a.gatewayAPI
	if !a.gatewayAPI.Served() {
		return nil
	}
	// Forbidden is not fatal: every fix reads these, and only the Gateway API form needs them
	// (GatewayClasses are cluster-scoped, out of reach of a RoleBinding).
	classes, err := a.client.Resource(gatewayClassesGVR).List(ctx, metav1.ListOptions{})
	switch {
	case apierrors.IsForbidden(err):
		ex.GatewayAPIUnread = append(ex.GatewayAPIUnread, gatewayClassesGVR.Resource)
	case err != nil:
		return fmt.Errorf("failed to list gatewayclasses: %w", err)
	default:
		if ex.GatewayClasses, err = decodeAll[gatewayv1.GatewayClass](classes.Items); err != nil {
			return err
		}
	}
	for _, kind := range []string{"Gateway", "HTTPRoute", "TLSRoute"} {
		if !a.gatewayAPI.serves(kind) {
			continue
		}
		gvr := a.gvr(GatewayAPIGroup, kind)
		list, err := a.client.Resource(gvr).Namespace(namespace).List(ctx, metav1.ListOptions{})
		if apierrors.IsForbidden(err) {
			ex.GatewayAPIUnread = append(ex.GatewayAPIUnread, gvr.Resource)
			continue
		}
		if err != nil {
			return fmt.Errorf("failed to list %s.%s in namespace %s: %w", gvr.Resource, gvr.Group, namespace, err)
		}
		switch kind {
		case "Gateway":
			ex.KubeGateways, err = decodeAll[gatewayv1.Gateway](list.Items)
		case "HTTPRoute":
			ex.HTTPRoutes, err = decodeAll[gatewayv1.HTTPRoute](list.Items)
		case "TLSRoute":
			ex.TLSRoutes, err = decodeAll[gatewayv1.TLSRoute](list.Items)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// gvr is where the applier reads and writes kind of group ("" as for infoOf).
func (a *Applier) gvr(group, kind string) schema.GroupVersionResource {
	k, _ := infoOf(group, kind)
	gvr, _ := gvrFor(k.apiVersion(a.apiVersion), k.Kind)
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

// HasEgressGateway tells whether the classic egress gateway's Service namespace/name exists.
func (a *Applier) HasEgressGateway(ctx context.Context, namespace, name string) (bool, error) {
	_, err := a.client.Resource(servicesGVR).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("failed to read egress gateway service %s/%s: %w", namespace, name, err)
	}
	return true, nil
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
	if o.DryRun == DryRunNone {
		if err := a.dryRunSchema(ctx, objs, o.Force); err != nil {
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
			return nil, a.rollback(ctx, done, fmt.Errorf("failed to read %s in namespace %s: %w", refOf(u), u.GetNamespace(), err))
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
				err = fmt.Errorf("failed to apply %s in namespace %s: %w", refOf(u), u.GetNamespace(), explainApplyError(err))
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
			Group: gvr.Group, Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName(),
			Action: action(previous, after, o.DryRun == DryRunClient), DryRun: o.DryRun,
		})
	}
	return results, nil
}

// dryRunSchema sends the objects Istio's validation does not judge (the Gateway API's, the
// NetworkPolicy) as a server-side dry run before anything is written: their CRD schema and CEL
// rules are only known to the API server, and a refusal there must not leave half a fix.
func (a *Applier) dryRunSchema(ctx context.Context, objs []*unstructured.Unstructured, force bool) error {
	for _, u := range objs {
		if k, ok := infoOf(u.GroupVersionKind().Group, u.GetKind()); !ok || k.istio() {
			continue
		}
		gvr, err := gvrFor(u.GetAPIVersion(), u.GetKind())
		if err != nil {
			return err
		}
		_, err = a.client.Resource(gvr).Namespace(u.GetNamespace()).Apply(ctx, u.GetName(), u,
			metav1.ApplyOptions{FieldManager: FieldManager, Force: force, DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return fmt.Errorf("the API server rejects %s in namespace %s: %w; nothing was changed", refOf(u), u.GetNamespace(), explainApplyError(err))
		}
	}
	return nil
}

// checkServed refuses a plan written for a newer networking.istio.io version than the cluster
// serves, which the API server would answer with a bare "not found".
func (a *Applier) checkServed(p *Plan) error {
	rank := map[string]int{NetworkingV1alpha3: 1, NetworkingV1beta1: 2, NetworkingV1: 3}
	if rank[p.APIVersion] > rank[a.apiVersion] {
		return fmt.Errorf("the plan for %s is written as %s but this cluster serves %s at most (Istio older than 1.22): "+
			"plan with Target.APIVersion set to the cluster's version", p.Host, p.APIVersion, a.apiVersion)
	}
	for _, obj := range p.Objects {
		if k := kindOf(obj); k.Group == GatewayAPIGroup && !a.gatewayAPI.serves(k.Kind) {
			return fmt.Errorf("the plan for %s writes a %s, which this cluster does not serve as %s: install the Gateway API CRDs, or use --api istio",
				p.Host, k.Kind, GatewayAPIVersion)
		}
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

// NamespaceLabels reads a namespace's labels (its ambient enrolment and waypoint).
func (a *Applier) NamespaceLabels(ctx context.Context, namespace string) (map[string]string, error) {
	u, err := a.client.Resource(namespacesGVR).Get(ctx, namespace, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("failed to read namespace %s: %w", namespace, err)
	}
	return u.GetLabels(), nil
}

// KubeGateway reads a Gateway API Gateway; nil when it does not exist.
func (a *Applier) KubeGateway(ctx context.Context, namespace, name string) (*gatewayv1.Gateway, error) {
	if !a.gatewayAPI.Gateways {
		return nil, nil
	}
	u, err := a.client.Resource(a.gvr(GatewayAPIGroup, "Gateway")).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read Gateway %s/%s: %w", namespace, name, err)
	}
	gws, err := decodeAll[gatewayv1.Gateway]([]unstructured.Unstructured{*u})
	if err != nil {
		return nil, err
	}
	return gws[0], nil
}
