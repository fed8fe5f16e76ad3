package linkindex

// refTable maps the targets of one index shard to the sequence number of
// their newest entry. It is an open-addressing hash table with linear
// probing that holds no pointers: the garbage collector never scans it. A
// slot is 12 bytes: the key's tag (the top 32 bits of its hash, never zero;
// zero is an empty slot), the low 32 bits of the sequence number, and a
// 32-bit Bloom filter of the linkers of the key's entries, which tells most
// new linkers from ones already held without walking the entries. The
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
	slots   []tableSlot
	shift   uint   // 64 - log2(len(slots)): a tag's top bits pick its home slot
	used    int    // slots holding a key, live or stale
	writes  int    // inserts and updates since the last sweep
	touched uint32 // what touch read, kept so that it is read
}

const (
	// refTableMinSlots is the size of a table when first used.
	refTableMinSlots = 16
	// refTableMaxWrites bounds the writes between two sweeps.
	refTableMaxWrites = 1 << 30
)

// tableSlot is one slot of a refTable.
type tableSlot struct {
	tag   uint32 // top 32 bits of the key's hash, never zero; zero: empty
	seq   uint32 // low 32 bits of the sequence number of the key's newest entry
	bloom uint32 // linkerBits of the linkers of the key's entries, or'd
}

// linkerBits returns the two bits that stand for linker k in a slot's
// Bloom filter.
func linkerBits(k Key) uint32 {
	h := (k.t0 ^ k.t1 ^ k.s) * 0x9e3779b97f4a7c15
	return 1<<(h>>59) | 1<<(h>>54&31)
}

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
		s := &t.slots[i]
		if s.tag == 0 {
			return 0, false
		}
		if s.tag == tag && same(s.seq) {
			return i, true
		}
	}
}

// mayHold reports whether slot i may have an entry linked by a linker with
// linkerBits bits: false means surely not.
func (t *refTable) mayHold(i int, bits uint32) bool {
	return t.slots[i].bloom&bits == bits
}

// update stores seq, linked by a linker with linkerBits bits, in slot i,
// found by find.
func (t *refTable) update(i int, seq, bits uint32) {
	t.slots[i].seq = seq
	t.slots[i].bloom |= bits
	t.writes++
}

// insert stores seq, linked by a linker with linkerBits bits, for a key
// with hash h that find did not find, in the first empty or stale slot from
// its home. It sweeps or grows the table first when it is too full.
func (t *refTable) insert(h uint64, seq, bits uint32, stale func(seq uint32) bool) {
	if 4*(t.used+1) > 3*len(t.slots) || t.writes >= refTableMaxWrites {
		t.sweep(stale)
		if 2*(t.used+1) > len(t.slots) {
			t.grow(stale)
		}
	}
	tag := tableTag(h)
	i := t.home(tag)
	for ; t.slots[i].tag != 0 && !stale(t.slots[i].seq); i = t.next(i) {
	}
	if t.slots[i].tag == 0 {
		t.used++
	}
	t.slots[i] = tableSlot{tag: tag, seq: seq, bloom: bits}
	t.writes++
}

// sweep removes the stale slots.
func (t *refTable) sweep(stale func(seq uint32) bool) {
	for i := range t.slots {
		for t.slots[i].tag != 0 && stale(t.slots[i].seq) {
			t.remove(i)
		}
	}
	t.writes = 0
}

// remove empties slot i and shifts back the slots after it that probing
// would otherwise no longer reach.
func (t *refTable) remove(i int) {
	mask := len(t.slots) - 1
	for j := t.next(i); t.slots[j].tag != 0; j = t.next(j) {
		// Move slot j into the hole at i unless its home lies in (i, j].
		if (j-t.home(t.slots[j].tag))&mask >= (j-i)&mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = tableSlot{}
	t.used--
}

// grow doubles the table (or makes its first slots) and reinserts every
// slot that is not stale, from its tag.
func (t *refTable) grow(stale func(seq uint32) bool) {
	old := t.slots
	size := max(2*len(old), refTableMinSlots)
	t.slots = make([]tableSlot, size)
	t.shift = uint(64 - log2(size))
	t.used = 0
	for _, s := range old {
		if s.tag == 0 || stale(s.seq) {
			continue
		}
		i := t.home(s.tag)
		for t.slots[i].tag != 0 {
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

// touch reads the home slot of each link's target, so that the misses of
// reading them overlap; the adds that follow find them in cache.
func (t *refTable) touch(links []pending) {
	if len(t.slots) == 0 {
		return
	}
	var sum uint32
	for i := range links {
		sum += t.slots[t.home(tableTag(links[i].hash))].tag
	}
	t.touched = sum
}
