package learner

import (
	"context"
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var start = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// ids returns the trace and span IDs numbered n.
func ids(n int) (pcommon.TraceID, pcommon.SpanID) {
	var t pcommon.TraceID
	var s pcommon.SpanID
	t[0], s[0] = 0xa0, 0xa0
	binary.BigEndian.PutUint32(t[12:], uint32(n))
	binary.BigEndian.PutUint32(s[4:], uint32(n))
	return t, s
}

// key returns the Key of the span numbered n.
func key(n int) linkindex.Key { return linkindex.KeyOf(ids(n)) }

// orders returns the receive-order server spans of order-api numbered
// first to last.
func orders(first, last int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "order-api")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	for i := first; i <= last; i++ {
		s := spans.AppendEmpty()
		t, id := ids(i)
		s.SetTraceID(t)
		s.SetSpanID(id)
		s.SetName("receive-order")
		s.SetKind(ptrace.SpanKindServer)
	}
	return td
}

// linksTo gathers one linker's links to the spans numbered ns.
func linksTo(ns ...int) *linkindex.Links {
	var b linkindex.Links
	for _, n := range ns {
		b.Link(key(n))
	}
	b.Linker(key(1_000_000), "process-batch", false)
	return &b
}

// TestLearnerSpanBound: past its limit the learner forgets the spans that
// passed first; a link to one of them is no longer a miss.
func TestLearnerSpanBound(t *testing.T) {
	l := New(Options{Auto: true, Window: 30 * time.Second, Limit: 3})
	l.Passed(orders(1, 5), start, nil)
	spans, classes := l.Remembered()
	assert.Equal(t, 3, spans)
	assert.Equal(t, 1, classes)
	b := linksTo(1, 2, 3, 4, 5)
	assert.Equal(t, 3, l.Links(b, start), "orders 3-5 are remembered, 1 and 2 evicted")
	assert.Equal(t, []Class{{Service: "order-api", Name: "receive-order", Kind: ptrace.SpanKindServer}}, l.HeldClasses(),
		"hold: auto holds the class the links targeted")

	// A window later every span is forgotten.
	l.Expire(start.Add(30 * time.Second))
	spans, _ = l.Remembered()
	assert.Zero(t, spans)
	assert.Zero(t, l.Links(b, start.Add(30*time.Second)))
}

// TestLearnerWindowExact: a span that passed a window or more before a
// link is not a miss, even before the release loop expires it.
func TestLearnerWindowExact(t *testing.T) {
	l := New(Options{Window: 30 * time.Second, Limit: 10})
	l.Passed(orders(1, 1), start, nil)
	b := linksTo(1)
	assert.Equal(t, 1, l.Links(b, start.Add(30*time.Second-1)))
	assert.Zero(t, l.Links(b, start.Add(30*time.Second)))
	assert.Empty(t, l.HeldClasses(), "only hold: auto learns classes")
}

// TestLearnerForgets: a class no link has targeted for forgetWindows
// windows is no longer held.
func TestLearnerForgets(t *testing.T) {
	const window = 30 * time.Second
	l := New(Options{Auto: true, Window: window, Limit: 10})
	td := orders(1, 1)
	l.Passed(td, start, nil)
	require.Equal(t, 1, l.Links(linksTo(1), start))
	rs := td.ResourceSpans().At(0)
	span := rs.ScopeSpans().At(0).Spans().At(0)
	assert.True(t, l.Match(t.Context(), rs, rs.ScopeSpans().At(0), span))
	l.Expire(start.Add(forgetWindows*window - time.Second))
	assert.True(t, l.Match(t.Context(), rs, rs.ScopeSpans().At(0), span), "linked within forgetWindows windows")
	l.Expire(start.Add(forgetWindows * window))
	assert.False(t, l.Match(t.Context(), rs, rs.ScopeSpans().At(0), span), "forgotten after forgetWindows windows")
}

