// Package retry is the one way incidentd's services try an operation
// again: exponential backoff without jitter (Min, 2·Min, 4·Min, … up to
// Max), no limit on the total time, stopped by the operation succeeding,
// by an error it marks Permanent, by the context, or after a number of
// tries. It is github.com/cenkalti/backoff/v5 with those settings pinned,
// so every loop waits the same way and none forgets the context.
package retry

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Policy is how long to wait between tries and how many to make.
type Policy struct {
	Min, Max time.Duration // the first wait, and the most any wait grows to
	Tries    uint          // attempts at most; 0: until success, a permanent error or ctx
}

// Do runs op until it returns nil. Between failures it waits as p says,
// calling onRetry first (when not nil) with the error and the wait. It
// returns nil on success; ctx's error if ctx is done when op fails or
// during a wait (whatever op returned); the error op wrapped with
// Permanent, unwrapped; or, after p.Tries failed attempts, the last error.
func Do(ctx context.Context, p Policy, op func() error, onRetry func(err error, wait time.Duration)) error {
	b := &backoff.ExponentialBackOff{InitialInterval: p.Min, Multiplier: 2, MaxInterval: p.Max}
	opts := []backoff.RetryOption{backoff.WithBackOff(b), backoff.WithMaxElapsedTime(0), backoff.WithMaxTries(p.Tries)}
	if onRetry != nil {
		opts = append(opts, backoff.WithNotify(onRetry))
	}
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		err := op()
		if err != nil && ctx.Err() != nil {
			return struct{}{}, backoff.Permanent(ctx.Err())
		}
		return struct{}{}, err
	}, opts...)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Permanent marks err as not worth another try: Do returns it at once.
func Permanent(err error) error { return backoff.Permanent(err) }
