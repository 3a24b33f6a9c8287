//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-egress/kubectl-egress/e2e/sidecar"
	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// The fix commands' tests each run in a namespace of their own, with one pod whose app calls the
// hosts under test, and delete it at the end: the scenario namespaces stay as other tests expect.

// mustEgress runs `kubectl egress ARGS`, fails the test on a non-zero exit, and returns stdout.
func mustEgress(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	out, errOut, code := egress(t, args...)
	if code != 0 {
		t.Fatalf("kubectl egress %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out, errOut
}

// wantLines fails unless out holds each line, whole.
func wantLines(t *testing.T, what, out string, want ...string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	for _, w := range want {
		found := false
		for _, l := range lines {
			if l == w {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no line %q in:\n%s", what, w, out)
		}
	}
}

// managedIn is what `kubectl get` sees labelled as kubectl-egress's in ns.
func managedIn(t *testing.T, ns string) string {
	t.Helper()
	return strings.TrimSpace(kubectl(t, "", "get", "serviceentries,destinationrules,gateways,virtualservices", "-n", ns,
		"-l", "app.kubernetes.io/managed-by=kubectl-egress", "-o", "name"))
}

// dispositionAfterReplay replays the app's calls until inspect reports host:port with want
// only, which tells that istiod pushed the change and the proxy routes the calls by it.
func dispositionAfterReplay(t *testing.T, ns string, sc *sidecar.Sidecar, host string, port uint32, want inspect.Disposition) {
	t.Helper()
	start := time.Now()
	eventually(t, 60*time.Second, fmt.Sprintf("%s:%d %s in %s", host, port, want, ns), func() error {
		if err := sc.Replay(context.Background()); err != nil {
			return err
		}
		// Access-log lines older than the change age out of the window, so the calls the log
		// still shows are the replayed ones: all of them must have gone the wanted way. (Config
		// and metrics rows are not enough: a host routed to the gateway keeps its own cluster.)
		r := inspectJSON(t, "-n", ns, "--since", "2s")
		var seen, logged []string
		for _, d := range r.Destinations {
			if d.Host != host || d.Port != port {
				continue
			}
			seen = append(seen, fmt.Sprintf("%s (%s, %v)", d.Disposition, d.Cluster, d.Signals))
			if slices.Contains(d.Signals, inspect.SignalAccessLog) {
				logged = append(logged, string(d.Disposition))
			}
		}
		if len(logged) == 1 && logged[0] == string(want) {
			return nil
		}
		return fmt.Errorf("seen %v", seen)
	})
	t.Logf("%s:%d is %s %s after the change", host, port, want, time.Since(start).Round(time.Millisecond))
}

// clusterOf returns the cluster of that name in the proxies of ns, from inspect, or nil.
func clusterOf(t *testing.T, ns, name string) *inspect.Cluster {
	t.Helper()
	r := inspectJSON(t, "-n", ns)
	for i := range r.Clusters {
		if r.Clusters[i].Name == name {
			return &r.Clusters[i]
		}
	}
	return nil
}

// register: refused without a terminal or --yes; -o yaml and --dry-run=server write nothing; then
// applied, pushed by istiod (own cluster, disposition registered), unchanged on re-apply, listed,
// and undone back to passthrough.
func TestFixRegister(t *testing.T) {
	const ns = "fix-register"
	_, sc := startApp(t, ns, "app", "", []sidecar.Call{
		{Host: "api.github.com", IP: "203.0.113.51", Port: 443, Scheme: "https", Count: 2},
		{Host: "httpbin.org", IP: "203.0.113.61", Port: 80, Scheme: "http", Count: 1},
	})
	dispositionAfterReplay(t, ns, sc, "api.github.com", 443, inspect.DispositionPassthrough)

	t.Run("no terminal and no --yes refuses", func(t *testing.T) {
		out, stderr, code := egress(t, "register", "api.github.com", "-n", ns)
		if code != 1 || stderr != "error: refusing to apply without confirmation: stdin is not a terminal; pass --yes to apply, or -o yaml to write the manifests\n" {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
		}
		if got := managedIn(t, ns); got != "" {
			t.Errorf("objects created: %s", got)
		}
	})
	t.Run("-o yaml applies nothing", func(t *testing.T) {
		out, _ := mustEgress(t, "register", "api.github.com", "-n", ns, "-o", "yaml")
		// The port and protocol come from what inspect saw: TLS to 443.
		for _, w := range []string{"kind: ServiceEntry", "name: egress-api-github-com", "number: 443", "protocol: TLS", "resolution: DNS", "location: MESH_EXTERNAL"} {
			if !strings.Contains(out, w) {
				t.Errorf("-o yaml lacks %q:\n%s", w, out)
			}
		}
		if got := managedIn(t, ns); got != "" {
			t.Errorf("objects created: %s", got)
		}
	})
	t.Run("--dry-run=server writes nothing", func(t *testing.T) {
		out, _ := mustEgress(t, "register", "api.github.com", "-n", ns, "--dry-run=server")
		wantLines(t, "dry run", out, "serviceentry.networking.istio.io/egress-api-github-com created (server dry run)")
		if got := managedIn(t, ns); got != "" {
			t.Errorf("objects created: %s", got)
		}
	})

	t.Run("--timeout and --retries add a route the API server accepts", func(t *testing.T) {
		args := []string{"register", "httpbin.org", "--port", "80", "--protocol", "HTTP", "--timeout", "5s", "--retries", "2", "-n", ns}
		out, _ := mustEgress(t, append(args, "--dry-run=server")...)
		wantLines(t, "dry run", out,
			"serviceentry.networking.istio.io/egress-httpbin-org created (server dry run)",
			"virtualservice.networking.istio.io/egress-httpbin-org created (server dry run)")
		out, _ = mustEgress(t, append(args, "-o", "yaml")...)
		for _, w := range []string{"kind: VirtualService", "timeout: 5s", "attempts: 2", "host: httpbin.org"} {
			if !strings.Contains(out, w) {
				t.Errorf("-o yaml lacks %q:\n%s", w, out)
			}
		}
		if got := managedIn(t, ns); got != "" {
			t.Errorf("objects created: %s", got)
		}
	})

	start := time.Now()
	out, _ := mustEgress(t, "register", "api.github.com", "-n", ns, "--yes")
	wantLines(t, "register", out, "serviceentry.networking.istio.io/egress-api-github-com created")
	t.Logf("register applied in %s", time.Since(start).Round(time.Millisecond))
	// istiod allocates the ServiceEntry an address (Istio's default since 1.25, on in the local
	// mesh for ambient) and writes it in the status: it manages that subresource, not the spec.
	if m := kubectl(t, "", "get", "serviceentry", "-n", ns, "egress-api-github-com", "-o", `jsonpath={range .metadata.managedFields[*]}{.manager}/{.subresource} {end}`); strings.TrimSpace(strings.ReplaceAll(m, "istiod/status", "")) != "kubectl-egress/" {
		t.Errorf("field managers (manager/subresource): %q", m)
	}
	eventually(t, 30*time.Second, "outbound|443||api.github.com pushed", func() error {
		if clusterOf(t, ns, "outbound|443||api.github.com") == nil {
			return fmt.Errorf("no cluster")
		}
		return nil
	})
	t.Logf("istiod pushed outbound|443||api.github.com %s after the apply", time.Since(start).Round(time.Millisecond))
	dispositionAfterReplay(t, ns, sc, "api.github.com", 443, inspect.DispositionRegistered)

	out, _ = mustEgress(t, "register", "api.github.com", "-n", ns, "--yes")
	wantLines(t, "re-apply", out, "serviceentry.networking.istio.io/egress-api-github-com unchanged")

	out, _ = mustEgress(t, "list", "-n", ns)
	if !strings.Contains(out, "HOST") || !hasLine(out, `^api\.github\.com\s+register\s+serviceentry\.networking\.istio\.io/egress-api-github-com\s+\S+$`) {
		t.Errorf("list:\n%s", out)
	}

	if _, stderr, code := egress(t, "undo", "api.github.com", "-n", ns); code != 1 || !strings.Contains(stderr, "refusing to delete without confirmation") {
		t.Errorf("undo without --yes: exit %d, %s", code, stderr)
	}
	out, _ = mustEgress(t, "undo", "api.github.com", "-n", ns, "--yes")
	wantLines(t, "undo", out, "serviceentry.networking.istio.io/egress-api-github-com deleted")
	if got := managedIn(t, ns); got != "" {
		t.Errorf("left after undo: %s", got)
	}
	eventually(t, 30*time.Second, "outbound|443||api.github.com removed", func() error {
		if clusterOf(t, ns, "outbound|443||api.github.com") != nil {
			return fmt.Errorf("still there")
		}
		return nil
	})
	dispositionAfterReplay(t, ns, sc, "api.github.com", 443, inspect.DispositionPassthrough)
}

// enable-tls-origination: ServiceEntry and DestinationRule; the app owner is told which pods call
// https:// today; istiod pushes outbound|80||HOST with TLS SIMPLE and the SNI; once the app calls
// http://, inspect sees tls-origination; re-applying changes nothing; undo removes both.
func TestFixTLSOrigination(t *testing.T) {
	const ns = "fix-tls"
	pod, sc := startApp(t, ns, "app", "", []sidecar.Call{{Host: "httpbin.org", IP: "203.0.113.62", Port: 443, Scheme: "https", Count: 2}})
	dispositionAfterReplay(t, ns, sc, "httpbin.org", 443, inspect.DispositionPassthrough)

	start := time.Now()
	out, stderr := mustEgress(t, "enable-tls-origination", "httpbin.org", "-n", ns, "--yes")
	wantLines(t, "enable-tls-origination", out,
		"serviceentry.networking.istio.io/egress-httpbin-org created",
		"destinationrule.networking.istio.io/egress-httpbin-org created",
		"tell the app owner: call http://httpbin.org (port 80), not https://: the sidecar now does TLS to httpbin.org:443",
		"pods that call https://httpbin.org today and must switch to http://httpbin.org: "+ns+"/"+pod)
	if !strings.Contains(stderr, "Warning: DestinationRule fix-tls/egress-httpbin-org originates TLS to httpbin.org without caCertificates") {
		t.Errorf("no IST0129 warning on stderr: %s", stderr)
	}
	var c *inspect.Cluster
	eventually(t, 30*time.Second, "outbound|80||httpbin.org with TLS pushed", func() error {
		if c = clusterOf(t, ns, "outbound|80||httpbin.org"); c == nil || c.TLS != "SIMPLE" {
			return fmt.Errorf("cluster %+v", c)
		}
		return nil
	})
	if c.SNI != "httpbin.org" || len(c.EndpointPorts) != 1 || c.EndpointPorts[0] != 443 {
		t.Errorf("origination cluster: SNI %q, endpoint ports %v; want httpbin.org, [443]", c.SNI, c.EndpointPorts)
	}
	t.Logf("istiod pushed outbound|80||httpbin.org (TLS SIMPLE) %s after the apply", time.Since(start).Round(time.Millisecond))

	sc.SetCalls([]sidecar.Call{{Host: "httpbin.org", IP: "203.0.113.62", Port: 80, Scheme: "http", Path: "/get", Count: 2}})
	dispositionAfterReplay(t, ns, sc, "httpbin.org", 80, inspect.DispositionTLSOrigination)

	out, _ = mustEgress(t, "enable-tls-origination", "httpbin.org", "-n", ns, "--yes")
	wantLines(t, "re-apply", out,
		"serviceentry.networking.istio.io/egress-httpbin-org unchanged",
		"destinationrule.networking.istio.io/egress-httpbin-org unchanged")

	out, _ = mustEgress(t, "list", "-n", ns)
	if !hasLine(out, `^httpbin\.org\s+tls-origination\s+destinationrule\.networking\.istio\.io/egress-httpbin-org\s+\S+$`) {
		t.Errorf("list:\n%s", out)
	}
	out, _ = mustEgress(t, "undo", "httpbin.org", "-n", ns, "--yes")
	wantLines(t, "undo", out,
		"destinationrule.networking.istio.io/egress-httpbin-org deleted",
		"serviceentry.networking.istio.io/egress-httpbin-org deleted")
	eventually(t, 30*time.Second, "outbound|80||httpbin.org removed", func() error {
		if clusterOf(t, ns, "outbound|80||httpbin.org") != nil {
			return fmt.Errorf("still there")
		}
		return nil
	})
	sc.SetCalls([]sidecar.Call{{Host: "httpbin.org", IP: "203.0.113.62", Port: 443, Scheme: "https", Count: 1}})
	dispositionAfterReplay(t, ns, sc, "httpbin.org", 443, inspect.DispositionPassthrough)
}

// route-via-gateway through the local mesh's istio-system/istio-egressgateway: four objects,
// the sidecar routes the host to the gateway, re-applying changes nothing, undo restores.
func TestFixRouteViaGateway(t *testing.T) {
	const ns = "fix-gateway"
	_, sc := startApp(t, ns, "app", "", []sidecar.Call{{Host: "www.wikipedia.org", IP: "203.0.113.64", Port: 443, Scheme: "https", Count: 2}})
	dispositionAfterReplay(t, ns, sc, "www.wikipedia.org", 443, inspect.DispositionPassthrough)

	out, _ := mustEgress(t, "route-via-gateway", "www.wikipedia.org", "-n", ns, "--yes")
	want := []string{
		"serviceentry.networking.istio.io/egress-www-wikipedia-org created",
		"destinationrule.networking.istio.io/egress-www-wikipedia-org-gw created",
		"gateway.networking.istio.io/egress-www-wikipedia-org created",
		"virtualservice.networking.istio.io/egress-www-wikipedia-org created",
	}
	wantLines(t, "route-via-gateway", out, want...)
	dispositionAfterReplay(t, ns, sc, "www.wikipedia.org", 443, inspect.DispositionEgressGateway)

	out, _ = mustEgress(t, "route-via-gateway", "www.wikipedia.org", "-n", ns, "--yes")
	for i := range want {
		want[i] = strings.TrimSuffix(want[i], "created") + "unchanged"
	}
	wantLines(t, "re-apply", out, want...)

	out, _ = mustEgress(t, "list", "-A")
	if !hasLine(out, `^fix-gateway\s+www\.wikipedia\.org\s+egress-gateway\s+gateway\.networking\.istio\.io/egress-www-wikipedia-org\s+\S+$`) {
		t.Errorf("list -A:\n%s", out)
	}
	out, _ = mustEgress(t, "undo", "--all", "-n", ns, "--yes")
	if n := strings.Count(out, " deleted\n"); n != 4 {
		t.Errorf("undo --all deleted %d objects:\n%s", n, out)
	}
	dispositionAfterReplay(t, ns, sc, "www.wikipedia.org", 443, inspect.DispositionPassthrough)

	// TLS origination at the gateway: the app calls http://, the gateway does TLS.
	out, _ = mustEgress(t, "route-via-gateway", "www.wikipedia.org", "--tls-origination", "--timeout", "10s", "-n", ns, "--yes")
	wantLines(t, "route-via-gateway --tls-origination", out,
		"destinationrule.networking.istio.io/egress-www-wikipedia-org created",
		"virtualservice.networking.istio.io/egress-www-wikipedia-org created",
		"tell the app owner: call http://www.wikipedia.org (port 80), not https://: the egress gateway istio-system/istio-egressgateway now does TLS to www.wikipedia.org:443")
	sc.SetCalls([]sidecar.Call{{Host: "www.wikipedia.org", IP: "203.0.113.64", Port: 80, Scheme: "http", Count: 2}})
	dispositionAfterReplay(t, ns, sc, "www.wikipedia.org", 80, inspect.DispositionEgressGateway)
	out, _ = mustEgress(t, "undo", "www.wikipedia.org", "-n", ns, "--yes")
	if n := strings.Count(out, " deleted\n"); n != 5 {
		t.Errorf("undo deleted %d objects:\n%s", n, out)
	}
}

// Guards refuse in one line, exit 1, and create nothing.
func TestFixGuards(t *testing.T) {
	const ns = "fix-guards"
	namespace(t, ns)
	kubectl(t, `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: legacy, namespace: fix-guards}
spec:
  hosts: [legacy.example.com]
  exportTo: ["."]
  ports: [{number: 80, name: tcp, protocol: TCP}]
  addresses: [192.0.2.80]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: egress-clash-example-com, namespace: fix-guards}
spec:
  hosts: [clash.example.com]
  exportTo: ["."]
  ports: [{number: 8443, name: tls, protocol: TLS}]
  resolution: DNS
---
apiVersion: v1
kind: Service
metadata: {name: helm-egress, namespace: fix-guards}
spec:
  selector: {istio: egress-from-helm}
  ports: [{name: https, port: 443}]
`, "apply", "-f", "-")

	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"another protocol on the port": {
			[]string{"enable-tls-origination", "legacy.example.com", "--yes"},
			"error: refusing to declare legacy.example.com port 80 as HTTP: ServiceEntry fix-guards/legacy declares it as TCP, and one host with two protocols on a port blackholes traffic (istio#51466, IST0177); use TCP, or change fix-guards/legacy\n",
		},
		"unmanaged object of the same name": {
			[]string{"register", "clash.example.com", "--port", "443", "--protocol", "TLS", "--yes"},
			"error: refusing to replace ServiceEntry fix-guards/egress-clash-example-com: it exists and is not managed by kubectl-egress; remove it, or pass --force to take it over\n",
		},
		"no traffic seen and no port": {
			[]string{"register", "unseen.example.com", "--yes"},
			"error: no traffic to unseen.example.com was seen from the pods of namespace fix-guards: give its port and protocol, e.g. --port 443 --protocol TLS\n",
		},
		"gateway selector matches no pod": {
			[]string{"route-via-gateway", "www.example.org", "--gateway", "fix-guards/helm-egress", "--yes"},
			"error: egress gateway selector istio=egress-from-helm (from service fix-guards/helm-egress) matches no pod in fix-guards (istio#45854): check the gateway is installed and its pods' labels\n",
		},
	} {
		t.Run(name, func(t *testing.T) {
			out, stderr, code := egress(t, append(tc.args, "-n", ns)...)
			if code != 1 || stderr != tc.want || out != "" {
				t.Errorf("exit %d\nstdout %q\nstderr %q\nwant   %q", code, out, stderr, tc.want)
			}
			if got := managedIn(t, ns); got != "" {
				t.Errorf("objects created: %s", got)
			}
		})
	}
	if l := kubectl(t, "", "get", "serviceentry", "-n", ns, "egress-clash-example-com", "-o", "jsonpath={.metadata.labels}"); l != "" {
		t.Errorf("the unmanaged ServiceEntry was changed: labels %s", l)
	}
}

// onTerminal runs `kubectl egress ARGS` in a pseudo-terminal (util-linux script) and types
// answer once the [y/N] prompt shows, as a user would.
func onTerminal(t *testing.T, answer string, args ...string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script (util-linux) not installed: no pseudo-terminal")
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "script", "-qec", "kubectl egress "+strings.Join(quoted, " "), "/dev/null")
	cmd.WaitDelay = time.Second
	cmd.Env = pluginEnv()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan string)
	go func() {
		var out strings.Builder
		buf := make([]byte, 4096)
		typed := false
		for {
			n, err := pr.Read(buf)
			out.Write(buf[:n])
			if !typed && strings.Contains(out.String(), "[y/N]: ") {
				typed = true
				_, _ = io.WriteString(stdin, answer)
			}
			if err != nil {
				done <- out.String()
				return
			}
		}
	}()
	err = cmd.Wait()
	pw.Close()
	out := <-done
	stdin.Close()
	return strings.ReplaceAll(out, "\r\n", "\n"), err
}

