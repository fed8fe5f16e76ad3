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
