package linkindex

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// idxT0 is the clock the index tests start from.
var idxT0 = time.Unix(1_700_000_000, 0)

// idxRef returns a Ref whose trace ID and span ID both encode n.
func idxRef(n uint64) Ref {
	var r Ref
	binary.BigEndian.PutUint64(r.TraceID[8:], n)
	binary.BigEndian.PutUint64(r.SpanID[:], n)
	r.TraceID[0] = 0xaa
	return r
}

// idxKey returns the refKey of idxRef(n).
func idxKey(n uint64) Key {
	r := idxRef(n)
	return KeyOf(r.TraceID, r.SpanID)
}

// idxLinker returns a Linker with IDs from n, named after n.
func idxLinker(n uint64, failed bool) Linker {
	r := idxRef(n)
	r.TraceID[0] = 0xbb // unlike any target
	return Linker{Ref: r, Name: fmt.Sprint("batch-", n), Error: failed}
}

// idxAt returns idxT0 plus d.
func idxAt(d time.Duration) time.Time { return idxT0.Add(d) }

func TestLinkIndexDedupeKeepsOneEntry(t *testing.T) {
	ix := NewMemory(time.Minute, 100)
	for i := range 5 {
		add1(ix, idxRef(1), idxLinker(10, false), idxAt(time.Duration(i)))
	}
	if n := ix.Stats().Entries; n != 1 {
		t.Errorf("Len = %d after re-sending one linker, want 1", n)
	}
}

func TestLinkIndexExpire(t *testing.T) {
	ix := NewMemory(10*time.Second, 100)
	for i := range 10 {
		add1(ix, idxRef(uint64(i)), idxLinker(100, false), idxAt(time.Duration(i)*time.Second))
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
		if n := ix.Stats().Entries; n != tt.len {
			t.Errorf("Expire(%v): Len = %d, want %d", tt.now, n, tt.len)
		}
		if e := ix.Empty(); e != (tt.len == 0) {
			t.Errorf("Expire(%v): Empty = %v with %d entries", tt.now, e, tt.len)
		}
		if st := ix.Stats(); st != (Stats{Entries: tt.len, Expired: tt.wantExpired}) {
			t.Errorf("Expire(%v): Stats = %+v, want %d expired", tt.now, st, tt.wantExpired)
		}
	}
	assertIndexEmpty(t, ix)
}

func TestLinkIndexCapacity(t *testing.T) {
	for _, maxEntries := range []int{1, 3, 17, 1000, 5000, 40_000} {
		t.Run(fmt.Sprint(maxEntries), func(t *testing.T) {
			ix := NewMemory(time.Hour, maxEntries)
			adds := 3*maxEntries + 700
			for i := range adds {
				add1(ix, idxRef(uint64(i%700)), idxLinker(uint64(i), false), idxAt(time.Duration(i)))
				if n := ix.Stats().Entries; n > maxEntries {
					t.Fatalf("Len = %d after %d adds, want at most %d", n, i+1, maxEntries)
				}
			}
			n := ix.Stats().Entries
			if st := ix.Stats(); st.Evicted != uint64(adds-n) || st.Expired != 0 {
				t.Errorf("Stats = %+v with Len %d, want %d evicted", st, n, adds-n)
			}
		})
	}
}

func TestLinkIndexEvictsOldestFirst(t *testing.T) {
	ix := newSharded(time.Hour, 3, 1)
	for i := range uint64(5) {
		add1(ix, idxRef(1), idxLinker(10+i, false), idxAt(time.Duration(i)))
	}
	add1(ix, idxRef(2), idxLinker(20, false), idxAt(5))
	want := Backlinks{Count: 2, Linkers: []Linker{idxLinker(13, false), idxLinker(14, false)}}
	if got := lookup1(ix, idxRef(1), allTime, 8); !reflect.DeepEqual(got, want) {
		t.Errorf("Lookup = %+v, want %+v", got, want)
	}
	if st := ix.Stats(); st.Evicted != 3 {
		t.Errorf("Evicted = %d, want 3", st.Evicted)
	}
}

func TestLinkIndexRemovesKeys(t *testing.T) {
	ix := newSharded(time.Minute, 4, 1)
	// Target 1 has an old chain that is evicted by later adds.
	add1(ix, idxRef(1), idxLinker(10, false), idxAt(0))
	add1(ix, idxRef(1), idxLinker(11, false), idxAt(1))
	for i := range uint64(4) {
		add1(ix, idxRef(2+i), idxLinker(20, false), idxAt(2))
	}
	if k := idxKey(1); func() bool { _, _, ok := ix.shards[0].find(k, Hash(k, ix.seed)); return ok }() {
		t.Error("key for target 1 kept after its entries were evicted")
	}
	if got := lookup1(ix, idxRef(1), allTime, 8); !reflect.DeepEqual(got, Backlinks{}) {
		t.Errorf("Lookup of evicted target = %+v, want a miss", got)
	}
	if n := ix.shards[0].table.liveKeys(ix.shards[0].stale); n != 4 {
		t.Errorf("%d keys, want 4", n)
	}
	ix.Expire(idxAt(time.Minute + 2))
	assertIndexEmpty(t, ix)
}

// assertIndexEmpty fails t unless every shard of ix is empty, keys included.
func assertIndexEmpty(t *testing.T, ix *Memory) {
	t.Helper()
	for i := range ix.shards {
		s := &ix.shards[i]
		if keys := s.table.liveKeys(s.stale); s.n != 0 || keys != 0 {
			t.Errorf("shard %d: %d entries and %d keys left, want none", i, s.n, keys)
		}
	}
	if n := ix.names.t.len(); n != 0 {
		t.Errorf("%d names left, want none", n)
	}
}

func TestLinkIndexRingGrowthKeepsOrder(t *testing.T) {
	const n = 5*indexMinRing + 3
	ix := newSharded(time.Minute, 10*n, 1)
	var want []Linker
	// Expire some entries first so the ring wraps before it grows.
	for i := range uint64(indexMinRing / 2) {
		add1(ix, idxRef(2), idxLinker(i, false), idxAt(0))
	}
	for i := range uint64(n) {
		l := idxLinker(1000+i, i%3 == 0)
		add1(ix, idxRef(1), l, idxAt(time.Minute))
		add1(ix, idxRef(3+i), l, idxAt(time.Minute))
		want = append(want, l)
	}
	got := lookup1(ix, idxRef(1), allTime, n)
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
	ix := NewMemory(time.Minute, 1_000_000)
	for i := range ix.shards {
		if ix.shards[i].ring != nil {
			t.Fatalf("shard %d preallocated %d entries", i, len(ix.shards[i].ring))
		}
	}
	add1(ix, idxRef(1), idxLinker(2, false), idxT0)
	if l := len(ix.shards[ix.shardOf(idxKey(1))].ring); l != indexMinRing {
		t.Errorf("ring length %d after one add, want %d", l, indexMinRing)
	}
}

func TestLinkIndexMissDoesNotAllocate(t *testing.T) {
	ix := NewMemory(time.Minute, 1000)
	for i := range uint64(500) {
		add1(ix, idxRef(i), idxLinker(i, false), idxT0)
	}
	miss := idxRef(1 << 40)
	o := &one{ix: ix}
	o.lookup(miss, allTime, 32) // grows the batch's memory once
	allocs := testing.AllocsPerRun(1000, func() {
		if b := o.lookup(miss, allTime, 32); b.Count != 0 {
			t.Fatalf("Lookup of a miss = %+v", b)
		}
	})
	if allocs != 0 {
		t.Errorf("Lookup of a miss allocates %v times, want 0", allocs)
	}
}
