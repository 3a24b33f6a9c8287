//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-egress/kubectl-egress/e2e/sidecar"
)

// errorLines are the lines of stderr that report a problem.
func errorLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "Warning: ") || strings.HasPrefix(l, "error: ") {
			out = append(out, l)
		}
	}
	return out
}

// The stand-in's admin API misbehaves in each way a real proxy (or what sits in front of it)
// can: every run ends in time, exits non-zero with one line that names the pod and what to do,
// and leaves no connection open; a 2 GiB body costs no more memory than the size cap.
func TestAdminFaults(t *testing.T) {
	const ns = "faults-admin"
	pod, sc := startApp(t, ns, "app", "", []sidecar.Call{{Host: "httpbin.org", IP: "203.0.113.70", Port: 443, Scheme: "https"}})
	p := newAPIProxy(t, pluginTokenOf())
	kc := p.kubeconfig()
	key := ns + "/" + pod
	base := runPlugin(t, nil, "inspect", pod, "-n", ns, "--kubeconfig", kc)
	if base.code != 0 {
		t.Fatalf("healthy pod: exit %d: %s", base.code, base.stderr)
	}
	tests := []struct {
		fault sidecar.Fault
		args  []string
		code  int
		want  string // in the one line about the pod
	}{
		// The stats are read first (they decide how much configuration to read): a proxy that hangs
		// is caught there, and one whose every first read fails is not asked for the rest.
		// Through a port-forward a reset connection looks like a silent one: either line says what to do.
		{sidecar.FaultRefuse, []string{"--admin-timeout", "2s"}, 2, "pod " + key + ": "},
		{sidecar.FaultHang, []string{"--admin-timeout", "1s"}, 2, "GET /stats/prometheus: no answer within the 1s time cap (raise --admin-timeout)"},
		{sidecar.FaultDrip, []string{"--admin-timeout", "1s"}, 2, "GET /stats/prometheus: response not complete within the 1s time cap (raise --admin-timeout)"},
		{sidecar.FaultTruncated, nil, 2, "failed to parse part of the admin output of pod " + key + " (config dump: the JSON stops at byte "},
		{sidecar.FaultNotJSON, nil, 2, "failed to parse part of the admin output of pod " + key + " (config dump: an HTML or XML page, not Envoy's output; "},
		{sidecar.FaultHuge, []string{"--max-bytes", "8388608"}, 2, "GET /stats/prometheus, /server_info, /config_dump?resource=static_clusters, /config_dump?resource=dynamic_listeners: response of 2147483648 bytes, larger than 8388608: size cap exceeded (raise --max-bytes)"},
		{sidecar.FaultHuge, nil, 2, "GET /stats/prometheus, /server_info, /config_dump?resource=static_clusters, /config_dump?resource=dynamic_listeners: response of 2147483648 bytes, larger than 67108864: size cap exceeded (raise --max-bytes)"},
		{sidecar.FaultWrongContentType, nil, 0, ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.fault)+strings.Join(tt.args, ""), func(t *testing.T) {
			sc.SetFault(tt.fault)
			defer sc.SetFault(sidecar.FaultNone)
			start := time.Now()
			r := runPlugin(t, nil, append([]string{"inspect", pod, "-n", ns, "--kubeconfig", kc}, tt.args...)...)
			t.Logf("exit %d in %s, peak RSS %d MiB (healthy run: %d MiB)", r.code, time.Since(start).Round(time.Millisecond), r.maxRSSKiB>>10, base.maxRSSKiB>>10)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\n%s", r.code, tt.code, r.stderr)
			}
			if tt.want != "" {
				lines := errorLines(r.stderr)
				if len(lines) != 2 || !strings.Contains(lines[0], tt.want) || !strings.Contains(lines[0], key) || !strings.Contains(lines[0], "--") && !strings.Contains(lines[0], "run again") ||
					lines[1] != "error: some targets could not be read: 1 of 1 pods" {
					t.Errorf("want one line naming %s with %q, then the summary; stderr:\n%s", key, tt.want, r.stderr)
				}
			}
			if tt.fault == sidecar.FaultHuge {
				capMiB := int64(64)
				if len(tt.args) > 0 {
					capMiB = 8
				}
				// Reading stops at the cap: the peak over a healthy run stays within the cap and
				// the buffer growth of reading up to it, far from the 2 GiB sent.
				if extra := (r.maxRSSKiB - base.maxRSSKiB) >> 10; extra > 3*capMiB {
					t.Errorf("peak RSS %d MiB over a healthy run, with a %d MiB cap", extra, capMiB)
				}
			}
			if n := p.openConns(5 * time.Second); n != 0 {
				t.Errorf("%d connections to the API server still open after the process ended", n)
			}
		})
	}

	t.Run("admin on another port", func(t *testing.T) {
		kubectl(t, "", "patch", "portforwards.kwok.x-k8s.io", pod, "-n", ns, "--type=json",
			"-p", `[{"op":"replace","path":"/spec/forwards/0/ports","value":[15001,15090]}]`)
		var r pluginRun
		eventually(t, 20*time.Second, "kwok forwards 15001", func() error {
			if r = runPlugin(t, nil, "inspect", pod, "-n", ns, "--admin-port", "15001", "--kubeconfig", kc); r.code != 0 {
				return errorf("exit %d: %s", r.code, r.stderr)
			}
			return nil
		})
		r = runPlugin(t, nil, "inspect", pod, "-n", ns, "--kubeconfig", kc)
		lines := errorLines(r.stderr)
		if r.code != 2 || len(lines) != 2 || !strings.Contains(lines[0], "pod "+key+": the Envoy admin port 15000 did not answer") || !strings.Contains(lines[0], "pass --admin-port") {
			t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
		}
	})
}

