package sidecar

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestFleetMemory measures the heap per stand-in with a fleet connected to one server.
// Opt-in: SIDECAR_FLEET=N go test -run TestFleetMemory ./e2e/sidecar/
func TestFleetMemory(t *testing.T) {
	n := 0
	if v := os.Getenv("SIDECAR_FLEET"); v != "" {
		fmt.Sscan(v, &n)
	}
	if n == 0 {
		t.Skip("set SIDECAR_FLEET=N to measure")
	}
	_, addr := newFakeIstiod(t, loadSample(t, "egress-gateway.json"))
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var fleet []*Sidecar
	for i := range n {
		s, err := Start(context.Background(), Config{
			Namespace: "demo", Name: fmt.Sprintf("curl-%d", i), IP: fmt.Sprintf("10.0.%d.%d", i/250, i%250+1),
			Labels: map[string]string{"app": "curl"}, XDSAddr: addr, AdminAddr: "127.0.0.1:0",
			Calls: []Call{call(SchemeHTTPS, "edition.cnn.com", 443), call(SchemeHTTP, "httpbin.org", 80)}, Hosts: testDNS,
		})
		if err != nil {
			t.Fatal(err)
		}
		fleet = append(fleet, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, s := range fleet {
		if err := s.WaitSynced(ctx); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	t.Logf("%d stand-ins: heap %.1f MB (%.0f KB each), %d goroutines",
		n, float64(after.HeapAlloc-before.HeapAlloc)/1e6, float64(after.HeapAlloc-before.HeapAlloc)/1e3/float64(n), runtime.NumGoroutine())
	for _, s := range fleet {
		s.Close()
	}
}
