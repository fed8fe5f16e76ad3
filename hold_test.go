package spanlinksprocessor

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
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
			cfg.Backlinks.Hold = Hold{Mode: HoldAll}
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
				assert.LessOrEqual(t, p.hold.Len(), 10)
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
	cfg.Backlinks.Hold = Hold{Mode: HoldAll}
	cfg.Backlinks.Partition = PartitionConfig{ResourceAttribute: "tenant"}
	p := newTestProcessor(t, cfg, new(consumertest.TracesSink), &fakeClock{t: start})
	td := inputOf(orders(1, 2))
	setTenant(td, "B")
	a := inputOf(flood(1, 3))
	setTenant(a, "A")
	a.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
	require.NoError(t, p.ConsumeTraces(context.Background(), td))
	require.Equal(t, 2, p.hold.Waiting())
	assert.Equal(t, 2, p.hold.Share(linkindex.PartitionOf("B")))
	assert.Equal(t, 3, p.hold.Share(linkindex.PartitionOf("A")))
	assert.Equal(t, 5, p.hold.Len())
}

// TestHoldAllCopiesNoSpan holds a batch with hold: all, then renames its
// spans through the handles the caller kept: the spans released on
// shutdown carry the new names, so the hold kept the very spans it was
// given, not copies.
func TestHoldAllCopiesNoSpan(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Backlinks.Hold = Hold{Mode: HoldAll}
	require.Equal(t, HoldAll, cfg.Backlinks.Hold.Mode)
	sink := new(consumertest.TracesSink)
	p := newTestProcessor(t, cfg, sink, &fakeClock{t: start})
	ctx := context.Background()

	td := typicalBatch(0)
	var handles []ptrace.Span
	forEachSpan(td, func(s ptrace.Span) { handles = append(handles, s) })
	require.NoError(t, p.ConsumeTraces(ctx, td))
	require.Zero(t, sink.SpanCount(), "hold: all forwards nothing at once")
	for i, s := range handles {
		s.SetName(fmt.Sprint("renamed-", i))
	}
	require.NoError(t, p.Shutdown(ctx))

	var names []string
	for _, out := range sink.AllTraces() {
		forEachSpan(out, func(s ptrace.Span) { names = append(names, s.Name()) })
	}
	require.Len(t, names, len(handles))
	for i, name := range names {
		require.Equal(t, fmt.Sprint("renamed-", i), name, "span %d was copied", i)
	}
}

// TestHoldAllAllocatesPerBatch checks that holding a batch allocates the
// same whether it holds 10 spans or 1000: nothing per span.
func TestHoldAllAllocatesPerBatch(t *testing.T) {
	allocs := func(spans int) float64 {
		cfg := createDefaultConfig().(*Config)
		p := newTestProcessor(t, cfg, consumertest.NewNop(), &fakeClock{t: start})
		g := newMixGen(func(g *mixGen, td ptrace.Traces) {
			for range spans {
				g.span(td, g.ref(), "POST /orders")
			}
		})
		batches := make([]ptrace.Traces, 50)
		for i := range batches {
			batches[i] = g.next()
		}
		i := 0
		return testing.AllocsPerRun(len(batches)-1, func() {
			require.NoError(t, p.ConsumeTraces(context.Background(), batches[i]))
			i++
		})
	}
	small, large := allocs(10), allocs(1000)
	if large > small+1 {
		t.Errorf("holding 1000 spans allocates %v times, 10 spans %v times: holding allocates per span", large, small)
	}
}
