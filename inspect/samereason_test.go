package inspect

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Reads that fail alike are one line; reads that fail differently stay apart.
func TestSameReason(t *testing.T) {
	tooBig := func(p string) error {
		return fmt.Errorf("GET %s: response of 9 bytes, larger than 8: %w", p, ErrCapExceeded)
	}
	joined := sameReason([]error{tooBig("/clusters"), tooBig("/stats/prometheus")})
	if diff := cmp.Diff([]string{"GET /clusters, /stats/prometheus: response of 9 bytes, larger than 8: size cap exceeded"}, texts(joined)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !errors.Is(joined[0], ErrCapExceeded) {
		t.Errorf("the joined error lost its cause")
	}
	apart := []error{tooBig("/clusters"), fmt.Errorf("GET /stats: %w", syscall.ECONNREFUSED)}
	if diff := cmp.Diff(texts(apart), texts(sameReason(apart))); diff != "" {
		t.Errorf("different reasons joined (-want +got):\n%s", diff)
	}
}

func texts(errs []error) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	return out
}
