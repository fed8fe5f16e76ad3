package spanlinksprocessor

// refTable maps the targets of one index shard to the sequence number of
// their newest entry. It is an open-addressing hash table with linear
// probing and backward-shift deletion, so it never leaves tombstones, and
// it holds no pointers: the garbage collector never scans it. A slot is 8
// bytes: the key's tag (the top 32 bits of its hash, never zero) and the
// low 32 bits of the sequence number; zero is an empty slot. The table does
// not hold keys: it finds an entry by tag and asks the caller to compare the
// entry's target. It doubles when more than 3/4 full, and never shrinks.
type refTable struct {
	slots []uint64
	shift uint // 64 - log2(len(slots)): a tag's top bits pick its home slot
	n     int  // slots in use
}

// refTableMinSlots is the size of a table when first used.
const refTableMinSlots = 16

// tableTag is the tag of hash h: never zero, so that zero marks an empty slot.
func tableTag(h uint64) uint32 { return uint32(h>>32) | 1 }

// home returns the slot where a key with tag tag is first looked for.
func (t *refTable) home(tag uint32) int {
	return int((uint64(tag) << 32) >> t.shift)
}

// next returns the slot after i, wrapping around.
func (t *refTable) next(i int) int { return (i + 1) & (len(t.slots) - 1) }

// find returns the slot of the key with hash h for which same(seq) reports
// true, given the low 32 bits of the sequence number the slot holds, and
// whether there is one. When there is none, it returns the empty slot where
// the key would go.
func (t *refTable) find(h uint64, same func(seq uint32) bool) (int, bool) {
	if len(t.slots) == 0 {
		return -1, false
	}
	tag := tableTag(h)
	for i := t.home(tag); ; i = t.next(i) {
		s := t.slots[i]
		if s == 0 {
			return i, false
		}
		if uint32(s>>32) == tag && same(uint32(s)) {
			return i, true
		}
	}
}

// set stores seq in slot i, found by find for the key with hash h: it
// updates a slot in use, or fills an empty one, growing the table (and
// finding the key's slot again) when it is too full.
func (t *refTable) set(i int, h uint64, seq uint32) {
	tag := tableTag(h)
	if i >= 0 && t.slots[i] != 0 {
		t.slots[i] = uint64(tag)<<32 | uint64(seq)
		return
	}
	if i < 0 || 4*(t.n+1) > 3*len(t.slots) {
		t.grow()
		for i = t.home(tag); t.slots[i] != 0; i = t.next(i) {
		}
	}
	t.slots[i] = uint64(tag)<<32 | uint64(seq)
	t.n++
}

// remove empties slot i and shifts back the slots after it that probing
// would otherwise no longer reach.
func (t *refTable) remove(i int) {
	mask := len(t.slots) - 1
	for j := t.next(i); t.slots[j] != 0; j = t.next(j) {
		// Move slot j into the hole at i unless its home lies in (i, j].
		if (j-t.home(uint32(t.slots[j]>>32)))&mask >= (j-i)&mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = 0
	t.n--
}

// grow doubles the table (or makes its first slots) and reinserts every key
// from its tag.
func (t *refTable) grow() {
	old := t.slots
	size := max(2*len(old), refTableMinSlots)
	t.slots = make([]uint64, size)
	t.shift = uint(64 - log2(size))
	for _, s := range old {
		if s == 0 {
			continue
		}
		i := t.home(uint32(s >> 32))
		for t.slots[i] != 0 {
			i = t.next(i)
		}
		t.slots[i] = s
	}
}

// log2 returns the base-2 logarithm of n, a power of two.
func log2(n int) int {
	k := 0
	for n > 1 {
		n >>= 1
		k++
	}
	return k
}
