package spanlinksprocessor

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TestWriteBacklinksMerges writes backlinks twice on one span, with a
// linker whose IDs are empty, over the list limit: the IDs are written as
// pcommon prints them, the lists stop at max, the counts add up.
func TestWriteBacklinksMerges(t *testing.T) {
	td := ptrace.NewTraces()
	span := addSpan(td, "order-api", traceID(kindOrder, 1), spanID(kindOrder, 1), "receive-order")
	span.Attributes().PutStr("http.request.method", "POST")
	l1 := linkindex.Linker{Ref: linkindex.Ref{TraceID: traceID(kindBatch, 1), SpanID: spanID(kindBatch, 1)}, Name: "process-batch", Error: true}
	l2 := linkindex.Linker{Name: "anonymous"} // empty IDs
	l3 := linkindex.Linker{Ref: linkindex.Ref{TraceID: traceID(kindBatch, 3), SpanID: spanID(kindBatch, 3)}, Name: "retry-batch"}

	assert.True(t, writeBacklinks(span, linkindex.Backlinks{Count: 2, ErrorCount: 1, Linkers: []linkindex.Linker{l1, l2}}, 3, true))
	assert.False(t, writeBacklinks(span, linkindex.Backlinks{Count: 4, Linkers: []linkindex.Linker{l3, l1}}, 3, true))

	attrs := span.Attributes()
	get := func(key string) pcommon.Value {
		v, ok := attrs.Get(key)
		assert.True(t, ok, key)
		return v
	}
	assert.Equal(t, int64(6), get(attrBacklinksCount).Int())
	assert.Equal(t, int64(1), get(attrBacklinksErrorCount).Int())
	assert.Equal(t, []any{l1.TraceID.String(), "", l3.TraceID.String()}, get(attrBacklinksTraceIDs).Slice().AsRaw())
	assert.Equal(t, []any{l1.SpanID.String(), "", l3.SpanID.String()}, get(attrBacklinksSpanIDs).Slice().AsRaw())
	assert.Equal(t, []any{"process-batch", "anonymous", "retry-batch"}, get(attrBacklinksSpanNames).Slice().AsRaw())
	assert.Equal(t, 6, attrs.Len())

	links := span.Links()
	if assert.Equal(t, 3, links.Len()) {
		for i, l := range []linkindex.Linker{l1, l2, l3} {
			assert.Equal(t, l.TraceID, links.At(i).TraceID())
			assert.Equal(t, l.SpanID, links.At(i).SpanID())
			assert.True(t, isBacklink(links.At(i)))
		}
	}
}

const (
	metricBacklinkSpans        = "otelcol_processor_spanlinks_backlink_spans"
	metricBacklinkSpansSkipped = "otelcol_processor_spanlinks_backlink_spans_skipped"
)

// spansConfig returns the defaults with backlinks.deliver: spans.
func spansConfig() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Backlinks.Deliver = DeliverSpans
	return cfg
}

// backlinkSpansOf returns the spans of td under the scope backlinkScope,
// with the resource each is under.
func backlinkSpansOf(td ptrace.Traces) ([]ptrace.Span, []pcommon.Resource) {
	var spans []ptrace.Span
	var res []pcommon.Resource
	forEachSpanIn(td, func(rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, s ptrace.Span) {
		if ss.Scope().Name() == backlinkScope {
			spans = append(spans, s)
			res = append(res, rs.Resource())
		}
	})
	return spans, res
}