// On a terminal the plan's objects with their action, then their diff, are shown and the user
// is asked; "n" applies nothing, "y" applies; a second run shows no changes.
func TestFixOnTerminal(t *testing.T) {
	const ns = "fix-terminal"
	namespace(t, ns)
	args := []string{"register", "api.example.net", "--port", "443", "--protocol", "TLS", "-n", ns}

	out, err := onTerminal(t, "n\n", args...)
	for _, w := range []string{
		"Plan for namespace fix-terminal (1 object):",
		"OBJECT                                                    NAMESPACE      HOST              FIX        ACTION",
		"serviceentry.networking.istio.io/egress-api-example-net   fix-terminal   api.example.net   register   create",
		"Diff against the live objects (server-side dry run):",
		"--- live/fix-terminal/serviceentry.networking.istio.io/egress-api-example-net",
		"+++ planned/fix-terminal/serviceentry.networking.istio.io/egress-api-example-net",
		"+  - api.example.net",
		"Apply 1 object to namespace fix-terminal? [y/N]: ",
		"error: nothing applied: not confirmed",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("answering n: no %q in:\n%s", w, out)
		}
	}
	if err == nil {
		t.Errorf("answering n exits 0")
	}
	if got := managedIn(t, ns); got != "" {
		t.Errorf("objects created after answering n: %s", got)
	}

	out, err = onTerminal(t, "y\n", args...)
	if err != nil || !strings.Contains(out, "serviceentry.networking.istio.io/egress-api-example-net created\n") {
		t.Errorf("answering y: %v\n%s", err, out)
	}
	out, _ = onTerminal(t, "y\n", args...)
	if !strings.Contains(out, "   unchanged\n\nNo changes: the live objects already match.") || !strings.Contains(out, "egress-api-example-net unchanged\n") {
		t.Errorf("second run:\n%s", out)
	}
	out, err = onTerminal(t, "y\n", "undo", "api.example.net", "-n", ns)
	if err != nil || !strings.Contains(out, "Delete 1 objects? [y/N]: ") || !strings.Contains(out, "egress-api-example-net deleted\n") {
		t.Errorf("undo on a terminal: %v\n%s", err, out)
	}
}

