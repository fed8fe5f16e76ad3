package spanlinksprocessor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/spanlinks/spanlinksprocessor/internal/hold"
	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
)

// Names of the processor's metrics, as the collector exports them
// (metadata.yaml's keys with the otelcol_ prefix).
const (
	metricLinksDropped          = "otelcol_processor_spanlinks_links_dropped"
	metricLinkAttributesDropped = "otelcol_processor_spanlinks_link_attributes_dropped"
	metricBatchSpans            = "otelcol_processor_spanlinks_batch_spans"
	metricBacklinkedSpans       = "otelcol_processor_spanlinks_backlinked_spans"
	metricHeldSpans             = "otelcol_processor_spanlinks_held_spans"
	metricReleasedSpans         = "otelcol_processor_spanlinks_released_spans"
	metricReleaseErrors         = "otelcol_processor_spanlinks_release_errors"
	metricIndexEntries          = "otelcol_processor_spanlinks_index_entries"
	metricIndexEvictions        = "otelcol_processor_spanlinks_index_evictions"
	metricIndexFailures         = "otelcol_processor_spanlinks_index_failures"
	metricMissedBacklinks       = "otelcol_processor_spanlinks_missed_backlinks"
)

// allMetrics lists every metric of the processor.
var allMetrics = []string{
	metricLinksDropped, metricLinkAttributesDropped, metricBatchSpans, metricBacklinkedSpans,
	metricHeldSpans, metricReleasedSpans, metricReleaseErrors, metricIndexEntries, metricIndexEvictions,
	metricIndexFailures, metricMissedBacklinks, metricBacklinkSpans, metricBacklinkSpansSkipped,
	metricStoredSpans, metricReplayedSpans, metricStorageCorrupt, metricStorageFails,
}

// spanTotals adds up, over the spans of td, what the metrics count.
type spanTotals struct {
	spans, droppedLinks, linkDroppedAttrs int64
	rejected, batch, backlinked           int64
	backlinkSpans                         int64 // emitted under deliver: spans; counted apart
}

func totals(td ptrace.Traces) spanTotals {
	var t spanTotals
	forEachSpanIn(td, func(_ ptrace.ResourceSpans, ss ptrace.ScopeSpans, s ptrace.Span) {
		if ss.Scope().Name() == backlinkScope && strings.HasPrefix(s.Name(), backlinkNamePrefix) {
			t.backlinkSpans++
			return
		}
		t.spans++
		t.droppedLinks += int64(s.DroppedLinksCount())
		for i := 0; i < s.Links().Len(); i++ {
			t.linkDroppedAttrs += int64(s.Links().At(i).DroppedAttributesCount())
		}
		a := s.Attributes()
		if v, ok := a.Get(attrLinksInvalid); ok {
			t.rejected += v.Int()
		}
		if _, ok := a.Get(attrLinksTotal); ok {
			t.batch++
		}
		if _, ok := a.Get(attrBacklinksCount); ok {
			t.backlinked++
		}
	})
	return t
}

// TestMetricsAgreeWithSpans runs every golden scenario with an in-memory
// metric reader: each figure agrees with the spans that came out.
func TestMetricsAgreeWithSpans(t *testing.T) {
	for _, sc := range loadScenarios(t) {
		t.Run(sc.name, func(t *testing.T) {
			set, tel := telemetrySettings(t)
			cfg := sc.config(t)

			in := ptrace.NewTraces()
			for _, s := range sc.steps {
				for i := 0; i < s.input.ResourceSpans().Len(); i++ {
					s.input.ResourceSpans().At(i).CopyTo(in.ResourceSpans().AppendEmpty())
				}
			}
			out := sc.runWith(t, set, cfg)
			before, after := totals(in), totals(out)

			dropped := metricValue(t, tel, metricLinksDropped, "")
			assert.Equal(t, after.droppedLinks-before.droppedLinks, dropped, "links dropped = growth of DroppedLinksCount")
			rejected := metricValue(t, tel, metricLinksDropped, dropInvalid) +
				metricValue(t, tel, metricLinksDropped, dropDuplicate) +
				metricValue(t, tel, metricLinksDropped, dropSelf)
			assert.Equal(t, after.rejected, rejected, "invalid+duplicate+self = sum of spanlinks.links.invalid")
			assert.Equal(t, dropped-rejected, metricValue(t, tel, metricLinksDropped, dropLimit))
			assert.Equal(t, after.linkDroppedAttrs-before.linkDroppedAttrs, metricValue(t, tel, metricLinkAttributesDropped, ""))
			assert.Equal(t, after.batch, metricValue(t, tel, metricBatchSpans, ""))
			assert.Equal(t, after.backlinked, metricValue(t, tel, metricBacklinkedSpans, ""))
			assert.Equal(t, after.backlinkSpans, metricValue(t, tel, metricBacklinkSpans, ""))
			if cfg.Backlinks.Hold.Mode != HoldAuto { // what auto holds depends on what it learnt: TestMetricsByReason pins it
				assert.Equal(t, heldIn(t, cfg, in), metricValue(t, tel, metricReleasedSpans, ""), "every held span is released once")
			}
			assert.Zero(t, metricValue(t, tel, metricReleaseErrors, ""))
		})
	}
}

