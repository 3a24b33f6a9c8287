package inspect

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
)

// ProxyContainer is the name Istio gives the sidecar container.
const ProxyContainer = "istio-proxy"

// Scope is which pods to read, in kubectl's terms: POD, TYPE/NAME, -l, -n or -A.
type Scope struct {
	Args          []string // POD, TYPE/NAME, or TYPE NAME...
	Namespace     string
	AllNamespaces bool
	Selector      string
}

// Skipped is a pod that matched the query but cannot be inspected, with the reason.
type Skipped struct {
	Pod    Pod    `json:"pod"`
	Reason string `json:"reason"`
}

// Targets are the pods to inspect, and the ones that matched but were skipped.
type Targets struct {
	Pods    []corev1.Pod
	Skipped []Skipped
}

// ResolveTargets turns the query into pods with a running sidecar, or in ambient mode (by their
// label or their namespace's). Workloads (deploy, sts, ds,
// rs, job) expand to their pods through their selector; with no args it lists pods.
func ResolveTargets(ctx context.Context, getter genericclioptions.RESTClientGetter, client kubernetes.Interface, q Scope) (Targets, error) {
	var pods []corev1.Pod
	var err error
	if direct(q) {
		pods, err = podsDirect(ctx, client, q)
	} else {
		pods, err = podsByBuilder(ctx, getter, client, q)
	}
	if err != nil {
		return Targets{}, err
	}
	sort.Slice(pods, func(i, j int) bool {
		if pods[i].Namespace != pods[j].Namespace {
			return pods[i].Namespace < pods[j].Namespace
		}
		return pods[i].Name < pods[j].Name
	})
	var t Targets
	ambient := &ambientNamespaces{client: client, seen: map[string]bool{}}
	for _, p := range pods {
		ambient.markAmbient(ctx, &p)
		if reason := skipReason(&p); reason != "" {
			t.Skipped = append(t.Skipped, Skipped{Pod: PodOf(&p), Reason: reason})
			continue
		}
		t.Pods = append(t.Pods, p)
	}
	if len(t.Pods) == 0 && len(t.Skipped) == 0 {
		return t, noPods(ctx, client, q)
	}
	return t, nil
}

// direct reports whether the scope names pods only (POD, or every pod of -n/-A/-l), which the
// client can ask for without the resource builder's discovery round trips.
func direct(q Scope) bool {
	return len(q.Args) == 0 || len(q.Args) == 1 && !strings.Contains(q.Args[0], "/") && q.Selector == "" && !q.AllNamespaces
}

func podsDirect(ctx context.Context, client kubernetes.Interface, q Scope) ([]corev1.Pod, error) {
	ns := q.Namespace
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	if len(q.Args) == 1 {
		p, err := client.CoreV1().Pods(ns).Get(ctx, q.Args[0], metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return []corev1.Pod{*p}, nil
	}
	if q.AllNamespaces {
		ns = metav1.NamespaceAll
	}
	list, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: q.Selector})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// podsByBuilder resolves workloads and TYPE/NAME arguments the way kubectl does.
func podsByBuilder(ctx context.Context, getter genericclioptions.RESTClientGetter, client kubernetes.Interface, q Scope) ([]corev1.Pod, error) {
	args := q.Args
	if len(args) == 1 && !strings.Contains(args[0], "/") {
		args = []string{"pods", args[0]} // `inspect POD`, as kubectl exec and logs take it
	}
	r := resource.NewBuilder(getter).
		WithScheme(scheme.Scheme, scheme.Scheme.PrioritizedVersionsAllGroups()...).
		NamespaceParam(q.Namespace).DefaultNamespace().AllNamespaces(q.AllNamespaces).
		LabelSelectorParam(q.Selector).
		ResourceTypeOrNameArgs(true, args...).
		ContinueOnError().Latest().Flatten().
		Do()
	if err := r.Err(); err != nil {
		return nil, err
	}
	infos, err := r.Infos()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var pods []corev1.Pod
	for _, info := range infos {
		found, err := podsOf(ctx, client, info.Object)
		if err != nil {
			return nil, fmt.Errorf("failed to list the pods of %s %s/%s: %w", info.Mapping.Resource.Resource, info.Namespace, info.Name, err)
		}
		for _, p := range found {
			if k := p.Namespace + "/" + p.Name; !seen[k] {
				seen[k] = true
				pods = append(pods, p)
			}
		}
	}
	return pods, nil
}

