package retry_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/incidentd/incidentd/internal/retry"
)

var errDown = errors.New("down")

// failing returns an operation that fails n times, then succeeds, and
// counts its calls.
func failing(n int, calls *int) func() error {
	return func() error {
		*calls++
		if *calls <= n {
			return errDown
		}
		return nil
	}
}

func TestDoDoublesTheWaitUpToMax(t *testing.T) {
	var calls int
	var waits []time.Duration
	p := retry.Policy{Min: time.Millisecond, Max: 5 * time.Millisecond}
	err := retry.Do(context.Background(), p, failing(5, &calls), func(err error, d time.Duration) {
		if !errors.Is(err, errDown) {
			t.Errorf("onRetry error = %v, want the operation's", err)
		}
		waits = append(waits, d)
	})
	if err != nil {
		t.Fatalf("Do = %v, want nil after the operation succeeds", err)
	}
	want := []time.Duration{1, 2, 4, 5, 5}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if calls != 6 || !slices.Equal(waits, want) {
		t.Fatalf("calls %d, waits %v; want 6 calls and waits %v", calls, waits, want)
	}
}

func TestDoStopsAtAPermanentError(t *testing.T) {
	var calls int
	refused := errors.New("refused")
	err := retry.Do(context.Background(), retry.Policy{Min: time.Millisecond, Max: time.Millisecond}, func() error {
		calls++
		return retry.Permanent(refused)
	}, nil)
	if err != refused || calls != 1 {
		t.Fatalf("Do = %v after %d calls, want the permanent error itself after 1", err, calls)
	}
}

func TestDoStopsAfterTries(t *testing.T) {
	var calls int
	err := retry.Do(context.Background(), retry.Policy{Min: time.Millisecond, Max: time.Millisecond, Tries: 3}, failing(10, &calls), nil)
	if !errors.Is(err, errDown) || calls != 3 {
		t.Fatalf("Do = %v after %d calls, want the last error after 3", err, calls)
	}
}

// A context ended during a wait ends Do at once with the context's error,
// whatever the wait left.
func TestDoEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls int
	start := time.Now()
	err := retry.Do(ctx, retry.Policy{Min: time.Hour, Max: time.Hour}, failing(10, &calls), func(error, time.Duration) { cancel() })
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("Do = %v after %d calls, want context.Canceled after 1", err, calls)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("Do took %v after its context ended, want at once", el)
	}
}

// An operation that fails because its context ended gets the context's
// error, not its own, and no retry, even when it marks its error permanent.
func TestDoPrefersTheContextsError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var retried bool
	err := retry.Do(ctx, retry.Policy{Min: time.Millisecond, Max: time.Millisecond}, func() error {
		cancel()
		return retry.Permanent(errDown)
	}, func(error, time.Duration) { retried = true })
	if !errors.Is(err, context.Canceled) || retried {
		t.Fatalf("Do = %v (retried %v), want context.Canceled without a retry", err, retried)
	}
}

// The backoff library's default stops after 15 minutes in all; Do has no
// such limit. Checked with a long first wait: the library refuses to start
// a wait that ends past its limit, so a 20-minute wait shows the limit is
// off, and the context ends the wait.
func TestDoHasNoTimeLimit(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls int
	var waited time.Duration
	err := retry.Do(ctx, retry.Policy{Min: 20 * time.Minute, Max: 20 * time.Minute}, failing(10, &calls), func(_ error, d time.Duration) {
		waited = d
		cancel()
	})
	if !errors.Is(err, context.Canceled) || waited != 20*time.Minute {
		t.Fatalf("Do = %v, wait %v; want a 20m wait ended by the context", err, waited)
	}
}
