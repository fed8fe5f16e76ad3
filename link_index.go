package spanlinksprocessor

import (
	"encoding/binary"
	"iter"
	"math"
	"math/bits"
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
		shards: make([]indexShard, n),
	}
	for i := range ix.shards {
		c := maxEntries / n
		if i < maxEntries%n {
			c++
		}
		ix.shards[i] = indexShard{capacity: c, last: make(map[SpanRef]uint64)}
	}
	return ix
}

// shard returns the shard that holds target.
func (ix *memoryIndex) shard(target SpanRef) *indexShard {
	h := binary.LittleEndian.Uint64(target.TraceID[:8]) ^
		binary.LittleEndian.Uint64(target.TraceID[8:]) ^
		binary.LittleEndian.Uint64(target.SpanID[:])
	return &ix.shards[(h*0x9e3779b97f4a7c15)>>ix.shift] // Fibonacci hashing
}

// Add records that l links to target, seen at now. A linker already held for
// target is not added again.
func (ix *memoryIndex) Add(target SpanRef, l Linker, now time.Time) {
	t := now.UnixNano()
	s := ix.shard(target)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(t, ix.window)
	n := 0
	for e := range s.chain(target) {
		if e.linker == l.SpanRef {
			return
		}
		if n++; n == maxDedupeWalk {
			break
		}
	}
	// The cursor is taken under the shard's lock, so that a Lookup of this
	// shard either sees the entry or ran before its cursor existed.
	c := ix.cursor.Add(1)
	s.push(indexEntry{target: target, linker: l.SpanRef, name: l.Name, at: t, cursor: c, err: l.Error})
}

// Cursor returns the index's position now: every entry added from then on
// lies beyond it.
func (ix *memoryIndex) Cursor() Cursor {
	return Cursor(ix.cursor.Load())
}

// Lookup returns the linkers of target whose entries lie in (from, to] and
// within the window before now, listing the oldest limit of them (none when
// limit <= 0). It walks the entries for target, under its shard's lock. A
// miss does not allocate.
func (ix *memoryIndex) Lookup(target SpanRef, from, to Cursor, now time.Time, limit int) Backlinks {
	t := now.UnixNano()
	s := ix.shard(target)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(t, ix.window)
	var b Backlinks
	for e := range s.chain(target) {
		if e.cursor <= uint64(from) {
			break // the chain runs newest first: the rest is older still
		}
		if e.cursor <= uint64(to) && t-e.at < ix.window {
			b.Count++
			if e.err {
				b.ErrorCount++
			}
		}
	}
	n := min(b.Count, max(limit, 0))
	if n == 0 {
		return b
	}
	// The chain runs newest first: the i-th live entry from the end of the
	// walk is the i-th to arrive.
	b.Linkers = make([]Linker, n)
	i := b.Count
	for e := range s.chain(target) {
		if t-e.at >= ix.window || e.cursor <= uint64(from) || e.cursor > uint64(to) {
			continue
		}
		if i--; i < n {
			b.Linkers[i] = Linker{SpanRef: e.linker, Name: e.name, Error: e.err}
		}
		if i == 0 {
			break
		}
	}
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

// indexEntry is one (target, linker) pair. Its fields are laid out to fit in
// 88 bytes.
type indexEntry struct {
	target SpanRef
	linker SpanRef
	name   string
	at     int64  // when it was added, Unix nanoseconds
	cursor uint64 // its place in the order of all entries of the index
	prev   uint32 // how many entries back the previous entry for target is; 0: none
	err    bool   // the linker ended with status Error
}

// indexShard holds the entries of the targets that hash to it in a ring, in
// insertion order, which is expiry order since every entry lives for the same
// window. Each entry has a sequence number, one more than the entry before it;
// the entries for one target form a chain, newest to oldest, through prev.
// All fields are guarded by mu.
type indexShard struct {
	mu       sync.Mutex
	ring     []indexEntry // grows by doubling up to capacity
	start    int          // ring index of the oldest entry
	n        int          // how many entries the ring holds
	head     uint64       // sequence number of the oldest entry
	last     map[SpanRef]uint64
	capacity int // most entries the shard holds
	expired  uint64
	evicted  uint64
}

// at returns the entry with sequence number seq, which must be held.
func (s *indexShard) at(seq uint64) *indexEntry {
	i := s.start + int(seq-s.head)
	if i >= len(s.ring) {
		i -= len(s.ring)
	}
	return &s.ring[i]
}

// chain yields the entries for target, newest first.
func (s *indexShard) chain(target SpanRef) iter.Seq[*indexEntry] {
	return func(yield func(*indexEntry) bool) {
		seq, ok := s.last[target]
		for ok {
			e := s.at(seq)
			if !yield(e) {
				return
			}
			// A previous entry older than head is gone.
			ok = e.prev != 0 && uint64(e.prev) <= seq-s.head
			seq -= uint64(e.prev)
		}
	}
}

// expire pops the entries added window or more before now.
func (s *indexShard) expire(now, window int64) {
	for s.n > 0 && now-s.ring[s.start].at >= window {
		s.pop()
		s.expired++
	}
}

// push appends e, evicting the oldest entry if the shard is full.
func (s *indexShard) push(e indexEntry) {
	if s.n == s.capacity {
		s.pop()
		s.evicted++
	}
	if s.n == len(s.ring) {
		s.grow()
	}
	seq := s.head + uint64(s.n)
	// A shard holding 2^32 entries would cut the chain here, not corrupt it.
	if p, ok := s.last[e.target]; ok && seq-p <= math.MaxUint32 {
		e.prev = uint32(seq - p)
	}
	s.last[e.target] = seq
	*s.at(seq) = e
	s.n++
}

// pop removes the oldest entry, and its target's key once no entry is left
// for it.
func (s *indexShard) pop() {
	e := &s.ring[s.start]
	if s.last[e.target] == s.head {
		delete(s.last, e.target)
	}
	*e = indexEntry{} // release the name
	s.start++
	if s.start == len(s.ring) {
		s.start = 0
	}
	s.head++
	s.n--
}

// grow doubles the ring, up to capacity, keeping the entries in order.
func (s *indexShard) grow() {
	r := make([]indexEntry, min(max(2*len(s.ring), indexMinRing), s.capacity))
	k := copy(r, s.ring[s.start:])
	copy(r[k:], s.ring[:s.start])
	s.ring, s.start = r, 0
}
