//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-egress/kubectl-egress/e2e/mesh"
	"github.com/kubectl-egress/kubectl-egress/inspect"
	"github.com/kubectl-egress/kubectl-egress/internal/jsonschema"
)

func inspectJSON(t *testing.T, args ...string) inspect.Report {
	t.Helper()
	out, stderr, code := egress(t, append([]string{"inspect", "-o", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("kubectl egress inspect %s: exit %d\nstderr: %s", strings.Join(args, " "), code, stderr)
	}
	var r inspect.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("inspect -o json is not a report: %v\n%.500s", err, out)
	}
	return r
}

// inspectValidJSON runs inspect -o json and checks the report against its documented schema.
func inspectValidJSON(t *testing.T, args ...string) inspect.Report {
	t.Helper()
	out, stderr, code := egress(t, append([]string{"inspect", "-o", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("kubectl egress inspect %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
	schemaJSON, err := os.ReadFile("../inspect/testdata/report.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	schema, err := jsonschema.Parse(schemaJSON)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if errs := schema.Validate(doc); len(errs) > 0 {
		t.Fatalf("report does not validate against the schema:\n%s", strings.Join(errs, "\n"))
	}
	var r inspect.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// destinationKey is how scenarios name what they expect: HOST:PORT, or a bypassed CIDR alone.
func destinationKey(d inspect.Destination) string {
	if d.Disposition == inspect.DispositionBypassed {
		return d.Host
	}
	return fmt.Sprintf("%s:%d", d.Host, d.Port)
}

// `kubectl egress inspect -A` reports each scenario's hosts with the expected disposition, read
// whole (auto: every proxy of the local mesh has fewer than 1000 clusters) and read as far as the
// traffic used the configuration (--config-scope traffic): the clusters the metrics name and
// virtualOutbound, without the routes, SNI chains and /clusters.
func TestInspectAllNamespaces(t *testing.T) {
	bytesRead := map[inspect.ConfigScope]map[string]int64{}
	for _, scope := range []inspect.ConfigScope{inspect.ConfigAuto, inspect.ConfigTraffic} {
		r := inspectJSON(t, "-A", "--config-scope", string(scope))
		t.Run(string(scope), func(t *testing.T) { checkScenarios(t, r, scope) })
		bytesRead[scope] = map[string]int64{}
		for _, p := range r.Pods {
			if p.Ztunnel == "" {
				bytesRead[scope][p.Key()] = p.BytesRead
			}
		}
	}
	// Reading by traffic leaves out the listeners and routes (and /clusters where the log names
	// passthrough destinations): every sidecar reads less.
	compared := 0
	for pod, whole := range bytesRead[inspect.ConfigAuto] {
		traffic, ok := bytesRead[inspect.ConfigTraffic][pod]
		if !ok {
			continue
		}
		compared++
		if traffic >= whole {
			t.Errorf("pod %s: %d bytes read by traffic, %d read whole", pod, traffic, whole)
		}
	}
	if compared < len(mesh.Scenarios(0))-1 {
		t.Errorf("compared the bytes read of %d sidecars, want one per scenario", compared)
	}
}

func checkScenarios(t *testing.T, r inspect.Report, scope inspect.ConfigScope) {
	// By namespace and app: one namespace may hold two scenarios' workloads (demo-locked).
	byApp := map[string]map[string]string{}
	for _, d := range r.Destinations {
		for _, p := range d.Pods {
			for _, s := range mesh.Scenarios(0) {
				if strings.HasPrefix(p, s.Namespace+"/"+s.App+"-") {
					k := s.Namespace + "/" + s.App
					if byApp[k] == nil {
						byApp[k] = map[string]string{}
					}
					byApp[k][destinationKey(d)] = string(d.Disposition)
				}
			}
		}
	}
	for _, s := range mesh.Scenarios(0) {
		t.Run(s.Namespace+"/"+s.App, func(t *testing.T) {
			k := s.Namespace + "/" + s.App
			got := map[string]string{}
			for dest := range s.Expect {
				got[dest] = byApp[k][dest]
			}
			if diff := cmp.Diff(s.Expect, got); diff != "" {
				t.Errorf("dispositions (-want +got):\n%s\nall seen by %s: %v", diff, k, byApp[k])
			}
		})
	}
	modes := map[string]string{}
	for _, p := range r.Pods {
		if p.Workload != "deploy/ledger" { // demo-locked's workload with its own ALLOW_ANY Sidecar
			modes[p.Namespace] = p.OutboundMode
		}
		sidecar := p.Ztunnel == "" // an ambient pod's ztunnel has no such configuration
		if traffic := p.ConfigRead == inspect.ConfigTraffic; sidecar && traffic != (scope == inspect.ConfigTraffic) {
			t.Errorf("pod %s: configRead %q under --config-scope %s", p.Key(), p.ConfigRead, scope)
		}
		if p.ConfigRead == inspect.ConfigTraffic && p.ActiveClusters == 0 {
			t.Errorf("pod %s: activeClusters %d: its stats did not count its clusters", p.Key(), p.ActiveClusters)
		}
	}
	if modes["demo-locked"] != inspect.ModeRegistryOnly || modes["demo-passthrough"] != inspect.ModeAllowAny {
		t.Errorf("outbound modes from the proxies' listeners: %v", modes)
	}
}

// Read by traffic, the table says so once on stderr, with the way to read everything.
func TestInspectTrafficReadNote(t *testing.T) {
	_, stderr, code := egress(t, "inspect", "-n", "demo-registered", "--config-scope", "traffic")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "note: pod demo-registered/reports-") || !strings.Contains(stderr, "only the configuration the traffic used was read") ||
		!strings.Contains(stderr, "--config-scope all reads all of it") {
		t.Errorf("no note on the traffic read:\n%s", stderr)
	}
}

// The table is what `make demo` ends with: kubectl-like, one row per destination.
func TestInspectTable(t *testing.T) {
	out, stderr, code := egress(t, "inspect", "-n", "demo-passthrough")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	header := strings.Fields(lines[0])
	if diff := cmp.Diff([]string{"HOST", "PORT", "PROTOCOL", "DISPOSITION", "CONNS/REQS", "PODS", "FIX"}, header); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	for _, host := range []string{"httpbin.org", "edition.cnn.com", "198.51.100.7"} {
		found := false
		for _, l := range lines[1:] {
			if f := strings.Fields(l); len(f) > 3 && f[0] == host && f[3] == "passthrough" {
				found = true
			}
		}
		if !found {
			t.Errorf("no passthrough row for %s:\n%s", host, out)
		}
	}
}

// `inspect deploy/NAME -o json` produces the documented report.
func TestInspectDeploymentJSONSchema(t *testing.T) {
	r := inspectValidJSON(t, "deploy/shop", "-n", "demo-passthrough")
	if len(r.Pods) != 1 || r.Pods[0].Workload != "deploy/shop" {
		t.Errorf("pods: %+v", r.Pods)
	}
}

// The offline --file run on outputs saved from a sidecar gives the same clusters as the live run.
func TestInspectFileMatchesLive(t *testing.T) {
	const ns = "demo-originated"
	pod := firstPod(t, ns, "checkout")
	base := portForward(t, ns, pod, 15000)
	dir := t.TempDir()
	for name, path := range map[string]string{
		"config_dump.json": "/config_dump?include_eds",
		"clusters.json":    "/clusters?format=json",
		"stats.txt":        "/stats/prometheus",
		"server_info.json": "/server_info",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(get(t, base+path)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	logs := kubectl(t, "", "logs", "-n", ns, pod, "-c", "istio-proxy")
	if err := os.WriteFile(filepath.Join(dir, "istio-proxy.log"), []byte(logs), 0o644); err != nil {
		t.Fatal(err)
	}
	live := inspectJSON(t, "-n", ns, pod)
	offline := inspectJSON(t, "--file", dir)
	// Names, and the TLS of external clusters (origination). Auto mTLS to mesh services is
	// resolved per endpoint only when the dump includes EDS, which the live read skips.
	names := func(r inspect.Report) []string {
		var n []string
		for _, c := range r.Clusters {
			if c.External {
				n = append(n, c.Name+" "+c.TLS)
			} else {
				n = append(n, c.Name)
			}
		}
		sort.Strings(n)
		return n
	}
	if diff := cmp.Diff(names(live), names(offline)); diff != "" {
		t.Errorf("clusters, live (-) vs --file (+):\n%s", diff)
	}
	// The scenario's host; the sidecar also has istio-egress's ServiceEntry (exported everywhere).
	originated := false
	for _, d := range offline.Destinations {
		originated = originated || d.Host == "httpbin.org" && d.Port == 80 && d.Disposition == inspect.DispositionTLSOrigination
	}
	if !originated {
		t.Errorf("offline destinations lack httpbin.org:80 tls-origination: %+v", offline.Destinations)
	}
}

// Errors are one line naming the pod and what to do; one bad pod does not hide the others.
func TestInspectErrors(t *testing.T) {
	t.Run("admin port not forwarded", func(t *testing.T) {
		out, stderr, code := egress(t, "inspect", "-n", "demo-passthrough", "--admin-port", "15001")
		if code != 2 {
			t.Errorf("exit %d, want 2 (partial)", code)
		}
		if !strings.Contains(stderr, "demo-passthrough/") || !strings.Contains(stderr, "--admin-port") {
			t.Errorf("stderr does not name the pod and the remedy:\n%s", stderr)
		}
		_ = out
	})
	t.Run("port-forward forbidden", func(t *testing.T) {
		kubectl(t, `apiVersion: v1
kind: ServiceAccount
metadata: {name: viewer, namespace: demo-passthrough}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-viewer, namespace: demo-passthrough}
rules:
- apiGroups: [""]
  resources: [pods, pods/log]
  verbs: [get, list]
- apiGroups: [apps]
  resources: [deployments, replicasets]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: viewer, namespace: demo-passthrough}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-viewer}
subjects: [{kind: ServiceAccount, name: viewer, namespace: demo-passthrough}]
`, "apply", "-f", "-")
		token := strings.TrimSpace(kubectl(t, "", "create", "token", "viewer", "-n", "demo-passthrough"))
		_, stderr, code := egress(t, "inspect", "-n", "demo-passthrough", "--token", token)
		if code == 0 {
			t.Fatalf("inspect without pods/portforward succeeded")
		}
		if !strings.Contains(stderr, `"create" on "pods/portforward"`) {
			t.Errorf("stderr does not name the missing verb:\n%s", stderr)
		}
	})
	t.Run("pod without sidecar is skipped", func(t *testing.T) {
		kubectl(t, `apiVersion: v1
kind: Pod
metadata: {name: no-sidecar, namespace: demo-registered, labels: {app: plain}}
spec:
  nodeName: kwok-node-0
  automountServiceAccountToken: false
  tolerations: [{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}]
  containers: [{name: app, image: busybox}]
`, "apply", "-f", "-")
		t.Cleanup(func() { kubectlErr("", "delete", "pod", "-n", "demo-registered", "no-sidecar", "--wait=false") })
		out, stderr, code := egress(t, "inspect", "-n", "demo-registered")
		if code != 0 {
			t.Errorf("exit %d: %s", code, stderr)
		}
		if !strings.Contains(stderr, "skipped pod demo-registered/no-sidecar: no istio-proxy sidecar") {
			t.Errorf("stderr:\n%s", stderr)
		}
		if !strings.Contains(out, "httpbin.org") {
			t.Errorf("the other pod's report is missing:\n%s", out)
		}
	})
}
