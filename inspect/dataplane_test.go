package inspect

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

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
	z, err := f.ztunnelOf(context.Background(), cart.Spec.NodeName)
	if err != nil || z.Name != "ztunnel-n2" {
		t.Fatalf("ztunnel of a pod on n2: %v, %v", z, err)
	}
	_, err = f.ztunnelOf(context.Background(), "n3")
	if err == nil || !strings.Contains(err.Error(), "no running ztunnel pod (label app=ztunnel) is on its node n3") {
		t.Errorf("no ztunnel on the node: %v", err)
	}
}

// The ambient pods of one node read that node's ztunnel once: one config dump and one metrics
// read for all of them, each pod still getting the whole of both.
func TestZtunnelReadOncePerNode(t *testing.T) {
	var mu sync.Mutex
	reads := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reads[r.URL.Path]++
		mu.Unlock()
		if r.URL.Path == "/config_dump" {
			fmt.Fprint(w, `{"workloads":[],"services":[]}`)
			return
		}
		fmt.Fprint(w, "istio_build{component=\"ztunnel\",tag=\"1.31.1\"} 1\n")
	}))
	defer srv.Close()
	ambient := map[string]string{DataplaneModeLabel: "ambient"}
	a, b, other := testPod("shop", "cart-a", "n1", ambient), testPod("shop", "cart-b", "n1", ambient), testPod("shop", "cart-c", "n2", ambient)
	a.Status.PodIP, b.Status.PodIP, other.Status.PodIP = "10.0.0.11", "10.0.0.12", "10.0.1.13"
	client := fake.NewClientset(a, b, other,
		testPod("istio-system", "ztunnel-n1", "n1", map[string]string{"app": "ztunnel"}, ztunnelChartContainer),
		testPod("istio-system", "ztunnel-n2", "n2", map[string]string{"app": "ztunnel"}, ztunnelChartContainer))
	f := &Fetcher{Forwarder: &directForwarder{addr: strings.TrimPrefix(srv.URL, "http://")}, Client: client, AdminPort: DefaultAdminPort, Caps: DefaultCaps}
	reports := InspectPods(context.Background(), f, []corev1.Pod{*a, *b, *other}, 3, time.Now(), nil)
	if reads["/config_dump"] != 2 || reads["/stats/prometheus"] != 2 {
		t.Errorf("reads %v: want one config dump and one metrics read per node (2 nodes)", reads)
	}
	var charged int
	for _, r := range reports {
		if r.Facts.Ztunnel == "" {
			t.Errorf("%s: no ztunnel named: %+v", r.Pod.Key(), r.Facts)
		}
		if r.Facts.BytesRead > 0 {
			charged++
		}
	}
	if charged != 2 {
		t.Errorf("%d pods were charged bytes read: want one per node", charged)
	}
}

// Of a node's ztunnel log, a run keeps the lines whose source is one of its pods.
func TestZtunnelLinesOfPods(t *testing.T) {
	log := "2026-12-01T10:00:00Z\tinfo\taccess\tconnection complete\tsrc.addr=10.0.0.11:4100 dst.addr=203.0.113.1:443\n" +
		"2026-12-01T10:00:01Z\tinfo\taccess\tconnection complete\tsrc.addr=10.0.0.99:4101 dst.addr=203.0.113.1:443\n" +
		"2026-12-01T10:00:02Z\tinfo\txds\treceived response\n" +
		"2026-12-01T10:00:03Z\tinfo\taccess\tconnection complete\tsrc.addr=10.0.0.12:4102\tdst.addr=203.0.113.2:80\n"
	got, err := linesFrom(strings.NewReader(log), map[string]bool{"10.0.0.11": true, "10.0.0.12": true})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(got)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "10.0.0.11:4100") || !strings.Contains(lines[1], "10.0.0.12:4102") {
		t.Errorf("kept lines:\n%s", got)
	}
}