// TestLearnerMarker: under hold: auto a span that passed with backlinks
// (its linker came first) makes its class held; so does one released.
func TestLearnerMarker(t *testing.T) {
	l := New(Options{Auto: true, Window: 30 * time.Second, Limit: 10, Marker: "spanlinks.backlinks.count"})
	td := orders(1, 1)
	l.Passed(td, start, nil)
	assert.Empty(t, l.HeldClasses())
	td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().PutInt("spanlinks.backlinks.count", 1)
	l.Passed(td, start, nil)
	assert.Len(t, l.HeldClasses(), 1)

	l = New(Options{Auto: true, Window: 30 * time.Second, Limit: 10, Marker: "spanlinks.backlinks.count"})
	l.Released(td, start)
	assert.Len(t, l.HeldClasses(), 1)
}

// TestClassTableBound: past its limit a new class takes the slot of one
// not used since the clock hand passed; refs to the old class go stale.
func TestClassTableBound(t *testing.T) {
	tab := classTable{ids: map[Class]int32{}, limit: 2}
	a := tab.intern(Class{Service: "a", Name: "x"})
	b := tab.intern(Class{Service: "b", Name: "x"})
	assert.NotEqual(t, a, b, "same name, two services: two classes")
	c := tab.intern(Class{Service: "c", Name: "x"})
	assert.Len(t, tab.slots, 2)
	assert.Len(t, tab.ids, 2)
	assert.Nil(t, tab.get(a), "a, the oldest, was evicted")
	require.NotNil(t, tab.get(b))
	require.NotNil(t, tab.get(c))
	assert.Equal(t, "c", tab.get(c).key.Service)
}

// TestClassOfCutsNames: a hostile name cannot grow the class table: names
// are cut to maxClassNameBytes on a rune boundary.
func TestClassOfCutsNames(t *testing.T) {
	long := "é"
	for len(long) < 2*maxClassNameBytes {
		long += "é"
	}
	td := orders(1, 1)
	rs := td.ResourceSpans().At(0)
	rs.Resource().Attributes().PutStr("service.name", long)
	s := rs.ScopeSpans().At(0).Spans().At(0)
	s.SetName(long)
	k := classOf(rs, s)
	assert.LessOrEqual(t, len(k.Name), maxClassNameBytes)
	assert.Greater(t, len(k.Name), maxClassNameBytes-2)
	assert.Equal(t, k.Name, k.Service)
	assert.True(t, len(k.Name)%2 == 0, "cut between two-byte runes")
}

// BenchmarkLearnerMemory measures the heap the learner takes per span it
// remembers ("bytes/remembered-span"): 100k server spans of one class
// that passed unheld, remembered for the window. The spans themselves are
// made before the measure and not counted.
func BenchmarkLearnerMemory(b *testing.B) {
	const batches = 1000 // 100k spans
	in := make([]ptrace.Traces, batches)
	for i := range in {
		in[i] = orders(i*100+1, i*100+100)
	}
	var per float64
	for b.Loop() {
		base := liveHeap()
		l := New(Options{Auto: true, Window: 30 * time.Second, Limit: 1000000})
		for _, td := range in {
			l.Passed(td, start, nil)
		}
		after := liveHeap()
		if n, _ := l.Remembered(); n != batches*100 {
			b.Fatalf("remembered %d spans, want %d", n, batches*100)
		}
		per = float64(after-base) / (batches * 100)
		runtime.KeepAlive(l)
	}
	b.ReportMetric(per, "bytes/remembered-span")
}

// BenchmarkLearnerPassed measures remembering a batch of 100 spans in the
// steady state, the oldest forgotten as new ones come ("ns/span").
func BenchmarkLearnerPassed(b *testing.B) {
	l := New(Options{Auto: true, Window: 30 * time.Second, Limit: 10000})
	in := make([]ptrace.Traces, 200) // 20k distinct spans: twice the limit
	for i := range in {
		in[i] = orders(i*100+1, i*100+100)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Passed(in[i%len(in)], start, nil)
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i*100), "ns/span")
}

