//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-egress/kubectl-egress/e2e/sidecar"
	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// setMeshOutboundMode rewrites the mesh config's outboundTrafficPolicy mode (istiod watches the
// ConfigMap and pushes every proxy) and puts the mesh config back, whole, when the test ends: the
// rest of it (extension providers, defaults) is other tests' too.
func setMeshOutboundMode(t *testing.T, mode string) {
	t.Helper()
	before := kubectl(t, "", "get", "configmap", "istio", "-n", "istio-system", "-o", "jsonpath={.data.mesh}")
	if strings.Count(before, "mode: ALLOW_ANY\n") != 1 {
		t.Fatalf("the mesh config is not the one this test rewrites:\n%s", before)
	}
	patch := func(mesh string) {
		b, err := json.Marshal(map[string]any{"data": map[string]string{"mesh": mesh}})
		if err != nil {
			t.Fatal(err)
		}
		kubectl(t, "", "patch", "configmap", "istio", "-n", "istio-system", "--type=merge", "-p", string(b))
	}
	patch(strings.Replace(before, "mode: ALLOW_ANY\n", "mode: "+mode+"\n", 1))
	t.Cleanup(func() {
		patch(before)
		eventually(t, 30*time.Second, "demo-passthrough back in ALLOW_ANY", func() error {
			if m := proxyMode(t, "demo-passthrough", "shop"); m != inspect.ModeAllowAny {
				return fmt.Errorf("mode %s", m)
			}
			return nil
		})
	})
}

// Under ALLOW_ANY_DYNAMIC_DNS plain HTTP to an unregistered host leaves through Istio's dynamic
// forward proxy (AllowAnyDynamicDNSCluster), and TLS through PassthroughCluster: the first is its
// own disposition, named and still advised to register; policy counts it as would-break.
func TestDynamicDNSDisposition(t *testing.T) {
	const ns = "dyn-dns"
	_, sc := startApp(t, ns, "app", "", []sidecar.Call{
		{Host: "edition.cnn.com", IP: "203.0.113.20", Port: 80, Scheme: "http", Count: 2},
		{Host: "httpbin.org", IP: "203.0.113.10", Port: 443, Scheme: "https", Count: 1},
	})
	setMeshOutboundMode(t, inspect.ModeAllowAnyDynamicDNS)
	eventually(t, 30*time.Second, "ALLOW_ANY_DYNAMIC_DNS on the proxy", func() error {
		if m := proxyMode(t, ns, "app"); m != inspect.ModeAllowAnyDynamicDNS {
			return fmt.Errorf("mode %s", m)
		}
		return nil
	})
	dispositionAfterReplay(t, ns, sc, "edition.cnn.com", 80, inspect.DispositionDynamicDNS)
	dispositionAfterReplay(t, ns, sc, "httpbin.org", 443, inspect.DispositionPassthrough)

	r := inspectJSON(t, "-n", ns, "--since", "5s")
	i := slices.IndexFunc(r.Destinations, func(d inspect.Destination) bool {
		return d.Host == "edition.cnn.com" && d.Disposition == inspect.DispositionDynamicDNS
	})
	if i < 0 {
		t.Fatalf("no dynamic-dns destination: %+v", r.Destinations)
	}
	if d := r.Destinations[i]; d.Cluster != "AllowAnyDynamicDNSCluster" || d.Recommendation.Fix != inspect.FixRegister {
		t.Errorf("edition.cnn.com: cluster %s, fix %s", d.Cluster, d.Recommendation.Fix)
	}
	w := workloadPolicy(t, policyJSON(t, "-n", ns), ns, "deploy/app")
	if w.Proxy != inspect.ModeAllowAnyDynamicDNS || !slices.Contains(wouldBreak(w), "edition.cnn.com:80") {
		t.Errorf("policy: proxy %s, would break %v", w.Proxy, wouldBreak(w))
	}

	mustEgress(t, "register", "edition.cnn.com", "-n", ns, "--yes")
	dispositionAfterReplay(t, ns, sc, "edition.cnn.com", 80, inspect.DispositionRegistered)
}
