//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-egress/kubectl-egress/e2e/mesh"
	"github.com/kubectl-egress/kubectl-egress/e2e/sidecar"
	"github.com/kubectl-egress/kubectl-egress/inspect"
	"github.com/kubectl-egress/kubectl-egress/policy"
)

func policyJSON(t *testing.T, args ...string) policy.Report {
	t.Helper()
	out, stderr := mustEgress(t, append([]string{"policy", "-o", "json"}, args...)...)
	var r policy.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("policy -o json: %v\n%s\n%s", err, out, stderr)
	}
	return r
}

func workloadPolicy(t *testing.T, r policy.Report, ns, workload string) policy.WorkloadPolicy {
	t.Helper()
	for _, n := range r.Namespaces {
		for _, w := range n.Workloads {
			if n.Namespace == ns && w.Workload == workload {
				return w
			}
		}
	}
	t.Fatalf("no workload %s/%s in the policy report", ns, workload)
	return policy.WorkloadPolicy{}
}

func wouldBreak(w policy.WorkloadPolicy) []string {
	var out []string
	for _, f := range w.WouldBreak {
		out = append(out, fmt.Sprintf("%s:%d", f.Host, f.Port))
	}
	return out
}

// Every planted disagreement of the local mesh, named with its reason.
func TestPolicyAllNamespaces(t *testing.T) {
	r := policyJSON(t, "-A")

	billing := workloadPolicy(t, r, "demo-locked", "deploy/billing")
	if billing.Configured != inspect.ModeRegistryOnly || billing.Proxy != inspect.ModeRegistryOnly || billing.Mesh.Mode != inspect.ModeAllowAny ||
		billing.Sidecar == nil || billing.Sidecar.Name != "demo-locked/default" || billing.Sidecar.Scope != policy.ScopeNamespace || !billing.Ready {
		t.Errorf("demo-locked/billing: %+v", billing)
	}
	if len(billing.Notes) != 1 || !strings.Contains(billing.Notes[0], "shadowing the mesh config's ALLOW_ANY") {
		t.Errorf("demo-locked/billing notes: %v", billing.Notes)
	}

	ledger := workloadPolicy(t, r, "demo-locked", "deploy/ledger")
	if ledger.Sidecar == nil || ledger.Sidecar.Name != "demo-locked/ledger" || ledger.Sidecar.Scope != policy.ScopeWorkload || ledger.Proxy != inspect.ModeAllowAny {
		t.Errorf("demo-locked/ledger: %+v", ledger)
	}
	reasons := map[string]string{}
	for _, f := range ledger.WouldBreak {
		reasons[f.Host] = f.Reason
	}
	if !strings.Contains(reasons["www.googleapis.com"], "Sidecar demo-locked/ledger's egress hosts do not import it") ||
		reasons["api.stripe.com"] != "no ServiceEntry registers it" {
		t.Errorf("demo-locked/ledger would break: %v", reasons)
	}

	jobs := workloadPolicy(t, r, "demo-canary", "deploy/jobs")
	if jobs.Revision != "canary" || jobs.Mesh.Mode != inspect.ModeRegistryOnly || jobs.Mesh.From != "istio-system/istio-canary" || jobs.Proxy != inspect.ModeAllowAny {
		t.Errorf("demo-canary/jobs: %+v", jobs)
	}
	if len(jobs.Notes) != 1 || !strings.Contains(jobs.Notes[0], "revision default's mesh config (istio-system/istio)") {
		t.Errorf("demo-canary/jobs notes: %v", jobs.Notes)
	}

	// Exactly demo-passthrough's passthrough hosts; httpbin.org has ServiceEntries, but only for
	// their own namespaces (exportTo: "."), so it is not covered.
	shop := workloadPolicy(t, r, "demo-passthrough", "deploy/shop")
	if diff := cmp.Diff([]string{"198.51.100.7:8443", "edition.cnn.com:80", "httpbin.org:443"}, wouldBreak(shop)); diff != "" {
		t.Errorf("demo-passthrough would break (-want +got):\n%s", diff)
	}
	for _, f := range shop.WouldBreak {
		if f.Host == "httpbin.org" && !strings.Contains(f.Reason, "is not exported to namespace demo-passthrough (exportTo)") {
			t.Errorf("httpbin.org's reason: %s", f.Reason)
		}
		if len(f.Pods) != 1 || f.LastSeen == nil || f.Calls.Connections+f.Calls.Requests == 0 {
			t.Errorf("%s:%d has no evidence: %+v", f.Host, f.Port, f)
		}
	}
	if legacy := workloadPolicy(t, r, "demo-bypass", "deploy/legacy"); len(legacy.Exclusions) != 1 || legacy.Exclusions[0].Value != "192.0.2.0/24" {
		t.Errorf("demo-bypass exclusions: %v", legacy.Exclusions)
	}

	out, _ := mustEgress(t, "policy", "-n", "demo-locked")
	if !hasLine(out, `^demo-locked\s+deploy/billing\s+default\s+ALLOW_ANY\s+REGISTRY_ONLY \(demo-locked/default, namespace\)\s+REGISTRY_ONLY\s+yes$`) ||
		!hasLine(out, `^demo-locked\s+deploy/ledger\s+.*no: 2 would break$`) {
		t.Errorf("policy table:\n%s", out)
	}
}

