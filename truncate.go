package spanlinksprocessor

import (
	"math/bits"
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// truncateLinks keeps limit links, chosen by strategy, in their original
// relative order, and returns how many it dropped.
func truncateLinks(links ptrace.SpanLinkSlice, limit int, strategy Truncation, sc *scratch) int {
	n := links.Len()
	if strategy == TruncateFirst {
		i := 0
		links.RemoveIf(func(ptrace.SpanLink) bool { i++; return i > limit })
		return n - limit
	}
	// Bottom-k: keep the links whose target hashes lowest; ties go to the
	// earlier link, so the choice depends on nothing but the links. The
	// k-th lowest hash is found by selection, not by sorting: every link
	// hashing below it is kept, then the earliest of those hashing equal to
	// it, up to limit.
	sc.hashes = sc.hashes[:0]
	for i := 0; i < n; i++ {
		l := links.At(i)
		sc.hashes = append(sc.hashes, linkHash(l.TraceID(), l.SpanID()))
	}
	sc.sorted = append(sc.sorted[:0], sc.hashes...)
	kth := selectKth(sc.sorted, limit-1)
	below := 0
	for _, h := range sc.hashes {
		if h < kth {
			below++
		}
	}
	sc.keep = slices.Grow(sc.keep[:0], n)[:n]
	ties := limit - below // links hashing to kth that are kept, earliest first
	for i, h := range sc.hashes {
		keep := h < kth
		if h == kth && ties > 0 {
			keep = true
			ties--
		}
		sc.keep[i] = keep
	}
	i := 0
	links.RemoveIf(func(ptrace.SpanLink) bool { i++; return !sc.keep[i-1] })
	return n - limit
}

// FNV-1a 64-bit parameters.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// linkHash is the fixed hash that the sample truncation ranks links by:
// FNV-1a 64 over the 16 trace ID bytes followed by the 8 span ID bytes. It
// is the same on every collector and every replay.
func linkHash(t pcommon.TraceID, s pcommon.SpanID) uint64 {
	h := uint64(fnvOffset64)
	for _, b := range t {
		h = (h ^ uint64(b)) * fnvPrime64
	}
	for _, b := range s {
		h = (h ^ uint64(b)) * fnvPrime64
	}
	return h
}

// selectKth returns the k-th smallest of hs (from 0), reordering hs: a
// quickselect that falls back to sorting when its pivots keep failing, so
// crafted hashes cannot make it quadratic.
func selectKth(hs []uint64, k int) uint64 {
	lo, hi := 0, len(hs)-1
	for rounds := 0; lo < hi; rounds++ {
		if rounds > 2*bits.Len(uint(len(hs)))+4 || hi-lo < 16 {
			slices.Sort(hs[lo : hi+1])
			return hs[k]
		}
		// Median of three as pivot, then a Hoare partition.
		m := lo + (hi-lo)/2
		a, b, c := hs[lo], hs[m], hs[hi]
		pivot := max(min(a, b), min(max(a, b), c))
		i, j := lo, hi
		for i <= j {
			for hs[i] < pivot {
				i++
			}
			for hs[j] > pivot {
				j--
			}
			if i <= j {
				hs[i], hs[j] = hs[j], hs[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return hs[k] // between j and i: equal to the pivot
		}
	}
	return hs[k]
}
