//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-egress/kubectl-egress/e2e/sidecar"
	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// verifyJSON runs `kubectl egress verify ARGS -o json`.
func verifyJSON(t *testing.T, args ...string) (inspect.Verification, string, int) {
	t.Helper()
	out, stderr, code := egress(t, append([]string{"verify", "-o", "json"}, args...)...)
	var v inspect.Verification
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("verify -o json (exit %d) is not a verification: %v\nstdout: %.800s\nstderr: %s", code, err, out, stderr)
	}
	return v, stderr, code
}

func checkStatus(v inspect.Verification, name inspect.CheckName) inspect.CheckStatus {
	if len(v.Pods) != 1 {
		return "pods: " + inspect.CheckStatus(fmt.Sprint(len(v.Pods)))
	}
	for _, c := range v.Pods[0].Checks {
		if c.Name == name {
			return c.Status
		}
	}
	return "absent"
}

func missingText(v inspect.Verification) string {
	var s []string
	for _, p := range v.Pods {
		s = append(s, p.Missing...)
	}
	return strings.Join(s, "\n")
}

// TLS origination, end to end: before the fix verify fails naming the missing cluster and the
// passthrough calls; after `enable-tls-origination` it finds the cluster and its TLS socket with
// the host's SNI but says the app still calls https://; once the app calls http:// the L7
// metrics appear and verify passes.
func TestVerifyTLSOrigination(t *testing.T) {
	const ns, app, host = "e2e-verify-tls", "payments", "httpbin.org"
	pod, _ := startApp(t, ns, app, "", []sidecar.Call{{Host: host, IP: "203.0.113.10", Port: 443, Scheme: "https", Count: 2}})

	start := time.Now()
	v, _, code := verifyJSON(t, host, "-n", ns)
	if code == 0 || v.Passed {
		t.Fatalf("verify passed before any fix: %+v", v)
	}
	if got := checkStatus(v, inspect.CheckCluster); got != inspect.CheckFail {
		t.Errorf("cluster check before the fix = %s, want fail", got)
	}
	if m := missingText(v); !strings.Contains(m, "has no own cluster") || !strings.Contains(m, "PassthroughCluster") {
		t.Errorf("before the fix, missing does not name the cluster and the passthrough calls:\n%s", m)
	}
	t.Logf("verify before the fix: exit %d in %s", code, time.Since(start).Round(time.Millisecond))

	out, stderr, code := egress(t, "enable-tls-origination", host, "-n", ns, "--yes")
	if code != 0 {
		t.Fatalf("enable-tls-origination: exit %d\n%s\n%s", code, out, stderr)
	}

	// istiod pushes; the app keeps calling https:// (its calls replayed on the new config).
	sc := lm.Sidecars.Get(ns, pod)
	start = time.Now()
	// Clusters can arrive before the listeners that route to them: until both have, a replayed
	// call still leaves through PassthroughCluster, which verify rightly reports.
	eventually(t, 30*time.Second, "istiod pushed the originating cluster and its routes", func() error {
		if err := sc.Replay(context.Background()); err != nil {
			return err
		}
		v, _, _ = verifyJSON(t, host, "-n", ns)
		if checkStatus(v, inspect.CheckTLS) != inspect.CheckPass || checkStatus(v, inspect.CheckPassthrough) != inspect.CheckPass {
			return fmt.Errorf("tls check %s, passthrough check %s: %s", checkStatus(v, inspect.CheckTLS),
				checkStatus(v, inspect.CheckPassthrough), missingText(v))
		}
		return nil
	})
	t.Logf("push seen by verify in %s", time.Since(start).Round(time.Millisecond))
	if v.Passed || v.Fix != inspect.FixTLSOrigination || v.FixedAt == nil {
		t.Errorf("after the fix with https calls: passed=%v fix=%q fixedAt=%v", v.Passed, v.Fix, v.FixedAt)
	}
	if got := checkStatus(v, inspect.CheckApp); got != inspect.CheckFail {
		t.Errorf("app check while the app calls https:// = %s, want fail", got)
	}
	if m := missingText(v); !strings.Contains(m, "the app still calls https://httpbin.org: switch it to http://httpbin.org") {
		t.Errorf("missing does not tell the app owner to switch to http://:\n%s", m)
	}
	if want := "outbound|80||httpbin.org"; len(v.Pods) != 1 || !strings.Contains(strings.Join(v.Pods[0].Clusters, ","), want) {
		t.Errorf("clusters: %+v, want %s", v.Pods, want)
	}

	// The app switches to http://; the sidecar originates TLS and reports L7 metrics.
	sc.SetCalls([]sidecar.Call{{Host: host, IP: "203.0.113.10", Port: 80, Scheme: "http", Path: "/get", Count: 3}})
	if err := sc.Replay(context.Background()); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	v, stderr, code = verifyJSON(t, host, "-n", ns, "--wait", "20s")
	if code != 0 || !v.Passed {
		t.Fatalf("verify after the switch to http://: exit %d\n%s\nstderr: %s", code, missingText(v), stderr)
	}
	if got := checkStatus(v, inspect.CheckMetrics); got != inspect.CheckPass {
		t.Errorf("metrics check = %s", got)
	}
	t.Logf("verify passed in %s", time.Since(start).Round(time.Millisecond))

	table, _, code := egress(t, "verify", host, "deploy/"+app, "-n", ns)
	if code != 0 || !strings.Contains(table, "RESULT") || !strings.Contains(table, "pass") {
		t.Errorf("table output (exit %d):\n%s", code, table)
	}
}

