//go:build e2e

package e2e

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-egress/kubectl-egress/e2e/sidecar"
	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// Access logs in Istio's JSON encoding and in a TEXT format of the mesh's own (Telemetry
// providers of meshConfig.extensionProviders) name the same hosts as the default TEXT: inspect
// reads each proxy's log by the format its own listeners configure.
func TestInspectLogFormats(t *testing.T) {
	calls := []sidecar.Call{
		{Host: "httpbin.org", IP: "203.0.113.10", Port: 443, Scheme: "https", Count: 3},
		{Host: "edition.cnn.com", IP: "203.0.113.20", Port: 80, Scheme: "http", Path: "/politics", Count: 2},
		{Host: "api.partner.example", IP: "198.51.100.7", Port: 8443, Scheme: "https", Count: 1},
	}
	telemetry := func(provider string) string {
		return fmt.Sprintf(`apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: access-logs}
spec:
  accessLogging: [{providers: [{name: %s}]}]
`, provider)
	}
	cases := []struct{ ns, telemetry, format string }{
		{"e2e-log-default", "", "TEXT"},
		{"e2e-log-json", telemetry("envoy-json"), "(JSON)"},
		{"e2e-log-custom", telemetry("envoy-custom-text"), "(TEXT)"},
	}
	hosts := map[string][]string{}
	for _, c := range cases {
		startApp(t, c.ns, "shop", c.telemetry, calls)
	}
	for _, c := range cases {
		var r inspect.Report
		eventually(t, 30*time.Second, "access-log entries of "+c.ns, func() error {
			r = inspectJSON(t, "-n", c.ns)
			if len(r.Pods) != 1 || r.Pods[0].AccessLog.Entries < 6 {
				return fmt.Errorf("pods %+v", r.Pods)
			}
			// The Telemetry reaches a new proxy's listeners asynchronously (a loaded istiod
			// may give the first listeners without it): the proxy's log turns to its format
			// at the next replay, and inspect must then read it by that format.
			if !slices.ContainsFunc(r.Pods[0].AccessLog.Formats, func(f string) bool { return strings.Contains(f, c.format) }) {
				return fmt.Errorf("log not read by a %s format: %+v", c.format, r.Pods[0].AccessLog)
			}
			return nil
		})
		var got []string
		for _, d := range r.Destinations {
			if slices.Contains(d.Signals, inspect.SignalAccessLog) {
				got = append(got, fmt.Sprintf("%s:%d %s", d.Host, d.Port, d.Disposition))
			}
		}
		sort.Strings(got)
		hosts[c.ns] = got
	}
	want := []string{"198.51.100.7:8443 passthrough", "edition.cnn.com:80 passthrough", "httpbin.org:443 passthrough"}
	for _, c := range cases {
		if diff := cmp.Diff(want, hosts[c.ns]); diff != "" {
			t.Errorf("%s: hosts named by the access log (-want +got):\n%s", c.ns, diff)
		}
	}
}
