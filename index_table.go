package spanlinksprocessor

// refTable maps the targets of one index shard to the sequence number of
// their newest entry. It is an open-addressing hash table with linear
// probing that holds no pointers: the garbage collector never scans it. A
// slot is 8 bytes: the key's tag (the top 32 bits of its hash, never zero)
// and the low 32 bits of the sequence number; zero is an empty slot. The
// table holds no keys: the caller tells, from a slot's sequence number,
// whether its entry is still held (live) and whether it is the key looked
// for.
//
// A key's slot is not removed when its last entry goes, which would cost a
// random memory access per entry: the slot turns stale, an insert that
// probes past it reuses it, and sweep removes the stale slots, in place and
// in order, when the table is 3/4 full, and at least every 2^30 writes, well
// before a stale sequence number could wrap around into the live ones.
type refTable struct {
	slots  []uint64
	shift  uint // 64 - log2(len(slots)): a tag's top bits pick its home slot
	used   int  // slots holding a key, live or stale
	writes int  // inserts and updates since the last sweep
}

const (
	// refTableMinSlots is the size of a table when first used.
	refTableMinSlots = 16
	// refTableMaxWrites bounds the writes between two sweeps.
	refTableMaxWrites = 1 << 30
)

// tableTag is the tag of hash h: never zero, so that zero marks an empty slot.
func tableTag(h uint64) uint32 { return uint32(h>>32) | 1 }

// home returns the slot where a key with tag tag is first looked for.
func (t *refTable) home(tag uint32) int {
	return int((uint64(tag) << 32) >> t.shift)
}

// next returns the slot after i, wrapping around.
func (t *refTable) next(i int) int { return (i + 1) & (len(t.slots) - 1) }

// find returns the slot of the key with hash h: the live slot with its tag
// for which same reports true, given the slot's sequence number.
func (t *refTable) find(h uint64, same func(seq uint32) bool) (int, bool) {
	if len(t.slots) == 0 {
		return 0, false
	}
	tag := tableTag(h)
	for i := t.home(tag); ; i = t.next(i) {
		s := t.slots[i]
		if s == 0 {
			return 0, false
		}
		if uint32(s>>32) == tag && same(uint32(s)) {
			return i, true
		}
	}
}

// update stores seq in slot i, found by find.
func (t *refTable) update(i int, seq uint32) {
	t.slots[i] = t.slots[i]&^0xffff_ffff | uint64(seq)
	t.writes++
}

// insert stores seq for a key with hash h that find did not find, in the
// first empty or stale slot from its home. It sweeps or grows the table
// first when it is too full.
func (t *refTable) insert(h uint64, seq uint32, stale func(seq uint32) bool) {
	if 4*(t.used+1) > 3*len(t.slots) || t.writes >= refTableMaxWrites {
		t.sweep(stale)
		if 2*(t.used+1) > len(t.slots) {
			t.grow(stale)
		}
	}
	tag := tableTag(h)
	i := t.home(tag)
	for ; t.slots[i] != 0 && !stale(uint32(t.slots[i])); i = t.next(i) {
	}
	if t.slots[i] == 0 {
		t.used++
	}
	t.slots[i] = uint64(tag)<<32 | uint64(seq)
	t.writes++
}

// sweep removes the stale slots.
func (t *refTable) sweep(stale func(seq uint32) bool) {
	for i := range t.slots {
		for t.slots[i] != 0 && stale(uint32(t.slots[i])) {
			t.remove(i)
		}
	}
	t.writes = 0
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
	t.used--
}

// grow doubles the table (or makes its first slots) and reinserts every
// slot that is not stale, from its tag.
func (t *refTable) grow(stale func(seq uint32) bool) {
	old := t.slots
	size := max(2*len(old), refTableMinSlots)
	t.slots = make([]uint64, size)
	t.shift = uint(64 - log2(size))
	t.used = 0
	for _, s := range old {
		if s == 0 || stale(uint32(s)) {
			continue
		}
		i := t.home(uint32(s >> 32))
		for t.slots[i] != 0 {
			i = t.next(i)
		}
		t.slots[i] = s
		t.used++
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