// TestBacklinkSpanFields: one backlink span per kept valid link, with every
// field the contract names; none for a zero-ID link, a reverse link or a
// link to an unsampled trace (counted); flags 0 count as not recorded.
func TestBacklinkSpanFields(t *testing.T) {
	td := ptrace.NewTraces()
	batch := addSpan(td, "order-batcher", traceID(kindBatch, 1), spanID(kindBatch, 1), "process-batch")
	batch.SetKind(ptrace.SpanKindConsumer)
	failed(batch)
	td.ResourceSpans().At(0).Resource().Attributes().PutStr("host.name", "worker-7")
	linkTo(batch, traceID(kindOrder, 1), spanID(kindOrder, 1), flagsSampled).TraceState().FromRaw("ot=th:0")
	linkTo(batch, traceID(kindOrder, 2), spanID(kindOrder, 2), 0)              // no flags recorded: answered
	linkTo(batch, traceID(kindOrder, 3), spanID(kindOrder, 3), flagsUnsampled) // not sampled: skipped
	linkTo(batch, pcommon.TraceID{}, pcommon.SpanID{}, 0).Attributes().PutStr("k", "v")
	linkTo(batch, traceID(kindJob, 9), spanID(kindJob, 9), 0).Attributes().PutBool(attrBacklink, true)
	addSpan(td, "order-batcher", traceID(kindBatch, 1), spanID(kindBatch, 2), "charge-card")

	done := appendBacklinkSpans(td)
	assert.Equal(t, backlinkSpansDone{emitted: 2, unsampled: 1}, done)
	spans, res := backlinkSpansOf(td)
	require.Len(t, spans, 2)
	require.Equal(t, 2, td.ResourceSpans().Len(), "one resource copy for the linker's resource")
	assert.Equal(t, map[string]any{"service.name": "order-batcher", "host.name": "worker-7"}, res[0].Attributes().AsRaw())

	s := spans[0]
	assert.Equal(t, traceID(kindOrder, 1), s.TraceID())
	assert.Equal(t, spanID(kindOrder, 1), s.ParentSpanID())
	assert.Equal(t, backlinkSpanID(batch.TraceID(), batch.SpanID(), s.TraceID(), s.ParentSpanID()), s.SpanID())
	assert.Equal(t, "spanlinks.backlink process-batch", s.Name())
	assert.Equal(t, ptrace.SpanKindInternal, s.Kind())
	assert.Equal(t, batch.StartTimestamp(), s.StartTimestamp())
	assert.Equal(t, batch.EndTimestamp(), s.EndTimestamp())
	assert.Equal(t, ptrace.StatusCodeError, s.Status().Code())
	assert.Equal(t, "payment provider unavailable", s.Status().Message())
	assert.Equal(t, "ot=th:0", s.TraceState().AsRaw())
	assert.Equal(t, uint32(0x01), s.Flags())
	require.Equal(t, 1, s.Links().Len())
	l := s.Links().At(0)
	assert.Equal(t, batch.TraceID(), l.TraceID())
	assert.Equal(t, batch.SpanID(), l.SpanID())
	assert.Equal(t, uint32(w3cSampled), l.Flags())
	assert.True(t, isBacklink(l))
	assert.Equal(t, map[string]any{
		attrBacklinksCount:      int64(1),
		attrBacklinksErrorCount: int64(1),
		attrBacklinksTraceIDs:   []any{batch.TraceID().String()},
		attrBacklinksSpanIDs:    []any{batch.SpanID().String()},
		attrBacklinksSpanNames:  []any{"process-batch"},
	}, s.Attributes().AsRaw())
	assert.Equal(t, traceID(kindOrder, 2), spans[1].TraceID())
	assert.Equal(t, uint32(0), spans[1].Flags())
}

// TestBacklinkSpansNotAnswered: backlink spans fed in again, here or in a
// later collector, get no backlink span of their own: their one link is a
// reverse link.
func TestBacklinkSpansNotAnswered(t *testing.T) {
	td := inputOf(func(td ptrace.Traces) { batchSpan(td, 1, 1, 3) })
	require.Equal(t, 3, appendBacklinkSpans(td).emitted)
	only := ptrace.NewTraces()
	td.ResourceSpans().At(1).CopyTo(only.ResourceSpans().AppendEmpty())
	assert.Equal(t, backlinkSpansDone{}, appendBacklinkSpans(only))
	assert.Equal(t, 3, only.SpanCount())
}

