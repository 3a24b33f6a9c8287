package inspect

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
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
