package spanlinksprocessor

import "sync"

// scratch is per-call working memory, pooled so that repairing links
// allocates nothing in the steady state.
type scratch struct {
	seen  refSet
	ranks []rank
	keep  []bool
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// smallSet is the size up to which refSet searches a slice instead of
// hashing: most spans carry a handful of links.
const smallSet = 16

// refSet is a set of SpanRefs, cheap to reset.
type refSet struct {
	small []SpanRef
	big   map[SpanRef]struct{}
}

func (s *refSet) reset() {
	s.small = s.small[:0]
	if s.big != nil {
		clear(s.big)
	}
}

// add inserts r and reports whether it was absent.
func (s *refSet) add(r SpanRef) bool {
	if len(s.big) > 0 {
		if _, ok := s.big[r]; ok {
			return false
		}
		s.big[r] = struct{}{}
		return true
	}
	for _, x := range s.small {
		if x == r {
			return false
		}
	}
	if len(s.small) < smallSet {
		s.small = append(s.small, r)
		return true
	}
	if s.big == nil {
		s.big = make(map[SpanRef]struct{}, 2*smallSet)
	}
	for _, x := range s.small {
		s.big[x] = struct{}{}
	}
	s.big[r] = struct{}{}
	return true
}
