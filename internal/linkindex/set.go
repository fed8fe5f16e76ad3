package linkindex

import "math/rand/v2"

// smallSet is the size up to which Set searches a slice instead of
// hashing: most spans carry a handful of links.
const smallSet = 8

// Set is a set of keys, cheap to reset: a slice while small, then an
// open-addressing table whose slots count as empty unless stamped with the
// current generation, so that Reset clears nothing. The zero Set is empty
// and ready to use.
type Set struct {
	small []Key
	slots []setSlot // a power of two, at least twice the keys
	gen   uint32    // the stamp of slots in use
	n     int       // keys in slots
	seed  uint64    // of the hash, random so that crafted IDs cannot collide
}

type setSlot struct {
	key Key
	gen uint32
}

// Reset empties the set.
func (s *Set) Reset() {
	s.small = s.small[:0]
	s.n = 0
	if s.gen++; s.gen == 0 { // wrapped: stamps of old keys could match again
		clear(s.slots)
		s.gen = 1
	}
}

// Add inserts k and reports whether it was absent.
func (s *Set) Add(k Key) bool {
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
func (s *Set) insert(k Key) bool {
	if 2*(s.n+1) > len(s.slots) {
		s.grow()
	}
	mask := len(s.slots) - 1
	for i := int(Hash(k, s.seed)) & mask; ; i = (i + 1) & mask {
		sl := &s.slots[i]
		if sl.gen != s.gen {
			*sl = setSlot{key: k, gen: s.gen}
			s.n++
			return true
		}
		if sl.key == k {
			return false
		}
	}
}

// grow doubles the table, keeping its keys.
func (s *Set) grow() {
	old, gen := s.slots, s.gen
	if s.seed == 0 {
		s.seed = rand.Uint64() | 1
	}
	s.slots = make([]setSlot, max(2*len(old), 4*smallSet))
	s.gen, s.n = 1, 0
	for _, sl := range old {
		if sl.gen == gen {
			s.insert(sl.key)
		}
	}
}
