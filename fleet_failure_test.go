package spanlinksprocessor

import (
	"context"
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
	"go.uber.org/zap/zaptest/observer"

	"github.com/spanlinks/spanlinksprocessor/internal/redistest"
)

// TestRedisDownThenUp: a collector whose Redis is down at start-up starts,
// loses no span and holds none past its window; the spans leave with the
// backlinks known so far (none); the failures are counted and logged,
// sampled; a paused Redis does not cost a timeout per batch; and pairing
// resumes by itself once Redis is back.
func TestRedisDownThenUp(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := processortest.NewNopSettings(typeStr)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	core, logs := observer.New(zap.InfoLevel)
	set.Logger = zap.New(core)

	cfg := createDefaultConfig().(*Config)
	cfg.Backlinks.Window = 10 * time.Second
	useRedis(t, cfg, srv.Addr)
	cfg.Backlinks.Index.Redis.Timeout = 200 * time.Millisecond
	require.NoError(t, cfg.Validate())
	sink := new(consumertest.TracesSink)
	clock := &fakeClock{t: start}
	p := newTestProcessorWith(t, set, cfg, sink, clock)
	ctx := context.Background()
	require.NoError(t, p.Start(ctx, nil), "the collector starts with Redis down")

	// Redis down: an order, then its batch; both pass.
	require.NoError(t, p.ConsumeTraces(ctx, inputOf(func(td ptrace.Traces) { orderSpan(td, 1) })))
	clock.Set(start.Add(time.Second))
	require.NoError(t, p.ConsumeTraces(ctx, inputOf(func(td ptrace.Traces) { batchSpan(td, 1, 1, 1) })))
	clock.Set(start.Add(11 * time.Second))
	p.releaseDue(nil)
	require.Equal(t, 2, sink.SpanCount(), "every span out by the end of its window")
	order := findSpan(t, sink, "receive-order")
	_, has := order.Attributes().Get(attrBacklinksCount)
	assert.False(t, has, "no backlinks known while Redis is down")
	failures := metricValue(t, tel, metricIndexFailures, "")
	assert.Positive(t, failures, "failures counted")
	warned := logs.FilterMessageSnippet("The link index failed").Len()
	assert.Positive(t, warned, "failures logged")
	assert.Less(t, warned, int(failures)+1, "at most one line per failure")

	// Redis up again: the back-off passes, pairing resumes.
	srv.Restart()
	clock.Set(start.Add(20 * time.Second))
	require.NoError(t, p.ConsumeTraces(ctx, inputOf(func(td ptrace.Traces) { orderSpan(td, 2) })))
	clock.Set(start.Add(21 * time.Second))
	require.NoError(t, p.ConsumeTraces(ctx, inputOf(func(td ptrace.Traces) { batchSpan(td, 2, 2, 2) })))
	clock.Set(start.Add(31 * time.Second))
	p.releaseDue(nil)
	require.Equal(t, 4, sink.SpanCount())
	count, _ := findSpanID(t, sink, spanID(kindOrder, 2)).Attributes().Get(attrBacklinksCount)
	assert.Equal(t, int64(1), count.Int(), "order 2 paired once Redis is back")

	// Redis paused: batches pass without a timeout each.
	srv.Pause()
	began := time.Now()
	for i := range 50 {
		clock.Set(start.Add(32*time.Second + time.Duration(i)*10*time.Millisecond))
		require.NoError(t, p.ConsumeTraces(ctx, inputOf(func(td ptrace.Traces) { batchSpan(td, 100+i, 3, 3) })))
	}
	took := time.Since(began)
	t.Logf("50 batches on a paused Redis (timeout 200ms) took %v; index failures counted: %d", took, metricValue(t, tel, metricIndexFailures, ""))
	assert.Less(t, took, 10*200*time.Millisecond, "a paused Redis costs a timeout per back-off (4 here), not one per batch (50)")
	srv.Resume()
	require.NoError(t, p.Shutdown(ctx))
	assert.Equal(t, 54, sink.SpanCount(), "every span out after shutdown")
}

// findSpan returns the one span named name that sink received.
func findSpan(t *testing.T, sink *consumertest.TracesSink, name string) ptrace.Span {
	t.Helper()
	return findOne(t, sink, name, func(s ptrace.Span) bool { return s.Name() == name })
}

// findSpanID returns the one span with span ID id that sink received.
func findSpanID(t *testing.T, sink *consumertest.TracesSink, id pcommon.SpanID) ptrace.Span {
	t.Helper()
	return findOne(t, sink, id.String(), func(s ptrace.Span) bool { return s.SpanID() == id })
}

// findOne returns the one span that sink received for which match is true;
// what names it in the failure message.
func findOne(t *testing.T, sink *consumertest.TracesSink, what string, match func(ptrace.Span) bool) ptrace.Span {
	t.Helper()
	var found []ptrace.Span
	for _, td := range sink.AllTraces() {
		forEachSpan(td, func(s ptrace.Span) {
			if match(s) {
				found = append(found, s)
			}
		})
	}
	require.Len(t, found, 1, what)
	return found[0]
}
