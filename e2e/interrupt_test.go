//go:build e2e

package e2e

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// pluginRun is one run of the plugin's binary.
type pluginRun struct {
	stdout, stderr string
	code           int
	maxRSSKiB      int64 // peak resident memory
}

// runPlugin runs the plugin's binary itself (kubectl would be the process signalled or measured
// otherwise); start starts the command, so a test can keep it to signal it.
func runPlugin(t *testing.T, start func(*exec.Cmd), args ...string) pluginRun {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "kubectl-egress"), args...)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	if start == nil {
		start = func(c *exec.Cmd) {
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
		}
	}
	start(cmd)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var r pluginRun
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("kubectl-egress %s still running 90s after its start", strings.Join(args, " "))
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSSKiB = ru.Maxrss
	}
	r.stdout, r.stderr = o.String(), e.String()
	return r
}

// Ctrl-C while a fix is being applied rolls back what was applied, says so, and exits 130.
// The signal lands between the two objects of TLS origination: the proxy in front of the API
// server holds the DestinationRule's apply and signals the process when it arrives.
func TestInterruptDuringApply(t *testing.T) {
	const ns = "interrupt-apply"
	namespace(t, ns)
	p := newAPIProxy(t, pluginTokenOf())
	var cmd *exec.Cmd
	var once sync.Once
	p.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPatch || !strings.Contains(r.URL.Path, "/destinationrules/") || r.URL.Query().Has("dryRun") {
			return false
		}
		once.Do(func() { _ = cmd.Process.Signal(syscall.SIGINT) })
		if waitCtx(r, 10*time.Second) != nil {
			return true // the plugin gave the request up: it never reaches the API server
		}
		return false
	})
	r := runPlugin(t, func(c *exec.Cmd) {
		cmd = c
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}, "enable-tls-origination", "httpbin.org", "-n", ns, "--yes", "--istio-version", "1.31", "--kubeconfig", p.kubeconfig())
	want := "error: interrupted while applying destinationrule.networking.istio.io/egress-httpbin-org in namespace " + ns +
		"; rolled back: serviceentry.networking.istio.io/egress-httpbin-org deleted\n"
	if r.code != 130 || !strings.HasSuffix(r.stderr, "\n"+want) || r.stdout != "" {
		t.Errorf("exit %d\nstdout %q\nstderr %q\nwant   %q", r.code, r.stdout, r.stderr, want)
	}
	if got := managedIn(t, ns); got != "" {
		t.Errorf("left behind after the interrupt: %s", got)
	}
	if n := p.openConns(5 * time.Second); n != 0 {
		t.Errorf("%d connections to the API server still open after the process ended", n)
	}
}

// Ctrl-C during a fleet inspect prints the report of the pods read so far and exits 130.
// The proxy slows every port-forward to a second and signals the process at the third.
func TestInterruptFleetInspect(t *testing.T) {
	p := newAPIProxy(t, pluginTokenOf())
	var cmd *exec.Cmd
	var mu sync.Mutex
	forwards := 0
	p.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/portforward") {
			return false
		}
		mu.Lock()
		forwards++
		if forwards == 3 {
			_ = cmd.Process.Signal(syscall.SIGINT)
		}
		mu.Unlock()
		return waitCtx(r, time.Second) != nil
	})
	r := runPlugin(t, func(c *exec.Cmd) {
		cmd = c
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}, "inspect", "-A", "--concurrency", "1", "-o", "json", "--kubeconfig", p.kubeconfig())
	if r.code != 130 {
		t.Errorf("exit %d, want 130\nstderr: %s", r.code, r.stderr)
	}
	var rep inspect.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not the partial report: %v\n%s", err, r.stdout)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	last := lines[len(lines)-1]
	if len(rep.Pods) < 1 || !strings.HasPrefix(last, "error: interrupted: the report covers the ") || !strings.HasSuffix(last, " pods read before the interrupt") {
		t.Errorf("report of %d pods, last stderr line %q", len(rep.Pods), last)
	}
	if n := p.openConns(5 * time.Second); n != 0 {
		t.Errorf("%d connections to the API server still open after the process ended", n)
	}
}
