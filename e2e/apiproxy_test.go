//go:build e2e

package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// apiProxy stands between the plugin and the local mesh's real API server, on loopback, to
// watch, hold, answer or cut requests as a slow network or an API server going away would. The
// plugin reaches it in plain HTTP without credentials (client-go sends none over plain HTTP);
// the proxy forwards over TLS as the user whose token it was given.
type apiProxy struct {
	t     *testing.T
	addr  string
	proxy *httputil.ReverseProxy

	mu   sync.Mutex
	srv  *http.Server
	hook func(w http.ResponseWriter, r *http.Request) bool
	open int // client connections open now
}

// newAPIProxy starts a proxy to the mesh's API server that authenticates with token; it stops
// when the test ends.
func newAPIProxy(t *testing.T, token string) *apiProxy {
	t.Helper()
	tlsConfig, err := rest.TLSConfigFor(&rest.Config{Host: lm.Config.Host, TLSClientConfig: lm.Config.TLSClientConfig})
	if err != nil {
		t.Fatal(err)
	}
	upstream, err := url.Parse(lm.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	p := &apiProxy{t: t, proxy: &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(upstream)
			r.Out.Header.Set("Authorization", "Bearer "+token)
		},
		// HTTP/1.1 only: port-forward and exec upgrade their connections.
		Transport:     &http.Transport{TLSClientConfig: tlsConfig, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}},
		FlushInterval: -1,
		ErrorLog:      nil,
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.stop)
	return p
}

func (p *apiProxy) serve(ln net.Listener) {
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.mu.Lock()
			hook := p.hook
			p.mu.Unlock()
			if hook != nil && hook(w, r) {
				return
			}
			p.proxy.ServeHTTP(w, r)
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			p.mu.Lock()
			defer p.mu.Unlock()
			switch s {
			case http.StateNew:
				p.open++
			case http.StateClosed, http.StateHijacked:
				p.open--
			}
		},
	}
	p.mu.Lock()
	p.srv = srv
	p.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// setHook runs hook before each request; a hook that returns true has answered it itself.
func (p *apiProxy) setHook(hook func(w http.ResponseWriter, r *http.Request) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hook = hook
}

// stop closes the listener and every connection: the API server is gone, connections refused.
func (p *apiProxy) stop() {
	p.mu.Lock()
	srv := p.srv
	p.srv = nil
	p.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// restart listens again on the same address.
func (p *apiProxy) restart() error {
	var ln net.Listener
	var err error
	for range 50 { // the closed listener's port may take a moment to be free
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			p.serve(ln)
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("proxy cannot listen on %s again: %w", p.addr, err)
}

// openConns counts the client connections still open, after waiting up to wait for them to close.
func (p *apiProxy) openConns(wait time.Duration) int {
	deadline := time.Now().Add(wait)
	for {
		p.mu.Lock()
		n := p.open
		p.mu.Unlock()
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kubeconfig writes a kubeconfig that reaches the API server through the proxy.
func (p *apiProxy) kubeconfig() string {
	p.t.Helper()
	path := filepath.Join(p.t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: proxied, cluster: {server: "http://%s"}}]
users: [{name: user, user: {}}]
contexts: [{name: proxied, context: {cluster: proxied, user: user}}]
current-context: proxied
`, p.addr)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

// withoutGroup answers a discovery request for /apis as the API server does, less group: the
// cluster then looks as if that API were not installed. It reads both the aggregated
// (APIGroupDiscoveryList) and the legacy (APIGroupList) form.
func (p *apiProxy) withoutGroup(w http.ResponseWriter, r *http.Request, group string) {
	rec := httptest.NewRecorder()
	r.Header.Del("Accept-Encoding") // a body to read, not gzip
	p.proxy.ServeHTTP(rec, r)
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	for _, key := range []string{"items", "groups"} {
		list, _ := doc[key].([]any)
		kept := list[:0]
		for _, g := range list {
			m, _ := g.(map[string]any)
			meta, _ := m["metadata"].(map[string]any)
			if m["name"] == group || meta != nil && meta["name"] == group {
				continue
			}
			kept = append(kept, g)
		}
		if list != nil {
			doc[key] = kept
		}
	}
	b, _ := json.Marshal(doc)
	for k, v := range rec.Header() {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(b)
}

// waitCtx holds a request for d, or until the client gives up (then it errs). It reads the body
// first: the server notices a client gone only once the body is read.
func waitCtx(r *http.Request, d time.Duration) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	select {
	case <-r.Context().Done():
		return errors.New("client gone")
	case <-time.After(d):
		return nil
	}
}
