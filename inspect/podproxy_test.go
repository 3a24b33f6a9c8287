package inspect

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// --via-pods-proxy asks the API server for each admin path under the pod's proxy subresource,
// query and all, and the report is read from what it answers.
func TestFetchThroughPodsProxy(t *testing.T) {
	dump, err := os.ReadFile("../fixtures/samples/istio-sidecar-config_dump-with-eds.json")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var asked []string
	const prefix = "/api/v1/namespaces/demo/pods/shop-1:15000/proxy/"
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.RequestURI())
		mu.Unlock()
		path, ok := strings.CutPrefix(r.URL.Path, prefix)
		switch {
		case !ok:
			http.Error(w, "not the pod's proxy", http.StatusNotFound)
		case path == "config_dump" && r.URL.Query().Get("resource") == "dynamic_active_clusters":
			_, _ = w.Write(dump)
		default:
			_, _ = w.Write([]byte("{}"))
		}
	}))
	defer srv.Close()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "shop-1"}}
	f := &Fetcher{Client: fake.NewClientset(pod), AdminPort: DefaultAdminPort, Caps: DefaultCaps,
		PodProxy: &PodProxy{Host: srv.URL + "/", Client: srv.Client()}}
	src, finish := f.Fetch(context.Background(), pod)
	defer func() { _ = finish() }()
	whole := append(slices.Clone(firstReads), wholeReads...)
	if len(asked) != len(whole) {
		t.Errorf("asked %d paths, want %d: %v", len(asked), len(whole), asked)
	}
	for _, r := range whole {
		want := prefix + r.path
		found := false
		for _, a := range asked {
			found = found || a == want
		}
		if !found {
			t.Errorf("never asked %s (asked %v)", want, asked)
		}
	}
	rep, err := Inspect(src, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Endpoints) == 0 {
		t.Errorf("no endpoint read through the proxy; errors %v", rep.Errors)
	}
}
