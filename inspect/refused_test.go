package inspect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A refusal is known by the error's chain, never by its text: a message that merely mentions
// "EOF" or "refused" is not one.
func TestIsRefused(t *testing.T) {
	dial := func(errno syscall.Errno) error {
		return &url.Error{Op: "Get", URL: "http://127.0.0.1:15000/stats", Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}}
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", fmt.Errorf("GET /stats: %w", dial(syscall.ECONNREFUSED)), true},
		{"connection reset", fmt.Errorf("GET /stats: %w", dial(syscall.ECONNRESET)), true},
		{"closed before any response (port-forward)", fmt.Errorf("GET /stats: %w", &url.Error{Op: "Get", URL: "http://x", Err: io.EOF}), true},
		{"body cut short", fmt.Errorf("GET /stats: truncated response: %w", io.ErrUnexpectedEOF), false},
		{"text mentions EOF", errors.New("GET /stats: admin API answered 500: upstream EOF"), false},
		{"text mentions refused", errors.New("GET /stats: admin API answered 403: request refused by policy"), false},
		{"timeout", fmt.Errorf("GET /stats: %w", dial(syscall.ETIMEDOUT)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isRefused(tt.err); got != tt.want {
				t.Errorf("isRefused(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// A read whose tunnel ends while it waits (client-go closes a whole forward when one of its
// connections fails in the pod) ends then, as a refusal that names the cause, not at the time cap.
func TestReadEndsWhenTunnelIsLost(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accepts and never answers, like a stream still being opened
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	lost, markLost := context.WithCancelCause(context.Background())
	a := &HTTPAdmin{Base: "http://" + ln.Addr().String(), Caps: Caps{MaxBytes: 1 << 20, Timeout: time.Minute}, Lost: lost}
	time.AfterFunc(50*time.Millisecond, func() { markLost(errors.New("lost connection to pod")) })
	done := make(chan error, 1)
	go func() {
		_, err := a.Get(context.Background(), "/stats")
		done <- err
	}()
	select {
	case err := <-done:
		if !isRefused(err) || !strings.Contains(err.Error(), "lost connection to pod") {
			t.Errorf("error %q: want a refusal naming the cause", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the read did not end when its tunnel was lost")
	}
}