// TestBacklinkSpanID pins the span ID: the first 8 bytes of the SHA-256 of
// linker trace ID, linker span ID, target trace ID, target span ID.
func TestBacklinkSpanID(t *testing.T) {
	lt, ls := traceID(kindBatch, 1), spanID(kindBatch, 1)
	tt, ts := traceID(kindOrder, 1), spanID(kindOrder, 1)
	sum := sha256.Sum256(slices.Concat(lt[:], ls[:], tt[:], ts[:]))
	id := backlinkSpanID(lt, ls, tt, ts)
	assert.Equal(t, pcommon.SpanID(sum[:8]), id)
	assert.Equal(t, id, backlinkSpanID(lt, ls, tt, ts), "the same on every call")
	assert.NotEqual(t, id, backlinkSpanID(tt, ts, lt, ls), "linker and target are not interchangeable")
	seen := map[pcommon.SpanID]bool{}
	for i := 1; i <= 10000; i++ {
		id := backlinkSpanID(lt, ls, traceID(kindOrder, i), spanID(kindOrder, i))
		require.False(t, id.IsEmpty())
		require.False(t, seen[id])
		seen[id] = true
	}
}

// TestBacklinkSpanNameCut: a long linker name is cut to 256 bytes at a rune
// boundary, in the name and in span_names.
func TestBacklinkSpanNameCut(t *testing.T) {
	name := strings.Repeat("a", 255) + "é" + strings.Repeat("b", 1000)
	td := inputOf(func(td ptrace.Traces) {
		s := addSpan(td, "svc", traceID(kindBatch, 1), spanID(kindBatch, 1), name)
		linkTo(s, traceID(kindOrder, 1), spanID(kindOrder, 1), flagsSampled)
	})
	appendBacklinkSpans(td)
	spans, _ := backlinkSpansOf(td)
	require.Len(t, spans, 1)
	assert.Equal(t, backlinkNamePrefix+strings.Repeat("a", 255), spans[0].Name())
	v, _ := spans[0].Attributes().Get(attrBacklinksSpanNames)
	assert.Equal(t, strings.Repeat("a", 255), v.Slice().At(0).Str())
}

// TestDeliverSpansProcessor: with deliver: spans no index, hold or learner
// is built; backlink spans leave in the caller's call, which gets the next
// consumer's error; their attributes are not stripped; the metrics count
// them and the skipped links.
func TestDeliverSpansProcessor(t *testing.T) {
	set, tel := telemetrySettings(t)
	sink := new(consumertest.TracesSink)
	p := newTestProcessorWith(t, set, spansConfig(), sink, &fakeClock{t: start})
	assert.Nil(t, p.index)
	assert.Nil(t, p.hold)
	assert.Nil(t, p.learn)
	ctx := context.Background()
	require.NoError(t, p.Start(ctx, nil))
	in := inputOf(func(td ptrace.Traces) {
		orders(1, 2)(td)
		s := batchSpan(td, 1, 1, 2)
		linkTo(s, traceID(kindOrder, 3), spanID(kindOrder, 3), flagsUnsampled)
		s.Attributes().PutInt(attrBacklinksCount, 99) // forged: stripped from the batch span
	})
	require.NoError(t, p.ConsumeTraces(ctx, in))
	require.Len(t, sink.AllTraces(), 1, "forwarded in the caller's call")
	out := sink.AllTraces()[0]
	assert.Equal(t, 5, out.SpanCount())
	spans, _ := backlinkSpansOf(out)
	require.Len(t, spans, 2)
	for _, s := range spans {
		v, ok := s.Attributes().Get(attrBacklinksCount)
		require.True(t, ok, "a backlink span keeps its attributes")
		assert.Equal(t, int64(1), v.Int())
	}
	assert.Equal(t, int64(2), metricValue(t, tel, metricBacklinkSpans, ""))
	assert.Equal(t, int64(1), metricValue(t, tel, metricBacklinkSpansSkipped, skipUnsampled))
	require.NoError(t, p.Shutdown(ctx))

	p = newTestProcessor(t, spansConfig(), consumertest.NewErr(errors.New("refused")), &fakeClock{t: start})
	require.EqualError(t, p.ConsumeTraces(ctx, inputOf(func(td ptrace.Traces) { batchSpan(td, 1, 1, 2) })), "refused")
}

