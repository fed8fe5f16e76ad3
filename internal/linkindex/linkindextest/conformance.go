// Package linkindextest holds the conformance suite that every link index
// passes: the same cases, checked against a plain model, whatever stores
// the entries.
package linkindextest

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
)

// Open returns a new, empty index whose entries live for lifetime and that
// holds at least 100,000 entries. The suite closes it.
type Open func(t *testing.T, lifetime time.Duration) linkindex.Index

// T0 is the clock the suite starts from.
var T0 = time.Unix(1_700_000_000, 0)

// Option changes what the suite expects of an index.
type Option func(*options)

type options struct {
	shared bool
}

// Shared says the index is shared with other processes (a fleet's index on
// Redis): Empty may answer false whenever the index cannot be sure that no
// other process added an entry, so the suite only checks that it answers
// false after an add. Stats still counts exactly the entries the index
// added itself, as the suite's single index checks.
func Shared() Option { return func(o *options) { o.shared = true } }

// Run runs the conformance suite against the indexes open returns.
func Run(t *testing.T, open Open, opts ...Option) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	t.Run("Lookup", func(t *testing.T) { testLookup(t, open) })
	t.Run("MatchesModel", func(t *testing.T) { testMatchesModel(t, open, o.shared) })
	t.Run("Empty", func(t *testing.T) { testEmpty(t, open, o.shared) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, open) })
}

// Ref returns a Ref whose trace ID and span ID both encode n.
func Ref(n uint64) linkindex.Ref {
	var r linkindex.Ref
	binary.BigEndian.PutUint64(r.TraceID[8:], n)
	binary.BigEndian.PutUint64(r.SpanID[:], n)
	r.TraceID[0] = 0xaa
	return r
}

// LinkerOf returns a Linker with IDs from n, unlike any target's, named
// after n.
func LinkerOf(n uint64, failed bool) linkindex.Linker {
	r := Ref(n)
	r.TraceID[0] = 0xbb
	return linkindex.Linker{Ref: r, Name: fmt.Sprint("batch-", n), Error: failed}
}

// key returns the Key of r.
func key(r linkindex.Ref) linkindex.Key { return linkindex.KeyOf(r.TraceID, r.SpanID) }

// add adds links to ix as one batch at now, each link with its own linker.
func addBatch(t *testing.T, ix linkindex.Index, links []modelLink, now time.Time) {
	t.Helper()
	var b linkindex.Links
	for _, l := range links {
		b.Link(key(l.target))
		b.Linker(key(l.linker.Ref), l.linker.Name, l.linker.Error)
	}
	if err := ix.Add(context.Background(), &b, now); err != nil {
		t.Fatalf("Add: %v", err)
	}
}

// lookup looks targets up in ix as one batch and returns the answers,
// copied out of the batch's memory.
func lookup(t *testing.T, ix linkindex.Index, targets []linkindex.Ref, since time.Time, limit int) []linkindex.Backlinks {
	t.Helper()
	var q linkindex.Targets
	for _, r := range targets {
		q.Add(key(r))
	}
	if err := ix.Lookup(context.Background(), &q, since, limit); err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	out := make([]linkindex.Backlinks, len(targets))
	for i := range out {
		b := q.Result(i)
		if len(b.Linkers) == 0 {
			b.Linkers = nil
		} else {
			b.Linkers = append([]linkindex.Linker(nil), b.Linkers...)
		}
		out[i] = b
	}
	return out
}

