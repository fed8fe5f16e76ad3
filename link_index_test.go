package spanlinksprocessor

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"
)

// idxT0 is the clock the index tests start from.
var idxT0 = time.Unix(1_700_000_000, 0)

// idxRef returns a SpanRef whose trace ID and span ID both encode n.
func idxRef(n uint64) SpanRef {
	var r SpanRef
	binary.BigEndian.PutUint64(r.TraceID[8:], n)
	binary.BigEndian.PutUint64(r.SpanID[:], n)
	r.TraceID[0] = 0xaa
	return r
}

// idxKey returns the refKey of idxRef(n).
func idxKey(n uint64) refKey {
	r := idxRef(n)
	return keyOf(r.TraceID, r.SpanID)
}

// idxLinker returns a Linker with IDs from n, named after n.
func idxLinker(n uint64, failed bool) Linker {
	r := idxRef(n)
	r.TraceID[0] = 0xbb // unlike any target
	return Linker{SpanRef: r, Name: fmt.Sprint("batch-", n), Error: failed}
}

// idxAt returns idxT0 plus d.
func idxAt(d time.Duration) time.Time { return idxT0.Add(d) }

func TestLinkIndexLookup(t *testing.T) {
	type add struct {
		target, linker uint64
		failed         bool
		t              time.Duration
	}
	tests := []struct {
		name   string
		adds   []add
		target uint64
		from   Cursor // entries after this cursor; in a fresh index the i-th add has cursor i
		to     Cursor // entries up to this cursor; 0: CursorEnd
		now    time.Duration
		limit  int
		want   Backlinks
	}{
		{
			name:   "miss",
			adds:   []add{{target: 1, linker: 10}},
			target: 2,
			limit:  8,
			want:   Backlinks{},
		},
		{
			name:   "one linker",
			adds:   []add{{target: 1, linker: 10}},
			target: 1,
			limit:  8,
			want:   Backlinks{Count: 1, Linkers: []Linker{idxLinker(10, false)}},
		},
		{
			name:   "arrival order",
			adds:   []add{{1, 12, false, 0}, {1, 10, false, 1}, {1, 11, false, 2}},
			target: 1,
			now:    3,
			limit:  8,
			want:   Backlinks{Count: 3, Linkers: []Linker{idxLinker(12, false), idxLinker(10, false), idxLinker(11, false)}},
		},
		{
			name:   "count covers all, list only the oldest",
			adds:   []add{{1, 10, false, 0}, {1, 11, false, 1}, {1, 12, false, 2}, {1, 13, false, 3}},
			target: 1,
			now:    4,
			limit:  2,
			want:   Backlinks{Count: 4, Linkers: []Linker{idxLinker(10, false), idxLinker(11, false)}},
		},
		{
			name:   "limit zero lists none",
			adds:   []add{{1, 10, false, 0}, {1, 11, true, 1}},
			target: 1,
			now:    2,
			limit:  0,
			want:   Backlinks{Count: 2, ErrorCount: 1},
		},
		{
			name:   "negative limit lists none",
			adds:   []add{{1, 10, false, 0}},
			target: 1,
			limit:  -1,
			want:   Backlinks{Count: 1},
		},
		{
			name:   "error count covers unlisted linkers",
			adds:   []add{{1, 10, false, 0}, {1, 11, true, 1}, {1, 12, true, 2}},
			target: 1,
			now:    3,
			limit:  1,
			want:   Backlinks{Count: 3, ErrorCount: 2, Linkers: []Linker{idxLinker(10, false)}},
		},
		{
			name:   "same linker twice counts once",
			adds:   []add{{1, 10, false, 0}, {1, 11, false, 1}, {1, 10, false, 2}},
			target: 1,
			now:    3,
			limit:  8,
			want:   Backlinks{Count: 2, Linkers: []Linker{idxLinker(10, false), idxLinker(11, false)}},
		},
		{
			name:   "distinct targets do not mix",
			adds:   []add{{1, 10, false, 0}, {2, 11, true, 1}, {1, 12, false, 2}, {3, 10, false, 3}},
			target: 1,
			now:    4,
			limit:  8,
			want:   Backlinks{Count: 2, Linkers: []Linker{idxLinker(10, false), idxLinker(12, false)}},
		},
		{
			name:   "one linker, several targets",
			adds:   []add{{1, 10, false, 0}, {2, 10, false, 1}, {3, 10, false, 2}},
			target: 2,
			now:    3,
			limit:  8,
			want:   Backlinks{Count: 1, Linkers: []Linker{idxLinker(10, false)}},
		},
		{
			name:   "just inside the window",
			adds:   []add{{1, 10, false, 0}, {1, 11, false, time.Second}},
			target: 1,
			now:    10*time.Second - 1,
			limit:  8,
			want:   Backlinks{Count: 2, Linkers: []Linker{idxLinker(10, false), idxLinker(11, false)}},
		},
		{
			name:   "expired exactly at the window",
			adds:   []add{{1, 10, false, 0}, {1, 11, false, time.Second}},
			target: 1,
			now:    10 * time.Second,
			limit:  8,
			want:   Backlinks{Count: 1, Linkers: []Linker{idxLinker(11, false)}},
		},
		{
			name:   "all expired",
			adds:   []add{{1, 10, false, 0}, {1, 11, false, time.Second}},
			target: 1,
			now:    11 * time.Second,
			limit:  8,
			want:   Backlinks{},
		},
		{
			name:   "re-sent after expiry counts again",
			adds:   []add{{1, 10, false, 0}, {1, 10, true, 10 * time.Second}},
			target: 1,
			now:    10 * time.Second,
			limit:  8,
			want:   Backlinks{Count: 1, ErrorCount: 1, Linkers: []Linker{idxLinker(10, true)}},
		},
		{
			name:   "from a cursor counts only later linkers",
			adds:   []add{{1, 10, true, 1 * time.Second}, {1, 11, false, 2 * time.Second}, {1, 12, true, 3 * time.Second}},
			target: 1,
			from:   2,
			now:    4 * time.Second,
			limit:  8,
			want:   Backlinks{Count: 1, ErrorCount: 1, Linkers: []Linker{idxLinker(12, true)}},
		},
		{
			name:   "up to a cursor counts only earlier linkers",
			adds:   []add{{1, 10, true, 1 * time.Second}, {1, 11, false, 2 * time.Second}, {1, 12, true, 3 * time.Second}},
			target: 1,
			to:     2,
			now:    4 * time.Second,
			limit:  8,
			want:   Backlinks{Count: 2, ErrorCount: 1, Linkers: []Linker{idxLinker(10, true), idxLinker(11, false)}},
		},
		{
			name:   "from the last cursor sees nothing",
			adds:   []add{{1, 10, false, 1 * time.Second}, {2, 11, false, 1 * time.Second}},
			target: 1,
			from:   2,
			now:    4 * time.Second,
			limit:  8,
			want:   Backlinks{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix := newMemoryIndex(10*time.Second, 100)
			for _, a := range tt.adds {
				ix.Add(idxRef(a.target), idxLinker(a.linker, a.failed), idxAt(a.t))
			}
			to := tt.to
			if to == 0 {
				to = CursorEnd
			}
			got := ix.Lookup(idxRef(tt.target), tt.from, to, idxAt(tt.now), tt.limit)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Lookup = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLinkIndexDedupeKeepsOneEntry(t *testing.T) {
	ix := newMemoryIndex(time.Minute, 100)
	for i := range 5 {
		ix.Add(idxRef(1), idxLinker(10, false), idxAt(time.Duration(i)))
	}
	if n := ix.Len(); n != 1 {
		t.Errorf("Len = %d after re-sending one linker, want 1", n)
	}
}

func TestLinkIndexExpire(t *testing.T) {
	ix := newMemoryIndex(10*time.Second, 100)
	for i := range 10 {
		ix.Add(idxRef(uint64(i)), idxLinker(100, false), idxAt(time.Duration(i)*time.Second))
	}
	tests := []struct {
		now         time.Duration
		len         int
		wantExpired uint64
	}{
		{now: 9 * time.Second, len: 10, wantExpired: 0},
		{now: 10 * time.Second, len: 9, wantExpired: 1}, // the entry at 0s is exactly window old
		{now: 15*time.Second + 1, len: 4, wantExpired: 6},
		{now: 19 * time.Second, len: 0, wantExpired: 10},
	}
	for _, tt := range tests {
		ix.Expire(idxAt(tt.now))
		if n := ix.Len(); n != tt.len {
			t.Errorf("Expire(%v): Len = %d, want %d", tt.now, n, tt.len)
		}
		if e := indexEmpty(ix); e != (tt.len == 0) {
			t.Errorf("Expire(%v): indexEmpty = %v with %d entries", tt.now, e, tt.len)
		}
		if e := indexEmpty(otherIndex{ix}); e != (tt.len == 0) {
			t.Errorf("Expire(%v): indexEmpty of another index = %v with %d entries", tt.now, e, tt.len)
		}
		if st := ix.Stats(); st != (IndexStats{Expired: tt.wantExpired}) {
			t.Errorf("Expire(%v): Stats = %+v, want %d expired", tt.now, st, tt.wantExpired)
		}
	}
	assertIndexEmpty(t, ix)
}

func TestLinkIndexCapacity(t *testing.T) {
	for _, maxEntries := range []int{1, 3, 17, 1000, 5000, 40_000} {
		t.Run(fmt.Sprint(maxEntries), func(t *testing.T) {
			ix := newMemoryIndex(time.Hour, maxEntries)
			adds := 3*maxEntries + 700
			for i := range adds {
				ix.Add(idxRef(uint64(i%700)), idxLinker(uint64(i), false), idxAt(time.Duration(i)))
				if n := ix.Len(); n > maxEntries {
					t.Fatalf("Len = %d after %d adds, want at most %d", n, i+1, maxEntries)
				}
			}
			n := ix.Len()
			if st := ix.Stats(); st.Evicted != uint64(adds-n) || st.Expired != 0 {
				t.Errorf("Stats = %+v with Len %d, want %d evicted", st, n, adds-n)
			}
		})
	}
}

func TestLinkIndexEvictsOldestFirst(t *testing.T) {
	ix := newShardedIndex(time.Hour, 3, 1)
	for i := range uint64(5) {
		ix.Add(idxRef(1), idxLinker(10+i, false), idxAt(time.Duration(i)))
	}
	ix.Add(idxRef(2), idxLinker(20, false), idxAt(5))
	want := Backlinks{Count: 2, Linkers: []Linker{idxLinker(13, false), idxLinker(14, false)}}
	if got := ix.Lookup(idxRef(1), 0, CursorEnd, idxAt(6), 8); !reflect.DeepEqual(got, want) {
		t.Errorf("Lookup = %+v, want %+v", got, want)
	}
	if st := ix.Stats(); st.Evicted != 3 {
		t.Errorf("Evicted = %d, want 3", st.Evicted)
	}
}

func TestLinkIndexRemovesKeys(t *testing.T) {
	ix := newShardedIndex(time.Minute, 4, 1)
	// Target 1 has an old chain that is evicted by later adds.
	ix.Add(idxRef(1), idxLinker(10, false), idxAt(0))
	ix.Add(idxRef(1), idxLinker(11, false), idxAt(1))
	for i := range uint64(4) {
		ix.Add(idxRef(2+i), idxLinker(20, false), idxAt(2))
	}
	if k := idxKey(1); func() bool { _, _, ok := ix.shards[0].find(k, refHash(k, ix.seed)); return ok }() {
		t.Error("key for target 1 kept after its entries were evicted")
	}
	if got := ix.Lookup(idxRef(1), 0, CursorEnd, idxAt(3), 8); !reflect.DeepEqual(got, Backlinks{}) {
		t.Errorf("Lookup of evicted target = %+v, want a miss", got)
	}
	if n := ix.shards[0].table.liveKeys(ix.shards[0].stale); n != 4 {
		t.Errorf("%d keys, want 4", n)
	}
	ix.Expire(idxAt(time.Minute + 2))
	assertIndexEmpty(t, ix)
}

// assertIndexEmpty fails t unless every shard of ix is empty, keys included.
func assertIndexEmpty(t *testing.T, ix *memoryIndex) {
	t.Helper()
	for i := range ix.shards {
		s := &ix.shards[i]
		if keys := s.table.liveKeys(s.stale); s.n != 0 || keys != 0 || s.names.len() != 0 {
			t.Errorf("shard %d: %d entries, %d keys and %d names left, want none", i, s.n, keys, s.names.len())
		}
	}
}

func TestLinkIndexRingGrowthKeepsOrder(t *testing.T) {
	const n = 5*indexMinRing + 3
	ix := newShardedIndex(time.Minute, 10*n, 1)
	var want []Linker
	// Expire some entries first so the ring wraps before it grows.
	for i := range uint64(indexMinRing / 2) {
		ix.Add(idxRef(2), idxLinker(i, false), idxAt(0))
	}
	for i := range uint64(n) {
		l := idxLinker(1000+i, i%3 == 0)
		ix.Add(idxRef(1), l, idxAt(time.Minute))
		ix.Add(idxRef(3+i), l, idxAt(time.Minute))
		want = append(want, l)
	}
	got := ix.Lookup(idxRef(1), 0, CursorEnd, idxAt(time.Minute), n)
	if got.Count != n || !reflect.DeepEqual(got.Linkers, want) {
		t.Errorf("Lookup after growth: Count %d, order kept %v; want %d in order", got.Count, reflect.DeepEqual(got.Linkers, want), n)
	}
	if errs := (n + 2) / 3; got.ErrorCount != errs {
		t.Errorf("ErrorCount = %d, want %d", got.ErrorCount, errs)
	}
	if l := len(ix.shards[0].ring); l < 2*n || l > 10*n {
		t.Errorf("ring length %d, want it grown to hold %d and within capacity", l, 2*n)
	}
}

func TestLinkIndexRingGrowsLazily(t *testing.T) {
	ix := newMemoryIndex(time.Minute, 1_000_000)
	for i := range ix.shards {
		if ix.shards[i].ring != nil {
			t.Fatalf("shard %d preallocated %d entries", i, len(ix.shards[i].ring))
		}
	}
	ix.Add(idxRef(1), idxLinker(2, false), idxT0)
	if l := len(ix.shard(idxKey(1)).ring); l != indexMinRing {
		t.Errorf("ring length %d after one add, want %d", l, indexMinRing)
	}
}

func TestLinkIndexMissDoesNotAllocate(t *testing.T) {
	ix := newMemoryIndex(time.Minute, 1000)
	for i := range uint64(500) {
		ix.Add(idxRef(i), idxLinker(i, false), idxT0)
	}
	miss := idxRef(1 << 40)
	allocs := testing.AllocsPerRun(1000, func() {
		if b := ix.Lookup(miss, 0, CursorEnd, idxT0, 32); b.Count != 0 {
			t.Fatalf("Lookup of a miss = %+v", b)
		}
	})
	if allocs != 0 {
		t.Errorf("Lookup of a miss allocates %v times, want 0", allocs)
	}
}

func TestLinkIndexConcurrent(t *testing.T) {
	const (
		workers = 8
		targets = 64
		perTgt  = 50 // linkers per target per worker
	)
	ix := newMemoryIndex(time.Hour, 1_000_000)
	var wg sync.WaitGroup
	for w := range uint64(workers) {
		wg.Go(func() {
			for i := range uint64(targets * perTgt) {
				target := idxRef(i % targets)
				// Every worker adds the same linkers: each must count once.
				ix.Add(target, idxLinker(i, false), idxAt(time.Duration(i)))
				ix.Lookup(target, 0, CursorEnd, idxAt(time.Duration(i)), 4)
				ix.Lookup(idxRef(1<<40+w), 0, CursorEnd, idxAt(time.Duration(i)), 4)
			}
		})
	}
	wg.Go(func() {
		for range 100 {
			ix.Expire(idxT0)
			ix.Len()
			ix.Stats()
		}
	})
	wg.Wait()
	if n := ix.Len(); n != targets*perTgt {
		t.Errorf("Len = %d, want %d", n, targets*perTgt)
	}
	for i := range uint64(targets) {
		if b := ix.Lookup(idxRef(i), 0, CursorEnd, idxT0, 0); b.Count != perTgt {
			t.Errorf("target %d: Count = %d, want %d", i, b.Count, perTgt)
		}
	}
}