// heldIn counts the spans of td that cfg holds.
func heldIn(t *testing.T, cfg *Config, td ptrace.Traces) int64 {
	b := cfg.Backlinks
	if !b.Enabled || b.Hold.Mode == HoldNone || b.Deliver == DeliverSpans {
		return 0
	}
	if b.Hold.Mode == HoldAll {
		return int64(td.SpanCount())
	}
	m, err := hold.NewMatcher(b.Hold.Conditions, componenttest.NewNopTelemetrySettings())
	require.NoError(t, err)
	in := ptrace.NewTraces()
	td.CopyTo(in)
	_, n := hold.Take(context.Background(), in, m)
	return int64(n)
}

// TestMetricsByReason pins the reasons in the scenarios built to show them.
func TestMetricsByReason(t *testing.T) {
	tests := []struct {
		scenario, metric, reason string
		want                     int64
	}{
		{"invalid-links", metricLinksDropped, dropInvalid, 2},
		{"duplicate-links", metricLinksDropped, dropDuplicate, 2},
		{"self-link", metricLinksDropped, dropSelf, 2},
		{"truncate-sample", metricLinksDropped, dropLimit, 172},
		{"link-attribute-limit", metricLinkAttributesDropped, "", 3},
		{"hold-overflow", metricReleasedSpans, hold.ReasonCapacity, 3},
		{"hold-overflow", metricReleasedSpans, hold.ReasonWindow, 4},
		{"hold-bytes", metricReleasedSpans, hold.ReasonCapacity, 2},
		{"hold-bytes", metricReleasedSpans, hold.ReasonFull, 1},
		{"hold-bytes", metricReleasedSpans, hold.ReasonWindow, 4},
		{"shutdown-held", metricReleasedSpans, hold.ReasonShutdown, 4},
		{"shutdown-held", metricReleasedSpans, hold.ReasonWindow, 0},
		{"origin-linked-by-40", metricBacklinkedSpans, "", 1},
		{"order-batch-backlinks", metricMissedBacklinks, "", 0},
		{"hold-conditions", metricMissedBacklinks, "", 0},
		{"hold-none", metricMissedBacklinks, "", 2},
		{"hold-auto-origin-first", metricMissedBacklinks, "", 2},
		{"hold-auto-linker-first", metricMissedBacklinks, "", 0},
		{"hold-auto-forget", metricMissedBacklinks, "", 1},
		{"hold-auto-two-services", metricMissedBacklinks, "", 1},
		{"hold-auto-never-linked", metricMissedBacklinks, "", 0},
		{"hold-auto-origin-first", metricReleasedSpans, "", 2},
		{"hold-auto-linker-first", metricReleasedSpans, "", 1},
		{"hold-auto-forget", metricReleasedSpans, hold.ReasonWindow, 2},
		{"hold-auto-two-services", metricReleasedSpans, "", 1},
		{"hold-auto-never-linked", metricReleasedSpans, "", 0},
		{"hold-auto-start-up", metricMissedBacklinks, "", 0},
		{"hold-auto-start-up", metricReleasedSpans, hold.ReasonWindow, 6},
		{"hold-auto-stored-classes", metricMissedBacklinks, "", 0},
		{"hold-auto-stored-classes", metricReplayedSpans, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.scenario+"/"+tt.metric+"/"+tt.reason, func(t *testing.T) {
			set, tel := telemetrySettings(t)
			sc := scenarioNamed(t, tt.scenario)
			sc.runWith(t, set, sc.config(t))
			assert.Equal(t, tt.want, metricValue(t, tel, tt.metric, tt.reason))
		})
	}
}

