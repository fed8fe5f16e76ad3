package redisindex_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"github.com/spanlinks/spanlinksprocessor/internal/linkindex/linkindextest"
	"github.com/spanlinks/spanlinksprocessor/internal/redisindex"
	"github.com/spanlinks/spanlinksprocessor/internal/redistest"
)

// clock is a clock that moves only when the test moves it.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// failures records what the index reports through Options.Failed.
type failures struct {
	mu   sync.Mutex
	errs []error
}

func (f *failures) failed(op string, err error) {
	f.mu.Lock()
	f.errs = append(f.errs, err)
	f.mu.Unlock()
}

func (f *failures) n() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.errs) }

func newIndex(t *testing.T, addr string, c *clock, f *failures, o redisindex.Options) *redisindex.Index {
	t.Helper()
	o.Endpoints = []string{addr}
	o.KeyPrefix = t.Name() + ":"
	if o.Timeout == 0 {
		o.Timeout = time.Second
	}
	o.Lifetime, o.Clock, o.Failed, o.Resync = 10*time.Second, c.Now, f.failed, -1
	ix, err := redisindex.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

func links(target, linker uint64) *linkindex.Links {
	var b linkindex.Links
	r, l := linkindextest.Ref(target), linkindextest.LinkerOf(linker, false)
	b.Link(linkindex.KeyOf(r.TraceID, r.SpanID))
	b.Linker(linkindex.KeyOf(l.TraceID, l.SpanID), l.Name, l.Error)
	return &b
}

func count(t *testing.T, ix *redisindex.Index, target uint64, now time.Time) (int, error) {
	var q linkindex.Targets
	r := linkindextest.Ref(target)
	q.Add(linkindex.KeyOf(r.TraceID, r.SpanID))
	err := ix.Lookup(context.Background(), &q, now.Add(-10*time.Second), 4)
	return q.Result(0).Count, err
}

// TestDownAtStartThenUp: an index on a Redis that is down is created, fails
// fast, backs off without dialling, and works once Redis is up and the
// back-off has passed.
func TestDownAtStartThenUp(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	c, f := &clock{t: linkindextest.T0}, &failures{}
	ix := newIndex(t, srv.Addr, c, f, redisindex.Options{})
	ctx := context.Background()

	err := ix.Add(ctx, links(1, 10), c.Now())
	if err == nil || errors.Is(err, redisindex.ErrBackingOff) {
		t.Fatalf("first Add on a stopped Redis: %v, want a connection error", err)
	}
	began := time.Now()
	for range 100 {
		if err := ix.Add(ctx, links(1, 10), c.Now()); !errors.Is(err, redisindex.ErrBackingOff) {
			t.Fatalf("Add while backing off: %v, want ErrBackingOff", err)
		}
		if _, err := count(t, ix, 1, c.Now()); !errors.Is(err, redisindex.ErrBackingOff) {
			t.Fatalf("Lookup while backing off: %v, want ErrBackingOff", err)
		}
	}
	if d := time.Since(began); d > 100*time.Millisecond {
		t.Errorf("100 Adds and Lookups while backing off took %v: they should not dial", d)
	}
	if f.n() != 0 {
		t.Errorf("%d failures reported to Failed, want none: Add and Lookup return theirs", f.n())
	}

	srv.Restart()
	c.Add(150 * time.Millisecond) // past the first back-off (100ms)
	if err := ix.Add(ctx, links(1, 10), c.Now()); err != nil {
		t.Fatalf("Add once Redis is up: %v", err)
	}
	if n, err := count(t, ix, 1, c.Now()); err != nil || n != 1 {
		t.Fatalf("Count = %d, %v; want 1", n, err)
	}
}

// TestSlowRedis: a Redis that stops answering costs one timeout, then the
// index backs off; when it answers again and the back-off has passed, the
// index works again, its entries intact.
func TestSlowRedis(t *testing.T) {
	srv := redistest.Start(t)
	c, f := &clock{t: linkindextest.T0}, &failures{}
	ix := newIndex(t, srv.Addr, c, f, redisindex.Options{Timeout: 100 * time.Millisecond})
	ctx := context.Background()
	if err := ix.Add(ctx, links(1, 10), c.Now()); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	began := time.Now()
	err := ix.Add(ctx, links(1, 11), c.Now())
	if d := time.Since(began); err == nil || d > time.Second {
		t.Fatalf("Add on a paused Redis: %v after %v; want a timeout after about 100ms", err, d)
	}
	began = time.Now()
	for range 50 {
		if _, err := count(t, ix, 1, c.Now()); !errors.Is(err, redisindex.ErrBackingOff) {
			t.Fatalf("Lookup while backing off: %v", err)
		}
	}
	if d := time.Since(began); d > 50*time.Millisecond {
		t.Errorf("50 lookups while backing off took %v", d)
	}
	srv.Resume()
	c.Add(150 * time.Millisecond)
	// The Add that timed out may have reached Redis: 1 or 2 entries.
	if n, err := count(t, ix, 1, c.Now()); err != nil || n < 1 {
		t.Fatalf("Count after Redis answers again = %d, %v; want the entries held before", n, err)
	}
}

// TestRestartedRedis: a Redis restarted empty (no scripts, no entries) is
// used again without help.
func TestRestartedRedis(t *testing.T) {
	srv := redistest.Start(t)
	c, f := &clock{t: linkindextest.T0}, &failures{}
	ix := newIndex(t, srv.Addr, c, f, redisindex.Options{})
	ctx := context.Background()
	if err := ix.Add(ctx, links(1, 10), c.Now()); err != nil {
		t.Fatal(err)
	}
	before := c.Now()
	c.Add(time.Millisecond)
	srv.Stop()
	srv.Restart()
	var err error
	for range 10 { // a closed connection or two, then it works
		if err = ix.Add(ctx, links(1, 11), c.Now()); err == nil {
			break
		}
		c.Add(10 * time.Second)
	}
	if err != nil {
		t.Fatalf("Add after a restart: %v", err)
	}
	// The entry added before the restart is gone with Redis's memory; the
	// one added after counts, for a lookup since before the restart.
	var q linkindex.Targets
	r := linkindextest.Ref(1)
	q.Add(linkindex.KeyOf(r.TraceID, r.SpanID))
	if err := ix.Lookup(ctx, &q, before, 4); err != nil {
		t.Fatal(err)
	}
	if got := q.Result(0); got.Count != 1 || len(got.Linkers) != 1 || got.Linkers[0] != linkindextest.LinkerOf(11, false) {
		t.Errorf("entries added since before the restart: %+v, want linker 11 alone", got)
	}
}

// TestWrongPassword: the error names Redis authentication.
func TestWrongPassword(t *testing.T) {
	srv := redistest.Start(t, "--requirepass", "right")
	c, f := &clock{t: linkindextest.T0}, &failures{}
	for _, o := range []redisindex.Options{{Password: "wrong"}, {}, {Username: "nobody", Password: "right"}} {
		ix := newIndex(t, srv.Addr, c, f, o)
		err := ix.Add(context.Background(), links(1, 10), c.Now())
		if err == nil || !strings.Contains(err.Error(), "redis authentication failed") {
			t.Errorf("Add with username %q, password %q: %v; want an error naming Redis authentication", o.Username, o.Password, err)
		}
		if err != nil && strings.Contains(err.Error(), "right") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	ix := newIndex(t, srv.Addr, c, f, redisindex.Options{Password: "right"})
	if err := ix.Add(context.Background(), links(1, 10), c.Now()); err != nil {
		t.Errorf("Add with the right password: %v", err)
	}
}

// TestTLS: the index talks to a Redis that accepts only TLS, trusting its
// CA, and refuses it without.
func TestTLS(t *testing.T) {
	srv := redistest.StartTLS(t)
	c, f := &clock{t: linkindextest.T0}, &failures{}
	ix := newIndex(t, srv.Addr, c, f, redisindex.Options{TLS: srv.Client})
	if err := ix.Add(context.Background(), links(1, 10), c.Now()); err != nil {
		t.Fatalf("Add over TLS: %v", err)
	}
	if n, err := count(t, ix, 1, c.Now()); err != nil || n != 1 {
		t.Fatalf("Count over TLS = %d, %v; want 1", n, err)
	}
	plain := newIndex(t, srv.Addr, c, f, redisindex.Options{Timeout: 500 * time.Millisecond})
	if err := plain.Add(context.Background(), links(1, 11), c.Now()); err == nil {
		t.Error("Add without TLS to a TLS-only Redis succeeded")
	}
}
