// Command podphases measures where inspect's time goes, for make bench:
//
//	podphases NAMESPACE POD                       times each step of reading one pod, in sequence:
//	                                              client set-up, the pod GET, the port-forward's
//	                                              upgrade, each admin read, the log
//	podphases -cpuprofile F [-concurrency C] NS   reads every pod of NS as inspect -n NS does
//	                                              (inspect.Reader), under a CPU profile
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/pprof"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/kubectl-egress/kubectl-egress/inspect"
)

func main() {
	cpuprofile := flag.String("cpuprofile", "", "read every pod of the namespace under a CPU profile written here")
	concurrency := flag.Int("concurrency", inspect.DefaultReadConfig().Concurrency, "pods read at once, with -cpuprofile")
	flag.Parse()
	switch {
	case *cpuprofile != "" && flag.NArg() == 1:
		profileNamespace(flag.Arg(0), *cpuprofile, *concurrency)
	case *cpuprofile == "" && flag.NArg() == 2:
		phases(flag.Arg(0), flag.Arg(1))
	default:
		fmt.Fprintln(os.Stderr, "usage: podphases NAMESPACE POD | podphases -cpuprofile FILE [-concurrency C] NAMESPACE")
		os.Exit(2)
	}
}

// profileNamespace reads a namespace's pods with inspect's reader under a CPU profile.
func profileNamespace(ns, file string, concurrency int) {
	f, err := os.Create(file)
	check(err)
	defer f.Close()
	c := inspect.DefaultReadConfig()
	c.Concurrency = concurrency
	r, err := inspect.NewReader(genericclioptions.NewConfigFlags(true), c)
	check(err)
	check(pprof.StartCPUProfile(f))
	start := time.Now()
	reading, err := r.Read(context.Background(), inspect.Scope{Namespace: ns})
	pprof.StopCPUProfile()
	check(err)
	fmt.Printf("read %d pods (%d failed) in %.2f s at concurrency %d\n", len(reading.Pods), reading.Failed(), time.Since(start).Seconds(), concurrency)
}

func phases(ns, name string) {
	t0 := time.Now()
	lap := func(what string) {
		fmt.Printf("%-36s %6.1f ms\n", what, float64(time.Since(t0).Microseconds())/1000)
		t0 = time.Now()
	}
	ctx := context.Background()
	flags := genericclioptions.NewConfigFlags(true)
	r, err := inspect.NewReader(flags, inspect.DefaultReadConfig())
	check(err)
	lap("client set-up")
	pod, err := r.Client().CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	check(err)
	lap("pod GET (TLS, HTTP/2)")
	rc, err := flags.ToRESTConfig()
	check(err)
	t, err := (&inspect.PortForwarder{Config: rc, Client: r.Client()}).Forward(ctx, pod, inspect.DefaultAdminPort)
	check(err)
	lap("port-forward upgrade")
	c := &http.Client{Transport: &http.Transport{}}
	for _, p := range []struct{ name, path string }{
		{"clusters (masked)", inspect.ClustersConfigPath}, {"static clusters", inspect.StaticClustersConfigPath},
		{"virtualOutbound", inspect.VirtualOutboundConfigPath}, {"listeners (name_regex)", inspect.OutboundListenersConfigPath}, {"routes", inspect.RoutesConfigPath},
		{"/clusters", inspect.ClusterStatusPath}, {"stats (filter)", inspect.StatsPath}, {"server_info", inspect.ServerInfoPath},
	} {
		resp, err := c.Get("http://" + t.Addr + "/" + p.path)
		check(err)
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lap(fmt.Sprintf("read %s, %d B", p.name, n))
	}
	t.Stop()
	since := int64(3600)
	logs, err := r.Client().CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{Container: inspect.ProxyContainer, SinceSeconds: &since}).Stream(ctx)
	check(err)
	n, _ := io.Copy(io.Discard, logs)
	logs.Close()
	lap(fmt.Sprintf("istio-proxy log, %d B", n))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "podphases:", err)
		os.Exit(1)
	}
}
