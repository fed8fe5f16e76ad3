package learner

import (
	"math"
	"math/bits"
	"math/rand/v2"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
)

// unheldSpans remembers up to limit spans that passed unheld, forgetting
// the oldest first: a ring of entries in pass order, and an open-addressing
// table (linear probing) from a span's hash to the ring place of its
// newest entry. Neither holds a pointer, so the garbage collector never
// scans them. A slot leaves the table by shifting back the slots after it,
// never by a tombstone, so probes stay short under the churn of a full
// ring: one span forgotten for every span remembered (a Go map, with a
// delete per insert, grows long probes through its tombstones).
//
// A span is known by a 64-bit hash of its IDs and partition, seeded per
// process: two spans share one with odds of about n/2^64 for n remembered,
// and a sender cannot choose IDs that do.
type unheldSpans struct {
	seed  uint64
	limit int
	ring  []unheldSpan // ring[(head+i) % len(ring)] for i < n, oldest first
	head  int
	n     int
	table []unheldSlot // len a power of two, at least twice len(ring)
	shift uint         // 64 - log2(len(table))

	touched uint32   // what touch read, kept so that it is read
	hashes  []uint64 // scratch of addAll and findAll
}

// unheldSpan is a span that passed unheld, remembered for a window.
type unheldSpan struct {
	hash  uint64 // spanHash of its IDs and partition
	at    int64  // when it passed, Unix nanoseconds
	class classRef
}

// unheldSlot is one slot of unheldSpans.table.
type unheldSlot struct {
	tag uint32 // the top 32 bits of the hash, never zero; zero: an empty slot
	at  uint32 // ring place of the newest entry with the hash
}

// unheldMinRing is the ring's size when first used; it doubles up to limit.
const unheldMinRing = 1024

func newUnheldSpans(limit int) *unheldSpans {
	return &unheldSpans{seed: rand.Uint64(), limit: min(max(limit, 1), math.MaxInt32)}
}

// spanHash returns the hash that stands for k in s.
func (s *unheldSpans) spanHash(k linkindex.Key) uint64 { return linkindex.Hash(k, s.seed) }

// tagOf returns the table tag of hash h: never zero.
func tagOf(h uint64) uint32 { return uint32(h>>32) | 1 }

// home returns the slot where a tag is first looked for.
func (s *unheldSpans) home(tag uint32) int { return int(uint64(tag) << 32 >> s.shift) }

// next returns the slot after i, wrapping around.
func (s *unheldSpans) next(i int) int { return (i + 1) & (len(s.table) - 1) }

// len reports how many spans are remembered.
func (s *unheldSpans) len() int { return s.n }

// A batch's spans are remembered and looked for in passes: the first
// reads, for every span, the table slot (and then the ring entry) the next
// pass needs. Those reads do not wait on one another, so the memory system
// serves them together instead of one cache miss after another: at a
// million spans the table and the ring are far larger than the caches.

// addAll remembers the spans with IDs ks[i] and class cs[i], passed at at,
// in order, forgetting the oldest beyond limit.
func (s *unheldSpans) addAll(ks []linkindex.Key, cs []classRef, at int64) {
	hs := s.hashAll(ks)
	if len(s.table) > 0 {
		var sum uint32
		for _, h := range hs {
			sum += s.table[s.home(tagOf(h))].at
		}
		// The slots of the spans about to be forgotten.
		for i := range min(len(hs), s.n, s.n+len(hs)-s.limit) {
			sum += s.table[s.home(tagOf(s.ring[(s.head+i)%len(s.ring)].hash))].at
		}
		s.touched = sum
	}
	for i, h := range hs {
		s.addHash(h, cs[i], at)
	}
}

// addHash remembers the span with hash h and class c, passed at at,
// forgetting the oldest when s holds limit spans already.
func (s *unheldSpans) addHash(h uint64, c classRef, at int64) {
	if s.n == s.limit {
		s.pop()
	}
	if s.n == len(s.ring) {
		s.grow()
	}
	p := (s.head + s.n) % len(s.ring)
	s.ring[p] = unheldSpan{hash: h, at: at, class: c}
	s.n++
	s.index(h, p)
}

// hashAll returns the hashes of ks, in s.hashes.
func (s *unheldSpans) hashAll(ks []linkindex.Key) []uint64 {
	hs := s.hashes[:0]
	for _, k := range ks {
		hs = append(hs, s.spanHash(k))
	}
	s.hashes = hs
	return hs
}

