package linkindex

import (
	"math/rand/v2"
	"testing"
)

// liveKeys counts the slots of t that are not stale.
func (t *refTable) liveKeys(stale func(seq uint32) bool) int {
	n := 0
	for _, s := range t.slots {
		if s.tag != 0 && !stale(s.seq) {
			n++
		}
	}
	return n
}

// TestRefTableMatchesMap drives a refTable and a Go map with the same random
// inserts, updates and removals (a removed key's slot turns stale, as when
// its last entry leaves the index), over few hash bits so that keys collide
// and probe chains wrap, and checks after each step that every key is found
// with its value and that absent keys are not.
func TestRefTableMatchesMap(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var tab refTable
	model := map[uint64]uint32{} // hash -> value; hashes stand for keys here
	// Values are unique, so that a stale one is told by the model alone.
	next := uint32(1)
	live := map[uint32]bool{}
	stale := func(v uint32) bool { return !live[v] }
	// Distinct hashes whose tags share few bits: many collide in their home.
	hashes := make([]uint64, 600)
	for i := range hashes {
		hashes[i] = uint64(r.Uint32()&0xff00_00ff|uint32(i)<<8) << 32
	}
	find := func(h uint64) (int, bool) {
		v, in := model[h]
		return tab.find(h, func(seq uint32) bool { return in && live[seq] && seq == v })
	}
	for step := range 50_000 {
		h := hashes[r.IntN(len(hashes))]
		i, found := find(h)
		if _, in := model[h]; found != in {
			t.Fatalf("step %d: find(%x) = %v, want %v", step, h, found, in)
		}
		switch {
		case found && r.IntN(3) == 0:
			delete(live, model[h])
			delete(model, h)
		case found:
			delete(live, model[h])
			tab.update(i, next, 1)
			model[h], live[next] = next, true
			next++
		default:
			tab.insert(h, next, 1, stale)
			model[h], live[next] = next, true
			next++
		}
		if n := tab.liveKeys(stale); n != len(model) {
			t.Fatalf("step %d: %d live slots, want %d", step, n, len(model))
		}
		if 4*tab.used > 3*len(tab.slots) {
			t.Fatalf("step %d: %d slots used of %d", step, tab.used, len(tab.slots))
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
	if len(tab.slots) > 4096 {
		t.Errorf("%d slots for at most %d keys: stale slots were not swept", len(tab.slots), len(hashes))
	}
}

// TestRefTableSweepsEveryMaxWrites checks that updates alone, which never
// fill the table, still sweep it every refTableMaxWrites writes.
func TestRefTableSweepsEveryMaxWrites(t *testing.T) {
	var tab refTable
	live := map[uint32]bool{1: true, 2: true}
	stale := func(v uint32) bool { return !live[v] }
	tab.insert(1<<32, 1, 1, stale)
	tab.insert(2<<32, 2, 1, stale)
	delete(live, 2) // slot 2 turns stale
	tab.writes = refTableMaxWrites
	live[3] = true
	tab.insert(3<<32, 3, 1, stale)
	if tab.used != 2 || tab.writes != 1 {
		t.Errorf("after the forced sweep: %d slots used, %d writes; want 2 and 1", tab.used, tab.writes)
	}
}

// TestRefTableBloom checks that a slot's filter holds every linker added to
// it, and is reset when a stale slot is reused.
func TestRefTableBloom(t *testing.T) {
	var tab refTable
	live := map[uint32]bool{1: true}
	stale := func(v uint32) bool { return !live[v] }
	a, b := linkerBits(idxKey(1)), linkerBits(idxKey(2))
	tab.insert(5<<32, 1, a, stale)
	i, ok := tab.find(5<<32, func(seq uint32) bool { return live[seq] })
	if !ok || !tab.mayHold(i, a) {
		t.Fatal("inserted linker not in the filter")
	}
	live[2] = true
	tab.update(i, 2, b)
	if !tab.mayHold(i, a) || !tab.mayHold(i, b) {
		t.Fatal("a linker left the filter on update")
	}
	live = map[uint32]bool{3: true} // the slot turns stale and is reused
	c := linkerBits(idxKey(3))
	tab.insert(5<<32, 3, c, stale)
	if i, _ := tab.find(5<<32, func(seq uint32) bool { return live[seq] }); !tab.mayHold(i, c) || tab.slots[i].bloom != c {
		t.Errorf("reused slot's filter %b, want only %b", tab.slots[i].bloom, c)
	}
}

func TestRefTableTagIsNeverZero(t *testing.T) {
	if tableTag(0) == 0 || tableTag(1<<32-1) == 0 {
		t.Error("a zero tag would read as an empty slot")
	}
}
