package linkindex

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
)

// indexEntry is one (target, linker) pair. With its entryMeta it takes 72
// bytes, without pointers, so that the garbage collector never scans a
// shard's ring.
type indexEntry struct {
	target Key
	linker ids // in target's partition
}

// entryMeta is what expiring and evicting an entry read, apart from the
// entry, so that they read 16 bytes per entry in order, not a random line.
type entryMeta struct {
	at   int64  // when the entry was added, Unix nanoseconds
	name uint32 // the linker's name id in the index's name table; entryErr: it ended with status Error
	prev uint32 // how many entries back the previous entry for target is; 0: none
}

// entryErr is the bit of entryMeta.name that says the linker ended with
// status Error. Name ids stay below it: a shard holds fewer entries.
const entryErr = 1 << 31

func (m *entryMeta) nameID() uint32 { return m.name &^ entryErr }
func (m *entryMeta) err() bool      { return m.name&entryErr != 0 }

// indexShard holds the entries of the targets that hash to it in a ring, in
// insertion order, which is expiry order since every entry lives for the same
// window. Each entry has a sequence number, one more than the entry before it;
// the entries for one target form a chain, newest to oldest, through prev,
// and the table maps each target to its newest entry. All fields but empty
// are guarded by mu.
type indexShard struct {
	mu       sync.Mutex
	ring     []indexEntry // grows by doubling up to capacity
	meta     []entryMeta  // of the entry at the same index of ring
	start    int          // ring index of the oldest entry
	n        int          // how many entries the ring holds
	head     uint64       // sequence number of the oldest entry
	table    refTable     // target -> sequence number of its newest entry
	names    *sharedNames // the index's
	freed    []uint32     // name ids whose references go back to names
	empty    atomic.Bool  // n == 0, also read without mu; written only when that changes
	seed     uint64       // of the table's hash
	capacity int          // most entries the shard holds
	expired  uint64
	evicted  uint64

	// parts counts the entries held by partition, when they are
	// partitioned (the index's keys are all in partition zero, or none
	// is); nil until a partitioned entry is added, so that an
	// unpartitioned index pays nothing for it.
	parts map[Partition]int
}

// index returns the ring index of the entry with sequence number seq,
// which must be held.
func (s *indexShard) index(seq uint64) int {
	i := s.start + int(seq-s.head)
	if i >= len(s.ring) {
		i -= len(s.ring)
	}
	return i
}

// seq returns the sequence number of a held entry from its low 32 bits:
// fewer than 2^32 entries are held, all from head on.
func (s *indexShard) seq(low uint32) uint64 {
	return s.head + uint64(low-uint32(s.head))
}

// find returns the table slot of target, with hash h, and the sequence
// number of its newest entry, if it has one.
func (s *indexShard) find(target Key, h uint64) (slot int, seq uint64, ok bool) {
	slot, ok = s.table.find(h, func(low uint32) bool {
		if s.stale(low) {
			return false
		}
		seq = s.seq(low)
		return s.ring[s.index(seq)].target == target
	})
	return slot, seq, ok
}

// stale reports whether the entry whose sequence number has low 32 bits low
// is gone: its table slot is stale.
func (s *indexShard) stale(low uint32) bool {
	return low-uint32(s.head) >= uint32(s.n)
}

// prev returns the sequence number of the entry for the same target before
// the entry at ring index i, which has sequence number seq, if it is still
// held.
func (s *indexShard) prev(i int, seq uint64) (uint64, bool) {
	p := uint64(s.meta[i].prev)
	// A previous entry older than head is gone.
	return seq - p, p != 0 && p <= seq-s.head
}

// backlinks counts the entries of the chain from newest that were added
// after since, and lists the first limit of them in buf's memory, or in new
// memory if buf is too small. It walks the whole chain: concurrent adds may
// put entries in an order a little off their times.
func (s *indexShard) backlinks(newest uint64, since int64, limit int, buf []Linker) Backlinks {
	var b Backlinks
	for seq, ok := newest, true; ok; {
		i := s.index(seq)
		if s.meta[i].at > since {
			b.Count++
			if s.meta[i].err() {
				b.ErrorCount++
			}
		}
		seq, ok = s.prev(i, seq)
	}
	n := min(b.Count, max(limit, 0))
	if n == 0 {
		return b
	}
	// The chain runs newest first: the i-th live entry from the end of the
	// walk is the i-th to arrive.
	b.Linkers = slices.Grow(buf[:0], n)[:n]
	var idBuf [32]uint32
	ids := idBuf[:0] // the linkers' name ids, newest first
	k := b.Count
	for seq, ok := newest, true; ok && k > 0; {
		i := s.index(seq)
		if m := &s.meta[i]; m.at > since {
			if k--; k < n {
				b.Linkers[k] = Linker{Ref: s.ring[i].linker.ref(), Error: m.err()}
				ids = append(ids, m.nameID())
			}
		}
		seq, ok = s.prev(i, seq)
	}
	// The names, under the table's lock; the entries holding them cannot
	// leave while s.mu is held.
	s.names.mu.Lock()
	for j, id := range ids {
		b.Linkers[n-1-j].Name = s.names.t.name(id)
	}
	s.names.mu.Unlock()
	return b
}

