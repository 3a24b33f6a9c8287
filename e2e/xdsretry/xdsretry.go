// Package xdsretry keeps the local mesh's xDS clients (the sidecar and ztunnel stand-ins)
// connected to istiod.
package xdsretry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Run calls stream until ctx ends, reconnecting with jittered exponential backoff (istiod
// refuses bursts of new streams with ResourceExhausted); a stream that lived 30 s starts the
// backoff over. attempt is told before each stream, ended with the error each one ends with.
func Run(ctx context.Context, stream func(context.Context) error, attempt func(), ended func(error)) {
	const base, maxDelay = 100 * time.Millisecond, 10 * time.Second
	delay := base
	for ctx.Err() == nil {
		attempt()
		start := time.Now()
		err := stream(ctx)
		if ctx.Err() != nil {
			return
		}
		ended(err)
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
