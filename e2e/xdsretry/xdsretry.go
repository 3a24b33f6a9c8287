// Package xdsretry keeps the local mesh's xDS clients (the sidecar and ztunnel stand-ins)
// connected to istiod.
package xdsretry

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// Loop keeps one client's stream open, and remembers how that has gone for its progress
// messages. The zero Loop is ready to Run.
type Loop struct {
	mu       sync.Mutex
	attempts int
	lastErr  error
}

// Run calls stream until ctx ends, reconnecting with jittered exponential backoff (istiod
// refuses bursts of new streams with ResourceExhausted); a stream that lived 30 s starts the
// backoff over.
func (l *Loop) Run(ctx context.Context, stream func(context.Context) error) {
	const base, maxDelay = 100 * time.Millisecond, 10 * time.Second
	delay := base
	for ctx.Err() == nil {
		l.mu.Lock()
		l.attempts++
		l.mu.Unlock()
		start := time.Now()
		err := stream(ctx)
		if ctx.Err() != nil {
			return
		}
		l.mu.Lock()
		l.lastErr = err
		l.mu.Unlock()
		if time.Since(start) > 30*time.Second {
			delay = base
		}
		wait := delay/2 + rand.N(delay/2+1)
		delay = min(delay*2, maxDelay)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
	}
}

// Status is how many streams were opened, and the error the last one ended with.
func (l *Loop) Status() (attempts int, lastErr error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.attempts, l.lastErr
}
