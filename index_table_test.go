package spanlinksprocessor

import (
	"math/rand/v2"
	"testing"
)

// TestRefTableMatchesMap drives a refTable and a Go map with the same random
// sets, updates and removals, over few hash bits so that keys collide and
// probe chains wrap, and checks after each step that every key is found
// with its value and that absent keys are not.
func TestRefTableMatchesMap(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var tab refTable
	model := map[uint64]uint32{} // hash -> value; hashes stand for keys here
	// Distinct hashes whose tags share few bits: many collide in their home.
	hashes := make([]uint64, 600)
	for i := range hashes {
		hashes[i] = uint64(r.Uint32()&0xff00_00ff|uint32(i)<<8) << 32
	}
	find := func(h uint64) (int, bool) {
		v, ok := model[h]
		return tab.find(h, func(seq uint32) bool { return ok && seq == v })
	}
	for step := range 20_000 {
		h := hashes[r.IntN(len(hashes))]
		if _, in := model[h]; in && r.IntN(3) == 0 {
			i, ok := find(h)
			if !ok {
				t.Fatalf("step %d: %x not found before removal", step, h)
			}
			tab.remove(i)
			delete(model, h)
		} else {
			i, _ := find(h)
			v := r.Uint32()
			tab.set(i, h, v)
			model[h] = v
		}
		if tab.n != len(model) {
			t.Fatalf("step %d: table holds %d keys, want %d", step, tab.n, len(model))
		}
		if 4*tab.n > 3*len(tab.slots) {
			t.Fatalf("step %d: %d keys in %d slots", step, tab.n, len(tab.slots))
		}
		if step%97 == 0 {
			for _, h := range hashes {
				_, ok := find(h)
				if _, in := model[h]; ok != in {
					t.Fatalf("step %d: find(%x) = %v, want %v", step, h, ok, in)
				}
			}
		}
	}
}

func TestRefTableTagIsNeverZero(t *testing.T) {
	if tableTag(0) == 0 || tableTag(1<<32-1) == 0 {
		t.Error("a zero tag would read as an empty slot")
	}
}
