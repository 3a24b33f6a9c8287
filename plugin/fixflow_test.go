package plugin

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-egress/kubectl-egress/inspect"
	"github.com/kubectl-egress/kubectl-egress/remedy"
)

func TestFixFlagsValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(f *fixFlags)
		want string
	}{
		{"defaults", func(*fixFlags) {}, ""},
		{"dry run server", func(f *fixFlags) { f.DryRun = "server" }, ""},
		{"bad dry run", func(f *fixFlags) { f.DryRun = "maybe" }, `invalid dry-run value "maybe": must be "none", "server", or "client"`},
		{"bad output", func(f *fixFlags) { f.Output = "json" }, `unknown output format "json": use yaml`},
		{"bad istio version", func(f *fixFlags) { f.IstioVersion = "latest" }, `--istio-version: invalid Istio version "latest": want MAJOR.MINOR[.PATCH]`},
		{"negative timeout", func(f *fixFlags) { f.Timeout = -time.Second }, "--timeout must not be negative, not -1s"},
		{"negative retries", func(f *fixFlags) { f.Retries, f.RetriesSet = -1, true }, "--retries must not be negative, not -1"},
		{"zero retries", func(f *fixFlags) { f.Retries, f.RetriesSet = 0, true }, ""},
		{"admin port", func(f *fixFlags) { f.AdminPort = 0 }, "--admin-port must be a port number, not 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixFlags()
			tt.edit(&f)
			if diff := cmp.Diff(tt.want, errString(f.validate())); diff != "" {
				t.Errorf("validate (-want +got):\n%s", diff)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestFixFlagsRoute(t *testing.T) {
	f := newFixFlags()
	if !f.route().Empty() {
		t.Errorf("no --timeout or --retries gives a route policy: %+v", f.route())
	}
	f.Timeout, f.Retries, f.RetriesSet = 5*time.Second, 0, true
	rp := f.route()
	if rp.Timeout != 5*time.Second || rp.Retries == nil || *rp.Retries != 0 {
		t.Errorf("route policy %+v", rp)
	}
}

var observed = inspect.Report{
	Destinations: []inspect.Destination{
		{Host: "httpbin.org", Port: 443, Protocol: "TLS", Disposition: inspect.DispositionPassthrough, Pods: []string{"shop/web-1", "shop/web-0"}},
		{Host: "httpbin.org", Port: 80, Protocol: "HTTP", Disposition: inspect.DispositionPassthrough, Pods: []string{"shop/web-0"}},
		{Host: "HTTPBIN.org", Port: 443, Protocol: "TLS", Disposition: inspect.DispositionPassthrough, Pods: []string{"shop/batch-0"}},
		{Host: "api.example.com", Port: 443, Protocol: "", Disposition: inspect.DispositionPassthrough, Pods: []string{"shop/web-0"}},
		{Host: "api.example.com", Port: 5432, Protocol: "", Disposition: inspect.DispositionPassthrough, Pods: []string{"shop/web-0"}},
		{Host: "api.example.com", Port: 0, Protocol: "HTTP", Disposition: inspect.DispositionPassthrough, Pods: []string{"shop/web-0"}},
		{Host: "10.0.0.0/8", Port: 0, Disposition: inspect.DispositionBypassed},
	},
	Pods: []inspect.PodFacts{
		{Namespace: "shop", Name: "web-0", IstioVersion: "1.31.1"},
		{Namespace: "shop", Name: "web-1", IstioVersion: "1.24.0"},
		{Namespace: "shop", Name: "batch-0"},
	},
}

func TestObservedPorts(t *testing.T) {
	tests := []struct {
		host string
		want []remedy.Port
	}{
		{"httpbin.org", []remedy.Port{{Number: 80, Protocol: "HTTP"}, {Number: 443, Protocol: "TLS"}}},
		// Unknown protocols: TLS on 443, TCP elsewhere; no port (metrics only) is left out.
		{"api.example.com", []remedy.Port{{Number: 443, Protocol: "TLS"}, {Number: 5432, Protocol: "TCP"}}},
		{"unseen.example.com", nil},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, observedPorts(observed, tt.host)); diff != "" {
				t.Errorf("ports (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHTTPSCallers(t *testing.T) {
	want := []string{"shop/batch-0", "shop/web-0", "shop/web-1"}
	if diff := cmp.Diff(want, httpsCallers(observed, "httpbin.org")); diff != "" {
		t.Errorf("callers (-want +got):\n%s", diff)
	}
}

func TestIstioVersionOf(t *testing.T) {
	if got := istioVersionOf(observed); got != (remedy.IstioVersion{Major: 1, Minor: 24}) {
		t.Errorf("oldest proxy version: %v, want 1.24", got)
	}
	if got := istioVersionOf(inspect.Report{}); got.Known() {
		t.Errorf("no proxies: %v, want unknown", got)
	}
}

func testPlan(t *testing.T) *remedy.Plan {
	t.Helper()
	p, err := remedy.PlanRegister(remedy.Target{Host: "httpbin.org", Namespace: "shop"},
		remedy.RegisterOptions{Ports: []remedy.Port{{Number: 443, Protocol: "TLS"}}}, remedy.Existing{})
	if err != nil {
		t.Fatal(err)
	}
	p.Warnings = []string{"a warning for the operator"}
	return p
}

// Without a terminal and without --yes, run refuses before anything is read or sent (the
// runner has no applier here: any call to the cluster would panic).
func TestRunRefusesWithoutTerminal(t *testing.T) {
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	f := newFixFlags()
	f.Namespace = "shop"
	r := &fixRunner{flags: f, IOStreams: streams, terminal: func() bool { return false }}
	err := r.run(context.Background(), []*remedy.Plan{testPlan(t)})
	if !errors.Is(err, errNoConfirmation) {
		t.Fatalf("run: %v, want %v", err, errNoConfirmation)
	}
	if out.Len() != 0 || errOut.String() != "Warning: a warning for the operator\n" {
		t.Errorf("stdout %q, stderr %q", out, errOut)
	}
}

// -o yaml writes the manifests to stdout, the notes to stderr, and sends nothing.
func TestRunOutputYAML(t *testing.T) {
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	f := newFixFlags()
	f.Namespace, f.Output = "shop", "yaml"
	r := &fixRunner{flags: f, IOStreams: streams, terminal: func() bool { return false }}
	p := testPlan(t)
	if err := r.run(context.Background(), []*remedy.Plan{p, p}); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := remedy.WriteYAML(&want, p); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.String()+"---\n"+want.String(), out.String()); diff != "" {
		t.Errorf("-o yaml (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(errOut.String(), "Warning: a warning for the operator\n") || !strings.Contains(errOut.String(), "httpbin.org:443 is registered") {
		t.Errorf("stderr: %q", errOut)
	}
}

func TestConfirm(t *testing.T) {
	for answer, want := range map[string]bool{"y\n": true, "YES\n": true, " yes ": true, "n\n": false, "\n": false, "": false, "sure\n": false} {
		streams, in, out, _ := genericiooptions.NewTestIOStreams()
		in.WriteString(answer)
		r := &fixRunner{IOStreams: streams}
		got, err := r.confirm("Apply 1 object to namespace shop?")
		if err != nil || got != want {
			t.Errorf("answer %q: %v, %v; want %v", answer, got, err, want)
		}
		if out.String() != "Apply 1 object to namespace shop? [y/N]: " {
			t.Errorf("prompt %q", out)
		}
	}
}