// A host registered by hand (kubectl apply, no managed objects): verify infers the fix from the
// proxy and passes once the app's calls use the new cluster; a host nobody calls is an error
// that says how to name the pod.
func TestVerifyRegisteredByHand(t *testing.T) {
	const ns, app, host = "e2e-verify-register", "ledger", "api.stripe.example"
	pod, _ := startApp(t, ns, app, "", []sidecar.Call{{Host: host, IP: "203.0.113.77", Port: 443, Scheme: "https", Count: 2}})

	_, stderr, code := egress(t, "verify", "nobody.example", "-n", ns)
	if code != 1 || !strings.Contains(stderr, "no pod in namespace "+ns+" has traffic that names nobody.example") {
		t.Errorf("verify of a host nobody calls: exit %d, stderr: %s", code, stderr)
	}

	kubectl(t, `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: stripe}
spec:
  hosts: [api.stripe.example]
  exportTo: ["."]
  location: MESH_EXTERNAL
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
`, "apply", "-n", ns, "-f", "-")
	sc := lm.Sidecars.Get(ns, pod)
	var v inspect.Verification
	eventually(t, 30*time.Second, "verify passes for the hand-registered host", func() error {
		if err := sc.Replay(context.Background()); err != nil {
			return err
		}
		v, _, code = verifyJSON(t, host, "-n", ns)
		if code != 0 {
			return fmt.Errorf("exit %d: %s", code, missingText(v))
		}
		return nil
	})
	if v.Fix != inspect.FixRegister || v.FixedAt != nil {
		t.Errorf("fix %q fixedAt %v: want register inferred from the proxy, no managed objects", v.Fix, v.FixedAt)
	}
	if got := checkStatus(v, inspect.CheckMetrics); got != inspect.CheckPass {
		t.Errorf("metrics check (TCP connections under the host's name) = %s", got)
	}
}

// The demo scenarios, read only: each way a host can be handled gets the verdict it deserves.
func TestVerifyScenarios(t *testing.T) {
	tests := []struct {
		ns, host string
		fix      inspect.Fix
		passed   bool
	}{
		{"demo-originated", "httpbin.org", inspect.FixTLSOrigination, true},
		{"demo-gateway", "edition.cnn.com", inspect.FixEgressGateway, true},
		{"demo-registered", "httpbin.org", inspect.FixRegister, true},
		{"demo-passthrough", "edition.cnn.com", inspect.FixRegister, false},
		{"demo-locked", "google.com", inspect.FixRegister, false},
	}
	for _, tt := range tests {
		t.Run(tt.ns+"/"+tt.host, func(t *testing.T) {
			v, stderr, code := verifyJSON(t, tt.host, "-n", tt.ns)
			if v.Passed != tt.passed || (code == 0) != tt.passed || v.Fix != tt.fix {
				t.Errorf("passed %v (exit %d), fix %q; want passed %v, fix %q\n%s\nstderr: %s", v.Passed, code, v.Fix, tt.passed, tt.fix, missingText(v), stderr)
			}
			if !tt.passed && checkStatus(v, inspect.CheckPassthrough) != inspect.CheckFail {
				t.Errorf("passthrough check = %s, want fail for an unregistered host", checkStatus(v, inspect.CheckPassthrough))
			}
		})
	}
}
