package redisindex

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrBackingOff is returned, wrapped with the last failure, while the index
// waits before it tries Redis again.
var ErrBackingOff = errors.New("redis index backing off after a failure")

const (
	backoffMin = 100 * time.Millisecond
	backoffMax = 5 * time.Second
)

// breaker spaces out the attempts on a failing Redis: after n failures in a
// row, operations fail at once for min(100ms·2^(n-1), 5s), so that a Redis
// that is down does not cost a full timeout on every batch. The first
// success closes it.
type breaker struct {
	mu       sync.Mutex
	failures int
	until    time.Time
	last     error
}

// allow returns nil when an operation may try Redis.
func (b *breaker) allow(now time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures == 0 || !now.Before(b.until) {
		return nil
	}
	return fmt.Errorf("%w for %v: %w", ErrBackingOff, b.until.Sub(now).Round(time.Millisecond), b.last)
}

// fail records a failure at now.
func (b *breaker) fail(now time.Time, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures++
	d := backoffMax
	if b.failures < 7 {
		d = min(backoffMin<<(b.failures-1), backoffMax)
	}
	b.until, b.last = now.Add(d), err
}

// ok records a success.
func (b *breaker) ok() {
	b.mu.Lock()
	b.failures, b.last = 0, nil
	b.mu.Unlock()
}
