//go:build e2e

package e2e

import (
	"strings"
	"testing"

	"github.com/kubectl-egress/kubectl-egress/e2e/sidecar"
	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// The --pods, --clusters and --endpoints views show the proxies' own facts and configuration.
func TestInspectViews(t *testing.T) {
	out, stderr, code := egress(t, "inspect", "-A", "--pods")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "OUTBOUND MODE") || !hasLine(out, `^demo-locked\s+billing-\S+\s+deploy/billing\s+sidecar\s+1\.31\.1\s+REGISTRY_ONLY\s+on\s`) {
		t.Errorf("--pods does not show demo-locked's REGISTRY_ONLY proxy:\n%s", out)
	}
	if !hasLine(out, `^demo-bypass\s.*excludeOutboundIPRanges=192\.0\.2\.0/24`) {
		t.Errorf("--pods does not show demo-bypass's exclusion:\n%s", out)
	}
	out, _, _ = egress(t, "inspect", "-n", "demo-originated", "--clusters")
	if !hasLine(out, `^httpbin\.org\s+80\s+-\s+outbound\s+STRICT_DNS\s+SIMPLE\s+demo-originated/httpbin$`) {
		t.Errorf("--clusters does not show the originating cluster:\n%s", out)
	}
	if strings.Contains(out, "kubernetes.default") {
		t.Errorf("--clusters without --all lists mesh-internal clusters:\n%s", out)
	}
	out, _, _ = egress(t, "inspect", "-n", "demo-originated", "--clusters", "--all")
	if !strings.Contains(out, "kubernetes.default.svc.cluster.local") {
		t.Errorf("--clusters --all misses mesh-internal clusters:\n%s", out)
	}
	out, _, _ = egress(t, "inspect", "-n", "demo-passthrough", "--endpoints")
	if !hasLine(out, `^203\.0\.113\.10:443\s+HEALTHY\s+PassthroughCluster$`) {
		t.Errorf("--endpoints does not list PassthroughCluster's original destination:\n%s", out)
	}
}

// --admin-url reads an Envoy admin API directly, no cluster access needed.
func TestInspectAdminURL(t *testing.T) {
	pod := firstPod(t, "demo-originated", "checkout")
	base := portForward(t, "demo-originated", pod, 15000)
	r := inspectJSON(t, "--admin-url", base)
	found := false
	for _, d := range r.Destinations {
		if d.Host == "httpbin.org" && d.Port == 80 && d.Disposition == inspect.DispositionTLSOrigination {
			found = true
		}
	}
	if !found {
		t.Errorf("--admin-url report lacks httpbin.org:80 tls-origination: %+v", r.Destinations)
	}
	_, stderr, code := egress(t, "inspect", "--admin-url", "http://127.0.0.1:1")
	if code != 1 || !strings.Contains(stderr, "cannot read the Envoy admin API at http://127.0.0.1:1") {
		t.Errorf("unreachable admin URL: exit %d, stderr %q", code, stderr)
	}
}

// With access logging off for a namespace, inspect says so and prints the Telemetry to apply.
func TestInspectAccessLoggingOff(t *testing.T) {
	const ns = "e2e-nologs"
	startApp(t, ns, "quiet", `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: no-access-logs}
spec:
  accessLogging: [{providers: [{name: envoy}], disabled: true}]
`, []sidecar.Call{{Host: "httpbin.org", IP: "203.0.113.10", Port: 443, Scheme: "https", Count: 2}})
	_, stderr, code := egress(t, "inspect", "-n", ns)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "Warning: access logging is off for pod "+ns+"/") || !strings.Contains(stderr, "kind: Telemetry") {
		t.Errorf("no access-logging warning with the Telemetry to apply:\n%s", stderr)
	}
	r := inspectJSON(t, "-n", ns)
	if len(r.Pods) != 1 || r.Pods[0].AccessLogging != inspect.AccessLoggingOff || r.Pods[0].EnableAccessLogging == "" {
		t.Errorf("pod facts: %+v", r.Pods)
	}
}