// TestGauges reads the hold and index gauges while the processor runs:
// spans held, then released by the window, and index entries expiring.
func TestGauges(t *testing.T) {
	set, tel := telemetrySettings(t)
	clock := &fakeClock{t: start}
	p := newTestProcessorWith(t, set, holdAllConfig(), consumertest.NewNop(), clock)
	ctx := context.Background()
	require.NoError(t, p.ConsumeTraces(ctx, inputOf(orders(1, 7))))
	require.NoError(t, p.ConsumeTraces(ctx, inputOf(func(td ptrace.Traces) { batchSpan(td, 1, 1, 7) })))
	assert.Equal(t, int64(8), metricValue(t, tel, metricHeldSpans, ""))
	assert.Equal(t, int64(7), metricValue(t, tel, metricIndexEntries, ""))
	assert.Zero(t, metricValue(t, tel, metricIndexEvictions, ""))

	// At the window's end the spans leave, with the backlinks of the batch
	// that arrived at the same instant as the orders.
	window := p.cfg.Backlinks.Window
	clock.Set(start.Add(window))
	p.releaseDue(nil)
	assert.Zero(t, metricValue(t, tel, metricHeldSpans, ""))
	assert.Equal(t, int64(8), metricValue(t, tel, metricReleasedSpans, hold.ReasonWindow))
	assert.Equal(t, int64(7), metricValue(t, tel, metricBacklinkedSpans, ""))
	assert.Equal(t, int64(7), metricValue(t, tel, metricIndexEntries, ""), "entries outlive the window")

	// With spans held, entries live for twice the window and a tick: a
	// span held at the end of an entry's reach still finds it on release.
	reach := window + min(window/10, time.Second)
	clock.Set(start.Add(2*reach - 1))
	p.releaseDue(nil)
	assert.Equal(t, int64(7), metricValue(t, tel, metricIndexEntries, ""), "entries live while a span held after them may still need them")
	clock.Set(start.Add(2 * reach))
	p.releaseDue(nil)
	assert.Zero(t, metricValue(t, tel, metricIndexEntries, ""))
	assert.Equal(t, int64(7), metricValue(t, tel, metricIndexEvictions, evictExpired))
	require.NoError(t, p.Shutdown(ctx))
	assert.Zero(t, metricValue(t, tel, metricReleasedSpans, hold.ReasonShutdown))
}

// TestIndexCapacityEvictions: past max_index_entries the oldest entries
// are evicted and counted as such.
func TestIndexCapacityEvictions(t *testing.T) {
	set, tel := telemetrySettings(t)
	cfg := createDefaultConfig().(*Config)
	cfg.Backlinks.MaxIndexEntries = 100
	cfg.Backlinks.Hold = Hold{Mode: HoldNone}
	p := newTestProcessorWith(t, set, cfg, consumertest.NewNop(), &fakeClock{t: start})
	require.NoError(t, p.ConsumeTraces(context.Background(), inputOf(func(td ptrace.Traces) {
		s := addSpan(td, "order-batcher", traceID(kindBatch, 1), spanID(kindBatch, 1), "process-batch")
		linkMany(s, kindOrder, 128)
	})))
	assert.Equal(t, int64(100), metricValue(t, tel, metricIndexEntries, ""))
	assert.Equal(t, int64(28), metricValue(t, tel, metricIndexEvictions, evictCapacity))
}

// TestReleaseErrorIsLoggedAndCounted: a downstream error on spans that left
// the hold reaches nobody who could retry, so it is logged and counted.
func TestReleaseErrorIsLoggedAndCounted(t *testing.T) {
	core, logs := observer.New(zap.ErrorLevel)
	set, tel := telemetrySettings(t)
	set.Logger = zap.New(core)
	p := newTestProcessorWith(t, set, holdAllConfig(), consumertest.NewErr(errors.New("exporter queue is full")), &fakeClock{t: start})

	ctx := context.Background()
	require.NoError(t, p.ConsumeTraces(ctx, inputOf(orders(1, 3))), "held spans are accepted")
	require.NoError(t, p.Shutdown(ctx))

	assert.Equal(t, int64(3), metricValue(t, tel, metricReleaseErrors, ""))
	require.Equal(t, 1, logs.Len())
	entry := logs.All()[0]
	assert.Equal(t, "Failed to forward released spans", entry.Message)
	assert.Equal(t, int64(3), entry.ContextMap()["spans"])
	assert.Equal(t, hold.ReasonShutdown, entry.ContextMap()["reason"])
	assert.Equal(t, "exporter queue is full", entry.ContextMap()["error"])
}