// expire pops the entries added window or more before now.
func (s *indexShard) expire(now, window int64) {
	for s.n > 0 && now-s.meta[s.start].at >= window {
		s.pop()
		s.expired++
	}
}

// add adds an entry for target, with hash h, linked by l at t, unless l is
// already held for target; s.mu must be held.
func (s *indexShard) add(target Key, h uint64, l *linkerKey, t int64) {
	slot, newest, found := s.find(target, h)
	// The slot's Bloom filter tells most new linkers without a walk.
	walk := found && s.table.mayHold(slot, l.bits)
	for seq, ok, n := newest, walk, 0; ok && n < maxDedupeWalk; n++ {
		i := s.index(seq)
		if s.ring[i].linker == l.key.ids {
			s.freed = append(s.freed, l.nameID) // the reference taken for this link
			return
		}
		seq, ok = s.prev(i, seq)
	}
	s.push(target, h, l, t, slot, newest, found)
}

// push appends an entry for target, with hash h, linked by l at t,
// evicting the oldest entry if the shard is full. slot, newest and found
// are what find returned for target. Partitioned, a full shard evicts its
// oldest entry only if that entry's partition holds at least as many
// entries in the shard as target's; otherwise target's partition holds
// more, and gives way: the new entry is not added (counted as evicted).
// So no partition evicts the entries of one holding fewer than it.
func (s *indexShard) push(target Key, h uint64, l *linkerKey, t int64, slot int, newest uint64, found bool) {
	if s.n == s.capacity {
		if target.p != 0 && !s.headGivesWay(target.p) {
			s.freed = append(s.freed, l.nameID) // the reference taken for this link
			s.evicted++
			return
		}
		s.pop()
		s.evicted++
	}
	if s.n == len(s.ring) {
		s.grow()
	}
	if s.n == 0 {
		s.empty.Store(false)
	}
	seq := s.head + uint64(s.n)
	i := s.index(seq)
	e := &s.ring[i]
	*e = indexEntry{target: target, linker: l.key.ids}
	m := &s.meta[i]
	*m = entryMeta{at: t, name: l.nameID}
	if l.failed {
		m.name |= entryErr
	}
	s.n++
	if target.p != 0 {
		if s.parts == nil {
			s.parts = make(map[Partition]int)
		}
		s.parts[target.p]++
	}
	if found {
		// The previous entry may just have been evicted: prev then
		// points before head, where the chain ends. A shard holding 2^32
		// entries would cut the chain here, not corrupt it.
		if seq-newest <= math.MaxUint32 {
			m.prev = uint32(seq - newest)
		}
		s.table.update(slot, uint32(seq), l.bits)
	} else {
		s.table.insert(h, uint32(seq), l.bits, s.stale)
	}
}

// headGivesWay reports whether the oldest entry of a full shard is evicted
// for an entry of partition p: it is p's own, or its partition holds at
// least as many entries as p.
func (s *indexShard) headGivesWay(p Partition) bool {
	head := s.ring[s.start].target.p
	return head == p || s.parts[head] >= s.parts[p]
}

// pop removes the oldest entry. Its target's table slot, if it was the
// target's last entry, turns stale.
func (s *indexShard) pop() {
	if s.parts != nil {
		if p := s.ring[s.start].target.p; s.parts[p] <= 1 {
			delete(s.parts, p)
		} else {
			s.parts[p]--
		}
	}
	s.freed = append(s.freed, s.meta[s.start].nameID())
	s.start++
	if s.start == len(s.ring) {
		s.start = 0
	}
	s.head++
	if s.n--; s.n == 0 {
		s.empty.Store(true)
	}
}

// grow doubles the ring, up to capacity, keeping the entries in order.
func (s *indexShard) grow() {
	n := min(max(2*len(s.ring), indexMinRing), s.capacity)
	r, m := make([]indexEntry, n), make([]entryMeta, n)
	k := copy(r, s.ring[s.start:])
	copy(r[k:], s.ring[:s.start])
	copy(m, s.meta[s.start:])
	copy(m[k:], s.meta[:s.start])
	s.ring, s.meta, s.start = r, m, 0
}

// releaseNames gives the references of the entries that left back to the
// index's name table; s.mu must be held.
func (s *indexShard) releaseNames() { s.names.releaseAll(&s.freed) }
