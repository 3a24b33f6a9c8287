package plugin

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-egress/kubectl-egress/fixflow"
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
		{"admin port", func(f *fixFlags) { f.Read.AdminPort = 0 }, "--admin-port must be a port number, not 0"},
		{"outlier detection", func(f *fixFlags) {
			f.Outlier = "consecutive5xx=5,interval=10s,baseEjectionTime=30s,maxEjectionPercent=100"
		}, ""},
		{"outlier detection without a value", func(f *fixFlags) { f.Outlier = "consecutive5xx" }, `--outlier-detection: "consecutive5xx" is not key=value`},
		{"outlier detection, unknown key", func(f *fixFlags) { f.Outlier = "errors=5" }, `--outlier-detection: unknown key "errors": use consecutive5xx, consecutiveGatewayErrors, interval, baseEjectionTime or maxEjectionPercent`},
		{"outlier detection, bad duration", func(f *fixFlags) { f.Outlier = "interval=soon" }, `--outlier-detection: invalid interval "soon"`},
		{"negative connections", func(f *fixFlags) { f.Traffic.MaxConnections = -1 }, "--connect-timeout, --idle-timeout and the --max-* limits must not be negative"},
		{"no log cap below zero", func(f *fixFlags) { f.Read.MaxLogBytes = -1 }, "--max-log-bytes must not be negative, not -1"},
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

// The flags map to the fix flow's configuration: the route policy, the dry run, -o yaml, and
// who confirms (nobody without a terminal unless --yes).
func TestFixFlagsConfig(t *testing.T) {
	f := newFixFlags()
	f.Namespace = "shop"
	streams := genericiooptions.NewTestIOStreamsDiscard()
	c := f.config(streams)
	if !c.Route.Empty() || c.Confirm != nil || c.Preview || c.WriteYAML || c.DryRun != remedy.DryRunNone || c.Namespace != "shop" {
		t.Errorf("defaults without a terminal: %+v", c)
	}
	f.Timeout, f.Retries, f.RetriesSet, f.Yes, f.Output, f.DryRun = 5*time.Second, 0, true, true, "yaml", "server"
	c = f.config(streams)
	if rp := c.Route; rp.Timeout != 5*time.Second || rp.Retries == nil || *rp.Retries != 0 {
		t.Errorf("route policy %+v", rp)
	}
	if _, yes := c.Confirm.(fixflow.Yes); !yes || !c.WriteYAML || c.DryRun != remedy.DryRunServer {
		t.Errorf("--yes -o yaml --dry-run=server: %+v", c)
	}
}

func TestLinePromptConfirm(t *testing.T) {
	for answer, want := range map[string]string{"y\n": "true", "YES\n": "true", " yes ": "true", "n\n": "false", "\n": "false", "sure\n": "false", "": errAborted.Error()} {
		var out bytes.Buffer
		got, err := (&linePrompt{in: strings.NewReader(answer), out: &out}).Confirm("Apply 1 object to namespace shop?")
		res := fmt.Sprint(got)
		if err != nil {
			res = err.Error()
		}
		if res != want {
			t.Errorf("answer %q: %s, want %s", answer, res, want)
		}
		if out.String() != "Apply 1 object to namespace shop? [y/N]: " {
			t.Errorf("prompt %q", out.String())
		}
	}
}
