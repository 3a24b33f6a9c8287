// Command localmesh runs the project's local Istio mesh in the background:
//
//	localmesh up --dir .localmesh --tools DIR [--fleet N] [--service-entries N] [--replay 10s]   start it (or report it running)
//	localmesh down --dir .localmesh                          stop it
//
// `up` starts `localmesh serve` as a detached process that keeps the control plane and the
// sidecar stand-ins alive until `down`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kubectl-egress/kubectl-egress/e2e/mesh"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: localmesh up|down|serve --dir DIR [--tools DIR] [--fleet N] [--service-entries N] [--replay D]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	dir := fs.String("dir", ".localmesh", "state directory")
	tools := fs.String("tools", "", "directory holding the control-plane binaries (hack/tools.sh)")
	fleet := fs.Int("fleet", 0, "pods in namespace demo-fleet")
	serviceEntries := fs.Int("service-entries", 0, "external ServiceEntries in namespace demo-scale, exported to every namespace")
	replay := fs.Duration("replay", 10*time.Second, "how often the stand-ins replay their pods' calls (0: once, at start)")
	_ = fs.Parse(os.Args[2:])
	abs, err := filepath.Abs(*dir)
	if err == nil {
		*dir = abs
	}
	switch os.Args[1] {
	case "up":
		err = up(*dir, *tools, *fleet, *serviceEntries, *replay)
	case "down":
		err = down(*dir)
	case "serve":
		err = serve(*dir, *tools, *fleet, *serviceEntries, *replay)
	default:
		err = fmt.Errorf("unknown command %q: use up, down or serve", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "localmesh: %v\n", err)
		os.Exit(1)
	}
}

func pidFile(dir string) string   { return filepath.Join(dir, "localmesh.pid") }
func readyFile(dir string) string { return filepath.Join(dir, "ready") }

// running returns the pid of a live `serve` for dir, or 0.
func running(dir string) int {
	b, err := os.ReadFile(pidFile(dir))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || syscall.Kill(pid, 0) != nil {
		return 0
	}
	return pid
}

func up(dir, tools string, fleet, serviceEntries int, replay time.Duration) error {
	if running(dir) != 0 {
		if _, err := os.Stat(readyFile(dir)); err == nil {
			fmt.Printf("local mesh already running\nexport KUBECONFIG=%s\n", filepath.Join(dir, "kubeconfig"))
			return nil
		}
	}
	if tools == "" {
		return errors.New("--tools is required: run hack/tools.sh to build the binaries")
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return err
	}
	logPath := filepath.Join(dir, "logs", "localmesh.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "serve", "--dir", dir, "--tools", tools, "--fleet", strconv.Itoa(fleet), "--service-entries", strconv.Itoa(serviceEntries), "--replay", replay.String())
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	start := time.Now()
	for {
		if _, err := os.Stat(readyFile(dir)); err == nil {
			break
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logPath)
			return fmt.Errorf("the local mesh failed to start (%v):\n%s", err, b)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Since(start) > 10*time.Minute {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			return fmt.Errorf("the local mesh did not come up in 10 minutes; see %s", logPath)
		}
	}
	b, _ := os.ReadFile(logPath)
	fmt.Print(string(b))
	fmt.Printf("export KUBECONFIG=%s\n", filepath.Join(dir, "kubeconfig"))
	return nil
}

func down(dir string) error {
	pid := running(dir)
	if pid == 0 {
		fmt.Println("local mesh not running")
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return err
	}
	for range 300 {
		if syscall.Kill(pid, 0) != nil {
			fmt.Println("local mesh stopped")
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	return fmt.Errorf("local mesh (pid %d) did not stop in 30s: killed", pid)
}

func serve(dir, tools string, fleet, serviceEntries int, replay time.Duration) error {
	if err := os.WriteFile(pidFile(dir), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return err
	}
	defer os.Remove(pidFile(dir))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	upCtx, cancel := context.WithTimeout(ctx, 9*time.Minute)
	defer cancel()
	m, err := mesh.Up(upCtx, mesh.Options{Dir: dir, Tools: tools, Fleet: fleet, ServiceEntries: serviceEntries, ReplayEvery: replay, Log: func(f string, a ...any) {
		fmt.Printf(f+"\n", a...)
	}})
	if err != nil {
		return err
	}
	defer m.Down()
	if err := os.WriteFile(readyFile(dir), nil, 0o644); err != nil {
		return err
	}
	defer os.Remove(readyFile(dir))
	<-ctx.Done()
	return nil
}
