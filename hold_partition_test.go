package spanlinksprocessor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// flood adds n spans of tenant A's flood, numbered from first.
func flood(first, n int) func(td ptrace.Traces) {
	return func(td ptrace.Traces) {
		for i := first; i < first+n; i++ {
			addSpan(td, "flood", traceID(kindBatch, i), spanID(kindBatch, i), "flood")
		}
	}
}

// releasedOrders returns how many of the sink's spans are orders (tenant
// B's).
func releasedOrders(sink *consumertest.TracesSink) int {
	n := 0
	for _, td := range sink.AllTraces() {
		forEachSpan(td, func(s ptrace.Span) {
			if s.Name() == "receive-order" {
				n++
			}
		})
	}
	return n
}

// TestHoldFloodKeepsOtherTenantsHeld: with max_held_spans 10, tenant B
// holds 3 orders; tenant A then sends 40 spans, one request of 2 at a time.
// Partitioned, A's own oldest spans give way and B's stay held for the
// whole window; unpartitioned, A's flood releases B's orders early (the
// test sees what it guards against).
func TestHoldFloodKeepsOtherTenantsHeld(t *testing.T) {
	modes := withUnpartitioned()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			cfg.Backlinks.MaxHeldSpans = 10
			cfg.Backlinks.Partition = m.cfg
			clock := &fakeClock{t: start}
			sink := new(consumertest.TracesSink)
			p := newTestProcessor(t, cfg, sink, clock)
			require.NoError(t, m.send(p, "B", inputOf(orders(1, 3))))
			early := 0
			for i := 0; i < 20; i++ {
				require.NoError(t, m.send(p, "A", inputOf(flood(1+2*i, 2))))
				p.releaseDue(nil)
				assert.LessOrEqual(t, p.hold.len(), 10)
				early = max(early, releasedOrders(sink))
			}
			if m.cfg == (PartitionConfig{}) {
				assert.Equal(t, 3, early, "unpartitioned, the flood releases B's orders early")
				return
			}
			assert.Zero(t, early, "B's orders released early by A's flood")
			assert.Equal(t, 40-6, sink.SpanCount(), "A's oldest gave way: A keeps 3 requests of 2 beside B's 3")
			clock.Set(start.Add(cfg.Backlinks.Window))
			p.releaseDue(nil)
			assert.Equal(t, 3, releasedOrders(sink), "B's orders leave at the window")
			require.NoError(t, p.Shutdown(context.Background()))
			assert.Equal(t, 43, sink.SpanCount())
		})
	}
}

// TestHoldResourcePartitionsSplitARequest: with resource_attribute, one
// request carrying two tenants' resources is held as two batches, each
// counted to its tenant.
func TestHoldResourcePartitionsSplitARequest(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Backlinks.Partition = PartitionConfig{ResourceAttribute: "tenant"}
	p := newTestProcessor(t, cfg, new(consumertest.TracesSink), &fakeClock{t: start})
	td := inputOf(orders(1, 2))
	setTenant(td, "B")
	a := inputOf(flood(1, 3))
	setTenant(a, "A")
	a.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
	require.NoError(t, p.ConsumeTraces(context.Background(), td))
	require.Len(t, p.hold.queue, 2)
	assert.Equal(t, 2, p.hold.parts.by[linkindex.PartitionOf("B")].spans)
	assert.Equal(t, 3, p.hold.parts.by[linkindex.PartitionOf("A")].spans)
	assert.Equal(t, 5, p.hold.len())
}

// TestHoldGivesWayByShare: the partition holding the most, the new batch
// counted, gives way, its oldest batch first; a tenant over its share is
// the one whose spans leave, whoever sends; the new batch's partition,
// holding the most with nothing older, passes unheld.
func TestHoldGivesWayByShare(t *testing.T) {
	a, b := linkindex.PartitionOf("A"), linkindex.PartitionOf("B")
	one := func() ptrace.Traces { return inputOf(flood(1, 1)) }
	h := newHold(time.Minute, 10, 1<<30)
	require.Equal(t, holdWaits, h.add(one(), 6, 1, b, client.Info{}, start))
	for i := 0; i < 4; i++ {
		require.Equal(t, holdWaits, h.add(one(), 1, 1, a, client.Info{}, start))
	}
	// Full: A would hold 5, B holds 6: B's batch gives way.
	require.Equal(t, holdWaitsMadeDue, h.add(one(), 1, 1, a, client.Info{}, start))
	d, ok := h.next()
	require.True(t, ok)
	assert.Equal(t, b, d.part)
	h.done(d)
	drain(h)
	// A holds 5 alone; 6 more of A in one batch: A holds the most and its
	// oldest give way until the batch fits.
	require.Equal(t, holdWaitsMadeDue, h.add(one(), 6, 1, a, client.Info{}, start))
	assert.Equal(t, 6+4, h.spans)
	drain(h)
	// B sends 2, holding 2 against A's 10: A's oldest give way, one batch
	// of 1 after another, until B's fit.
	require.Equal(t, holdWaitsMadeDue, h.add(one(), 2, 1, b, client.Info{}, start))
	assert.Equal(t, 2, h.parts.by[b].spans)
	assert.Equal(t, 8, h.parts.by[a].spans)
	drain(h)
	// B sends 3 more, holding 5 against A's 8: A's last single, then its
	// batch of 6, give way: a batch leaves whole.
	require.Equal(t, holdWaitsMadeDue, h.add(one(), 3, 1, b, client.Info{}, start))
	assert.Equal(t, 5, h.spans)
	assert.NotContains(t, h.parts.by, a)
	drain(h)
	// A batch of a new tenant C of 10: C would hold the most with nothing
	// waiting, so it passes, and nothing of A or B leaves.
	c := linkindex.PartitionOf("C")
	waiting := len(h.queue)
	require.Equal(t, holdPasses, h.add(one(), 10, 1, c, client.Info{}, start))
	assert.Len(t, h.queue, waiting)
}

// drain forwards every due batch of h, as the release loop does.
func drain(h *hold) {
	for b, ok := h.next(); ok; b, ok = h.next() {
		h.done(b)
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
