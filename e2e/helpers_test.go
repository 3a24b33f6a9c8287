//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-egress/kubectl-egress/e2e/mesh"
	"github.com/kubectl-egress/kubectl-egress/e2e/sidecar"
)

// kubectl runs the real kubectl against the local mesh and returns stdout; it fails the test
// on error unless the caller expects one (see kubectlErr).
func kubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := kubectlErr(stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func kubectlErr(stdin string, args ...string) (string, error) {
	cmd := exec.Command("kubectl", args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// egress runs `kubectl egress ARGS` through kubectl's plugin discovery, returning stdout,
// stderr and the exit code.
func egress(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command("kubectl", append([]string{"egress"}, args...)...)
	cmd.Env = pluginEnv()
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("kubectl egress %s: %v", strings.Join(args, " "), err)
	}
	return o.String(), e.String(), code
}

// firstPod returns the name of the first pod in ns with label app=app.
func firstPod(t *testing.T, ns, app string) string {
	t.Helper()
	return strings.TrimSpace(kubectl(t, "", "get", "pods", "-n", ns, "-l", "app="+app, "-o", "jsonpath={.items[0].metadata.name}"))
}

var forwardingRE = regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)`)

// portForward runs `kubectl port-forward` to pod's port and returns the local base URL.
func portForward(t *testing.T, ns, pod string, port int) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "kubectl", "port-forward", "-n", ns, "pod/"+pod, fmt.Sprintf(":%d", port))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("kubectl port-forward to %s/%s exited: %s", ns, pod, stderr.String())
			}
			if m := forwardingRE.FindStringSubmatch(l); m != nil {
				go func() { // keep draining
					for range lines {
					}
				}()
				return "http://127.0.0.1:" + m[1]
			}
		case <-timeout:
			t.Fatalf("kubectl port-forward to %s/%s: no local port after 30s: %s", ns, pod, stderr.String())
		}
	}
}

// get fetches url and returns the body; non-200 fails the test.
func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	return string(b)
}

// eventually retries check until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = check(); err == nil {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s: not true after %s: %v", what, timeout, err)
}

// hasLine reports whether any line of out matches re.
func hasLine(out, re string) bool {
	return regexp.MustCompile(`(?m)` + re).MatchString(out)
}

// startApp creates namespace ns (deleted when the test ends), applies extra YAML in it, then a
// one-pod Deployment app whose app makes calls (see mesh.Workload), and waits until the pod's
// sidecar stand-in is synced with istiod. It returns the pod's name and its stand-in.
func startApp(t *testing.T, ns, app, extra string, calls []sidecar.Call) (string, *sidecar.Sidecar) {
	t.Helper()
	return startAppAnnotated(t, ns, app, extra, nil, calls)
}

// startAppAnnotated is startApp with pod annotations (proxy.istio.io/config, for instance).
func startAppAnnotated(t *testing.T, ns, app, extra string, annotations map[string]string, calls []sidecar.Call) (string, *sidecar.Sidecar) {
	t.Helper()
	namespace(t, ns)
	if extra != "" {
		kubectl(t, extra, "apply", "-n", ns, "-f", "-")
		// The pod's first configuration must carry this config: wait until istiod has it, then
		// for its debounced push (100 ms) to rebuild the push context new proxies get.
		eventually(t, 30*time.Second, "istiod sees the config of "+ns, func() error {
			if !strings.Contains(get(t, lm.IstiodHTTP+"/debug/configz"), `"namespace":"`+ns+`"`) {
				return fmt.Errorf("not in /debug/configz yet")
			}
			return nil
		})
		time.Sleep(time.Second)
	}
	manifest, err := mesh.WorkloadAnnotated(ns, app, 1, annotations, calls)
	if err != nil {
		t.Fatal(err)
	}
	kubectl(t, manifest, "apply", "--server-side", "-f", "-")
	return standIn(t, ns, "app="+app)
}

// standIn waits for the first pod of ns that selector matches and for its stand-in, synced
// with istiod, and returns the pod's name and the stand-in.
func standIn(t *testing.T, ns, selector string) (string, *sidecar.Sidecar) {
	t.Helper()
	var pod string
	var sc *sidecar.Sidecar
	eventually(t, 60*time.Second, "the stand-in of "+selector+" in "+ns, func() error {
		out, err := kubectlErr("", "get", "pods", "-n", ns, "-l", selector, "-o", "jsonpath={.items[*].metadata.name}")
		if err != nil || strings.TrimSpace(out) == "" {
			return fmt.Errorf("no pod yet: %s", out)
		}
		pod = strings.Fields(out)[0]
		if sc = lm.Sidecars.Get(ns, pod); sc == nil {
			return fmt.Errorf("no stand-in for %s yet", pod)
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := sc.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	return pod, sc
}

// namespace creates namespace ns and deletes it when the test ends.
func namespace(t *testing.T, ns string) {
	t.Helper()
	kubectl(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: "+ns+"}\n", "apply", "-f", "-")
	t.Cleanup(func() { _, _ = kubectlErr("", "delete", "namespace", ns, "--wait=false") })
}
