package plugin

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-egress/kubectl-egress/fixflow"
	"github.com/kubectl-egress/kubectl-egress/inspect"
)

func TestPrintCandidates(t *testing.T) {
	var buf bytes.Buffer
	if err := printCandidates(&buf, []fixflow.Candidate{{Host: "httpbin.org", Ports: []uint32{80, 443}, Protocol: "TLS",
		Disposition: inspect.DispositionPassthrough, Pods: []string{"a/b"}, Fix: inspect.FixTLSOrigination}}); err != nil {
		t.Fatal(err)
	}
	want := `1 external host is not registered in the mesh:

HOST          PORTS    PROTOCOL   DISPOSITION   PODS   RECOMMENDED
httpbin.org   80,443   TLS        passthrough   1      tls-origination

`
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
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
		{"admin port", func(o *VerifyOptions) { o.Read.AdminPort = 0 }, "--admin-port must be a port number, not 0"},
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
