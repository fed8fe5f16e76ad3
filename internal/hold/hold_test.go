package hold

import (
	"fmt"
	"testing"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var start = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// TestHoldGivesWayByShare: the partition holding the most, the new batch
// counted, gives way, its oldest batch first; a tenant over its share is
// the one whose spans leave, whoever sends; the new batch's partition,
// holding the most with nothing older, passes unheld.
func TestHoldGivesWayByShare(t *testing.T) {
	a, b := linkindex.PartitionOf("A"), linkindex.PartitionOf("B")
	one := func(n int, part linkindex.Partition) Batch {
		return Batch{Traces: ptrace.NewTraces(), Spans: n, Bytes: 1, Part: part, Arrived: start}
	}
	h := New(time.Minute, 10, 1<<30)
	require.Equal(t, Waits, h.Add(one(6, b)))
	for i := 0; i < 4; i++ {
		require.Equal(t, Waits, h.Add(one(1, a)))
	}
	// Full: A would hold 5, B holds 6: B's batch gives way.
	require.Equal(t, WaitsMadeDue, h.Add(one(1, a)))
	d, ok := h.Next()
	require.True(t, ok)
	assert.Equal(t, b, d.Part)
	h.Done(d)
	drain(h)
	// A holds 5 alone; 6 more of A in one batch: A holds the most and its
	// oldest give way until the batch fits.
	require.Equal(t, WaitsMadeDue, h.Add(one(6, a)))
	assert.Equal(t, 6+4, h.spans)
	drain(h)
	// B sends 2, holding 2 against A's 10: A's oldest give way, one batch
	// of 1 after another, until B's fit.
	require.Equal(t, WaitsMadeDue, h.Add(one(2, b)))
	assert.Equal(t, 2, h.parts.by[b].spans)
	assert.Equal(t, 8, h.parts.by[a].spans)
	drain(h)
	// B sends 3 more, holding 5 against A's 8: A's last single, then its
	// batch of 6, give way: a batch leaves whole.
	require.Equal(t, WaitsMadeDue, h.Add(one(3, b)))
	assert.Equal(t, 5, h.spans)
	assert.NotContains(t, h.parts.by, a)
	drain(h)
	// A batch of a new tenant C of 10: C would hold the most with nothing
	// waiting, so it passes, and nothing of A or B leaves.
	c := linkindex.PartitionOf("C")
	waiting := len(h.queue)
	require.Equal(t, Passes, h.Add(one(10, c)))
	assert.Len(t, h.queue, waiting)
}

// drain forwards every due batch of h, as the release loop does.
func drain(h *Hold) {
	for b, ok := h.Next(); ok; b, ok = h.Next() {
		h.Done(b)
	}
}

// TestSharesManyTenants: with 10,000 tenants holding 1 span each and one
// holding 50, the one holding 50 gives way, to any of them, until it holds
// as little as they do; then each new tenant's batch of 2 holds the most
// and gives way itself.
func TestSharesManyTenants(t *testing.T) {
	s := newShares(20000, 1<<30)
	big := linkindex.PartitionOf("big")
	s.add(big, 50, 50)
	for i := 0; i < 10000; i++ {
		s.add(linkindex.PartitionOf(fmt.Sprint("t", i)), 1, 1)
	}
	for held := 50; held > 1; held-- {
		require.Equal(t, big, s.givingWay(linkindex.PartitionOf("t7"), 1, 1), "big holding %d", held)
		s.add(big, -1, -1)
	}
	newcomer := linkindex.PartitionOf("new")
	assert.Equal(t, newcomer, s.givingWay(newcomer, 2, 2))
	assert.False(t, s.holds(newcomer))
	s.add(big, -1, -1)
	assert.False(t, s.holds(big))
	assert.Len(t, s.heap, 10000)
	for i, sh := range s.heap {
		require.Equal(t, i, sh.at)
	}
}