// Faults of the cluster, around the proxies: each exits non-zero with one line that names the
// pod or object and what to do, and leaves no object of a fix half-applied.
func TestClusterFaults(t *testing.T) {
	const ns = "faults-cluster"
	pod, _ := startApp(t, ns, "app", "", []sidecar.Call{{Host: "httpbin.org", IP: "203.0.113.71", Port: 443, Scheme: "https"}})

	// oneError checks the exit code and the one line about the problem: the error, or the first
	// warning of a partial run (plans' own warnings aside).
	oneError := func(t *testing.T, r pluginRun, code int, want ...string) {
		t.Helper()
		var line string
		for _, l := range errorLines(r.stderr) {
			switch {
			case code == 1 && strings.HasPrefix(l, "error: "):
				line = l
			case code != 1 && line == "" && !strings.Contains(l, "IST0129"):
				line = l
			}
		}
		if r.code != code || line == "" {
			t.Fatalf("exit %d, want %d; stderr:\n%s", r.code, code, r.stderr)
		}
		for _, w := range want {
			if !strings.Contains(line, w) {
				t.Errorf("line %q does not say %q", line, w)
			}
		}
	}
	kubeconfig, _ := asPlugin()
	asUser := func(args ...string) []string { return append(args, "--kubeconfig", kubeconfig) }

	t.Run("namespace missing", func(t *testing.T) {
		r := runPlugin(t, nil, asUser("inspect", "-n", "nosuchns")...)
		oneError(t, r, 1, "error: no pods found in namespace nosuchns: namespace nosuchns does not exist")
	})
	// Pods the scope names but that cannot be read: nothing to report, and the reason.
	for _, tt := range []struct{ name, pod, spec, want string }{
		{"pod not running", "pending", `nodeSelector: {no-such-node: "true"}
  containers: [{name: app, image: busybox}, {name: istio-proxy, image: proxyv2}]`,
			"error: pod faults-cluster/pending: not running (phase Pending): wait until it runs"},
		{"no sidecar", "plain", `nodeName: kwok-node-0
  tolerations: [{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}]
  containers: [{name: app, image: busybox}]`,
			"error: pod faults-cluster/plain: no istio-proxy sidecar: inject one"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			kubectl(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: "+tt.pod+", namespace: faults-cluster}\nspec:\n  "+tt.spec+"\n", "apply", "-f", "-")
			oneError(t, runPlugin(t, nil, asUser("inspect", tt.pod, "-n", ns)...), 1, tt.want)
		})
	}
	t.Run("pods/log forbidden", func(t *testing.T) {
		kubectl(t, `apiVersion: v1
kind: ServiceAccount
metadata: {name: no-logs, namespace: faults-cluster}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: no-logs, namespace: faults-cluster}
rules:
- {apiGroups: [""], resources: [pods], verbs: [get, list]}
- {apiGroups: [""], resources: [pods/portforward], verbs: [get, create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: no-logs, namespace: faults-cluster}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: no-logs}
subjects: [{kind: ServiceAccount, name: no-logs, namespace: faults-cluster}]
`, "apply", "-f", "-")
		token := strings.TrimSpace(kubectl(t, "", "create", "token", "no-logs", "-n", ns))
		r := runPlugin(t, nil, asUser("inspect", pod, "-n", ns, "--token", token)...)
		oneError(t, r, 2, `reading the istio-proxy log of pod `+ns+"/"+pod+` is forbidden: ask for RBAC verb "get" on "pods/log"`)
		if strings.Contains(r.stderr, token) {
			t.Errorf("stderr echoes the bearer token")
		}
	})
	t.Run("Istio CRDs absent", func(t *testing.T) {
		p := newAPIProxy(t, pluginTokenOf())
		p.setHook(func(w http.ResponseWriter, r *http.Request) bool {
			switch {
			case strings.HasPrefix(r.URL.Path, "/apis/networking.istio.io"):
				http.NotFound(w, r)
				return true
			case r.URL.Path == "/apis":
				p.withoutGroup(w, r, "networking.istio.io")
				return true
			}
			return false
		})
		r := runPlugin(t, nil, "register", "api.faults.example", "--port", "443", "--protocol", "TLS", "--istio-version", "1.31", "-n", ns, "--yes", "--kubeconfig", p.kubeconfig())
		oneError(t, r, 1, "error: Istio CRDs are not installed in this cluster", "check --context")
	})
	t.Run("API server stops between two objects", func(t *testing.T) {
		p := newAPIProxy(t, pluginTokenOf())
		p.setHook(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/destinationrules/") && !r.URL.Query().Has("dryRun") {
				p.setHook(nil)
				if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
					conn.Close() // the request dies with the server, unanswered
				}
				go func() {
					p.stop()
					time.Sleep(3 * time.Second)
					if err := p.restart(); err != nil {
						t.Error(err)
					}
				}()
				return true
			}
			return false
		})
		r := runPlugin(t, nil, "enable-tls-origination", "tls.faults.example", "-n", ns, "--yes", "--istio-version", "1.31", "--kubeconfig", p.kubeconfig())
		oneError(t, r, 1, "error: failed to apply destinationrule.networking.istio.io/egress-tls-faults-example in namespace "+ns,
			"rolled back: serviceentry.networking.istio.io/egress-tls-faults-example deleted")
		if got := managedIn(t, ns); got != "" {
			t.Errorf("left behind: %s", got)
		}
	})
	t.Run("conflicting field manager", func(t *testing.T) {
		r := runPlugin(t, nil, asUser("register", "conflict.faults.example", "--port", "443", "--protocol", "TLS", "--istio-version", "1.31", "-n", ns, "--yes")...)
		if r.code != 0 {
			t.Fatalf("first register: exit %d: %s", r.code, r.stderr)
		}
		kubectl(t, `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: egress-conflict-faults-example, namespace: faults-cluster}
spec: {hosts: [conflict.faults.example], resolution: NONE}
`, "apply", "--server-side", "--field-manager=platform-team", "--force-conflicts", "-f", "-")
		r = runPlugin(t, nil, asUser("register", "conflict.faults.example", "--port", "443", "--protocol", "TLS", "--istio-version", "1.31", "-n", ns, "--yes")...)
		oneError(t, r, 1, "serviceentry.networking.istio.io/egress-conflict-faults-example", "another field manager owns these fields: pass --force to take them over")
	})
	t.Run("webhook rejects the third object", func(t *testing.T) {
		denyWebhook(t, ns, "gateways", "Gateways need a change ticket in this namespace")
		probe := "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: probe, namespace: faults-cluster}\nspec: {selector: {istio: egressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [probe.example]}]}\n"
		eventually(t, 30*time.Second, "the webhook in force", func() error {
			if out, err := kubectlErr(probe, "apply", "--dry-run=server", "-f", "-"); err == nil {
				return errorf("Gateway still accepted: %s", out)
			}
			return nil
		})
		r := runPlugin(t, nil, asUser("route-via-gateway", "www.wikipedia.org", "-n", ns, "--yes")...)
		oneError(t, r, 1, "error: failed to apply gateway.networking.istio.io/egress-www-wikipedia-org in namespace "+ns,
			"Gateways need a change ticket in this namespace",
			"rolled back: destinationrule.networking.istio.io/egress-www-wikipedia-org-gw deleted, serviceentry.networking.istio.io/egress-www-wikipedia-org deleted")
		if got := kubectl(t, "", "get", "serviceentries,destinationrules,gateways,virtualservices", "-n", ns, "-l", "app.kubernetes.io/managed-by=kubectl-egress", "-o", "name"); strings.Contains(got, "wikipedia") {
			t.Errorf("left behind: %s", got)
		}
	})
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
