package hold

import (
	"container/heap"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
)

// share is what one partition has waiting in the hold.
type share struct {
	part         linkindex.Partition
	spans, bytes int
	at           int // in shares.heap
}

// shares keeps each partition's share of the hold, and which one holds the
// most, in O(log partitions) per change: a tenant sending under many names
// cannot make the hold scan them all. A partition's load is the larger of
// its fractions of the two limits, so that the one holding the most is the
// same whichever limit a batch passes.
type shares struct {
	by         map[linkindex.Partition]*share
	heap       []*share // a max-heap by load
	limit      float64
	limitBytes float64
}

func newShares(limit, limitBytes int) shares {
	return shares{by: map[linkindex.Partition]*share{}, limit: float64(limit), limitBytes: float64(limitBytes)}
}

// load is the larger of the fractions of the limits that spans and bytes
// take.
func (s *shares) load(spans, bytes int) float64 {
	return max(float64(spans)/s.limit, float64(bytes)/s.limitBytes)
}

// add counts n spans of size bytes more (fewer, if negative) for p.
func (s *shares) add(p linkindex.Partition, n, size int) {
	sh := s.by[p]
	if sh == nil {
		if n <= 0 {
			return
		}
		sh = &share{part: p}
		s.by[p] = sh
		sh.spans, sh.bytes = n, size
		heap.Push(s, sh)
		return
	}
	sh.spans += n
	sh.bytes += size
	if sh.spans <= 0 {
		heap.Remove(s, sh.at)
		delete(s.by, p)
		return
	}
	heap.Fix(s, sh.at)
}

// givingWay returns the partition that gives way to a batch of n spans
// and size bytes of partition p: p, if with the batch it holds more than
// the partition holding the most, or is that partition; else the
// partition holding the most, which already holds as much as p would.
func (s *shares) givingWay(p linkindex.Partition, n, size int) linkindex.Partition {
	if len(s.heap) == 0 {
		return p
	}
	top := s.heap[0]
	if top.part == p {
		return p
	}
	mine := s.load(n, size)
	if sh := s.by[p]; sh != nil {
		mine = s.load(sh.spans+n, sh.bytes+size)
	}
	if mine > s.load(top.spans, top.bytes) {
		return p
	}
	return top.part
}

// holds reports whether p has spans waiting.
func (s *shares) holds(p linkindex.Partition) bool { return s.by[p] != nil }

// reset forgets every share.
func (s *shares) reset() {
	clear(s.by)
	clear(s.heap)
	s.heap = s.heap[:0]
}

// heap.Interface, by load, most first.

func (s *shares) Len() int { return len(s.heap) }
func (s *shares) Less(i, j int) bool {
	return s.load(s.heap[i].spans, s.heap[i].bytes) > s.load(s.heap[j].spans, s.heap[j].bytes)
}
func (s *shares) Swap(i, j int) {
	s.heap[i], s.heap[j] = s.heap[j], s.heap[i]
	s.heap[i].at, s.heap[j].at = i, j
}
func (s *shares) Push(x any) {
	sh := x.(*share)
	sh.at = len(s.heap)
	s.heap = append(s.heap, sh)
}
func (s *shares) Pop() any {
	n := len(s.heap) - 1
	sh := s.heap[n]
	s.heap[n] = nil
	s.heap = s.heap[:n]
	return sh
}
