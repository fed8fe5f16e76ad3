package spanlinksprocessor

import (
	"math/bits"
	"math/rand/v2"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
)

// smallSet is the size up to which refSet searches a slice instead of
// hashing: most spans carry a handful of links.
const smallSet = 8

// refSet is a set of link targets, cheap to reset: a slice while small, then an
// open-addressing table whose slots count as empty unless stamped with the
// current generation, so that reset clears nothing.
type refSet struct {
	small []linkindex.Key
	slots []refSetSlot // a power of two, at least twice the keys
	gen   uint32       // the stamp of slots in use
	n     int          // keys in slots
	seed  uint64       // of the hash, random so that crafted IDs cannot collide
}

type refSetSlot struct {
	key linkindex.Key
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
func (s *refSet) add(k linkindex.Key) bool {
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
func (s *refSet) insert(k linkindex.Key) bool {
	if 2*(s.n+1) > len(s.slots) {
		s.grow()
	}
	mask := len(s.slots) - 1
	for i := int(setHash(k, s.seed)) & mask; ; i = (i + 1) & mask {
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

// setHash mixes the three words of k with seed into 64 well-spread bits,
// with the multiply-and-fold step of wyhash. A random seed keeps crafted
// IDs from colliding on purpose.
func setHash(k linkindex.Key, seed uint64) uint64 {
	t0, t1, s := k.Words()
	return fold(fold(t0^seed^0xa0761d6478bd642f, t1^0xe7037ed1a0b428db)^s, 0x8ebc6af09c88c6e3^seed)
}

// fold multiplies a and b into 128 bits and folds them into 64.
func fold(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}
