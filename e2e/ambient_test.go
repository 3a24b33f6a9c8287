//go:build e2e

package e2e

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-egress/kubectl-egress/e2e/mesh"
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
