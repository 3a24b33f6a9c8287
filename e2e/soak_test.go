//go:build e2e

package e2e

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSoak keeps the local mesh busy for SOAK_DURATION (1m by default, on a mesh the rest of
// the suite has already run on for minutes; `make soak` runs 15m on a fresh mesh):
// `kubectl egress inspect -A` every SOAK_INTERVAL (10s), and a register/undo of a
// host nobody calls every SOAK_FIX_EVERY (1m, or half the duration when shorter). Any failed
// command fails the test: the mesh must not decay while a user works with it (a kwok node that
// lost its addresses broke every port-forward a minute after start-up).
func TestSoak(t *testing.T) {
	duration := envDuration(t, "SOAK_DURATION", time.Minute)
	interval := envDuration(t, "SOAK_INTERVAL", 10*time.Second)
	fixEvery := envDuration(t, "SOAK_FIX_EVERY", min(time.Minute, duration/2))
	const ns, host = "demo-passthrough", "soak.example.com"

	start := time.Now()
	nextFix := start.Add(fixEvery)
	var inspects []time.Duration
	fixes := 0
	for time.Since(start) < duration {
		began := time.Now()
		out, errOut, code := egress(t, "inspect", "-A")
		took := time.Since(began)
		if code != 0 || strings.Contains(errOut, "Warning") {
			t.Fatalf("inspect -A after %s of soak (run %d): exit %d\n%s\n%s", time.Since(start).Round(time.Second), len(inspects)+1, code, errOut, out)
		}
		if !hasLine(out, `^httpbin\.org\s+443`) {
			t.Fatalf("inspect -A after %s of soak lost the scenario's destinations:\n%s", time.Since(start).Round(time.Second), out)
		}
		inspects = append(inspects, took)

		if time.Now().After(nextFix) {
			mustEgress(t, "register", host, "--port", "443", "--protocol", "TLS", "-n", ns, "--yes")
			if out := managedIn(t, ns); !strings.Contains(out, "egress-soak-example-com") {
				t.Fatalf("register %s after %s of soak: not listed as managed:\n%s", host, time.Since(start).Round(time.Second), out)
			}
			mustEgress(t, "undo", host, "-n", ns, "--yes")
			fixes++
			nextFix = time.Now().Add(fixEvery)
		}
		time.Sleep(time.Until(began.Add(interval)))
	}
	slices.Sort(inspects)
	t.Logf("soak: %s, mesh up %s at the end; %d inspect -A runs (min %s, median %s, max %s), %d register/undo rounds, no failure",
		duration, time.Since(lm.Started()).Round(time.Second), len(inspects),
		inspects[0].Round(time.Millisecond), inspects[len(inspects)/2].Round(time.Millisecond), inspects[len(inspects)-1].Round(time.Millisecond), fixes)
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return d
}
