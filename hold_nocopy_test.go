package spanlinksprocessor

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TestHoldAllCopiesNoSpan holds a batch with hold: all, then renames its
// spans through the handles the caller kept: the spans released on
// shutdown carry the new names, so the hold kept the very spans it was
// given, not copies.
func TestHoldAllCopiesNoSpan(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
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