// findAll sets at[i] to the ring place of the newest remembered span with
// IDs ks[i], or -1, and returns at; entry reads the span at a place.
func (s *unheldSpans) findAll(ks []linkindex.Key, at []int32) []int32 {
	at = at[:0]
	if s.n == 0 {
		for range ks {
			at = append(at, -1)
		}
		return at
	}
	hs := s.hashAll(ks)
	var sum uint32
	for _, h := range hs {
		sum += s.table[s.home(tagOf(h))].at
	}
	// The probes, each slot found touching its ring entry.
	for _, h := range hs {
		p := int32(-1)
		tag := tagOf(h)
		for i := s.home(tag); s.table[i].tag != 0; i = s.next(i) {
			if s.table[i].tag == tag {
				p = int32(s.table[i].at)
				sum += uint32(s.ring[p].at)
				break
			}
		}
		at = append(at, p)
	}
	s.touched = sum
	// The hash of the entry found decides: a tag is only 32 bits.
	for i, h := range hs {
		if at[i] >= 0 && s.ring[at[i]].hash != h {
			at[i] = s.findHash(h)
		}
	}
	return at
}

// entry returns the span at ring place p, from findAll.
func (s *unheldSpans) entry(p int32) unheldSpan { return s.ring[p] }

// findHash returns the ring place of the span with hash h, or -1.
func (s *unheldSpans) findHash(h uint64) int32 {
	tag := tagOf(h)
	for i := s.home(tag); s.table[i].tag != 0; i = s.next(i) {
		if t := s.table[i]; t.tag == tag && s.ring[t.at].hash == h {
			return int32(t.at)
		}
	}
	return -1
}

// index points the table at ring place p for hash h: a slot already
// holding h now names the newer entry.
func (s *unheldSpans) index(h uint64, p int) {
	tag := tagOf(h)
	for i := s.home(tag); ; i = s.next(i) {
		t := &s.table[i]
		if t.tag == 0 || t.tag == tag && s.ring[t.at].hash == h {
			*t = unheldSlot{tag: tag, at: uint32(p)}
			return
		}
	}
}

// oldest returns when the oldest remembered span passed; s is not empty.
func (s *unheldSpans) oldest() int64 { return s.ring[s.head].at }

// pop forgets the oldest span; s is not empty. Its slot leaves the table
// only if it names this entry, not a newer one with the same hash.
func (s *unheldSpans) pop() {
	e := s.ring[s.head]
	tag := tagOf(e.hash)
	for i := s.home(tag); ; i = s.next(i) {
		t := s.table[i]
		if t.tag == 0 {
			break // not indexed: a newer entry's slot replaced it, and left
		}
		if t.tag == tag && s.ring[t.at].hash == e.hash {
			if int(t.at) == s.head {
				s.unindex(i)
			}
			break
		}
	}
	s.head = (s.head + 1) % len(s.ring)
	s.n--
	if s.n == 0 {
		s.head = 0
	}
}

// unindex empties slot i, moving back each later slot of its run that
// would otherwise no longer be found from its home.
func (s *unheldSpans) unindex(i int) {
	for j := s.next(i); s.table[j].tag != 0; j = s.next(j) {
		h := s.home(s.table[j].tag)
		// The slot at j stays where it is if its home lies cyclically in (i, j].
		if i <= j {
			if i < h && h <= j {
				continue
			}
		} else if i < h || h <= j {
			continue
		}
		s.table[i] = s.table[j]
		i = j
	}
	s.table[i] = unheldSlot{}
}

// grow doubles the ring, up to limit, laying its entries out oldest first,
// and builds the table anew.
func (s *unheldSpans) grow() {
	ring := make([]unheldSpan, min(max(2*len(s.ring), unheldMinRing), s.limit))
	for i := range s.n {
		ring[i] = s.ring[(s.head+i)%len(s.ring)]
	}
	s.ring, s.head = ring, 0
	size := 16
	for size < 2*len(ring) {
		size *= 2
	}
	s.table = make([]unheldSlot, size)
	s.shift = uint(64 - bits.TrailingZeros(uint(size)))
	for p := range s.n {
		s.index(s.ring[p].hash, p)
	}
}
