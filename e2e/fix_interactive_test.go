//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/kubectl-egress/kubectl-egress/e2e/sidecar"
)

// Keys as a terminal sends them.
const (
	keyEnter = "\r"
	keyCtrlC = "\x03"
)

// ansiRE matches the escape sequences a TUI writes: CSI, OSC, charset and keypad modes.
var ansiRE = regexp.MustCompile(`\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][A-Z0-9]|\x1b[=>78]`)

// terminal runs a command in a pseudo-terminal, keeps what it writes, and types keys.
type terminal struct {
	t    *testing.T
	pty  *os.File
	cmd  *exec.Cmd
	mu   sync.Mutex
	raw  bytes.Buffer
	seen int // offset in the plain text up to which expect has consumed
	done chan error
}

func startTerminal(t *testing.T, args ...string) *terminal {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(pluginEnv(), "TERM=xterm-256color", "COLUMNS=", "LINES=")
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 160})
	if err != nil {
		t.Fatalf("starting %s in a pty: %v", strings.Join(args, " "), err)
	}
	term := &terminal{t: t, pty: f, cmd: cmd, done: make(chan error, 1)}
	go term.read()
	go func() { term.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = f.Close()
	})
	return term
}

func (term *terminal) read() {
	b := make([]byte, 8192)
	for {
		n, err := term.pty.Read(b)
		if n > 0 {
			chunk := b[:n]
			term.mu.Lock()
			term.raw.Write(chunk)
			term.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// text is everything written so far, without escape sequences.
func (term *terminal) text() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return ansiRE.ReplaceAllString(term.raw.String(), "")
}

// expect waits until s appears after what earlier expects consumed.
func (term *terminal) expect(s string, timeout time.Duration) {
	term.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		txt := term.text()
		if i := strings.Index(txt[min(term.seen, len(txt)):], s); i >= 0 {
			term.seen += i + len(s)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	term.t.Fatalf("terminal: %q did not appear within %s; screen so far:\n%s", s, timeout, tail(term.text(), 3000))
}

func (term *terminal) press(keys ...string) {
	term.t.Helper()
	for _, k := range keys {
		if _, err := io.WriteString(term.pty, k); err != nil {
			term.t.Fatalf("typing %q: %v", k, err)
		}
		time.Sleep(150 * time.Millisecond) // a person's pace: each key is its own read
	}
}

// wait returns the command's exit code once it ends.
func (term *terminal) wait(timeout time.Duration) int {
	term.t.Helper()
	select {
	case err := <-term.done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			term.t.Fatalf("waiting for the command: %v", err)
		}
		return 0
	case <-time.After(timeout):
		term.t.Fatalf("the command did not end within %s; screen so far:\n%s", timeout, tail(term.text(), 3000))
	}
	return -1
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// The interactive fix, driven through a real terminal as a user would: accept the recommended
// fix for two hosts, skip a third, confirm; the objects exist in the API server, and once the
// app calls http:// verify passes for both fixed hosts.
func TestFixInteractive(t *testing.T) {
	const ns, app = "e2e-fix-tty", "storefront"
	pod, _ := startApp(t, ns, app, "", []sidecar.Call{
		{Host: "api.partner.example", IP: "203.0.113.91", Port: 443, Scheme: "https", Count: 1},
		{Host: "edition.cnn.com", IP: "203.0.113.20", Port: 80, Scheme: "http", Path: "/world", Count: 2},
		{Host: "httpbin.org", IP: "203.0.113.10", Port: 443, Scheme: "https", Count: 2},
	})

	start := time.Now()
	term := startTerminal(t, "kubectl", "egress", "fix", "-n", ns)
	term.expect("RECOMMENDED", 60*time.Second)
	screen := term.text()
	for _, row := range []string{"api.partner.example", "edition.cnn.com", "httpbin.org"} {
		if !strings.Contains(screen, row) {
			t.Errorf("the list of hosts to fix lacks %s:\n%s", row, screen)
		}
	}

	// Hosts come sorted. api.partner.example: recommended tls-origination; skip it by name.
	term.expect("Fix for api.partner.example (1/3)", 10*time.Second)
	term.expect("Choose 1-4 [2]: ", 10*time.Second)
	term.press("skip", keyEnter)
	term.expect("api.partner.example: skip", 10*time.Second)
	// edition.cnn.com: plain HTTP, recommended register; accept with Enter.
	term.expect("Fix for edition.cnn.com (2/3)", 10*time.Second)
	term.expect("Choose 1-4 [1]: ", 10*time.Second)
	term.press(keyEnter)
	term.expect("edition.cnn.com: register", 10*time.Second)
	// httpbin.org: HTTPS, recommended TLS origination; a wrong answer is asked again, then 2.
	term.expect("Fix for httpbin.org (3/3)", 10*time.Second)
	term.expect("Choose 1-4 [2]: ", 10*time.Second)
	term.press("7", keyEnter)
	term.expect(`"7" is not one of the choices`, 10*time.Second)
	term.press("2", keyEnter)
	term.expect("httpbin.org: tls-origination", 10*time.Second)
	term.expect("kind: DestinationRule", 30*time.Second)
	term.expect("to namespace "+ns+"?", 30*time.Second)
	term.press("y", keyEnter)
	term.expect("serviceentry.networking.istio.io/", 30*time.Second)
	term.expect("Verifying httpbin.org on the sidecars", 60*time.Second)
	if code := term.wait(90 * time.Second); code != 0 {
		t.Fatalf("kubectl egress fix exited %d:\n%s", code, tail(term.text(), 4000))
	}
	t.Logf("interactive fix (inspect, 3 prompts, preview, apply, verify) took %s", time.Since(start).Round(100*time.Millisecond))
	out := term.text()
	for _, want := range []string{"switch to http://httpbin.org", "destinationrule.networking.istio.io/"} {
		if !strings.Contains(out, want) {
			t.Errorf("the fix's output lacks %q:\n%s", want, tail(out, 4000))
		}
	}

	hosts := kubectl(t, "", "get", "serviceentries", "-n", ns, "-l", "app.kubernetes.io/managed-by=kubectl-egress",
		"-o", "jsonpath={range .items[*]}{.spec.hosts[0]}{\"\\n\"}{end}")
	if got := strings.Fields(hosts); strings.Join(got, ",") != "edition.cnn.com,httpbin.org" {
		t.Errorf("managed ServiceEntries' hosts = %v, want edition.cnn.com and httpbin.org (api.partner.example skipped)", got)
	}
	drs := kubectl(t, "", "get", "destinationrules", "-n", ns, "-o", "jsonpath={range .items[*]}{.spec.host}{\"\\n\"}{end}")
	if strings.TrimSpace(drs) != "httpbin.org" {
		t.Errorf("DestinationRules' hosts = %q, want httpbin.org only", drs)
	}

	// The app owner follows the note: http:// everywhere; the sidecar originates TLS.
	sc := lm.Sidecars.Get(ns, pod)
	sc.SetCalls([]sidecar.Call{
		{Host: "edition.cnn.com", IP: "203.0.113.20", Port: 80, Scheme: "http", Path: "/world", Count: 2},
		{Host: "httpbin.org", IP: "203.0.113.10", Port: 80, Scheme: "http", Path: "/get", Count: 2},
	})
	if err := sc.Replay(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"edition.cnn.com", "httpbin.org"} {
		v, stderr, code := verifyJSON(t, host, "-n", ns, "--wait", "20s")
		if code != 0 || !v.Passed {
			t.Errorf("verify %s after the interactive fix: exit %d\n%s\n%s", host, code, missingText(v), stderr)
		}
	}
}

// Without a terminal, fix refuses with one line pointing to the non-interactive commands, and
// bare `kubectl egress` prints its help; on a terminal, bare `kubectl egress` starts the fix.
func TestFixNeedsTerminal(t *testing.T) {
	_, stderr, code := egress(t, "fix", "-n", "demo-passthrough")
	want := "error: kubectl egress fix is interactive and needs a terminal: use kubectl egress register|enable-tls-origination|route-via-gateway HOST --yes, or -o yaml\n"
	if code != 1 || stderr != want {
		t.Errorf("fix without a terminal: exit %d, stderr %q; want exit 1, %q", code, stderr, want)
	}
	out, stderr, code := egress(t)
	if code != 0 || !strings.Contains(out, "Available Commands:") || !strings.Contains(out, "fix") {
		t.Errorf("bare kubectl egress without a terminal: exit %d, stderr %q, stdout:\n%s", code, stderr, out)
	}

	term := startTerminal(t, "kubectl", "egress", "-n", "demo-passthrough")
	term.expect("Fix for ", 60*time.Second)
	term.press(keyCtrlC)
	// Ctrl-C is an interrupt: exit 130, as a shell reports it.
	if code := term.wait(30 * time.Second); code != 130 || !strings.Contains(term.text(), "nothing applied: aborted") {
		t.Errorf("bare kubectl egress on a terminal, aborted at the first prompt: exit %d\n%s", code, tail(term.text(), 2000))
	}
}