// liveHeap returns the live heap, with garbage collected.
func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestLearnerWarmup: under hold: auto a start that knows no class warms up
// for Warmup; a link to a span held then teaches its class at once,
// without a miss, until the span is a window old. A start with a class
// restored, or another hold mode, does not warm up.
func TestLearnerWarmup(t *testing.T) {
	o := Options{Auto: true, Window: 30 * time.Second, Limit: 100, Warmup: 31 * time.Second, MaxHeld: 100}
	l := New(o)
	assert.False(t, l.Warming(start), "not before Start")
	require.True(t, l.Start(start))
	assert.True(t, l.Warming(start.Add(31*time.Second-1)))
	assert.False(t, l.Warming(start.Add(31*time.Second)))

	l.Held(orders(1, 2), start, nil)
	assert.Zero(t, l.Links(linksTo(1), start.Add(time.Second)), "a link to a held span is not missed")
	assert.Equal(t, []Class{{Service: "order-api", Name: "receive-order", Kind: ptrace.SpanKindServer}}, l.HeldClasses())

	l.Expire(start.Add(31 * time.Second))
	assert.Nil(t, l.held.ring, "a window after the warm-up its spans are forgotten, and their memory")

	late := New(o)
	require.True(t, late.Start(start))
	late.Held(orders(1, 2), start, nil)
	assert.Zero(t, late.Links(linksTo(2), start.Add(30*time.Second)))
	assert.Empty(t, late.HeldClasses(), "a held span a window old teaches nothing")

	restored := New(o)
	restored.Restore([]Learnt{{Class: Class{Service: "order-api", Name: "receive-order", Kind: ptrace.SpanKindServer}, Linked: start}}, start)
	assert.False(t, restored.Start(start), "a class restored: no warm-up")
	assert.False(t, restored.Warming(start))

	o.Auto = false
	assert.False(t, New(o).Start(start), "only hold: auto warms up")
}

// BenchmarkLearnerPassedTelemetrygen measures remembering batches of 500
// spans as telemetrygen sends them, a client and a server span name in
// turn, at the default bound of a million spans, in the steady state
// ("ns/span").
func BenchmarkLearnerPassedTelemetrygen(b *testing.B) {
	const batch, limit = 500, 1000000
	l := New(Options{Auto: true, Window: 30 * time.Second, Limit: limit})
	in := make([]ptrace.Traces, 2*limit/batch) // twice the limit
	for i := range in {
		in[i] = orders(i*batch+1, i*batch+batch)
		spans := in[i].ResourceSpans().At(0).ScopeSpans().At(0).Spans()
		for k := 1; k < spans.Len(); k += 2 {
			spans.At(k).SetName("okey-dokey-0")
			spans.At(k).SetKind(ptrace.SpanKindClient)
		}
	}
	for _, td := range in[:len(in)/2] {
		l.Passed(td, start, nil)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Passed(in[i%len(in)], start, nil)
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i*batch), "ns/span")
}

// TestForResource: hold: auto decides once per resource whose service has
// no held class (nil: skip it), and otherwise per span, from the classes
// held when it is asked; Match agrees.
func TestForResource(t *testing.T) {
	ctx := context.Background()
	l := New(Options{Auto: true, Window: 30 * time.Second, Limit: 100})
	td := orders(1, 1)
	rs := td.ResourceSpans().At(0)
	span := rs.ScopeSpans().At(0).Spans().At(0)
	assert.Nil(t, l.ForResource(ctx, rs), "nothing held")

	l.Passed(orders(2, 2), start, nil)
	l.Links(linksTo(2), start.Add(time.Second)) // a miss: receive-order is held
	m := l.ForResource(ctx, rs)
	require.NotNil(t, m)
	assert.True(t, m(span))
	assert.True(t, l.Match(ctx, rs, rs.ScopeSpans().At(0), span))
	span.SetName("GET /health")
	assert.False(t, m(span), "another class of the same service")
	assert.False(t, l.Match(ctx, rs, rs.ScopeSpans().At(0), span))

	rs.Resource().Attributes().PutStr("service.name", "refund-api")
	assert.Nil(t, l.ForResource(ctx, rs), "a service with no held class is skipped")

	l.Expire(start.Add(forgetWindows*30*time.Second + 2*time.Second))
	rs.Resource().Attributes().PutStr("service.name", "order-api")
	assert.Nil(t, l.ForResource(ctx, rs), "forgotten: the snapshot follows")
}
