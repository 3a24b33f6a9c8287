//go:build e2e

package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-egress/kubectl-egress/e2e/mesh"
	"github.com/kubectl-egress/kubectl-egress/e2e/sidecar"
	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// `inspect -n demo-ambient` reads the ambient pod through the ztunnel of its node (config dump,
// metrics and log of the ztunnel stand-in, which istiod's workload discovery configured) and
// reports the scenario's three external calls: registered (ztunnel sent it out itself),
// egress-waypoint (tunnelled to istio-egress's waypoint) and passthrough (no service).
func TestInspectAmbient(t *testing.T) {
	var scenario mesh.Scenario
	for _, s := range mesh.Scenarios(0) {
		if s.Namespace == "demo-ambient" {
			scenario = s
		}
	}
	r := inspectValidJSON(t, "-n", "demo-ambient")
	got := map[string]string{}
	for _, d := range r.Destinations {
		if _, ok := scenario.Expect[destinationKey(d)]; ok {
			got[destinationKey(d)] = string(d.Disposition)
		}
		switch d.Disposition {
		case inspect.DispositionEgressWaypoint:
			if d.Gateway != mesh.EgressNamespace+"/waypoint" {
				t.Errorf("%s goes through waypoint %q, want %s/waypoint", d.Host, d.Gateway, mesh.EgressNamespace)
			}
		case inspect.DispositionPassthrough:
			if d.Recommendation.Fix != inspect.FixRegister {
				t.Errorf("passthrough %s: recommendation %+v", d.Host, d.Recommendation)
			}
		}
		if d.Counts.Connections == 0 {
			t.Errorf("%s:%d: no connection counted: %+v", d.Host, d.Port, d.Counts)
		}
	}
	if diff := cmp.Diff(scenario.Expect, got); diff != "" {
		t.Errorf("dispositions (-want +got):\n%s\nall: %+v", diff, r.Destinations)
	}
	if len(r.Pods) != 1 {
		t.Fatalf("pods: %+v", r.Pods)
	}
	p := r.Pods[0]
	if p.Dataplane != inspect.DataplaneAmbientWaypoint || !strings.HasPrefix(p.Ztunnel, "istio-system/ztunnel-") || p.ProxyType != inspect.ProxyZtunnel || len(p.Errors) > 0 {
		t.Errorf("pod facts: %+v", p)
	}

	table, stderr, code := egress(t, "inspect", "-n", "demo-ambient", "--pods")
	if code != 0 || !strings.Contains(table, "DATA PLANE") || !strings.Contains(table, inspect.DataplaneAmbientWaypoint) {
		t.Errorf("--pods: exit %d\n%s%s", code, table, stderr)
	}
	// The waypoint is an Envoy proxy, read as one.
	wp := inspectJSON(t, "-n", mesh.EgressNamespace)
	if len(wp.Pods) != 1 || wp.Pods[0].ProxyType != "waypoint" || wp.Pods[0].Dataplane != "" {
		t.Errorf("waypoint pods: %+v", wp.Pods)
	}
}

