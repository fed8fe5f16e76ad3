package spanlinksprocessor

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/spanlinks/spanlinksprocessor/internal/hold"
)

// stuckExporter stands for an exporter that retries without a queue: a
// call carrying a span named slowName blocks until unblock is closed, and
// says so on entered; other calls pass at once. Every span lands in sink.
type stuckExporter struct {
	slowName string
	entered  chan struct{} // one value per call that blocks
	unblock  chan struct{}
	sink     consumertest.TracesSink
	once     sync.Once
}

func newStuckExporter(slowName string) *stuckExporter {
	return &stuckExporter{slowName: slowName, entered: make(chan struct{}, 16), unblock: make(chan struct{})}
}

func (e *stuckExporter) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (e *stuckExporter) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	slow := false
	forEachSpan(td, func(s ptrace.Span) { slow = slow || s.Name() == e.slowName })
	if slow {
		e.entered <- struct{}{}
		<-e.unblock
	}
	return e.sink.ConsumeTraces(ctx, td)
}

// release lets every blocked and later call through.
func (e *stuckExporter) release() { e.once.Do(func() { close(e.unblock) }) }

// healthCheck is one span unrelated to any order.
func healthCheck(td ptrace.Traces) { healthChecks(1, 1)(td) }

// healthChecks adds health check spans first..last, unrelated to any order.
func healthChecks(first, last int) func(td ptrace.Traces) {
	return func(td ptrace.Traces) {
		for i := first; i <= last; i++ {
			addSpan(td, "inventory-api", traceID(kindTarget, i), spanID(kindTarget, i), "GET /healthz")
		}
	}
}

// consumeAsync runs p.ConsumeTraces(td) in a goroutine and returns the
// channel its error arrives on.
func consumeAsync(p *spanLinksProcessor, td ptrace.Traces) <-chan error {
	done := make(chan error, 1)
	go func() { done <- p.ConsumeTraces(context.Background(), td) }()
	return done
}

// TestSlowReleaseBlocksNoSender: orders held at 0 are due at 31s, and the
// exporter blocks on them. An unrelated sender's 1-span request at 31s
// returns without forwarding them; the release loop forwards them, and
// while it is stuck in the exporter another request returns too. Nothing
// is lost once the exporter recovers.
func TestSlowReleaseBlocksNoSender(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Backlinks.Hold = Hold{Mode: HoldAll}
	next := newStuckExporter("receive-order")
	t.Cleanup(next.release)
	clock := &fakeClock{t: start}
	p := newTestProcessor(t, cfg, next, clock)
	p.manual = false // the real release loop, woken by the test instead of a ticker
	ctx := context.Background()
	require.NoError(t, p.Start(ctx, nil))
	require.NoError(t, p.ConsumeTraces(ctx, inputOf(orders(1, 3))))
	clock.Set(start.Add(31 * sec))

	select {
	case err := <-consumeAsync(p, inputOf(healthChecks(1, 1))):
		require.NoError(t, err)
	case <-next.entered:
		t.Fatal("an unrelated sender's ConsumeTraces forwarded the held orders and is stuck in the exporter")
	}

	p.kick() // the loop's tick
	<-next.entered
	select {
	case err := <-consumeAsync(p, inputOf(healthChecks(2, 2))):
		require.NoError(t, err)
	case <-next.entered:
		t.Fatal("a second call reached the exporter with orders")
	}
	assert.Equal(t, 5, p.hold.Len(), "3 orders being forwarded, 2 health checks held")

	next.release()
	require.NoError(t, p.Shutdown(ctx))
	assert.Equal(t, 5, next.sink.SpanCount())
	assert.Zero(t, p.hold.Len())
}

// TestFullHoldPassesUnheld: max_held_spans 2 and an exporter stuck on the
// first batch released. The hold fills, and the batch waiting for the loop
// fills the due spans' room: the next batch passes unheld in its sender's
// call, counted as released for reason full. Nothing is dropped, the hold
// keeps no more than twice its limit, and Shutdown, which waits for the
// loop's batch in flight, releases everything.
func TestFullHoldPassesUnheld(t *testing.T) {
	set, tel := telemetrySettings(t)
	cfg := createDefaultConfig().(*Config)
	cfg.Backlinks.MaxHeldSpans = 2
	next := newStuckExporter("receive-order")
	t.Cleanup(next.release)
	p := newTestProcessorWith(t, set, cfg, next, &fakeClock{t: start})
	p.manual = false
	ctx := context.Background()
	require.NoError(t, p.Start(ctx, nil))

	require.NoError(t, p.ConsumeTraces(ctx, inputOf(orders(1, 2))))
	require.NoError(t, p.ConsumeTraces(ctx, inputOf(healthChecks(1, 2)))) // the orders become due
	<-next.entered                                                        // and the loop is stuck on them
	require.NoError(t, p.ConsumeTraces(ctx, inputOf(healthChecks(3, 4))))
	assert.Equal(t, 2, next.sink.SpanCount(), "the last batch passed in its sender's call")
	assert.Equal(t, int64(2), metricValue(t, tel, metricReleasedSpans, hold.ReasonFull))
	assert.Equal(t, 4, p.hold.Len(), "2 held, 2 being forwarded")

	shut := make(chan error, 1)
	go func() { shut <- p.Shutdown(ctx) }()
	next.release()
	require.NoError(t, <-shut)
	assert.Equal(t, 6, next.sink.SpanCount())
	assert.Equal(t, int64(2), metricValue(t, tel, metricReleasedSpans, hold.ReasonCapacity))
	assert.Equal(t, int64(2), metricValue(t, tel, metricReleasedSpans, hold.ReasonShutdown))
}