// A fix of several objects is all or nothing against the real API server: an admission policy
// rejects the VirtualService, the last object of route-via-gateway, and the objects applied
// before it are deleted again; the error says so.
func TestFixRollback(t *testing.T) {
	const ns = "fix-rollback"
	namespace(t, ns)
	policy := `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: fix-rollback-no-virtualservices}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - {apiGroups: [networking.istio.io], apiVersions: ["*"], operations: [CREATE, UPDATE], resources: [virtualservices]}
  validations:
  - {expression: "false", message: "VirtualServices are frozen in this namespace"}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: fix-rollback-no-virtualservices}
spec:
  policyName: fix-rollback-no-virtualservices
  validationActions: [Deny]
  matchResources:
    namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: fix-rollback}}
`
	kubectl(t, policy, "apply", "-f", "-")
	t.Cleanup(func() { _, _ = kubectlErr(policy, "delete", "-f", "-") })
	probe := `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: probe, namespace: fix-rollback}
spec: {hosts: [probe.example.com], http: [{route: [{destination: {host: probe.example.com}}]}]}
`
	eventually(t, 30*time.Second, "the admission policy in force", func() error {
		if out, err := kubectlErr(probe, "apply", "--dry-run=server", "-f", "-"); err == nil {
			return fmt.Errorf("VirtualService still accepted: %s", out)
		}
		return nil
	})

	out, stderr, code := egress(t, "route-via-gateway", "www.wikipedia.org", "-n", ns, "--yes")
	want := "error: failed to apply virtualservice.networking.istio.io/egress-www-wikipedia-org in namespace fix-rollback: " +
		"virtualservices.networking.istio.io \"egress-www-wikipedia-org\" is forbidden: ValidatingAdmissionPolicy 'fix-rollback-no-virtualservices' " +
		"with binding 'fix-rollback-no-virtualservices' denied request: VirtualServices are frozen in this namespace; rolled back: " +
		"gateway.networking.istio.io/egress-www-wikipedia-org deleted, destinationrule.networking.istio.io/egress-www-wikipedia-org-gw deleted, " +
		"serviceentry.networking.istio.io/egress-www-wikipedia-org deleted\n"
	if code != 1 || stderr != want || out != "" {
		t.Errorf("exit %d\nstdout %q\nstderr %q\nwant   %q", code, out, stderr, want)
	}
	if got := managedIn(t, ns); got != "" {
		t.Errorf("left behind after the rollback: %s", got)
	}
}