// passthroughCalls are demo-passthrough's calls: TLS with SNI, plain HTTP, and TLS seen by IP only.
var passthroughCalls = []sidecar.Call{
	{Host: "httpbin.org", IP: "203.0.113.10", Port: 443, Scheme: "https", Count: 1},
	{Host: "edition.cnn.com", IP: "203.0.113.20", Port: 80, Scheme: "http", Count: 1},
	{Host: "api.partner.example", IP: "198.51.100.7", Port: 8443, Scheme: "https", Count: 1},
}

// lockdownApp starts deploy/shop in ns with calls, and waits until its passthrough is seen.
func lockdownApp(t *testing.T, ns string, calls ...sidecar.Call) *sidecar.Sidecar {
	t.Helper()
	_, sc := startApp(t, ns, "shop", "", calls)
	dispositionAfterReplay(t, ns, sc, "httpbin.org", 443, inspect.DispositionPassthrough)
	return sc
}

// proxyMode is what inspect --pods reads from the pod's own virtualOutbound listener.
func proxyMode(t *testing.T, ns, app string) string {
	t.Helper()
	for _, p := range inspectJSON(t, "-n", ns).Pods {
		if p.Workload == "deploy/"+app {
			return p.OutboundMode
		}
	}
	t.Fatalf("no pod of deploy/%s in %s", app, ns)
	return ""
}

// A namespace with demo-passthrough's calls goes to REGISTRY_ONLY without losing any of them:
// istiod pushes the BlackHole catch-all, and the replayed calls land in the new ServiceEntries'
// clusters, none in BlackHoleCluster; undo --lockdown brings passthrough back.
func TestLockdownNamespace(t *testing.T) {
	const ns = "lock-ns"
	sc := lockdownApp(t, ns, passthroughCalls...)

	out, stderr := mustEgress(t, "lockdown", "-n", ns, "--yes")
	wantLines(t, "lockdown", out,
		"serviceentry.networking.istio.io/egress-198-51-100-7 created",
		"serviceentry.networking.istio.io/egress-edition-cnn-com created",
		"serviceentry.networking.istio.io/egress-httpbin-org created",
		"sidecar.networking.istio.io/egress-lockdown created")
	t.Logf("lockdown stderr:\n%s", stderr)
	eventually(t, 30*time.Second, "REGISTRY_ONLY on the proxy", func() error {
		if m := proxyMode(t, ns, "shop"); m != inspect.ModeRegistryOnly {
			return fmt.Errorf("mode %s", m)
		}
		return nil
	})
	dispositionAfterReplay(t, ns, sc, "httpbin.org", 443, inspect.DispositionRegistered)
	dispositionAfterReplay(t, ns, sc, "edition.cnn.com", 80, inspect.DispositionRegistered)
	dispositionAfterReplay(t, ns, sc, "198.51.100.7", 8443, inspect.DispositionRegistered)
	for _, d := range inspectJSON(t, "-n", ns, "--since", "3s").Destinations {
		if d.Disposition == inspect.DispositionBlocked {
			t.Errorf("blocked after the lockdown: %s:%d", d.Host, d.Port)
		}
	}
	w := workloadPolicy(t, policyJSON(t, "-n", ns), ns, "deploy/shop")
	if w.Configured != inspect.ModeRegistryOnly || w.Sidecar == nil || !w.Sidecar.Managed || !w.Ready {
		t.Errorf("policy after the lockdown: %+v", w)
	}

	out, _ = mustEgress(t, "undo", "--lockdown", "-n", ns, "--yes")
	wantLines(t, "undo --lockdown", out, "sidecar.networking.istio.io/egress-lockdown deleted")
	eventually(t, 30*time.Second, "ALLOW_ANY again", func() error {
		if m := proxyMode(t, ns, "shop"); m != inspect.ModeAllowAny {
			return fmt.Errorf("mode %s", m)
		}
		return nil
	})
	mustEgress(t, "undo", "--all", "-n", ns, "--yes")
	dispositionAfterReplay(t, ns, sc, "httpbin.org", 443, inspect.DispositionPassthrough)
}

