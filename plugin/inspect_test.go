package plugin

import (
	"testing"

	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// A scope whose every pod was skipped is one line: the first pod, its reason, and what to do
// for that reason.
func TestNothingReadable(t *testing.T) {
	pod := func(name, reason string) inspect.Skipped {
		return inspect.Skipped{Pod: inspect.Pod{Namespace: "shop", Name: name}, Reason: reason}
	}
	for _, c := range []struct {
		skipped []inspect.Skipped
		want    string
	}{
		{[]inspect.Skipped{pod("web-1", "no istio-proxy sidecar")},
			"pod shop/web-1: no istio-proxy sidecar: inject one (label the namespace istio-injection=enabled, then restart the pod), or pick a pod that has one"},
		{[]inspect.Skipped{pod("web-1", "terminating"), pod("web-2", "terminating")},
			"none of the 2 matching pods can be read (pod shop/web-1: terminating, …): wait until it runs (kubectl get pod web-1 -n shop), or pick a running pod"},
		{[]inspect.Skipped{pod("web-1", "deleted while it was being read")},
			"pod shop/web-1: deleted while it was being read: run it again on the pods that replaced it (kubectl get pods -n shop)"},
	} {
		if got := nothingReadable(c.skipped).Error(); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}
