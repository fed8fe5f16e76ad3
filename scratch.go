package spanlinksprocessor

import (
	"math/rand/v2"
	"sync"
)

// scratch is per-call working memory, pooled so that repairing links
// allocates nothing in the steady state.
type scratch struct {
	stats   linkCounts // what repairLinks returns a handle on
	seen    refSet
	hashes  []uint64 // the links' bottom-k hashes, in link order
	sorted  []uint64 // the same, partly sorted to find the k-th
	keep    []bool
	links   linkBatch   // the batch's links, for the index
	lookups lookupBatch // the batch's spans, to look up their backlinks
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// smallSet is the size up to which refSet searches a slice instead of
// hashing: most spans carry a handful of links.
const smallSet = 8

// refSet is a set of refKeys, cheap to reset: a slice while small, then an
// open-addressing table whose slots count as empty unless stamped with the
// current generation, so that reset clears nothing.
type refSet struct {
	small []refKey
	slots []refSetSlot // a power of two, at least twice the keys
	gen   uint32       // the stamp of slots in use
	n     int          // keys in slots
	seed  uint64       // of the hash, random so that crafted IDs cannot collide
}

type refSetSlot struct {
	key refKey
	gen uint32
}

// reset empties the set.
func (s *refSet) reset() {
	s.small = s.small[:0]
	s.n = 0
	if s.gen++; s.gen == 0 { // wrapped: stamps of old keys could match again
		clear(s.slots)
		s.gen = 1
	}
}

// add inserts k and reports whether it was absent.
func (s *refSet) add(k refKey) bool {
	if s.n > 0 {
		return s.insert(k)
	}
	for _, x := range s.small {
		if x == k {
			return false
		}
	}
	if len(s.small) < smallSet {
		s.small = append(s.small, k)
		return true
	}
	for _, x := range s.small {
		s.insert(x)
	}
	return s.insert(k)
}

// insert adds k to the table and reports whether it was absent.
func (s *refSet) insert(k refKey) bool {
	if 2*(s.n+1) > len(s.slots) {
		s.grow()
	}
	mask := len(s.slots) - 1
	for i := int(refHash(k, s.seed)) & mask; ; i = (i + 1) & mask {
		sl := &s.slots[i]
		if sl.gen != s.gen {
			*sl = refSetSlot{key: k, gen: s.gen}
			s.n++
			return true
		}
		if sl.key == k {
			return false
		}
	}
}

// grow doubles the table, keeping its keys.
func (s *refSet) grow() {
	old, gen := s.slots, s.gen
	if s.seed == 0 {
		s.seed = rand.Uint64() | 1
	}
	s.slots = make([]refSetSlot, max(2*len(old), 4*smallSet))
	s.gen, s.n = 1, 0
	for _, sl := range old {
		if sl.gen == gen {
			s.insert(sl.key)
		}
	}
}
