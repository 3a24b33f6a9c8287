package inspect

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

// directForwarder reaches every pod's admin API at one address, and counts the tunnels open.
type directForwarder struct {
	addr string
	mu   sync.Mutex
	open int
}

func (f *directForwarder) Forward(context.Context, *corev1.Pod, int) (Tunnel, error) {
	f.mu.Lock()
	f.open++
	f.mu.Unlock()
	var once sync.Once
	return Tunnel{Addr: f.addr, Stop: func() {
		once.Do(func() {
			f.mu.Lock()
			f.open--
			f.mu.Unlock()
		})
	}}, nil
}

// Proxies that hang, drip, answer a huge body or reset, read concurrently and interrupted
// half-way, leave no goroutine, no tunnel and no connection behind.
func TestReadsLeaveNothingBehind(t *testing.T) {
	var connMu sync.Mutex
	conns := 0
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/config_dump"):
			<-r.Context().Done() // hangs
		case strings.HasPrefix(r.URL.Path, "/clusters"):
			for i := 0; i < 100; i++ { // drips
				if _, err := w.Write([]byte(" ")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				time.Sleep(20 * time.Millisecond)
			}
		case strings.HasPrefix(r.URL.Path, "/stats"):
			w.Header().Set("Content-Length", "2147483648") // announced, never sent
		default:
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		}
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		connMu.Lock()
		defer connMu.Unlock()
		switch s {
		case http.StateNew:
			conns++
		case http.StateClosed, http.StateHijacked:
			conns--
		}
	}
	srv.Start()
	defer srv.Close()

	var pods []corev1.Pod
	var objs []k8sruntime.Object
	for _, name := range []string{"a", "b", "c", "d", "e", "f"} {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name}}
		pods = append(pods, p)
		objs = append(objs, &p)
	}
	before := runtime.NumGoroutine()
	fw := &directForwarder{addr: strings.TrimPrefix(srv.URL, "http://")}
	f := &Fetcher{Forwarder: fw, Client: fake.NewClientset(objs...), AdminPort: DefaultAdminPort,
		Caps: Caps{MaxBytes: 1 << 20, Timeout: 300 * time.Millisecond}}
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond) // an interrupt mid-read
	defer cancel()
	reports := InspectPods(ctx, f, pods, 2, fuzzNow, nil)
	t.Logf("%d of %d pods read before the interrupt", len(reports), len(pods))

	deadline := time.Now().Add(5 * time.Second)
	for {
		srv.CloseClientConnections()
		connMu.Lock()
		open := conns
		connMu.Unlock()
		fw.mu.Lock()
		tunnels := fw.open
		fw.mu.Unlock()
		extra := runtime.NumGoroutine() - before
		if extra <= 0 && open == 0 && tunnels == 0 {
			return
		}
		if time.Now().After(deadline) {
			var buf bytes.Buffer
			b := make([]byte, 1<<20)
			buf.Write(b[:runtime.Stack(b, true)])
			t.Fatalf("left behind: %d goroutines, %d connections, %d tunnels\n%s", extra, open, tunnels, buf.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