// The canary path: one workload goes to REGISTRY_ONLY, the namespace's other pods stay in
// ALLOW_ANY, as their own proxies show.
func TestLockdownCanary(t *testing.T) {
	const ns = "lock-canary"
	lockdownApp(t, ns, passthroughCalls...)
	manifest, err := mesh.Workload(ns, "batch", 1, []sidecar.Call{{Host: "api.stripe.com", IP: "203.0.113.52", Port: 443, Scheme: "https", Count: 1}})
	if err != nil {
		t.Fatal(err)
	}
	kubectl(t, manifest, "apply", "--server-side", "-f", "-")
	eventually(t, 60*time.Second, "the batch pod's proxy", func() error {
		for _, p := range inspectJSON(t, "-n", ns).Pods {
			if p.Workload == "deploy/batch" && p.OutboundMode != "" {
				return nil
			}
		}
		return fmt.Errorf("not read yet")
	})

	out, _ := mustEgress(t, "lockdown", "deploy/shop", "-n", ns, "--yes")
	wantLines(t, "lockdown deploy/shop", out, "sidecar.networking.istio.io/egress-lockdown-deploy-shop created")
	if strings.Contains(out, "egress-api-stripe-com") {
		t.Errorf("the canary registered the other workload's host:\n%s", out)
	}
	selector := kubectl(t, "", "get", "sidecar.networking.istio.io/egress-lockdown-deploy-shop", "-n", ns, "-o", "jsonpath={.spec.workloadSelector.labels}")
	if selector != `{"app":"shop"}` {
		t.Errorf("the canary Sidecar selects %s", selector)
	}
	eventually(t, 30*time.Second, "shop in REGISTRY_ONLY, batch still ALLOW_ANY", func() error {
		shop, batch := proxyMode(t, ns, "shop"), proxyMode(t, ns, "batch")
		if shop != inspect.ModeRegistryOnly || batch != inspect.ModeAllowAny {
			return fmt.Errorf("shop %s, batch %s", shop, batch)
		}
		return nil
	})
}

// A lockdown refuses when the namespace has a Sidecar it does not manage; --force goes on
// unless that Sidecar would shadow the lockdown's.
func TestLockdownRefusesForeignSidecar(t *testing.T) {
	const ns = "lock-foreign"
	lockdownApp(t, ns, passthroughCalls...)
	kubectl(t, `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: theirs}
spec:
  workloadSelector: {labels: {app: other}}
  egress: [{hosts: ["*/*"]}]
`, "apply", "-n", ns, "-f", "-")
	_, stderr, code := egress(t, "lockdown", "-n", ns, "--yes")
	if code != 1 || !strings.Contains(stderr, "it has Sidecar lock-foreign/theirs, which kubectl-egress does not manage") || !strings.Contains(stderr, "--force") {
		t.Errorf("exit %d, stderr %s", code, stderr)
	}
	if got := managedIn(t, ns); got != "" {
		t.Errorf("objects created by a refused lockdown: %s", got)
	}
	kubectl(t, "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: older}\nspec:\n  egress: [{hosts: [\"*/*\"]}]\n", "apply", "-n", ns, "-f", "-")
	_, stderr, code = egress(t, "lockdown", "-n", ns, "--yes", "--force")
	if code != 1 || !strings.Contains(stderr, "Sidecar lock-foreign/older, which kubectl-egress does not manage, is older, so the lockdown's Sidecar would be shadowed") {
		t.Errorf("--force past a Sidecar that would win: exit %d, stderr %s", code, stderr)
	}
}

