package inspect

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func testPod(ns, name, node string, labels map[string]string, containers ...corev1.Container) *corev1.Pod {
	if len(containers) == 0 {
		containers = []corev1.Container{{Name: "app", Image: "app:1"}}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec:       corev1.PodSpec{NodeName: node, Containers: containers},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1"},
	}
}

var (
	sidecarContainer = corev1.Container{Name: ProxyContainer, Image: "docker.io/istio/proxyv2:1.31.1"}
	// ztunnel as Istio's ztunnel chart runs it: container istio-proxy, args proxy ztunnel.
	ztunnelChartContainer = corev1.Container{Name: ProxyContainer, Image: "docker.io/istio/ztunnel:1.31.1", Args: []string{"proxy", "ztunnel"}}
)

// Pods without a sidecar are read when their label, or their namespace's, says ambient;
// ztunnel pods are skipped.
func TestResolveTargetsAmbient(t *testing.T) {
	client := fake.NewClientset(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{DataplaneModeLabel: "ambient"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "plain"}},
		testPod("shop", "web", "n1", nil, corev1.Container{Name: "app"}, sidecarContainer),
		testPod("shop", "cart", "n1", nil),
		testPod("shop", "batch", "n1", map[string]string{DataplaneModeLabel: "none"}),
		testPod("plain", "job", "n1", map[string]string{DataplaneModeLabel: "ambient"}),
		testPod("plain", "tool", "n1", nil),
		testPod("istio-system", "ztunnel-abc", "n1", map[string]string{"app": "ztunnel", DataplaneModeLabel: "none"}, ztunnelChartContainer),
	)
	tg, err := ResolveTargets(context.Background(), nil, client, Scope{AllNamespaces: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range tg.Pods {
		got = append(got, p.Namespace+"/"+p.Name+" ambient="+map[bool]string{true: "yes", false: "no"}[IsAmbient(&p)])
	}
	want := []string{"plain/job ambient=yes", "shop/cart ambient=yes", "shop/web ambient=no"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
	skipped := map[string]string{}
	for _, s := range tg.Skipped {
		skipped[s.Pod.Key()] = s.Reason
	}
	wantSkipped := map[string]string{
		"istio-system/ztunnel-abc": "a ztunnel: the ambient pods of its node are read through it",
		"plain/tool":               "no istio-proxy sidecar",
		"shop/batch":               "no istio-proxy sidecar",
	}
	if diff := cmp.Diff(wantSkipped, skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
}

// The ztunnel read for an ambient pod is the running one on its node; with none there, the
// error names the node and the label looked for.
func TestZtunnelOf(t *testing.T) {
	cart := testPod("shop", "cart", "n2", map[string]string{DataplaneModeLabel: "ambient"})
	stopped := testPod("istio-system", "ztunnel-old", "n2", map[string]string{"app": "ztunnel"}, ztunnelChartContainer)
	stopped.Status.Phase = corev1.PodFailed
	f := &Fetcher{Client: fake.NewClientset(
		testPod("istio-system", "ztunnel-n1", "n1", map[string]string{"app": "ztunnel"}, ztunnelChartContainer),
		stopped,
		testPod("istio-system", "ztunnel-n2", "n2", map[string]string{"app": "ztunnel"}, ztunnelChartContainer),
	)}
	z, err := f.ztunnelOf(context.Background(), cart)
	if err != nil || z.Name != "ztunnel-n2" {
		t.Fatalf("ztunnel of a pod on n2: %v, %v", z, err)
	}
	_, err = f.ztunnelOf(context.Background(), testPod("shop", "cart-2", "n3", nil))
	if err == nil || !strings.Contains(err.Error(), "pod shop/cart-2 is in ambient mode but no running ztunnel pod (label app=ztunnel) is on its node n3") {
		t.Errorf("no ztunnel on the node: %v", err)
	}
}
