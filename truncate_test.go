package spanlinksprocessor

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
)

func TestSelectKth(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	for round := range 2000 {
		n := 1 + r.IntN(300)
		hs := make([]uint64, n)
		for i := range hs {
			switch round % 3 {
			case 0:
				hs[i] = r.Uint64()
			case 1:
				hs[i] = uint64(r.IntN(5)) // many ties
			default:
				hs[i] = uint64(n - i) // descending
			}
		}
		k := r.IntN(n)
		want := slices.Clone(hs)
		slices.Sort(want)
		if got := selectKth(hs, k); got != want[k] {
			t.Fatalf("round %d: selectKth(n=%d, k=%d) = %d, want %d", round, n, k, got, want[k])
		}
	}
}

// TestTruncateSampleKeepsBottomK checks the selection against the
// definition: sort the links by (hash, position), keep the first max.
func TestTruncateSampleKeepsBottomK(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 11))
	g := newMixGen(fillNoLinks)
	sc := new(scratch)
	for round := range 200 {
		td := g.next()
		span := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
		n := 2 + r.IntN(300)
		refs := make([]linkindex.Ref, n)
		for i := range refs {
			refs[i] = g.ref()
			if round%4 == 0 && i > 0 && r.IntN(3) == 0 {
				refs[i] = refs[r.IntN(i)] // equal hashes: ties go to the earlier link
			}
			link(span, refs[i])
		}
		max := 1 + r.IntN(n-1)
		type ranked struct {
			hash uint64
			i    int
		}
		order := make([]ranked, n)
		for i, ref := range refs {
			order[i] = ranked{linkHash(ref.TraceID, ref.SpanID), i}
		}
		slices.SortFunc(order, func(a, b ranked) int {
			if a.hash != b.hash {
				if a.hash < b.hash {
					return -1
				}
				return 1
			}
			return a.i - b.i
		})
		keep := make([]bool, n)
		for _, o := range order[:max] {
			keep[o.i] = true
		}
		var want []linkindex.Ref
		for i, ref := range refs {
			if keep[i] {
				want = append(want, ref)
			}
		}
		if dropped := truncateLinks(span.Links(), max, TruncateSample, sc); dropped != n-max {
			t.Fatalf("round %d: dropped %d, want %d", round, dropped, n-max)
		}
		got := make([]linkindex.Ref, span.Links().Len())
		for i := range got {
			l := span.Links().At(i)
			got[i] = linkindex.Ref{TraceID: l.TraceID(), SpanID: l.SpanID()}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: kept links differ from the bottom %d of %d", round, max, n)
		}
	}
}
