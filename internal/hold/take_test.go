package hold

import (
	"context"
	"testing"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// batch returns spans named names under one resource per tenant of
// tenants, in order, each resource with one scope.
func batch(tenants []string, names ...string) ptrace.Traces {
	td := ptrace.NewTraces()
	for _, tenant := range tenants {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("tenant", tenant)
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("scope-" + tenant)
		for _, n := range names {
			ss.Spans().AppendEmpty().SetName(n)
		}
	}
	return td
}

// names lists the span names of td, in order.
func names(td ptrace.Traces) []string {
	var out []string
	for i := range td.ResourceSpans().Len() {
		sss := td.ResourceSpans().At(i).ScopeSpans()
		for j := range sss.Len() {
			spans := sss.At(j).Spans()
			for k := range spans.Len() {
				out = append(out, spans.At(k).Name())
			}
		}
	}
	return out
}

func matcher(t *testing.T, conds ...string) *Matcher {
	t.Helper()
	m, err := NewMatcher(conds, componenttest.NewNopTelemetrySettings())
	require.NoError(t, err)
	return m
}

// TestTakeAll: with no chooser every span moves, resources whole.
func TestTakeAll(t *testing.T) {
	td := batch([]string{"a", "b"}, "x", "y")
	held, n := Take(context.Background(), td, nil)
	assert.Equal(t, 4, n)
	assert.Equal(t, 0, td.ResourceSpans().Len())
	assert.Equal(t, []string{"x", "y", "x", "y"}, names(held))
}

// TestTakeChosen: the spans a Matcher chooses move under copies of their
// resource and scope; what they leave empty is removed; the rest stays.
func TestTakeChosen(t *testing.T) {
	td := batch([]string{"a", "b"}, "x", "y")
	td.ResourceSpans().At(1).ScopeSpans().At(0).Spans().RemoveIf(func(s ptrace.Span) bool { return s.Name() == "y" })
	held, n := Take(context.Background(), td, matcher(t, `name == "x"`))
	assert.Equal(t, 2, n)
	assert.Equal(t, []string{"x", "x"}, names(held))
	assert.Equal(t, []string{"y"}, names(td), "b's resource, left empty, is removed")
	require.Equal(t, 2, held.ResourceSpans().Len())
	v, _ := held.ResourceSpans().At(1).Resource().Attributes().Get("tenant")
	assert.Equal(t, "b", v.Str())
	assert.Equal(t, "scope-b", held.ResourceSpans().At(1).ScopeSpans().At(0).Scope().Name())
}

// TestMatcherRefusesBadConditions: the error names the condition.
func TestMatcherRefusesBadConditions(t *testing.T) {
	_, err := NewMatcher([]string{`name == "x"`, `name ==`}, componenttest.NewNopTelemetrySettings())
	require.ErrorContains(t, err, `hold[1]: OTTL condition "name =="`)
}

// TestSplit: by resource, a batch of two tenants is split in two, each
// counted; otherwise it is one part, the batch itself.
func TestSplit(t *testing.T) {
	partOf := func(rs ptrace.ResourceSpans) linkindex.Partition {
		v, _ := rs.Resource().Attributes().Get("tenant")
		return linkindex.PartitionOf(v.Str())
	}
	td := batch([]string{"a", "b", "a"}, "x", "y")
	var parts []Part
	Split(td, 6, true, partOf, func(p Part) { parts = append(parts, p) })
	require.Len(t, parts, 2)
	assert.Equal(t, linkindex.PartitionOf("a"), parts[0].Part)
	assert.Equal(t, 4, parts[0].Spans)
	assert.Equal(t, 4, parts[0].Traces.SpanCount())
	assert.Equal(t, linkindex.PartitionOf("b"), parts[1].Part)
	assert.Equal(t, 2, parts[1].Spans)

	td = batch([]string{"a", "b"}, "x")
	parts = nil
	Split(td, 2, false, partOf, func(p Part) { parts = append(parts, p) })
	require.Len(t, parts, 1)
	assert.Equal(t, td, parts[0].Traces, "one partition: the batch itself")
	assert.Equal(t, linkindex.PartitionOf("a"), parts[0].Part, "the first resource's")
}

// BenchmarkHoldCycle measures a batch's way through the hold: Add, Expire
// making it due, Next and Done, with the hold full, so that every Add
// makes one older batch due.
func BenchmarkHoldCycle(b *testing.B) {
	h := New(time.Minute, 1000, 1<<30)
	now := start
	for range 10 {
		h.Add(Batch{Traces: ptrace.NewTraces(), Spans: 100, Bytes: 1, Arrived: now})
	}
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Millisecond)
		h.Add(Batch{Traces: ptrace.NewTraces(), Spans: 100, Bytes: 1, Arrived: now})
		for d, ok := h.Next(); ok; d, ok = h.Next() {
			h.Done(d)
		}
	}
}

// BenchmarkTakeChosen measures Take with a Matcher over a batch of 100
// spans of which one in ten is held.
func BenchmarkTakeChosen(b *testing.B) {
	m, err := NewMatcher([]string{`name == "held"`}, componenttest.NewNopTelemetrySettings())
	require.NoError(b, err)
	in := batch([]string{"a"}, "x", "x", "x", "x", "x", "x", "x", "x", "x", "held")
	for range 9 {
		batch([]string{"a"}, "x", "x", "x", "x", "x", "x", "x", "x", "x", "held").ResourceSpans().MoveAndAppendTo(in.ResourceSpans())
	}
	b.ReportAllocs()
	for b.Loop() {
		td := ptrace.NewTraces()
		in.CopyTo(td)
		if _, n := Take(context.Background(), td, m); n != 10 {
			b.Fatalf("took %d spans, want 10", n)
		}
	}
}
