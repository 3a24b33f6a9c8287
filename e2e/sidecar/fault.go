package sidecar

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"
)

// Fault is a way a proxy's admin API misbehaves. The plugin's fault tests set one on a
// stand-in (SetFault) and check that the plugin says what is wrong, in one line, and exits
// non-zero, without crashing, hanging or holding more memory than its size cap.
type Fault string

// The admin API faults a stand-in can play. /ready is never faulted: the mesh waits on it.
const (
	// FaultNone serves the admin API as Envoy does.
	FaultNone Fault = ""
	// FaultRefuse resets every connection before it is read, as a port with nothing behind it
	// looks through a port-forward.
	FaultRefuse Fault = "refuse"
	// FaultHang accepts each request and never answers.
	FaultHang Fault = "hang"
	// FaultDrip answers one byte every 100 ms.
	FaultDrip Fault = "drip"
	// FaultTruncated answers the first half of each body, as a proxy restarting mid-dump does.
	FaultTruncated Fault = "truncated"
	// FaultNotJSON answers an HTML error page with 200 OK, as a proxy or gateway in the way does.
	FaultNotJSON Fault = "not-json"
	// FaultHuge answers a 2 GiB body, generated as it is sent and never held.
	FaultHuge Fault = "huge"
	// FaultWrongContentType answers the right bodies labelled text/html.
	FaultWrongContentType Fault = "wrong-content-type"
)

// HugeBodyBytes is the size of FaultHuge's body.
const HugeBodyBytes = 2 << 30

// SetFault makes the admin API misbehave from now on; FaultNone restores it.
func (s *Sidecar) SetFault(f Fault) { s.fault.Store(&f) }

func (s *Sidecar) currentFault() Fault {
	if f := s.fault.Load(); f != nil {
		return *f
	}
	return FaultNone
}

// faulty serves next, or plays the stand-in's fault.
func (s *Sidecar) faulty(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := s.currentFault()
		if f == FaultNone || r.URL.Path == "/ready" {
			next.ServeHTTP(w, r)
			return
		}
		switch f {
		case FaultRefuse:
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				if tcp, ok := conn.(*net.TCPConn); ok {
					_ = tcp.SetLinger(0) // RST, not FIN
				}
				conn.Close()
			}
		case FaultHang:
			<-r.Context().Done()
		case FaultDrip:
			rc := http.NewResponseController(w)
			w.Header().Set("Content-Type", "application/json")
			for i := 0; ; i++ {
				if _, err := w.Write([]byte{" {"[min(i, 1)]}); err != nil || rc.Flush() != nil {
					return
				}
				select {
				case <-r.Context().Done():
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		case FaultTruncated, FaultWrongContentType:
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			w.Header().Set("Content-Type", rec.Header().Get("Content-Type"))
			if f == FaultTruncated {
				body = body[:len(body)/2]
			} else {
				w.Header().Set("Content-Type", "text/html; charset=UTF-8")
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(body)
		case FaultNotJSON:
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html><body><h1>upstream connect error or disconnect/reset before headers</h1></body></html>\n"))
		case FaultHuge:
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(HugeBodyBytes))
			chunk := append([]byte{'{'}, bytes.Repeat([]byte{' '}, 64<<10-1)...)
			for sent := 0; sent < HugeBodyBytes; sent += len(chunk) {
				if _, err := w.Write(chunk); err != nil {
					return // the reader stopped at its cap
				}
				chunk[0] = ' '
			}
		}
	})
}