// --lock adds a NetworkPolicy the API server accepts; policy reports it and what it cuts: the
// host already registered, which leaves directly, not through the gateway.
func TestLockdownNetworkPolicy(t *testing.T) {
	const ns = "lock-netpol"
	namespace(t, ns)
	kubectl(t, `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: github}
spec:
  hosts: [api.github.com]
  exportTo: ["."]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
`, "apply", "-n", ns, "-f", "-")
	// No IP-only host: the egress gateway routes by name.
	sc := lockdownApp(t, ns, passthroughCalls[0], passthroughCalls[1], sidecar.Call{Host: "api.github.com", IP: "203.0.113.51", Port: 443, Scheme: "https", Count: 1})
	dispositionAfterReplay(t, ns, sc, "api.github.com", 443, inspect.DispositionRegistered)

	out, _ := mustEgress(t, "lockdown", "-n", ns, "--lock", "-o", "yaml")
	if !strings.Contains(out, "kind: NetworkPolicy") || strings.Count(out, "kind: Gateway\n") != 2 {
		t.Errorf("lockdown --lock -o yaml: want two gateway routes and a NetworkPolicy:\n%s", out)
	}
	out, stderr := mustEgress(t, "lockdown", "-n", ns, "--lock", "--yes")
	wantLines(t, "lockdown --lock", out, "networkpolicy.networking.k8s.io/egress-lockdown created", "sidecar.networking.istio.io/egress-lockdown created")
	if !strings.Contains(stderr, "api.github.com:443 (registered)") {
		t.Errorf("no warning that the NetworkPolicy cuts the directly registered host:\n%s", stderr)
	}
	st := policyJSON(t, "-n", ns).Namespaces[0].NetworkPolicy
	if !st.Restricted || !slices.Contains(st.Policies, "egress-lockdown") || !slices.Contains(st.Cuts, "api.github.com:443 (registered)") {
		t.Errorf("policy's NetworkPolicy status: %+v", st)
	}
	mustEgress(t, "undo", "--all", "-n", ns, "--yes")
	if got := managedIn(t, ns); got != "" {
		t.Errorf("left after undo --all: %s", got)
	}
}

// logging on writes a Telemetry whose filter the stand-in evaluates like Envoy: only passthrough
// and blocked traffic is logged, the call to a mesh service is not; off restores the mesh's
// logging of everything.
func TestLoggingOnOff(t *testing.T) {
	const ns = "logging-filter"
	svcIP := strings.TrimSpace(kubectl(t, "", "get", "svc", "istio-egressgateway", "-n", "istio-system", "-o", "jsonpath={.spec.clusterIP}"))
	pod, sc := startApp(t, ns, "app", "", []sidecar.Call{
		{Host: "httpbin.org", IP: "203.0.113.10", Port: 443, Scheme: "https", Count: 1},
		{Host: "istio-egressgateway.istio-system.svc.cluster.local", IP: svcIP, Port: 80, Scheme: "http", Count: 1},
	})
	recent := func() string {
		if err := sc.Replay(t.Context()); err != nil {
			t.Fatal(err)
		}
		return kubectl(t, "", "logs", "-n", ns, pod, "-c", "istio-proxy", "--since", "2s")
	}
	if log := recent(); !strings.Contains(log, "outbound|80||istio-egressgateway") || !strings.Contains(log, "PassthroughCluster") {
		t.Fatalf("before logging on, the mesh logs everything:\n%s", log)
	}

	out, _ := mustEgress(t, "logging", "on", "-n", ns, "--yes")
	wantLines(t, "logging on", out, "telemetry.telemetry.istio.io/egress-logging created")
	eventually(t, 30*time.Second, "only passthrough lines", func() error {
		log := recent()
		if strings.Contains(log, "istio-egressgateway") || !strings.Contains(log, "PassthroughCluster") {
			return fmt.Errorf("recent lines:\n%s", log)
		}
		return nil
	})
	if r := inspectJSON(t, "-n", ns, "--since", "5s"); !slices.ContainsFunc(r.Destinations, func(d inspect.Destination) bool {
		return d.Host == "httpbin.org" && slices.Contains(d.Signals, inspect.SignalAccessLog)
	}) {
		t.Errorf("inspect no longer names httpbin.org from the filtered log: %+v", r.Destinations)
	}

	out, _ = mustEgress(t, "logging", "off", "-n", ns, "--yes")
	wantLines(t, "logging off", out, "telemetry.telemetry.istio.io/egress-logging deleted")
	eventually(t, 30*time.Second, "every line again", func() error {
		if log := recent(); !strings.Contains(log, "istio-egressgateway") {
			return fmt.Errorf("recent lines:\n%s", log)
		}
		return nil
	})
}