func openIndex(t *testing.T, open Open, lifetime time.Duration) linkindex.Index {
	ix := open(t, lifetime)
	t.Cleanup(func() {
		if err := ix.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return ix
}

// testLookup runs cases of adds, each a batch of its own, then an Expire at
// now and a lookup of the entries added after since, in an index whose
// entries live for 10s.
func testLookup(t *testing.T, open Open) {
	type add struct {
		target, linker uint64
		failed         bool
		t              time.Duration
	}
	L := LinkerOf
	const lifetime = 10 * time.Second
	tests := []struct {
		name   string
		adds   []add
		target uint64
		now    time.Duration
		since  *time.Duration // nil: now - 10s
		limit  int
		want   linkindex.Backlinks
	}{
		{name: "miss", adds: []add{{target: 1, linker: 10}}, target: 2, limit: 8},
		{name: "one linker", adds: []add{{target: 1, linker: 10}}, target: 1, limit: 8,
			want: linkindex.Backlinks{Count: 1, Linkers: []linkindex.Linker{L(10, false)}}},
		{name: "arrival order", adds: []add{{1, 12, false, 0}, {1, 10, false, 1}, {1, 11, false, 2}}, target: 1, now: 3, limit: 8,
			want: linkindex.Backlinks{Count: 3, Linkers: []linkindex.Linker{L(12, false), L(10, false), L(11, false)}}},
		{name: "count covers all, list only the oldest", adds: []add{{1, 10, false, 0}, {1, 11, false, 1}, {1, 12, false, 2}, {1, 13, false, 3}}, target: 1, now: 4, limit: 2,
			want: linkindex.Backlinks{Count: 4, Linkers: []linkindex.Linker{L(10, false), L(11, false)}}},
		{name: "limit zero lists none", adds: []add{{1, 10, false, 0}, {1, 11, true, 1}}, target: 1, now: 2, limit: 0,
			want: linkindex.Backlinks{Count: 2, ErrorCount: 1}},
		{name: "negative limit lists none", adds: []add{{1, 10, false, 0}}, target: 1, limit: -1,
			want: linkindex.Backlinks{Count: 1}},
		{name: "error count covers unlisted linkers", adds: []add{{1, 10, false, 0}, {1, 11, true, 1}, {1, 12, true, 2}}, target: 1, now: 3, limit: 1,
			want: linkindex.Backlinks{Count: 3, ErrorCount: 2, Linkers: []linkindex.Linker{L(10, false)}}},
		{name: "same linker twice counts once", adds: []add{{1, 10, false, 0}, {1, 11, false, 1}, {1, 10, false, 2}}, target: 1, now: 3, limit: 8,
			want: linkindex.Backlinks{Count: 2, Linkers: []linkindex.Linker{L(10, false), L(11, false)}}},
		{name: "distinct targets do not mix", adds: []add{{1, 10, false, 0}, {2, 11, true, 1}, {1, 12, false, 2}, {3, 10, false, 3}}, target: 1, now: 4, limit: 8,
			want: linkindex.Backlinks{Count: 2, Linkers: []linkindex.Linker{L(10, false), L(12, false)}}},
		{name: "one linker, several targets", adds: []add{{1, 10, false, 0}, {2, 10, false, 1}, {3, 10, false, 2}}, target: 2, now: 3, limit: 8,
			want: linkindex.Backlinks{Count: 1, Linkers: []linkindex.Linker{L(10, false)}}},
		{name: "just inside the lifetime", adds: []add{{1, 10, false, 0}, {1, 11, false, time.Second}}, target: 1, now: 10*time.Second - 1, limit: 8,
			want: linkindex.Backlinks{Count: 2, Linkers: []linkindex.Linker{L(10, false), L(11, false)}}},
		{name: "expired exactly at the lifetime", adds: []add{{1, 10, false, 0}, {1, 11, false, time.Second}}, target: 1, now: 10 * time.Second, since: dur(-time.Hour), limit: 8,
			want: linkindex.Backlinks{Count: 1, Linkers: []linkindex.Linker{L(11, false)}}},
		{name: "all expired", adds: []add{{1, 10, false, 0}, {1, 11, false, time.Second}}, target: 1, now: 11 * time.Second, since: dur(-time.Hour), limit: 8},
		{name: "re-sent after expiry counts again", adds: []add{{1, 10, false, 0}, {1, 10, true, 10 * time.Second}}, target: 1, now: 10 * time.Second, since: dur(-time.Hour), limit: 8,
			want: linkindex.Backlinks{Count: 1, ErrorCount: 1, Linkers: []linkindex.Linker{L(10, true)}}},
		{name: "since a time counts only later linkers", adds: []add{{1, 10, true, 1 * time.Second}, {1, 11, false, 2 * time.Second}, {1, 12, true, 3 * time.Second}}, target: 1, since: dur(2 * time.Second), now: 4 * time.Second, limit: 8,
			want: linkindex.Backlinks{Count: 1, ErrorCount: 1, Linkers: []linkindex.Linker{L(12, true)}}},
		{name: "since the last add sees nothing", adds: []add{{1, 10, false, 1 * time.Second}, {2, 11, false, 1 * time.Second}}, target: 1, since: dur(time.Second), now: 4 * time.Second, limit: 8},
		{name: "since the future sees nothing", adds: []add{{1, 10, false, 1 * time.Second}}, target: 1, since: dur(time.Hour), now: 4 * time.Second, limit: 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix := openIndex(t, open, lifetime)
			for _, a := range tt.adds {
				addBatch(t, ix, []modelLink{{Ref(a.target), LinkerOf(a.linker, a.failed)}}, T0.Add(a.t))
			}
			now := T0.Add(tt.now)
			ix.Expire(now)
			since := now.Add(-lifetime)
			if tt.since != nil {
				since = T0.Add(*tt.since)
			}
			got := lookup(t, ix, []linkindex.Ref{Ref(tt.target)}, since, tt.limit)[0]
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Lookup = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// dur returns a pointer to d.
func dur(d time.Duration) *time.Duration { return &d }

// testMatchesModel adds random batches over few targets, linkers and names,
// with re-sent linkers and targets repeated within a batch, looks random
// batches of targets up since random times, expires, and compares every
// answer with the model's.
func testMatchesModel(t *testing.T, open Open, shared bool) {
	const lifetime = 10 * time.Second
	r := rand.New(rand.NewPCG(7, 12))
	ix := openIndex(t, open, lifetime)
	m := &model{lifetime: lifetime}
	var added []time.Time // when each batch was added
	now := T0
	hits := 0
	for step := range 1500 {
		now = now.Add(time.Duration(r.IntN(200)) * time.Millisecond)
		switch op := r.IntN(10); {
		case op < 6:
			var links []modelLink
			for range 1 + r.IntN(12) {
				n := uint64(r.IntN(30))
				l := LinkerOf(n, n%5 == 0)
				l.Name = fmt.Sprint("job-", n%7)
				links = append(links, modelLink{Ref(uint64(r.IntN(40))), l})
			}
			addBatch(t, ix, links, now)
			m.add(links, now)
			added = append(added, now)
		case op < 9:
			since := now.Add(-lifetime)
			if len(added) > 0 && r.IntN(2) == 0 {
				// A batch's time: only later ones count. Lookups ask only
				// within the lifetime before now: entries older than that
				// may linger until an Add or Expire drops them.
				if at := added[r.IntN(len(added))]; at.After(since) {
					since = at
				}
			}
			limit := r.IntN(6)
			var targets []linkindex.Ref
			for range 1 + r.IntN(10) {
				targets = append(targets, Ref(uint64(r.IntN(45)))) // 40 and over: never linked
			}
			got := lookup(t, ix, targets, since, limit)
			for i, target := range targets {
				want := m.lookup(target, since, limit)
				if want.Count > 0 {
					hits++
				}
				if !reflect.DeepEqual(got[i], want) {
					t.Fatalf("step %d: Lookup(target %x, since %v, limit %d) = %+v, want %+v",
						step, target.SpanID, since.Sub(T0), limit, got[i], want)
				}
			}
		default:
			now = now.Add(time.Duration(r.IntN(3)) * time.Second)
			ix.Expire(now)
			m.expire(now)
			if n := ix.Stats().Entries; n != len(m.entries) {
				t.Fatalf("step %d: %d entries after Expire, want %d", step, n, len(m.entries))
			}
		}
	}
	if hits < 200 {
		t.Fatalf("only %d lookups had backlinks: the comparison checked too little", hits)
	}
	ix.Expire(now.Add(lifetime))
	if st := ix.Stats(); st.Entries != 0 || !shared && !ix.Empty() {
		t.Errorf("after the lifetime: %d entries, Empty %v; want none", st.Entries, ix.Empty())
	}
}

func testEmpty(t *testing.T, open Open, shared bool) {
	ix := openIndex(t, open, 10*time.Second)
	if shared {
		addBatch(t, ix, []modelLink{{Ref(1), LinkerOf(10, false)}}, T0)
		if ix.Empty() {
			t.Fatal("empty after an add")
		}
		return
	}
	if !ix.Empty() {
		t.Fatal("a new index is not empty")
	}
	addBatch(t, ix, []modelLink{{Ref(1), LinkerOf(10, false)}}, T0)
	if ix.Empty() {
		t.Fatal("empty after an add")
	}
	ix.Expire(T0.Add(10*time.Second - 1))
	if ix.Empty() {
		t.Fatal("empty before the lifetime passed")
	}
	ix.Expire(T0.Add(10 * time.Second))
	if !ix.Empty() {
		t.Fatal("not empty once the lifetime passed")
	}
}

// testConcurrent adds the same linkers from several goroutines while others
// look up: each linker must count once per target.
func testConcurrent(t *testing.T, open Open) {
	const (
		workers = 4
		targets = 32
		perTgt  = 20 // linkers per target
	)
	ix := openIndex(t, open, time.Hour)
	var wg sync.WaitGroup
	for w := range uint64(workers) {
		wg.Go(func() {
			for i := range uint64(targets * perTgt) {
				// Every worker adds the same linkers: each must count once.
				addBatch(t, ix, []modelLink{{Ref(i % targets), LinkerOf(i, false)}}, T0)
				lookup(t, ix, []linkindex.Ref{Ref(i % targets), Ref(1<<40 + w)}, T0.Add(-time.Hour), 4)
			}
		})
	}
	wg.Go(func() {
		for range 100 {
			ix.Expire(T0)
			ix.Stats()
			ix.Empty()
		}
	})
	wg.Wait()
	if n := ix.Stats().Entries; n != targets*perTgt {
		t.Errorf("%d entries, want %d", n, targets*perTgt)
	}
	var refs []linkindex.Ref
	for i := range uint64(targets) {
		refs = append(refs, Ref(i))
	}
	for i, b := range lookup(t, ix, refs, T0.Add(-time.Hour), 0) {
		if b.Count != perTgt {
			t.Errorf("target %d: Count = %d, want %d", i, b.Count, perTgt)
		}
	}
}