// noPods says that the scope matched no pod, and whether its namespace exists: `-n nosuchns`
// and an empty namespace look the same to a list.
func noPods(ctx context.Context, client kubernetes.Interface, q Scope) error {
	msg := "no pods found"
	if len(q.Args) > 0 {
		msg += " for " + strings.Join(q.Args, " ")
	}
	if q.Selector != "" {
		msg += " matching -l " + q.Selector
	}
	msg += q.Where()
	if q.AllNamespaces || q.Namespace == "" {
		return errors.New(msg)
	}
	_, err := client.CoreV1().Namespaces().Get(ctx, q.Namespace, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%s: namespace %s does not exist (kubectl get namespaces lists them)", msg, q.Namespace)
	case err == nil:
		return fmt.Errorf("%s: the namespace exists but has no such pods; check the names and -l, or pass -A", msg)
	}
	return errors.New(msg) // whether it exists is not ours to know (get namespaces forbidden)
}

// Where says where the scope looks, for messages: " in namespace shop", " in any namespace".
func (q Scope) Where() string {
	switch {
	case q.AllNamespaces:
		return " in any namespace"
	case q.Namespace != "":
		return " in namespace " + q.Namespace
	}
	return ""
}

// podsOf returns the pods an object stands for: itself, or a workload's pods by its selector.
func podsOf(ctx context.Context, client kubernetes.Interface, obj runtime.Object) ([]corev1.Pod, error) {
	if p, ok := obj.(*corev1.Pod); ok {
		return []corev1.Pod{*p}, nil
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	meta := &unstructured.Unstructured{Object: u}
	sel, found, err := unstructured.NestedMap(u, "spec", "selector")
	if err != nil || !found {
		return nil, fmt.Errorf("%s has no pod selector", meta.GetKind())
	}
	var ls metav1.LabelSelector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(sel, &ls); err != nil {
		return nil, err
	}
	selector, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		return nil, err
	}
	if selector.Empty() {
		selector = labels.Nothing()
	}
	list, err := client.CoreV1().Pods(meta.GetNamespace()).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// HasSidecar reports whether the pod runs Istio's proxy, as a container or as a native sidecar
// (an init container with restartPolicy Always, Istio 1.19+).
func HasSidecar(p *corev1.Pod) bool {
	for _, c := range p.Spec.Containers {
		if c.Name == ProxyContainer {
			return !isZtunnelContainer(c)
		}
	}
	for _, c := range p.Spec.InitContainers {
		if c.Name == ProxyContainer && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			return true
		}
	}
	return false
}

// isZtunnelContainer tells ztunnel, which Istio's chart also names istio-proxy: it runs
// `ztunnel proxy ztunnel` from a ztunnel image, and carries other pods' traffic, not its own.
func isZtunnelContainer(c corev1.Container) bool {
	return strings.Contains(c.Image, "/ztunnel:") || strings.Contains(c.Image, "/ztunnel@") ||
		len(c.Args) >= 2 && c.Args[0] == "proxy" && c.Args[1] == "ztunnel"
}

func skipReason(p *corev1.Pod) string {
	switch {
	case isZtunnelPod(p):
		return "a ztunnel: the ambient pods of its node are read through it"
	case !HasSidecar(p) && !IsAmbient(p):
		return "no istio-proxy sidecar"
	case p.DeletionTimestamp != nil:
		return "terminating"
	case p.Status.Phase != corev1.PodRunning:
		return fmt.Sprintf("not running (phase %s)", p.Status.Phase)
	}
	return ""
}

func isZtunnelPod(p *corev1.Pod) bool {
	for _, c := range p.Spec.Containers {
		if c.Name == ProxyContainer && isZtunnelContainer(c) {
			return true
		}
	}
	return false
}

// PodOf is the report's view of a pod: identity, owning workload, annotations and labels.
func PodOf(p *corev1.Pod) Pod {
	return Pod{Namespace: p.Namespace, Name: p.Name, Workload: workloadOf(p), Annotations: p.Annotations, Labels: p.Labels}
}

// workloadOf names the pod's controller the way kubectl would type it; a ReplicaSet owned by
// a Deployment is named after the Deployment (its pod-template-hash suffix stripped).
func workloadOf(p *corev1.Pod) string {
	for _, o := range p.OwnerReferences {
		if o.Controller == nil || !*o.Controller {
			continue
		}
		switch o.Kind {
		case "ReplicaSet":
			if h := p.Labels["pod-template-hash"]; h != "" && strings.HasSuffix(o.Name, "-"+h) {
				return "deploy/" + strings.TrimSuffix(o.Name, "-"+h)
			}
			return "rs/" + o.Name
		case "StatefulSet":
			return "sts/" + o.Name
		case "DaemonSet":
			return "ds/" + o.Name
		case "Job":
			return "job/" + o.Name
		default:
			return strings.ToLower(o.Kind) + "/" + o.Name
		}
	}
	return ""
}
