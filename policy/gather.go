package policy

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// GatherOptions say where the control plane lives.
type GatherOptions struct {
	// IstioNamespace holds the mesh ConfigMaps (istio, istio-<revision>); "" is istio-system.
	IstioNamespace string
	// Gateway is the egress gateway Service as NAMESPACE/NAME, for NetworkPolicy checks; ""
	// skips them.
	Gateway string
}

// Gather reads from the cluster what the pods' policy depends on: the mesh ConfigMaps, the
// namespaces' labels, every Sidecar and ServiceEntry (the pods' namespaces and the root's when
// listing all is forbidden), and the pods' namespaces' NetworkPolicies. What cannot be read is a
// warning in the inputs, not a failure: the report says what it could not see.
func Gather(ctx context.Context, getter genericclioptions.RESTClientGetter, pods []inspect.PodReport, o GatherOptions) (Inputs, error) {
	in := Inputs{Pods: pods, MeshConfigs: map[string]MeshConfig{}, NamespaceLabels: map[string]map[string]string{}}
	config, err := getter.ToRESTConfig()
	if err != nil {
		return in, err
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return in, err
	}
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return in, err
	}
	istioNS := o.IstioNamespace
	if istioNS == "" {
		istioNS = "istio-system"
	}
	namespaces := map[string]bool{}
	for _, p := range pods {
		namespaces[p.Pod.Namespace] = true
	}
	for ns := range namespaces {
		n, err := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			in.Warnings = append(in.Warnings, fmt.Sprintf("cannot read namespace %s: %v (its istio.io/rev label is taken as unset)", ns, err))
			continue
		}
		in.NamespaceLabels[ns] = n.Labels
	}
	// The mesh ConfigMaps are read by name, one per revision the pods belong to, never listed:
	// the plugin reads no other ConfigMap (docs/rbac.yaml grants get only).
	for _, rev := range in.revisions() {
		name := meshConfigMapName(rev)
		cm, err := client.CoreV1().ConfigMaps(istioNS).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			continue
		case apierrors.IsForbidden(err):
			in.Warnings = append(in.Warnings, fmt.Sprintf("cannot read the mesh ConfigMap %s/%s (forbidden): the mesh config's mode is shown as Istio's default; bind kubectl-egress-mesh-config from docs/rbac.yaml", istioNS, name))
			continue
		case err != nil:
			return in, fmt.Errorf("failed to read the mesh ConfigMap %s/%s: %w", istioNS, name, err)
		}
		y, hasMesh := cm.Data["mesh"]
		if !hasMesh {
			continue
		}
		mc, err := ParseMeshConfig(rev, istioNS+"/"+cm.Name, y)
		if err != nil {
			in.Warnings = append(in.Warnings, err.Error())
			continue
		}
		in.MeshConfigs[rev] = mc
	}
	root := in.MeshConfigOf(DefaultRevision).RootNamespace
	scope := slices.Sorted(maps.Keys(namespaces))
	if !namespaces[root] {
		scope = append(scope, root)
	}

	if in.Sidecars, err = listIstio[networkingv1.Sidecar](ctx, dyn, "sidecars", scope, &in.Warnings); err != nil {
		return in, err
	}
	if in.ServiceEntries, err = listIstio[networkingv1.ServiceEntry](ctx, dyn, "serviceentries", scope, &in.Warnings); err != nil {
		return in, err
	}
	for _, ns := range slices.Sorted(maps.Keys(namespaces)) {
		nps, err := client.NetworkingV1().NetworkPolicies(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			in.Warnings = append(in.Warnings, fmt.Sprintf("cannot list NetworkPolicies in %s: %v", ns, err))
			continue
		}
		for i := range nps.Items {
			in.NetworkPolicies = append(in.NetworkPolicies, &nps.Items[i])
		}
	}
	if o.Gateway != "" {
		in.Gateway = gatewayPods(ctx, client, o.Gateway, &in.Warnings)
	}
	return in, nil
}

// istioVersions are the networking.istio.io versions tried, newest first (v1 from Istio 1.22).
var istioVersions = []string{"v1", "v1beta1"}

// listIstio lists an Istio kind in every namespace, else in scope's namespaces when listing all
// is forbidden, in the newest version the API server serves.
func listIstio[T any](ctx context.Context, dyn dynamic.Interface, resource string, scope []string, warnings *[]string) ([]*T, error) {
	var lastErr error
	for _, v := range istioVersions {
		res := dyn.Resource(schema.GroupVersionResource{Group: "networking.istio.io", Version: v, Resource: resource})
		list, err := res.List(ctx, metav1.ListOptions{})
		if apierrors.IsNotFound(err) {
			lastErr = err
			continue
		}
		var items []unstructured.Unstructured
		switch {
		case apierrors.IsForbidden(err):
			*warnings = append(*warnings, fmt.Sprintf("cannot list %s in every namespace (forbidden): only %v were read, so entries exported from elsewhere are not counted", resource, scope))
			for _, ns := range scope {
				l, err := res.Namespace(ns).List(ctx, metav1.ListOptions{})
				if err != nil {
					*warnings = append(*warnings, fmt.Sprintf("cannot list %s in %s: %v", resource, ns, err))
					continue
				}
				items = append(items, l.Items...)
			}
		case err != nil:
			return nil, fmt.Errorf("failed to list %s: %w", resource, err)
		default:
			items = list.Items
		}
		out := make([]*T, 0, len(items))
		for _, u := range items {
			obj := new(T)
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
				return nil, fmt.Errorf("failed to decode %s %s/%s: %w", resource, u.GetNamespace(), u.GetName(), err)
			}
			out = append(out, obj)
		}
		return out, nil
	}
	return nil, fmt.Errorf("no %s in this cluster (%v): are Istio's CRDs installed?", resource, lastErr)
}

// gatewayPods reads the egress gateway Service's selector and its namespace's labels.
func gatewayPods(ctx context.Context, client kubernetes.Interface, ref string, warnings *[]string) *GatewayPods {
	ns, name, ok := cutRef(ref)
	if !ok {
		*warnings = append(*warnings, fmt.Sprintf("invalid gateway %q: want NAMESPACE/NAME", ref))
		return nil
	}
	svc, err := client.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		*warnings = append(*warnings, fmt.Sprintf("cannot read egress gateway service %s: %v (NetworkPolicy checks treat gateway traffic as cut)", ref, err))
		return nil
	}
	g := &GatewayPods{Namespace: ns, PodLabels: svc.Spec.Selector}
	if n, err := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err == nil {
		g.NamespaceLabels = n.Labels
	}
	return g
}

func cutRef(ref string) (string, string, bool) {
	ns, name, ok := strings.Cut(ref, "/")
	return ns, name, ok && ns != "" && name != "" && !strings.Contains(name, "/")
}

// revisions are the control-plane revisions of the pods (their own label, or their namespace's),
// the default revision first.
func (in Inputs) revisions() []string {
	seen := map[string]bool{DefaultRevision: true}
	out := []string{DefaultRevision}
	for _, p := range in.Pods {
		if r := in.RevisionOf(p.Pod); !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

// meshConfigMapName is the ConfigMap that holds a revision's mesh config, the inverse of
// ConfigMapRevision.
func meshConfigMapName(revision string) string {
	if revision == DefaultRevision {
		return "istio"
	}
	return "istio-" + revision
}
