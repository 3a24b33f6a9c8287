//go:build e2e

// Package e2e runs kubectl-egress against the local mesh: a real kube-apiserver with Istio's
// CRDs, a real istiod, kwok as the kubelet and sidecar stand-ins (see e2e/mesh).
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-egress/kubectl-egress/e2e/mesh"
)

var (
	lm     *mesh.Mesh
	binDir string // holds kubectl-egress, first on PATH so kubectl finds the plugin
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tools := os.Getenv("KUBECTL_EGRESS_TOOLS")
	if tools == "" {
		out, err := exec.Command(filepath.Join(root, "hack", "tools.sh")).Output()
		if err != nil {
			fmt.Fprintf(os.Stderr, "building the local mesh's binaries: %v\n", err)
			return 1
		}
		tools = strings.TrimSpace(string(out))
	}
	dir, err := os.MkdirTemp("", "kubectl-egress-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = filepath.Join(dir, "bin")
	build := exec.Command("go", "build", "-o", filepath.Join(binDir, "kubectl-egress"), "./cmd/kubectl-egress")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building kubectl-egress: %v\n%s", err, out)
		return 1
	}
	os.Setenv("PATH", binDir+string(os.PathListSeparator)+os.Getenv("PATH"))

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	start := time.Now()
	lm, err = mesh.Up(ctx, mesh.Options{Dir: filepath.Join(dir, "mesh"), Tools: tools, ReplayEvery: 10 * time.Second, Log: func(f string, a ...any) {
		fmt.Fprintf(os.Stderr, "localmesh: "+f+"\n", a...)
	}})
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the local mesh: %v\n", err)
		dumpLogs(filepath.Join(dir, "mesh", "logs"))
		return 1
	}
	defer lm.Down()
	fmt.Fprintf(os.Stderr, "local mesh up in %.1fs\n", time.Since(start).Seconds())
	os.Setenv("KUBECONFIG", lm.Kubeconfig)
	if os.Getenv("KUBECTL_EGRESS_E2E_AS") == "least-privilege" {
		if err := leastPrivilege(ctx, root, dir); err != nil {
			fmt.Fprintf(os.Stderr, "setting up the least-privilege user: %v\n", err)
			return 1
		}
		fmt.Fprintln(os.Stderr, "the plugin runs as ServiceAccount kubectl-egress-e2e/egress-user, bound to the roles of docs/rbac.yaml")
	}
	code := m.Run()
	if code != 0 {
		dumpLogs(filepath.Join(dir, "mesh", "logs"))
	}
	return code
}

// dumpLogs prints the tail of each component's log, so a CI failure explains itself.
func dumpLogs(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		fmt.Fprintf(os.Stderr, "==> %s <==\n%s\n", e.Name(), strings.Join(lines, "\n"))
	}
}
