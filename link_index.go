package spanlinksprocessor

import (
	"encoding/binary"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// SpanRef names a span by its trace ID and span ID.
type SpanRef struct {
	TraceID pcommon.TraceID
	SpanID  pcommon.SpanID
}

// Linker is a span that links to a target: its IDs, its name, and whether it
// ended with status Error.
type Linker struct {
	SpanRef
	Name  string
	Error bool
}

// Backlinks is what an index knows of the spans that link to one target.
type Backlinks struct {
	Count      int      // distinct linkers seen within the window
	ErrorCount int      // how many of those ended with status Error
	Linkers    []Linker // the first (oldest) at most max of them, in arrival order
}

// LinkIndex maps link targets to the spans that link to them.
// Implementations are safe for concurrent use.
type LinkIndex interface {
	// Add records that l links to target, seen at now.
	Add(target SpanRef, l Linker, now time.Time)
	// Cursor returns the index's position now: every entry added from
	// then on lies beyond it.
	Cursor() Cursor
	// Lookup returns the linkers of target whose entries lie in (from, to]
	// and within the window before now, listing at most max of them.
	Lookup(target SpanRef, from, to Cursor, now time.Time, max int) Backlinks
	// Expire drops the entries older than the window.
	Expire(now time.Time)
	// Len reports how many entries the index holds.
	Len() int
	// Stats reports how many entries expired and how many were evicted for
	// capacity, since creation.
	Stats() IndexStats
}

// Cursor orders the entries of an index by when they were added, so that a
// span held while its linkers arrive can ask for exactly those it has not
// seen yet. Lookups over (0, c] and (c, CursorEnd] see each entry once.
type Cursor uint64

// CursorEnd lies beyond every entry.
const CursorEnd = Cursor(math.MaxUint64)

// IndexStats counts the entries a LinkIndex dropped, by reason.
type IndexStats struct{ Expired, Evicted uint64 }

const (
	// indexShards is the most shards a memoryIndex splits into.
	indexShards = 32
	// indexMinShare is the fewest entries a shard is given while there is more
	// than one: a small index keeps one shard, so eviction stays oldest-first.
	indexMinShare = 1024
	// indexMinRing is the length a shard's ring starts at when first used.
	indexMinRing = 64
	// maxDedupeWalk bounds how many entries of a target's chain Add inspects
	// to find a linker it already holds. A target with more linkers than this
	// may count a re-sent linker twice; that costs one entry, never a lost one.
	maxDedupeWalk = 1024
)

// memoryIndex is the in-memory LinkIndex. Targets are spread over shards by a
// hash, each shard with its own lock, so no lock is global. An entry is one
// (target, linker) pair; an entry added at t is visible while now-t < window.
type memoryIndex struct {
	cursor atomic.Uint64 // the last cursor given to an entry
	window int64         // nanoseconds
	shift  uint          // 64 - log2(len(shards)): the hash's top bits pick the shard
	seed   uint64        // of the hash that places targets in a shard's table
	shards []indexShard
}

var _ LinkIndex = (*memoryIndex)(nil)

// newMemoryIndex returns an index whose entries live for window and that never
// holds more than maxEntries entries (at least 1). It uses up to 32 shards,
// each holding an equal share of maxEntries, no share under 1024; when a shard
// is full its oldest entry is evicted.
func newMemoryIndex(window time.Duration, maxEntries int) *memoryIndex {
	n := indexShards
	for n > 1 && maxEntries/n < indexMinShare {
		n /= 2
	}
	return newShardedIndex(window, maxEntries, n)
}

// newShardedIndex is newMemoryIndex with n shards; n must be a power of two
// no greater than maxEntries.
func newShardedIndex(window time.Duration, maxEntries, n int) *memoryIndex {
	maxEntries = max(maxEntries, 1)
	ix := &memoryIndex{
		window: int64(window),
		shift:  uint(64 - bits.TrailingZeros(uint(n))),
		seed:   rand.Uint64(),
		shards: make([]indexShard, n),
	}
	for i := range ix.shards {
		c := maxEntries / n
		if i < maxEntries%n {
			c++
		}
		ix.shards[i] = indexShard{capacity: c, seed: ix.seed}
		ix.shards[i].empty.Store(true)
	}
	return ix
}

// refKey is a SpanRef as the index keeps and compares it: three words, which
// fit in registers.
type refKey struct{ t0, t1, s uint64 }

// keyOf returns the refKey of a trace ID and a span ID.
func keyOf(t pcommon.TraceID, s pcommon.SpanID) refKey {
	return refKey{
		t0: binary.LittleEndian.Uint64(t[:8]),
		t1: binary.LittleEndian.Uint64(t[8:]),
		s:  binary.LittleEndian.Uint64(s[:]),
	}
}

// valid reports whether neither ID is all zeros.
func (k refKey) valid() bool { return k.t0|k.t1 != 0 && k.s != 0 }

// ref returns k as a SpanRef.
func (k refKey) ref() SpanRef {
	var r SpanRef
	binary.LittleEndian.PutUint64(r.TraceID[:8], k.t0)
	binary.LittleEndian.PutUint64(r.TraceID[8:], k.t1)
	binary.LittleEndian.PutUint64(r.SpanID[:], k.s)
	return r
}

// linkerKey is a Linker as the index adds it.
type linkerKey struct {
	key    refKey
	bits   uint32 // linkerBits(key)
	name   string
	failed bool
}

// newLinkerKey returns the linkerKey of the span with IDs key and name
// name, which ended with status Error if failed.
func newLinkerKey(key refKey, name string, failed bool) linkerKey {
	return linkerKey{key: key, bits: linkerBits(key), name: name, failed: failed}
}

// shard returns the shard that holds target.
func (ix *memoryIndex) shard(target refKey) *indexShard {
	return &ix.shards[ix.shardOf(target)]
}

// shardOf returns the index of the shard that holds target. It depends on
// the target alone, so that which entries a full index evicts is the same
// on every run.
func (ix *memoryIndex) shardOf(target refKey) int {
	h := target.t0 ^ target.t1 ^ target.s
	return int((h * 0x9e3779b97f4a7c15) >> ix.shift) // Fibonacci hashing
}

// Add records that l links to target, seen at now. A linker already held for
// target is not added again.
func (ix *memoryIndex) Add(target SpanRef, l Linker, now time.Time) {
	from := newLinkerKey(keyOf(l.TraceID, l.SpanID), l.Name, l.Error)
	ix.add(keyOf(target.TraceID, target.SpanID), &from, now.UnixNano())
}

// add is Add with keys, at t in Unix nanoseconds.
func (ix *memoryIndex) add(target refKey, l *linkerKey, t int64) {
	s := ix.shard(target)
	s.mu.Lock()
	s.expire(t, ix.window)
	s.add(target, refHash(target, ix.seed), l, t, &ix.cursor)
	s.mu.Unlock()
}

// add adds an entry for target, with hash h, linked by l at t, unless l is
// already held for target; s.mu must be held.
func (s *indexShard) add(target refKey, h uint64, l *linkerKey, t int64, cursor *atomic.Uint64) {
	slot, newest, found := s.find(target, h)
	// The slot's Bloom filter tells most new linkers without a walk.
	walk := found && s.table.mayHold(slot, l.bits)
	for seq, ok, n := newest, walk, 0; ok && n < maxDedupeWalk; n++ {
		i := s.index(seq)
		if s.ring[i].linker == l.key {
			return
		}
		seq, ok = s.prev(i, seq)
	}
	s.push(target, h, l, t, slot, newest, found, cursor)
}

// Cursor returns the index's position now: every entry added from then on
// lies beyond it.
func (ix *memoryIndex) Cursor() Cursor {
	return Cursor(ix.cursor.Load())
}

// Lookup returns the linkers of target whose entries lie in (from, to] and
// within the window before now, listing the oldest limit of them (none when
// limit <= 0). It walks the entries for target, under its shard's lock; an
// empty shard answers without locking. A miss does not allocate.
func (ix *memoryIndex) Lookup(target SpanRef, from, to Cursor, now time.Time, limit int) Backlinks {
	return ix.lookup(keyOf(target.TraceID, target.SpanID), from, to, now.UnixNano(), limit)
}

// lookup is Lookup with a key, at t in Unix nanoseconds.
func (ix *memoryIndex) lookup(target refKey, from, to Cursor, t int64, limit int) Backlinks {
	s := ix.shard(target)
	if s.empty.Load() {
		return Backlinks{}
	}
	h := refHash(target, ix.seed)
	s.mu.Lock()
	s.expire(t, ix.window)
	var b Backlinks
	if _, newest, ok := s.find(target, h); ok {
		b = s.backlinks(newest, from, to, t-ix.window, limit, nil)
	}
	s.mu.Unlock()
	return b
}

// Expire drops the entries older than the window from every shard.
func (ix *memoryIndex) Expire(now time.Time) {
	t := now.UnixNano()
	for i := range ix.shards {
		s := &ix.shards[i]
		s.mu.Lock()
		s.expire(t, ix.window)
		s.mu.Unlock()
	}
}

// empty reports whether no shard holds an entry. It reads each shard's
// flag without its lock: an entry added before the caller read a cursor
// is seen, as by lookup.
func (ix *memoryIndex) empty() bool {
	for i := range ix.shards {
		if !ix.shards[i].empty.Load() {
			return false
		}
	}
	return true
}

// indexEmpty reports whether idx holds no entry; the in-memory index tells
// without taking its locks.
func indexEmpty(idx LinkIndex) bool {
	if ix, ok := idx.(*memoryIndex); ok {
		return ix.empty()
	}
	return idx.Len() == 0
}

// Len reports how many entries the index holds, locking each shard in turn.
func (ix *memoryIndex) Len() int {
	n := 0
	for i := range ix.shards {
		s := &ix.shards[i]
		s.mu.Lock()
		n += s.n
		s.mu.Unlock()
	}
	return n
}

// Stats reports how many entries expired and how many were evicted for
// capacity since the index was created.
func (ix *memoryIndex) Stats() IndexStats {
	var st IndexStats
	for i := range ix.shards {
		s := &ix.shards[i]
		s.mu.Lock()
		st.Expired += s.expired
		st.Evicted += s.evicted
		s.mu.Unlock()
	}
	return st
}

// indexEntry is one (target, linker) pair. With its entryMeta it takes 72
// bytes, without pointers, so that the garbage collector never scans a
// shard's ring.
type indexEntry struct {
	target refKey
	linker refKey
	cursor uint64 // its place in the order of all entries of the index
}

// entryMeta is what expiring and evicting an entry read, apart from the
// entry, so that they read 16 bytes per entry in order, not a random line.
type entryMeta struct {
	at   int64  // when the entry was added, Unix nanoseconds
	name uint32 // the linker's name id in the shard's nameTable; entryErr: it ended with status Error
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
	names    nameTable
	empty    atomic.Bool // n == 0, also read without mu; written only when that changes
	seed     uint64      // of the table's hash
	capacity int         // most entries the shard holds
	expired  uint64
	evicted  uint64
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
func (s *indexShard) find(target refKey, h uint64) (slot int, seq uint64, ok bool) {
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

// backlinks counts the entries of the chain from newest that lie in
// (from, to] and were added after oldest, and lists the first limit of them
// in buf's memory, or in new memory if buf is too small.
func (s *indexShard) backlinks(newest uint64, from, to Cursor, oldest int64, limit int, buf []Linker) Backlinks {
	var b Backlinks
	live := func(i int) bool {
		c := s.ring[i].cursor
		return c > uint64(from) && c <= uint64(to) && s.meta[i].at > oldest
	}
	for seq, ok := newest, true; ok; {
		i := s.index(seq)
		if s.ring[i].cursor <= uint64(from) {
			break // the chain runs newest first: the rest is older still
		}
		if live(i) {
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
	k := b.Count
	for seq, ok := newest, true; ok && k > 0; {
		i := s.index(seq)
		if live(i) {
			if k--; k < n {
				m := &s.meta[i]
				b.Linkers[k] = Linker{SpanRef: s.ring[i].linker.ref(), Name: s.names.name(m.nameID()), Error: m.err()}
			}
		}
		seq, ok = s.prev(i, seq)
	}
	return b
}

// expire pops the entries added window or more before now.
func (s *indexShard) expire(now, window int64) {
	for s.n > 0 && now-s.meta[s.start].at >= window {
		s.pop()
		s.expired++
	}
}

// push appends an entry for target, with hash h, linked by l at t,
// evicting the oldest entry if the shard is full, and gives it the next
// cursor. slot, newest and found are what find returned for target.
func (s *indexShard) push(target refKey, h uint64, l *linkerKey, t int64, slot int, newest uint64, found bool, cursor *atomic.Uint64) {
	if s.n == s.capacity {
		s.pop()
		s.evicted++
	}
	if s.n == len(s.ring) {
		s.grow()
	}
	if s.n == 0 {
		s.empty.Store(false)
	}
	// The cursor is taken under the shard's lock and after the shard is
	// marked not empty, so that a Lookup that knows the cursor sees the
	// entry. It is taken before the entry is written: its atomic add then
	// waits for no write to a line not in cache.
	c := cursor.Add(1)
	seq := s.head + uint64(s.n)
	i := s.index(seq)
	e := &s.ring[i]
	*e = indexEntry{target: target, linker: l.key, cursor: c}
	m := &s.meta[i]
	*m = entryMeta{at: t, name: s.names.intern(l.name)}
	if l.failed {
		m.name |= entryErr
	}
	s.n++
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

// pop removes the oldest entry. Its target's table slot, if it was the
// target's last entry, turns stale.
func (s *indexShard) pop() {
	s.names.release(s.meta[s.start].nameID())
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