// enable-tls-origination in an ambient namespace writes the ambient form: the ServiceEntry bound
// to a waypoint, the DestinationRule, and the waypoint itself (the namespace has none). istiod
// deploys the waypoint and pushes it the host's cluster with TLS; ztunnel moves the app's calls
// to it; verify passes on the ambient pod; undo deletes all three and the calls pass through
// again.
func TestAmbientTLSOrigination(t *testing.T) {
	const ns, host, ip = "fix-ambient", "api.ambient-fix.example", "203.0.113.95"
	kubectl(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: "+ns+", labels: {istio.io/dataplane-mode: ambient}}\n", "apply", "-f", "-")
	t.Cleanup(func() { _, _ = kubectlErr("", "delete", "namespace", ns, "--wait=false") })
	manifest, err := mesh.AmbientWorkload(ns, "orders", []sidecar.Call{{Host: host, IP: ip, Port: 80, Scheme: "http", Path: "/v1/orders", Count: 1}})
	if err != nil {
		t.Fatal(err)
	}
	kubectl(t, manifest, "apply", "--server-side", "-f", "-")
	disposition := func(r inspect.Report, h string, port uint32) (inspect.Destination, bool) {
		for _, d := range r.Destinations {
			if d.Host == h && d.Port == port && len(d.Pods) > 0 && strings.HasPrefix(d.Pods[0], ns+"/orders-") {
				return d, true
			}
		}
		return inspect.Destination{}, false
	}
	eventually(t, 90*time.Second, ip+":80 passthrough from the ambient pod", func() error {
		if d, ok := disposition(inspectJSON(t, "-n", ns), ip, 80); !ok || d.Disposition != inspect.DispositionPassthrough {
			return fmt.Errorf("not yet: %+v", d)
		}
		return nil
	})

	out, _ := mustEgress(t, "enable-tls-origination", host, "-n", ns, "--yes")
	for _, want := range []string{
		"serviceentry.networking.istio.io/egress-api-ambient-fix-example created",
		"destinationrule.networking.istio.io/egress-api-ambient-fix-example created",
		"gateway.gateway.networking.k8s.io/waypoint created",
		"the waypoint " + ns + "/waypoint now does TLS to " + host + ":443",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("enable-tls-origination output lacks %q:\n%s", want, out)
		}
	}
	se := kubectl(t, "", "get", "serviceentry", "-n", ns, "egress-api-ambient-fix-example", "-o", "jsonpath={.metadata.labels.istio\\.io/use-waypoint}")
	if se != "waypoint" {
		t.Errorf("ServiceEntry use-waypoint label = %q, want waypoint", se)
	}

	// istiod deploys the waypoint, and its stand-in gets the host's cluster with TLS to :443.
	var wpPod string
	eventually(t, 90*time.Second, "the waypoint's stand-in", func() error {
		pods, err := kubectlErr("", "get", "pods", "-n", ns, "-l", "gateway.networking.k8s.io/gateway-name=waypoint", "-o", "jsonpath={.items[*].metadata.name}")
		if err != nil || strings.TrimSpace(pods) == "" || lm.Sidecars.Get(ns, strings.Fields(pods)[0]) == nil {
			return fmt.Errorf("no waypoint stand-in yet: %s", pods)
		}
		wpPod = strings.Fields(pods)[0]
		return nil
	})
	base := portForward(t, ns, wpPod, 15000)
	eventually(t, 60*time.Second, "the waypoint's cluster for "+host+" originates TLS", func() error {
		dump := get(t, base+"/config_dump?resource=dynamic_active_clusters")
		i := strings.Index(dump, `"name": "inbound-vip|80|http|`+host+`"`)
		if i < 0 {
			return fmt.Errorf("no inbound-vip|80|http|%s cluster", host)
		}
		end := strings.Index(dump[i:], `"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster"`)
		if end < 0 {
			end = len(dump) - i
		}
		cl := dump[i : i+end]
		if !strings.Contains(cl, "UpstreamTlsContext") || !strings.Contains(cl, `"sni": "`+host+`"`) || !strings.Contains(cl, `"port_value": 443`) {
			return fmt.Errorf("cluster has no TLS to %s:443 yet", host)
		}
		return nil
	})

	// ztunnel moves the calls to the waypoint, which originates TLS: inspect and verify say so.
	eventually(t, 90*time.Second, host+":80 tls-origination through the waypoint", func() error {
		d, ok := disposition(inspectJSON(t, "-n", ns, "--since", "20s"), host, 80)
		if !ok || d.Disposition != inspect.DispositionTLSOrigination || d.Gateway != ns+"/waypoint" {
			return fmt.Errorf("not yet: %+v", d)
		}
		return nil
	})
	v, stderr, code := verifyJSON(t, host, "-n", ns)
	if code != 0 || !v.Passed || len(v.Pods) != 1 || !strings.HasPrefix(v.Pods[0].Pod, ns+"/orders-") {
		t.Errorf("verify: exit %d, %+v\n%s", code, v, stderr)
	}

	out, _ = mustEgress(t, "undo", host, "-n", ns, "--yes")
	for _, want := range []string{"gateway.gateway.networking.k8s.io/waypoint deleted", "destinationrule.networking.istio.io/egress-api-ambient-fix-example deleted", "serviceentry.networking.istio.io/egress-api-ambient-fix-example deleted"} {
		if !strings.Contains(out, want) {
			t.Errorf("undo output lacks %q:\n%s", want, out)
		}
	}
	undone := time.Now()
	eventually(t, 90*time.Second, ip+":80 passthrough again after undo", func() error {
		d, ok := disposition(inspectJSON(t, "-n", ns, "--since", "20s"), ip, 80)
		if !ok || d.Disposition != inspect.DispositionPassthrough || d.LastSeen == nil || d.LastSeen.Before(undone) {
			return fmt.Errorf("not yet: %+v", d)
		}
		return nil
	})
}

// ztunnel enforces no outbound traffic policy: policy marks demo-ambient's workload as ambient
// and lists the scenario's unregistered host (203.0.113.60:80, called by IP); lockdown refuses it
// with the way out and writes nothing.
func TestPolicyAndLockdownAmbient(t *testing.T) {
	w := workloadPolicy(t, policyJSON(t, "-n", "demo-ambient"), "demo-ambient", "deploy/cart")
	if !w.Ambient || !slices.Contains(wouldBreak(w), "203.0.113.60:80") {
		t.Errorf("demo-ambient/deploy/cart: ambient %v, would break %v", w.Ambient, wouldBreak(w))
	}
	_, stderr, code := egress(t, "lockdown", "-n", "demo-ambient", "--yes")
	if code != 1 || !strings.Contains(stderr, "refusing to lock down deploy/cart in namespace demo-ambient: it is in ambient mode") ||
		!strings.Contains(stderr, "kubectl egress register HOST -n demo-ambient") {
		t.Errorf("lockdown of an ambient namespace: exit %d\n%s", code, stderr)
	}
	if out := managedIn(t, "demo-ambient"); strings.TrimSpace(out) != "" {
		t.Errorf("lockdown wrote objects although it refused:\n%s", out)
	}
}
