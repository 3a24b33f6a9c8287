//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-egress/kubectl-egress/e2e/mesh"
)

// Every scenario's pods run on the kwok node with an istio-proxy container.
func TestScenarioPodsRunning(t *testing.T) {
	for _, s := range mesh.Scenarios(0) {
		t.Run(s.Namespace, func(t *testing.T) {
			out := kubectl(t, "", "get", "pods", "-n", s.Namespace, "-l", "app="+s.App,
				"-o", `jsonpath={range .items[*]}{.status.phase} {.spec.containers[*].name}{"\n"}{end}`)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != s.Replicas {
				t.Fatalf("got %d pods, want %d:\n%s", len(lines), s.Replicas, out)
			}
			for _, l := range lines {
				// An ambient scenario's pods have no sidecar: the ztunnel of their node carries them.
				if !strings.HasPrefix(l, "Running ") || strings.Contains(l, "istio-proxy") == s.Ambient {
					t.Errorf("pod not Running, or istio-proxy (ambient %v): %q", s.Ambient, l)
				}
			}
		})
	}
}

// A real `kubectl port-forward` reaches the stand-in's Envoy admin API, and `kubectl logs`
// returns the access log it writes.
func TestPortForwardAndLogs(t *testing.T) {
	pod := firstPod(t, "demo-passthrough", "shop")
	base := portForward(t, "demo-passthrough", pod, 15000)
	info := get(t, base+"/server_info")
	if !strings.Contains(info, `"ISTIO_VERSION"`) || !strings.Contains(info, mesh.IstioVersion) {
		t.Errorf("/server_info lacks ISTIO_VERSION %s:\n%.500s", mesh.IstioVersion, info)
	}
	dump := get(t, base+"/config_dump?resource=dynamic_listeners&name_regex=virtualOutbound")
	if !strings.Contains(dump, `"virtualOutbound"`) || !strings.Contains(dump, "PassthroughCluster") {
		t.Errorf("virtualOutbound listener missing or not passthrough:\n%.800s", dump)
	}
	logs := kubectl(t, "", "logs", "-n", "demo-passthrough", pod, "-c", "istio-proxy")
	if !strings.Contains(logs, "PassthroughCluster") || !strings.Contains(logs, `"edition.cnn.com"`) {
		t.Errorf("istio-proxy log has no passthrough lines:\n%.1000s", logs)
	}
}

// A ServiceEntry applied with kubectl reaches the pod's sidecar as a new cluster pushed by
// istiod, seen through a real port-forward; deleting it removes the cluster again.
func TestServiceEntryPushedToSidecar(t *testing.T) {
	const ns = "demo-passthrough"
	pod := firstPod(t, ns, "shop")
	base := portForward(t, ns, pod, 15000)
	clusters := func() string {
		return get(t, base+"/config_dump?resource=dynamic_active_clusters&mask=cluster.name")
	}
	const cluster = `outbound|443||httpbin.org`
	if strings.Contains(clusters(), cluster) {
		t.Fatalf("%s present before the ServiceEntry was applied", cluster)
	}
	se := `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: e2e-httpbin, namespace: demo-passthrough}
spec:
  hosts: [httpbin.org]
  exportTo: ["."]
  location: MESH_EXTERNAL
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
`
	out := kubectl(t, se, "apply", "-f", "-")
	if !strings.Contains(out, "serviceentry.networking.istio.io/e2e-httpbin created") {
		t.Fatalf("unexpected apply output: %s", out)
	}
	start := time.Now()
	eventually(t, 30*time.Second, "cluster "+cluster+" pushed to "+pod, func() error {
		if !strings.Contains(clusters(), cluster) {
			return fmt.Errorf("not in the dump")
		}
		return nil
	})
	t.Logf("istiod pushed %s to the stand-in in %s", cluster, time.Since(start).Round(time.Millisecond))
	kubectl(t, "", "delete", "serviceentry", "-n", ns, "e2e-httpbin")
	eventually(t, 30*time.Second, "cluster "+cluster+" removed", func() error {
		if strings.Contains(clusters(), cluster) {
			return fmt.Errorf("still in the dump")
		}
		return nil
	})
}

// Istio's CRD schema rejects invalid ServiceEntries at the API server.
func TestInvalidServiceEntryRejected(t *testing.T) {
	for name, tc := range map[string]struct{ spec, want string }{
		"port out of range":  {`{hosts: [a.example.com], ports: [{number: 70000, name: tls, protocol: TLS}], resolution: DNS}`, "port must be between 1-65535"},
		"unknown resolution": {`{hosts: [a.example.com], ports: [{number: 443, name: tls, protocol: TLS}], resolution: MAGIC}`, `spec.resolution: Unsupported value: "MAGIC"`},
		"no hosts":           {`{ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS}`, "spec.hosts: Required value"},
	} {
		t.Run(name, func(t *testing.T) {
			se := "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: bad, namespace: demo-passthrough}\nspec: " + tc.spec + "\n"
			out, err := kubectlErr(se, "apply", "-f", "-")
			if err == nil {
				kubectlErr("", "delete", "serviceentry", "-n", "demo-passthrough", "bad")
				t.Fatalf("invalid ServiceEntry accepted: %s", out)
			}
			if !strings.Contains(out, `The ServiceEntry "bad" is invalid`) || !strings.Contains(out, tc.want) {
				t.Errorf("rejected, but not by schema validation (want %q): %s", tc.want, out)
			}
		})
	}
}

// kubectl finds the plugin on PATH: `kubectl egress version`.
func TestPluginDiscovery(t *testing.T) {
	out, stderr, code := egress(t, "version")
	if code != 0 || !strings.HasPrefix(out, "kubectl-egress ") {
		t.Fatalf("kubectl egress version: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// kube-scheduler places a pod that names no node on the kwok node, as in a cluster.
func TestSchedulerPlacesPods(t *testing.T) {
	kubectl(t, `apiVersion: v1
kind: Pod
metadata: {name: scheduled, namespace: demo-registered}
spec:
  automountServiceAccountToken: false
  tolerations: [{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}]
  containers: [{name: app, image: busybox}]
`, "apply", "-f", "-")
	t.Cleanup(func() { kubectlErr("", "delete", "pod", "-n", "demo-registered", "scheduled", "--wait=false") })
	eventually(t, 30*time.Second, "pod scheduled and Running", func() error {
		out := kubectl(t, "", "get", "pod", "-n", "demo-registered", "scheduled", "-o", "jsonpath={.spec.nodeName} {.status.phase}")
		if out != "kwok-node-0 Running" {
			return fmt.Errorf("node and phase: %q", out)
		}
		return nil
	})
}
