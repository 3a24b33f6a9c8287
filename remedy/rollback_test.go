package remedy

import (
	"context"
	"strings"
	"syscall"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"
)

// Ctrl-C while an object is being applied rolls back what was applied before it, and the one
// in flight, on a context the interrupt did not cancel.
func TestApplyInterruptedRollsBack(t *testing.T) {
	a, client := newTestApplier(t)
	ctx, cancel := context.WithCancel(context.Background())
	client.PrependReactor("patch", "destinationrules", func(clienttesting.Action) (bool, runtime.Object, error) {
		cancel() // the signal lands while the second object is on its way
		return true, nil, context.Canceled
	})
	_, err := a.Apply(ctx, tlsOriginationPlan(t), ApplyOptions{})
	want := "interrupted while applying destinationrule.networking.istio.io/egress-httpbin-org in namespace demo; " +
		"rolled back: serviceentry.networking.istio.io/egress-httpbin-org deleted"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	if left := names(t, a, "ServiceEntry", "demo"); len(left) != 0 {
		t.Errorf("ServiceEntries left behind after the interrupt: %v", left)
	}
}

// An interrupt before the first object writes nothing.
func TestApplyInterruptedBeforeAnything(t *testing.T) {
	a, _ := newTestApplier(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := a.Apply(ctx, tlsOriginationPlan(t), ApplyOptions{})
	want := "interrupted before applying serviceentry.networking.istio.io/egress-httpbin-org in namespace demo; nothing was changed"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

// A rollback outlasts an API server that is briefly away: refused deletes are retried.
func TestRollbackRetriesWhileTheAPIServerIsAway(t *testing.T) {
	a, client := newTestApplier(t)
	failOn(client, "destinationrules")
	refusals := 2
	client.PrependReactor("delete", "serviceentries", func(clienttesting.Action) (bool, runtime.Object, error) {
		if refusals > 0 {
			refusals--
			return true, nil, syscall.ECONNREFUSED
		}
		return false, nil, nil
	})
	_, err := a.Apply(context.Background(), tlsOriginationPlan(t), ApplyOptions{})
	if err == nil || !strings.HasSuffix(err.Error(), "rolled back: serviceentry.networking.istio.io/egress-httpbin-org deleted") {
		t.Fatalf("want a rollback after the retries, got %v", err)
	}
	if left := names(t, a, "ServiceEntry", "demo"); len(left) != 0 {
		t.Errorf("ServiceEntries left behind: %v", left)
	}
}