// TestDeliverConfig: deliver takes one of two words; with spans, the keys
// that then mean nothing are refused when set, each named with its value;
// with backlinks disabled, deliver is not checked, like every backlinks key.
func TestDeliverConfig(t *testing.T) {
	require.NoError(t, spansConfig().Validate())
	cfg := createDefaultConfig().(*Config)
	cfg.Backlinks.Deliver = "span"
	require.EqualError(t, cfg.Validate(), `backlinks.deliver: "span" is not "attributes" or "spans"`)
	cfg.Backlinks.Enabled = false
	require.NoError(t, cfg.Validate())

	cfg = spansConfig()
	b := &cfg.Backlinks
	b.Window = 10 * time.Second
	b.Hold = Hold{Mode: HoldAll}
	b.MaxHeldSpans = 5
	b.MaxHeldBytes = 5
	b.MaxIndexEntries = 5
	b.MaxBacklinksPerSpan = 5
	b.EmitLinks = true
	b.Partition.MetadataKey = "tenant"
	b.Index.Backend = IndexRedis
	b.Index.Redis.Password = "hunter2"
	err := cfg.Validate()
	require.Error(t, err)
	for _, key := range []string{"window: 10s", "hold: all", "max_held_spans: 5", "max_held_bytes: 5",
		"max_index_entries: 5", "max_backlinks_per_span: 5", "emit_links: true",
		"partition.metadata_key: tenant", "index.backend: redis"} {
		assert.Contains(t, err.Error(), "backlinks."+key+" means nothing with backlinks.deliver: spans")
	}
	assert.NotContains(t, err.Error(), "hunter2")
}

// requireSpansOnceEach checks that every span fed in came out exactly once
// and that any other span out is a backlink span (deliver: spans), each
// once; it returns how many backlink spans came out.
func requireSpansOnceEach(t *testing.T, steps []step, out ptrace.Traces) int {
	t.Helper()
	in := map[string]int{}
	for _, s := range steps {
		for _, id := range spanKeys(s.input) {
			in[id]++
		}
	}
	got := map[string]int{}
	backlinks := map[pcommon.SpanID]bool{}
	forEachSpanIn(out, func(_ ptrace.ResourceSpans, ss ptrace.ScopeSpans, s ptrace.Span) {
		if ss.Scope().Name() == backlinkScope && strings.HasPrefix(s.Name(), backlinkNamePrefix) {
			require.False(t, backlinks[s.SpanID()], "backlink span %s twice", s.SpanID())
			backlinks[s.SpanID()] = true
			return
		}
		got[s.TraceID().String()+"/"+s.SpanID().String()+"/"+s.Name()]++
	})
	require.Equal(t, in, got, "spans in and spans out differ")
	return len(backlinks)
}

// BenchmarkAppendBacklinkSpans: 500 spans of 5 links each, as make
// bench-e2e sends them; reported per backlink span.
func BenchmarkAppendBacklinkSpans(b *testing.B) {
	in := inputOf(func(td ptrace.Traces) {
		for i := 1; i <= 500; i++ {
			s := addSpan(td, "svc", traceID(kindBatch, i), spanID(kindBatch, i), "lets-go")
			for j := 1; j <= 5; j++ {
				linkTo(s, traceID(kindOrder, i*10+j), spanID(kindOrder, i*10+j), 0x101)
			}
		}
	})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer() // a fresh copy each time: the last one's spans are garbage, as in a collector
		td := ptrace.NewTraces()
		in.CopyTo(td)
		b.StartTimer()
		appendBacklinkSpans(td)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*2500), "ns/backlink-span")
}
