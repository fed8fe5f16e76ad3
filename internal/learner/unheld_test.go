package learner

import (
	"math/rand/v2"
	"testing"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// TestUnheldSpansMatchesModel drives unheldSpans and a plain model (a
// slice in pass order, searched from the newest) with the same random
// adds, re-adds, expiries and finds, through growth and past the limit,
// and fails at the first answer that differs.
func TestUnheldSpansMatchesModel(t *testing.T) {
	for _, limit := range []int{1, 3, 1000, 5000} {
		r := rand.New(rand.NewPCG(uint64(limit), 5))
		s := newUnheldSpans(limit)
		var model []unheldSpan // oldest first; hash holds the key's number
		keyOf := func(n uint64) linkindex.Key {
			var tid pcommon.TraceID
			var sid pcommon.SpanID
			tid[0], tid[15], sid[7] = byte(n), byte(n>>8), byte(n>>16)|1
			return linkindex.KeyOf(tid, sid).In(linkindex.Partition(n % 3))
		}
		at := int64(0)
		for step := range 40000 {
			n := uint64(r.IntN(3 * limit))
			switch op := r.IntN(11); {
			case op < 6:
				at++
				c := classRef{slot: int32(step), gen: 1}
				s.addAll([]linkindex.Key{keyOf(n)}, []classRef{c}, at)
				model = append(model, unheldSpan{hash: n, at: at, class: c})
				if len(model) > limit {
					model = model[1:]
				}
			case op < 7:
				cutoff := at - int64(r.IntN(2*limit+1))
				for s.len() > 0 && s.oldest() <= cutoff {
					s.pop()
				}
				for len(model) > 0 && model[0].at <= cutoff {
					model = model[1:]
				}
			case op < 8:
				// A batch of spans passed at one time, some of them twice.
				at++
				var ks []linkindex.Key
				var cs []classRef
				for j := range r.IntN(50) {
					n := uint64(r.IntN(3 * limit))
					c := classRef{slot: int32(step), gen: uint32(j)}
					ks, cs = append(ks, keyOf(n)), append(cs, c)
					model = append(model, unheldSpan{hash: n, at: at, class: c})
				}
				s.addAll(ks, cs, at)
				if len(model) > limit {
					model = model[len(model)-limit:]
				}
			case op < 9:
				want, wantOK := newest(model, n)
				got, ok := find(s, keyOf(n))
				if ok != wantOK || ok && (got.at != want.at || got.class != want.class) {
					t.Fatalf("limit %d, step %d: find(%d) = %+v, %v; want %+v, %v", limit, step, n, got, ok, want, wantOK)
				}
			default:
				var ks []linkindex.Key
				var ns []uint64
				for range r.IntN(50) {
					n := uint64(r.IntN(3 * limit))
					ks, ns = append(ks, keyOf(n)), append(ns, n)
				}
				at := s.findAll(ks, nil)
				for j, n := range ns {
					want, wantOK := newest(model, n)
					if ok := at[j] >= 0; ok != wantOK || ok && (s.entry(at[j]).at != want.at || s.entry(at[j]).class != want.class) {
						t.Fatalf("limit %d, step %d: findAll place %d for %d = %d; want %+v, %v", limit, step, j, n, at[j], want, wantOK)
					}
				}
			}
			if s.len() != len(model) {
				t.Fatalf("limit %d, step %d: len %d, want %d", limit, step, s.len(), len(model))
			}
		}
	}
}

// find returns the newest remembered span with IDs k, through findAll.
func find(s *unheldSpans, k linkindex.Key) (unheldSpan, bool) {
	if p := s.findAll([]linkindex.Key{k}, nil)[0]; p >= 0 {
		return s.entry(p), true
	}
	return unheldSpan{}, false
}

// newest returns the last span of model with number n.
func newest(model []unheldSpan, n uint64) (unheldSpan, bool) {
	for i := len(model) - 1; i >= 0; i-- {
		if model[i].hash == n {
			return model[i], true
		}
	}
	return unheldSpan{}, false
}

// TestUnheldSpansPartition: the same IDs in two partitions are two spans.
func TestUnheldSpansPartition(t *testing.T) {
	s := newUnheldSpans(10)
	k := key(1)
	s.addAll([]linkindex.Key{k.In(1)}, []classRef{{slot: 1}}, 5)
	if _, ok := find(s, k.In(2)); ok {
		t.Fatal("a span of partition 1 found in partition 2")
	}
	if u, ok := find(s, k.In(1)); !ok || u.at != 5 {
		t.Fatalf("find in partition 1 = %+v, %v; want at 5", u, ok)
	}
}