// TestDropLogs: at debug level each dropped link is logged with its span,
// target and reason; a flood is sampled.
func TestDropLogs(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	set := processortest.NewNopSettings(typeStr)
	set.Logger = zap.New(core)
	cfg := createDefaultConfig().(*Config)
	cfg.Backlinks.Enabled = false
	p := newTestProcessorWith(t, set, cfg, consumertest.NewNop(), &fakeClock{t: start})
	ctx := context.Background()

	require.NoError(t, p.ConsumeTraces(ctx, inputOf(func(td ptrace.Traces) {
		s := addSpan(td, "order-batcher", traceID(kindBatch, 1), spanID(kindBatch, 1), "process-batch")
		linkTo(s, s.TraceID(), s.SpanID(), flagsSampled)
	})))
	require.Equal(t, 1, logs.Len())
	f := logs.All()[0].ContextMap()
	assert.Equal(t, "Dropped span link", logs.All()[0].Message)
	assert.Equal(t, zapcore.DebugLevel, logs.All()[0].Level)
	assert.Equal(t, traceID(kindBatch, 1).String(), f["trace_id"])
	assert.Equal(t, spanID(kindBatch, 1).String(), f["span_id"])
	assert.Equal(t, spanID(kindBatch, 1).String(), f["link_span_id"])
	assert.Equal(t, dropSelf, f["reason"])

	// 5000 links with a zero trace ID: logged 10 times, then 1 in 1000.
	require.NoError(t, p.ConsumeTraces(ctx, inputOf(func(td ptrace.Traces) {
		s := addSpan(td, "order-batcher", traceID(kindBatch, 2), spanID(kindBatch, 2), "process-batch")
		for i := 0; i < 5000; i++ {
			linkTo(s, pcommon.TraceID{}, spanID(kindOrder, i+1), flagsSampled)
		}
	})))
	n := logs.FilterMessage("Dropped span link").Len() - 1
	assert.GreaterOrEqual(t, n, 10)
	assert.Less(t, n, 40, "5000 dropped links must not give 5000 log lines")
}

// TestNoDropLogsAboveDebug: at info level nothing is logged and the
// processor pays nothing for it.
func TestNoDropLogsAboveDebug(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	set := processortest.NewNopSettings(typeStr)
	set.Logger = zap.New(core)
	p := newTestProcessorWith(t, set, createDefaultConfig().(*Config), consumertest.NewNop(), &fakeClock{t: start})
	assert.Nil(t, p.dropLog)
	require.NoError(t, p.ConsumeTraces(context.Background(), scenarioNamed(t, "invalid-links").steps[0].input))
	assert.Zero(t, logs.Len())
}

// TestRecordAllocations: recording allocates nothing, whether there is
// nothing to count or every counter moves: the attribute sets and option
// lists are made once, in newTelemetry.
func TestRecordAllocations(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	tm, err := newTelemetry(tel.NewTelemetrySettings(), hold.New(1, 10, 1000), linkindex.NewMemory(time.Second, 10))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, tm.shutdown()) })
	ctx := context.Background()
	all := &counts{invalid: 1, duplicate: 1, self: 1, limit: 1, attrsDropped: 1, batchSpans: 1, backlinkedSpans: 1}
	tm.record(ctx, all) // the SDK makes each point's aggregator on its first use
	assert.Zero(t, testing.AllocsPerRun(100, func() { tm.record(ctx, &counts{}) }), "nothing to count")
	assert.Zero(t, testing.AllocsPerRun(100, func() { tm.record(ctx, all) }), "every counter")
	// AllocsPerRun runs its function once more than asked, to warm up.
	assert.Equal(t, int64(1+101), metricValue(t, tel, metricLinksDropped, dropSelf))
	assert.Equal(t, int64(1+101), metricValue(t, tel, metricBatchSpans, ""))
}
