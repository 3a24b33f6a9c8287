package plugin

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-egress/kubectl-egress/inspect"
)

func TestFixCandidates(t *testing.T) {
	rec := func(f inspect.Fix) inspect.Recommendation {
		return inspect.Recommendation{Fix: f, Reason: string(f) + " because"}
	}
	r := inspect.Report{Destinations: []inspect.Destination{
		{Host: "httpbin.org", Port: 80, Protocol: "HTTP", Disposition: inspect.DispositionPassthrough, Pods: []string{"a/web-1"}, Recommendation: rec(inspect.FixRegister)},
		{Host: "httpbin.org", Port: 443, Protocol: "TLS", Disposition: inspect.DispositionPassthrough, Pods: []string{"a/web-0", "a/web-1"}, Recommendation: rec(inspect.FixTLSOrigination)},
		{Host: "google.com", Port: 443, Protocol: "TLS", Disposition: inspect.DispositionBlocked, Pods: []string{"a/web-0"}, Recommendation: rec(inspect.FixRegister)},
		{Host: "unknown", Disposition: inspect.DispositionPassthrough, Recommendation: rec(inspect.FixNone)},
		{Host: "*", Disposition: inspect.DispositionBypassed, Recommendation: rec(inspect.FixNone)},
		{Host: "www.googleapis.com", Port: 443, Protocol: "TLS", Disposition: inspect.DispositionRegistered, Recommendation: rec(inspect.FixTLSOrigination)},
	}}
	want := []fixCandidate{
		{Host: "google.com", Ports: []uint32{443}, Protocol: "TLS", Disposition: inspect.DispositionBlocked, Pods: []string{"a/web-0"},
			Fix: inspect.FixRegister, Reason: "register because"},
		{Host: "httpbin.org", Ports: []uint32{80, 443}, Protocol: "TLS", Disposition: inspect.DispositionPassthrough, Pods: []string{"a/web-1", "a/web-0"},
			Fix: inspect.FixTLSOrigination, Reason: "tls-origination because"},
	}
	got := fixCandidates(r)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("candidates (-want +got):\n%s", diff)
	}
	var defaults []string
	for _, c := range append(got, fixCandidate{Host: "x", Fix: inspect.FixNone}) {
		defaults = append(defaults, defaultChoice(c))
	}
	if diff := cmp.Diff([]string{"register", "tls-origination", "skip"}, defaults); diff != "" {
		t.Errorf("default choices (-want +got):\n%s", diff)
	}
}

func TestPrintCandidates(t *testing.T) {
	var buf bytes.Buffer
	printCandidates(&buf, []fixCandidate{{Host: "httpbin.org", Ports: []uint32{80, 443}, Protocol: "TLS",
		Disposition: inspect.DispositionPassthrough, Pods: []string{"a/b"}, Fix: inspect.FixTLSOrigination}})
	want := `1 external host is not registered in the mesh:

HOST          PORTS    PROTOCOL   DISPOSITION   PODS   RECOMMENDED
httpbin.org   80,443   TLS        passthrough   1      tls-origination

`
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestConfigInPlace(t *testing.T) {
	pod := func(checks ...inspect.Check) inspect.PodVerification { return inspect.PodVerification{Checks: checks} }
	tests := []struct {
		name string
		v    inspect.Verification
		want bool
	}{
		{"no pods", inspect.Verification{}, false},
		{"cluster and tls in place, traffic pending", inspect.Verification{Pods: []inspect.PodVerification{pod(
			inspect.Check{Name: inspect.CheckCluster, Status: inspect.CheckPass},
			inspect.Check{Name: inspect.CheckTLS, Status: inspect.CheckPass},
			inspect.Check{Name: inspect.CheckMetrics, Status: inspect.CheckPending},
			inspect.Check{Name: inspect.CheckApp, Status: inspect.CheckFail})}}, true},
		{"tls not pushed yet", inspect.Verification{Pods: []inspect.PodVerification{pod(
			inspect.Check{Name: inspect.CheckCluster, Status: inspect.CheckPass},
			inspect.Check{Name: inspect.CheckTLS, Status: inspect.CheckFail})}}, false},
		{"one pod of two without the cluster", inspect.Verification{Pods: []inspect.PodVerification{
			pod(inspect.Check{Name: inspect.CheckCluster, Status: inspect.CheckPass}),
			pod(inspect.Check{Name: inspect.CheckCluster, Status: inspect.CheckFail})}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := configInPlace(tt.v); got != tt.want {
				t.Errorf("configInPlace = %v, want %v", got, tt.want)
			}
		})
	}
}

// Without a terminal the fix command refuses before it connects to anything, and bare
// `kubectl egress` prints its help.
func TestFixRefusesWithoutTerminal(t *testing.T) {
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	code := Execute(streams, []string{"fix", "-n", "shop", "--kubeconfig", "/nonexistent"})
	want := "error: kubectl egress fix is interactive and needs a terminal: use kubectl egress register|enable-tls-origination|route-via-gateway HOST --yes, or -o yaml\n"
	if code != 1 || errOut.String() != want || out.Len() != 0 {
		t.Errorf("exit %d, stderr %q, stdout %q; want exit 1 and %q", code, errOut.String(), out.String(), want)
	}

	streams, _, out, errOut = genericiooptions.NewTestIOStreams()
	if code := Execute(streams, nil); code != 0 || !strings.Contains(out.String(), "Available Commands:") || errOut.Len() != 0 {
		t.Errorf("bare kubectl egress without a terminal: exit %d, stdout:\n%s\nstderr: %s", code, out.String(), errOut.String())
	}
}

func TestFixValidate(t *testing.T) {
	tests := []struct {
		name     string
		terminal bool
		mutate   func(*FixOptions)
		want     string
	}{
		{"terminal, defaults", true, func(*FixOptions) {}, ""},
		{"no terminal", false, func(*FixOptions) {}, errNoTerminal.Error()},
		{"negative verify wait", true, func(o *FixOptions) { o.VerifyWait = -time.Second }, "--verify-wait must not be negative, not -1s"},
		{"bad dry run", true, func(o *FixOptions) { o.DryRun = "maybe" }, `invalid dry-run value "maybe": must be "none", "server", or "client"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewFixOptions(genericclioptions.NewConfigFlags(false), genericiooptions.NewTestIOStreamsDiscard())
			o.terminal = func() bool { return tt.terminal }
			tt.mutate(o)
			if got := errString(o.Validate()); got != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestVerifyValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*VerifyOptions)
		want   string
	}{
		{"defaults", func(*VerifyOptions) {}, ""},
		{"no host", func(o *VerifyOptions) { o.Host = "" }, "name the host to verify: kubectl egress verify HOST"},
		{"wide output", func(o *VerifyOptions) { o.Output = "wide" }, `unknown output format "wide": use json or yaml`},
		{"unknown fix", func(o *VerifyOptions) { o.Fix = "origination" }, `unknown fix "origination": use register, tls-origination or egress-gateway`},
		{"negative wait", func(o *VerifyOptions) { o.Wait = -time.Second }, "--wait must not be negative and --interval must be positive"},
		{"admin port", func(o *VerifyOptions) { o.AdminPort = 0 }, "--admin-port must be a port number, not 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewVerifyOptions(nil, genericiooptions.NewTestIOStreamsDiscard())
			o.Host = "httpbin.org"
			tt.mutate(o)
			if got := errString(o.Validate()); got != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
}
