package spanlinksprocessor

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TestIndexBatchMatchesLinkByLink indexes the same batches, with repeated
// targets, re-sent linkers, invalid links and reverse links, link by link
// into one index and a batch at a time into another, both small enough to
// evict, and checks that every lookup answers the same.
func TestIndexBatchMatchesLinkByLink(t *testing.T) {
	for _, tc := range []struct {
		capacity, shards int
		other            bool // batched is not a *memoryIndex: indexBatch adds link by link
	}{{50, 1, false}, {5000, 4, false}, {100_000, 32, false}, {5000, 4, true}} {
		t.Run(fmt.Sprint(tc.capacity, "-", tc.shards, "-", tc.other), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.capacity), 13))
			one := newShardedIndex(time.Minute, tc.capacity, tc.shards)
			var batched LinkIndex = newShardedIndex(time.Minute, tc.capacity, tc.shards)
			if tc.other {
				batched = otherIndex{batched}
			}
			var lb linkBatch
			now := idxT0
			for round := range 40 {
				now = now.Add(time.Second)
				td := ptrace.NewTraces()
				for range 100 {
					linker := idxLinker(uint64(r.IntN(300)), r.IntN(4) == 0)
					span := addSpan(td, "svc", linker.TraceID, linker.SpanID, linker.Name)
					if linker.Error {
						failed(span)
					}
					for range r.IntN(6) {
						to := idxRef(uint64(r.IntN(200)))
						l := linkTo(span, to.TraceID, to.SpanID, 0)
						switch r.IntN(20) {
						case 0:
							l.SetSpanID([8]byte{}) // invalid
						case 1:
							l.Attributes().PutBool(attrBacklink, true)
						}
					}
				}
				forEachSpan(td, func(s ptrace.Span) { indexLinks(one, s, now) })
				forEachSpan(td, func(s ptrace.Span) { lb.addSpan(batched, s) })
				indexBatch(batched, &lb, now)
				if len(lb.links) != 0 || len(lb.linkers) != 0 {
					t.Fatalf("round %d: the batch was not emptied", round)
				}
				if one.Len() != batched.Len() || one.Stats() != batched.Stats() {
					t.Fatalf("round %d: Len %d vs %d, Stats %+v vs %+v", round, one.Len(), batched.Len(), one.Stats(), batched.Stats())
				}
				for n := range uint64(200) {
					want := one.Lookup(idxRef(n), 0, CursorEnd, now, 8)
					if got := batched.Lookup(idxRef(n), 0, CursorEnd, now, 8); !reflect.DeepEqual(got, want) {
						t.Fatalf("round %d, target %d: batched %+v, link by link %+v", round, n, got, want)
					}
				}
			}
		})
	}
}

// otherIndex is a LinkIndex that is not a *memoryIndex.
type otherIndex struct{ LinkIndex }

// indexLinks records every kept, valid link of span in idx, one link at a
// time: the reference that linkBatch and indexBatch, which ConsumeTraces
// uses, must agree with. Invalid links and reverse links are skipped.
func indexLinks(idx LinkIndex, span ptrace.Span, now time.Time) {
	links := span.Links()
	if links.Len() == 0 {
		return
	}
	if ix, ok := idx.(*memoryIndex); ok {
		// The in-memory index takes the IDs as words, straight from pdata.
		from := newLinkerKey(keyOf(span.TraceID(), span.SpanID()), span.Name(),
			span.Status().Code() == ptrace.StatusCodeError)
		t := now.UnixNano()
		for i := 0; i < links.Len(); i++ {
			l := links.At(i)
			if to := keyOf(l.TraceID(), l.SpanID()); to.valid() && !isBacklink(l) {
				ix.add(to, &from, t)
			}
		}
		return
	}
	from := Linker{
		SpanRef: SpanRef{TraceID: span.TraceID(), SpanID: span.SpanID()},
		Name:    span.Name(),
		Error:   span.Status().Code() == ptrace.StatusCodeError,
	}
	for i := 0; i < links.Len(); i++ {
		l := links.At(i)
		to := SpanRef{TraceID: l.TraceID(), SpanID: l.SpanID()}
		if !validRef(to) || isBacklink(l) {
			continue
		}
		idx.Add(to, from, now)
	}
}

// TestLookupBatchMatchesOneByOne fills indexes small enough to evict with
// repeated targets and error linkers, then looks up targets, linked and
// not, repeated, in random order, from random cursors and with small and
// large limits, in batches and one by one, and checks that every answer is
// the same. The batches grow from a few linkers to many, so that the
// linkers outgrow the batch's memory.
func TestLookupBatchMatchesOneByOne(t *testing.T) {
	for _, tc := range []struct {
		capacity, shards int
		other            bool // not a *memoryIndex: lookupBatch asks one by one
	}{{50, 1, false}, {5000, 4, false}, {100_000, 32, false}, {5000, 4, true}} {
		t.Run(fmt.Sprint(tc.capacity, "-", tc.shards, "-", tc.other), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.capacity), 17))
			var idx LinkIndex = newShardedIndex(time.Minute, tc.capacity, tc.shards)
			if tc.other {
				idx = otherIndex{idx}
			}
			var lb lookupBatch
			now := idxT0
			var cursors []Cursor
			hits := 0
			for round := range 30 {
				now = now.Add(time.Second)
				for range 50 * (round + 1) {
					idx.Add(idxRef(uint64(r.IntN(300))), idxLinker(uint64(r.IntN(500)), r.IntN(4) == 0), now)
				}
				cursors = append(cursors, idx.Cursor())
				td := ptrace.NewTraces()
				var refs []SpanRef
				for range 50 + r.IntN(350) {
					ref := idxRef(uint64(r.IntN(400))) // 300 and over: never linked
					refs = append(refs, ref)
					lb.addSpan(idx, addSpan(td, "svc", ref.TraceID, ref.SpanID, "s"))
				}
				from := Cursor(0)
				if round > 0 && r.IntN(2) == 0 {
					from = cursors[r.IntN(len(cursors)-1)] // an earlier round's
				}
				limit := []int{0, 1, 8, 32, 1000}[r.IntN(5)]
				got := lb.lookup(idx, from, CursorEnd, now, limit)
				if len(got) != len(refs) {
					t.Fatalf("round %d: %d answers for %d spans", round, len(got), len(refs))
				}
				for i, ref := range refs {
					want := idx.Lookup(ref, from, CursorEnd, now, limit)
					if want.Count > 0 {
						hits++
					}
					g := got[i]
					if g.Count != want.Count || g.ErrorCount != want.ErrorCount ||
						len(g.Linkers) != len(want.Linkers) || (len(want.Linkers) > 0 && !reflect.DeepEqual(g.Linkers, want.Linkers)) {
						t.Fatalf("round %d, span %d: batched %+v, one by one %+v", round, i, got[i], want)
					}
				}
				lb.reset()
				if len(lb.targets) != 0 || len(lb.results) != 0 || len(lb.linkers) != 0 {
					t.Fatalf("round %d: reset left %d targets, %d results, %d linkers", round, len(lb.targets), len(lb.results), len(lb.linkers))
				}
			}
			if hits < 100 {
				t.Fatalf("only %d spans had backlinks: the comparison checked too little", hits)
			}
		})
	}
}
