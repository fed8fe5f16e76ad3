package linkindex

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// addIn adds the link from linker n to target n in partition p, at now.
func addIn(ix *Memory, p Partition, n uint64, now time.Time) {
	var b Links
	b.Link(idxKey(n).In(p))
	l := idxLinker(n, false)
	b.Linker(KeyOf(l.TraceID, l.SpanID).In(p), l.Name, false)
	_ = ix.Add(context.Background(), &b, now)
}

// countIn returns how many of targets first..last of partition p have a
// backlink.
func countIn(ix *Memory, p Partition, first, last uint64) int {
	var q Targets
	for n := first; n <= last; n++ {
		q.Add(idxKey(n).In(p))
	}
	_ = ix.Lookup(context.Background(), &q, allTime, 1)
	k := 0
	for i := range q.Len() {
		k += q.Result(i).Count
	}
	return k
}

// TestPartitionsNeverMatch: the same IDs in two partitions, or in none,
// are three targets.
func TestPartitionsNeverMatch(t *testing.T) {
	a, b := PartitionOf("A"), PartitionOf("B")
	assert.NotEqual(t, a, b)
	assert.NotZero(t, PartitionOf(""))
	ix := NewMemory(time.Minute, 100)
	addIn(ix, a, 1, idxT0)
	assert.Equal(t, 1, countIn(ix, a, 1, 1))
	assert.Zero(t, countIn(ix, b, 1, 1))
	assert.Zero(t, countIn(ix, 0, 1, 1))
}

// TestPartitionFloodEvictsNoSmallerShare: a shard of 100 entries; B adds
// 10, then A floods with 1000. Every entry of B stays, whether B's are the
// oldest (A's new entries give way) or A's are (A's oldest give way, to
// B's entries too, until B's are the oldest). Unpartitioned, the flood
// evicts B's oldest entries: the test sees what it guards against.
func TestPartitionFloodEvictsNoSmallerShare(t *testing.T) {
	a, b := PartitionOf("A"), PartitionOf("B")
	t.Run("B first", func(t *testing.T) {
		ix := newSharded(time.Minute, 100, 1)
		for n := uint64(1); n <= 10; n++ {
			addIn(ix, b, n, idxT0)
		}
		for n := uint64(1); n <= 1000; n++ {
			addIn(ix, a, 1000+n, idxT0)
		}
		assert.Equal(t, 10, countIn(ix, b, 1, 10))
		assert.Equal(t, 90, countIn(ix, a, 1001, 2000))
		assert.Equal(t, uint64(1000-90), ix.Stats().Evicted)
	})
	t.Run("A first", func(t *testing.T) {
		ix := newSharded(time.Minute, 100, 1)
		for n := uint64(1); n <= 500; n++ {
			addIn(ix, a, 1000+n, idxT0)
		}
		for n := uint64(1); n <= 10; n++ {
			addIn(ix, b, n, idxT0)
		}
		for n := uint64(501); n <= 1000; n++ {
			addIn(ix, a, 1000+n, idxT0)
		}
		assert.Equal(t, 10, countIn(ix, b, 1, 10))
		// A's oldest gave way to A's and B's; once B's are the oldest,
		// A's new entries give way instead.
		assert.Equal(t, 90, countIn(ix, a, 1501, 1590))
		assert.Equal(t, 90, countIn(ix, a, 1001, 2000))
	})
	t.Run("unpartitioned", func(t *testing.T) {
		ix := newSharded(time.Minute, 100, 1)
		for n := uint64(1); n <= 10; n++ {
			addIn(ix, 0, n, idxT0)
		}
		for n := uint64(1); n <= 1000; n++ {
			addIn(ix, 0, 1000+n, idxT0)
		}
		assert.Zero(t, countIn(ix, 0, 1, 10), "the flood evicted the first 10")
	})
}

// TestPartitionCountsFollowExpiry: entries that expire leave their
// partition's count, so a partition that held the most and expired gives
// way no more.
func TestPartitionCountsFollowExpiry(t *testing.T) {
	a, b := PartitionOf("A"), PartitionOf("B")
	ix := newSharded(time.Minute, 10, 1)
	for n := uint64(1); n <= 8; n++ {
		addIn(ix, a, n, idxT0)
	}
	ix.Expire(idxT0.Add(time.Minute))
	assert.Empty(t, ix.shards[0].parts)
	for n := uint64(1); n <= 3; n++ {
		addIn(ix, b, n, idxT0.Add(time.Minute))
	}
	assert.Equal(t, map[Partition]int{b: 3}, ix.shards[0].parts)
}
