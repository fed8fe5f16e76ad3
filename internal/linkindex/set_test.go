package linkindex

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// TestRefSetMatchesMap adds keys with repeats to a Set across resets,
// small and large, and checks each add against a Go map.
func TestRefSetMatchesMap(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var s Set
	for round := range 300 {
		s.Reset()
		model := map[Key]bool{}
		n := r.IntN(3 * smallSet)
		if round%10 == 0 {
			n = 500
		}
		for range n {
			k := testKey(uint64(r.IntN(n+1)), 7, uint64(r.IntN(4)))
			if got, want := s.Add(k), !model[k]; got != want {
				t.Fatalf("round %d: add(%v) = %v, want %v", round, k, got, want)
			}
			model[k] = true
		}
	}
}

// TestRefSetGenerationWrap checks that a set whose stamp wraps around does
// not see the keys of 2^32 resets ago.
func TestRefSetGenerationWrap(t *testing.T) {
	var s Set
	s.Reset()
	for i := range uint64(2 * smallSet) {
		s.Add(testKey(i, 0, 1))
	}
	s.gen = ^uint32(0)
	s.slots[0].gen = 1 // as if left by the reset after the wrap
	s.Reset()
	for i := range uint64(2 * smallSet) {
		if !s.Add(testKey(i, 0, 1)) {
			t.Fatalf("key %d seen after the stamp wrapped", i)
		}
	}
}

// testKey returns the Key of a trace ID made of the words t0 and t1 and a
// span ID made of s.
func testKey(t0, t1, s uint64) Key {
	var tid [16]byte
	var sid [8]byte
	binary.LittleEndian.PutUint64(tid[:8], t0)
	binary.LittleEndian.PutUint64(tid[8:], t1)
	binary.LittleEndian.PutUint64(sid[:], s)
	return KeyOf(tid, sid)
}
