package linkindex

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestAddBatchMatchesOneByOne adds the same batches, with repeated targets
// and re-sent linkers, link by link into one index and a batch at a time
// into another, both small enough to evict, and checks that every lookup
// answers the same.
func TestAddBatchMatchesOneByOne(t *testing.T) {
	for _, tc := range []struct{ capacity, shards int }{{50, 1}, {5000, 4}, {100_000, 32}} {
		t.Run(fmt.Sprint(tc.capacity, "-", tc.shards), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.capacity), 13))
			one := &one{ix: newSharded(time.Minute, tc.capacity, tc.shards)}
			batched := newSharded(time.Minute, tc.capacity, tc.shards)
			var b Links
			now := idxT0
			for round := range 40 {
				now = now.Add(time.Second)
				for range 100 {
					l := idxLinker(uint64(r.IntN(300)), r.IntN(4) == 0)
					n := r.IntN(6)
					for range n {
						to := idxRef(uint64(r.IntN(200)))
						one.add(to, l, now)
						b.Link(KeyOf(to.TraceID, to.SpanID))
					}
					if n > 0 {
						b.Linker(KeyOf(l.TraceID, l.SpanID), l.Name, l.Error)
					}
				}
				if err := batched.Add(context.Background(), &b, now); err != nil {
					t.Fatal(err)
				}
				b.Reset()
				if one.ix.Stats() != batched.Stats() {
					t.Fatalf("round %d: Stats %+v vs %+v", round, one.ix.Stats(), batched.Stats())
				}
				for n := range uint64(200) {
					want := one.lookup(idxRef(n), allTime, 8)
					if got := lookup1(batched, idxRef(n), allTime, 8); !reflect.DeepEqual(got, want) {
						t.Fatalf("round %d, target %d: batched %+v, link by link %+v", round, n, got, want)
					}
				}
			}
		})
	}
}

// TestLookupBatchMatchesOneByOne fills indexes small enough to evict with
// repeated targets and error linkers, then looks up targets, linked and
// not, repeated, in random order, from random cursors and with small and
// large limits, in batches and one by one, and checks that every answer is
// the same. The batches grow from a few linkers to many, so that the
// linkers outgrow the batch's memory.
func TestLookupBatchMatchesOneByOne(t *testing.T) {
	for _, tc := range []struct{ capacity, shards int }{{50, 1}, {5000, 4}, {100_000, 32}} {
		t.Run(fmt.Sprint(tc.capacity, "-", tc.shards), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.capacity), 17))
			ix := newSharded(time.Minute, tc.capacity, tc.shards)
			o := &one{ix: ix}
			var q Targets
			now := idxT0
			var sinces []time.Time
			hits := 0
			for round := range 30 {
				now = now.Add(time.Second)
				for range 50 * (round + 1) {
					o.add(idxRef(uint64(r.IntN(300))), idxLinker(uint64(r.IntN(500)), r.IntN(4) == 0), now)
				}
				sinces = append(sinces, now)
				var refs []Ref
				for range 50 + r.IntN(350) {
					ref := idxRef(uint64(r.IntN(400))) // 300 and over: never linked
					refs = append(refs, ref)
					q.Add(KeyOf(ref.TraceID, ref.SpanID))
				}
				from := allTime
				if round > 0 && r.IntN(2) == 0 {
					from = sinces[r.IntN(len(sinces)-1)] // an earlier round's
				}
				limit := []int{0, 1, 8, 32, 1000}[r.IntN(5)]
				if err := ix.Lookup(context.Background(), &q, from, limit); err != nil {
					t.Fatal(err)
				}
				if q.Len() != len(refs) {
					t.Fatalf("round %d: %d answers for %d spans", round, q.Len(), len(refs))
				}
				for i, ref := range refs {
					want := o.lookup(ref, from, limit)
					if want.Count > 0 {
						hits++
					}
					g := q.Result(i)
					if g.Count != want.Count || g.ErrorCount != want.ErrorCount ||
						len(g.Linkers) != len(want.Linkers) || (len(want.Linkers) > 0 && !reflect.DeepEqual(g.Linkers, want.Linkers)) {
						t.Fatalf("round %d, span %d: batched %+v, one by one %+v", round, i, g, want)
					}
				}
				q.Reset()
				if len(q.targets) != 0 || len(q.results) != 0 || len(q.linkers) != 0 {
					t.Fatalf("round %d: Reset left %d targets, %d results, %d linkers", round, len(q.targets), len(q.results), len(q.linkers))
				}
			}
			if hits < 100 {
				t.Fatalf("only %d spans had backlinks: the comparison checked too little", hits)
			}
		})
	}
}

// TestLinksTargetAt: TargetAt gives the key that At and PartitionAt
// describe, partition included.
func TestLinksTargetAt(t *testing.T) {
	var b Links
	for i := range 5 {
		to := idxRef(uint64(i + 1))
		b.Link(KeyOf(to.TraceID, to.SpanID).In(Partition(i)))
	}
	l := idxLinker(9, false)
	b.Linker(KeyOf(l.TraceID, l.SpanID), l.Name, l.Error)
	for i := range b.Len() {
		to, _ := b.At(i)
		if want := KeyOf(to.TraceID, to.SpanID).In(b.PartitionAt(i)); b.TargetAt(i) != want {
			t.Fatalf("TargetAt(%d) = %v, want %v", i, b.TargetAt(i), want)
		}
		if b.TargetAt(i).Partition() != Partition(i) {
			t.Fatalf("TargetAt(%d) in partition %d, want %d", i, b.TargetAt(i).Partition(), i)
		}
	}
}
