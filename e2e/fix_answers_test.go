//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-egress/kubectl-egress/e2e/sidecar"
	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// A host seen only by IP: register writes 198-51-100-7.ip.external with the IP as its address,
// istiod binds a listener on that address to the new cluster, and both inspect and verify find
// the fix under the IP the user typed (they used to look for the IP and never see the cluster).
func TestRegisterIPOnlyHostVerifies(t *testing.T) {
	const ns, ip = "fix-ip", "198.51.100.7"
	_, sc := startApp(t, ns, "app", "", []sidecar.Call{{Host: "api.partner.example", IP: ip, Port: 8443, Scheme: "https", Count: 2}})
	dispositionAfterReplay(t, ns, sc, ip, 8443, inspect.DispositionPassthrough)

	out, _ := mustEgress(t, "register", ip, "-n", ns, "--yes")
	wantLines(t, "register "+ip, out, "serviceentry.networking.istio.io/egress-198-51-100-7 created")
	// Before any call uses it, the new cluster is named by nothing the proxy counted (its metrics
	// name the IP only): read as far as the traffic used the configuration, as on a proxy of
	// thousands of clusters, verify still reads the cluster of the host it checks.
	eventually(t, 30*time.Second, "verify --config-scope traffic finds the new cluster", func() error {
		v, _, _ := verifyJSON(t, ip, "-n", ns, "--config-scope", "traffic")
		if got := checkStatus(v, inspect.CheckCluster); got != inspect.CheckPass {
			return fmt.Errorf("cluster check %s: %s", got, missingText(v))
		}
		return nil
	})
	dispositionAfterReplay(t, ns, sc, ip, 8443, inspect.DispositionRegistered)

	// One host, two dispositions: the calls before the fix and the cluster they use now.
	r := inspectJSON(t, "-n", ns)
	var rows []string
	for _, d := range r.Destinations {
		if d.Port == 8443 {
			rows = append(rows, fmt.Sprintf("%s %s %s", d.Host, d.Disposition, d.Cluster))
		}
	}
	want := []string{
		ip + " passthrough PassthroughCluster",
		ip + " registered outbound|8443||198-51-100-7.ip.external",
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("inspect rows for port 8443:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}

	v, stderr, code := verifyJSON(t, ip, "-n", ns, "--wait", "30s", "--interval", "1s")
	if code != 0 || !v.Passed {
		t.Fatalf("verify %s: exit %d, passed %v, missing: %s\n%s", ip, code, v.Passed, missingText(v), stderr)
	}
	if got := checkStatus(v, inspect.CheckCluster); got != inspect.CheckPass {
		t.Errorf("cluster check %s", got)
	}
	if c := v.Pods[0].Clusters; len(c) != 1 || c[0] != "outbound|8443||198-51-100-7.ip.external" {
		t.Errorf("verify names the clusters %v", c)
	}
}

// A host the app calls as plain HTTP on port 80. The istio.io task's TLS-only gateway recipe
// leaves port 80 in PassthroughCluster, and verify must say so from the proxy's configuration
// alone (it passed). route-via-gateway routes what was observed: HTTP on 80 through the gateway.
func TestRouteViaGatewayObservedHTTP(t *testing.T) {
	const ns, host = "fix-gateway-http", "edition.cnn.com"
	_, sc := startApp(t, ns, "app", "", []sidecar.Call{{Host: host, IP: "203.0.113.70", Port: 80, Scheme: "http", Count: 2}})
	dispositionAfterReplay(t, ns, sc, host, 80, inspect.DispositionPassthrough)

	t.Run("a TLS-only gateway route leaves port 80 uncovered", func(t *testing.T) {
		manifest, err := os.ReadFile(filepath.Join("..", "fixtures", "samples", "istiod", "manifests", "egress-gateway.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		// The recipe's Gateway selects istio=egressgateway, as the local mesh's gateway pod is labelled.
		objs := strings.ReplaceAll(string(manifest), "namespace: demo", "namespace: "+ns)
		kubectl(t, objs, "apply", "-f", "-")
		defer kubectl(t, objs, "delete", "-f", "-")
		var v inspect.Verification
		eventually(t, 30*time.Second, "the hand-written gateway route on the proxy", func() error {
			var code int
			v, _, code = verifyJSON(t, host, "-n", ns, "--fix", "egress-gateway")
			if code == 0 || !strings.Contains(missingText(v), "port 80, which no egress gateway route covers") {
				return fmt.Errorf("exit %d, missing: %s", code, missingText(v))
			}
			return nil
		})
		if got := checkStatus(v, inspect.CheckCluster); got != inspect.CheckFail {
			t.Errorf("cluster check %s, want fail", got)
		}
	})

	out, _ := mustEgress(t, "route-via-gateway", host, "-n", ns, "--yes")
	wantLines(t, "route-via-gateway", out,
		"gateway.networking.istio.io/egress-edition-cnn-com created",
		"traffic from fix-gateway-http to http://edition.cnn.com:80 now leaves through the egress gateway istio-system/istio-egressgateway")
	gw := kubectl(t, "", "get", "gateway.networking.istio.io/egress-edition-cnn-com", "-n", ns, "-o", "jsonpath={.spec.servers[*].port.protocol}/{.spec.servers[*].port.number}")
	if gw != "HTTP/80" {
		t.Errorf("gateway servers %q, want HTTP/80", gw)
	}
	dispositionAfterReplay(t, ns, sc, host, 80, inspect.DispositionEgressGateway)

	v, stderr, code := verifyJSON(t, host, "-n", ns, "--wait", "30s", "--interval", "1s")
	if code != 0 || !v.Passed {
		t.Fatalf("verify %s: exit %d, missing: %s\n%s", host, code, missingText(v), stderr)
	}
}

// Connection settings on a fix: the API server and Istio accept the DestinationRule, istiod
// renders them into the host's cluster, inspect shows them, verify's limits check passes, and
// undo removes them.
func TestRegisterTrafficPolicy(t *testing.T) {
	const ns, host = "fix-limits", "api.github.com"
	_, sc := startApp(t, ns, "app", "", []sidecar.Call{{Host: host, IP: "203.0.113.51", Port: 443, Scheme: "https", Count: 2}})
	dispositionAfterReplay(t, ns, sc, host, 443, inspect.DispositionPassthrough)

	out, stderr := mustEgress(t, "register", host, "-n", ns, "--yes", "--connect-timeout", "3s", "--max-connections", "50",
		"--outlier-detection", "consecutive5xx=5,interval=10s,baseEjectionTime=30s,maxEjectionPercent=100")
	wantLines(t, "register with limits", out,
		"serviceentry.networking.istio.io/egress-api-github-com created",
		"destinationrule.networking.istio.io/egress-api-github-com created")
	if !strings.Contains(stderr, "outlier detection on api.github.com, whose one endpoint is its DNS name") {
		t.Errorf("no warning about outlier detection on one endpoint:\n%s", stderr)
	}
	dispositionAfterReplay(t, ns, sc, host, 443, inspect.DispositionRegistered)
	want := inspect.ClusterLimits{ConnectTimeout: "3s", MaxConnections: 50, Consecutive5xx: 5, OutlierInterval: "10s", BaseEjectionTime: "30s", MaxEjectionPercent: 100}
	eventually(t, 30*time.Second, "the limits on the cluster", func() error {
		c := clusterOf(t, ns, "outbound|443||"+host)
		if c == nil || c.Limits == nil || *c.Limits != want {
			return fmt.Errorf("cluster %+v", c)
		}
		return nil
	})
	v, stderr, code := verifyJSON(t, host, "-n", ns, "--wait", "30s", "--interval", "1s")
	if code != 0 || checkStatus(v, inspect.CheckLimits) != inspect.CheckPass {
		t.Fatalf("verify: exit %d, limits %s, missing: %s\n%s", code, checkStatus(v, inspect.CheckLimits), missingText(v), stderr)
	}
	out, _ = mustEgress(t, "undo", host, "-n", ns, "--yes")
	if n := strings.Count(out, " deleted\n"); n != 2 {
		t.Errorf("undo deleted %d objects:\n%s", n, out)
	}
}

// An alias: the app calls http://bin.alias; istiod renders a cluster whose endpoint is
// httpbin.org:443 with SNI httpbin.org and a route rewriting the authority to httpbin.org;
// verify confirms all three on the proxy; undo removes the three objects. Pods without DNS
// capture are warned about, pods with it are not.
func TestAlias(t *testing.T) {
	const ns, short, long = "fix-alias", "bin.alias", "httpbin.org"
	_, sc := startAppAnnotated(t, ns, "app", "",
		map[string]string{"proxy.istio.io/config": `{"proxyMetadata":{"ISTIO_META_DNS_CAPTURE":"true","ISTIO_META_DNS_AUTO_ALLOCATE":"true"}}`},
		[]sidecar.Call{
			{Host: short, IP: "240.240.0.10", Port: 80, Scheme: "http", Count: 2},
			{Host: long, IP: "203.0.113.10", Port: 443, Scheme: "https", Count: 1},
		})
	// The call to httpbin.org gives the stand-in's DNS its address (the alias's endpoint). With
	// DNS capture and auto-allocation istiod binds ServiceEntry VIPs instead of 0.0.0.0_443, so
	// that call, to httpbin.org's real address, is seen by IP only, as on a real proxy.
	dispositionAfterReplay(t, ns, sc, short, 80, inspect.DispositionPassthrough)

	out, stderr := mustEgress(t, "alias", short, long, "-n", ns, "--yes")
	wantLines(t, "alias", out,
		"serviceentry.networking.istio.io/egress-bin-alias created",
		"destinationrule.networking.istio.io/egress-bin-alias created",
		"virtualservice.networking.istio.io/egress-bin-alias created")
	if strings.Contains(stderr, "do not capture DNS") {
		t.Errorf("warned about DNS capture on a pod that has it:\n%s", stderr)
	}
	dispositionAfterReplay(t, ns, sc, short, 80, inspect.DispositionTLSOrigination)
	c := clusterOf(t, ns, "outbound|80||"+short)
	if c == nil || c.TLS != "SIMPLE" || c.SNI != long || !slices.Contains(c.EndpointPorts, 443) {
		t.Errorf("the alias's cluster: %+v", c)
	}
	r := inspectJSON(t, "-n", ns)
	if !slices.ContainsFunc(r.Destinations, func(d inspect.Destination) bool { return d.Host == short && d.HostRewrite == long }) {
		t.Errorf("no route rewriting %s to %s: %+v", short, long, r.Destinations)
	}
	v, stderr, code := verifyJSON(t, short, "-n", ns, "--wait", "30s", "--interval", "1s")
	if code != 0 || v.Fix != inspect.FixAlias {
		t.Fatalf("verify %s: exit %d, fix %s, missing: %s\n%s", short, code, v.Fix, missingText(v), stderr)
	}

	// A pod without DNS capture would not resolve the alias: the plan says so.
	_, _ = startApp(t, "fix-alias-nodns", "app", "", []sidecar.Call{{Host: short, IP: "240.240.0.10", Port: 80, Scheme: "http", Count: 1}})
	_, stderr = mustEgress(t, "alias", short, long, "-n", "fix-alias-nodns", "-o", "yaml")
	if !strings.Contains(stderr, "do not capture DNS, so they cannot resolve bin.alias") || !strings.Contains(stderr, "ISTIO_META_DNS_CAPTURE") {
		t.Errorf("no DNS capture warning:\n%s", stderr)
	}

	out, _ = mustEgress(t, "undo", short, "-n", ns, "--yes")
	if n := strings.Count(out, " deleted\n"); n != 3 {
		t.Errorf("undo deleted %d objects:\n%s", n, out)
	}
}
