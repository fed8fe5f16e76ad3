package spanlinksprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/spanlinks/spanlinksprocessor/internal/hold"
	"github.com/spanlinks/spanlinksprocessor/internal/learner"
)

// orderAPIHealth adds health-check spans first..last of order-api, the
// service of the orders: a class that nothing ever links to.
func orderAPIHealth(first, last int) func(td ptrace.Traces) {
	return func(td ptrace.Traces) {
		for i := first; i <= last; i++ {
			addSpan(td, "order-api", traceID(kindTarget, i), spanID(kindTarget, i), "GET /health").SetKind(ptrace.SpanKindServer)
		}
	}
}

// both is a fill doing a then b.
func both(a, b func(td ptrace.Traces)) func(td ptrace.Traces) {
	return func(td ptrace.Traces) { a(td); b(td) }
}

// refunds adds refund-api's receive-refund spans first..last, with the
// order IDs of those numbers (batchSpan links them): a class that is first
// linked after the warm-up.
func refunds(first, last int) func(td ptrace.Traces) {
	return func(td ptrace.Traces) {
		for i := first; i <= last; i++ {
			addSpan(td, "refund-api", traceID(kindOrder, i), spanID(kindOrder, i), "receive-refund").SetKind(ptrace.SpanKindServer)
		}
	}
}

// TestHoldAutoAcceptance is the start-up hold of issue 23 and issue 15's
// learning, window 3s (3.3s with the release tick) on an injected clock.
// In the first window every span is held, and batch 1's link to its held
// orders teaches their class at once: nothing is missed and all 10 orders
// carry their backlink. From the first window on, never-linked spans leave
// in the ConsumeTraces call they arrive in, and orders are held and
// paired. A class first linked after the first window (refunds) is learnt
// from its misses, as before.
func TestHoldAutoAcceptance(t *testing.T) {
	set, tel := telemetrySettings(t)
	core, logs := observer.New(zap.InfoLevel)
	set.Logger = zap.New(core)
	cfg := createDefaultConfig().(*Config)
	cfg.Backlinks.Window = 3 * time.Second
	require.Equal(t, HoldAuto, cfg.Backlinks.Hold.Mode, "auto is the default")
	require.NoError(t, cfg.Validate())
	sink := new(consumertest.TracesSink)
	clock := &fakeClock{t: start}
	p := newTestProcessorWith(t, set, cfg, sink, clock)
	ctx := context.Background()
	require.NoError(t, p.Start(ctx, nil))
	consume := func(at time.Duration, fill func(td ptrace.Traces)) (passed int, took time.Duration) {
		clock.Set(start.Add(at))
		p.releaseDue(nil)
		before := sink.SpanCount()
		t0 := time.Now()
		require.NoError(t, p.ConsumeTraces(ctx, inputOf(fill)))
		return sink.SpanCount() - before, time.Since(t0)
	}
	orderClass := learner.Class{Service: "order-api", Name: "receive-order", Kind: ptrace.SpanKindServer}

	// 0s, the first window: batch 1's 10 orders and 5 health checks, held.
	n, _ := consume(0, both(orders(1, 10), orderAPIHealth(1, 5)))
	assert.Zero(t, n, "no class known: every span is held for the first window")
	assert.Equal(t, 15, p.hold.Len())

	// 1s: batch 1 links its held orders: their class is learnt now, and
	// nothing is missed.
	n, _ = consume(1*sec, func(td ptrace.Traces) { batchSpan(td, 1, 1, 10) })
	assert.Zero(t, n, "the batch span is held too, in the first window")
	assert.Equal(t, []learner.Class{orderClass}, p.learn.HeldClasses(), "a link to a held span teaches its class")
	assert.Zero(t, metricValue(t, tel, metricMissedBacklinks, ""))

	// 4s, the first window over: batch 1's spans have left, its orders with
	// their backlink; batch 2's health checks leave in the call, its
	// orders are held.
	n, took := consume(4*sec, both(orders(11, 20), orderAPIHealth(6, 10)))
	assert.Equal(t, 5, n, "batch 2's health checks leave in the call")
	assert.Equal(t, 16+5, sink.SpanCount(), "batch 1's 16 spans were released before")
	over := logs.FilterMessageSnippet("hold: auto's first window is over").All()
	require.Len(t, over, 1)
	assert.Equal(t, int64(1), over[0].ContextMap()["classes"])
	assert.Equal(t, []any{"order-api receive-order Server"}, over[0].ContextMap()["first"])
	t.Logf("4s: batch 2's 5 health checks left in the call, which took %s (clock not moved: 0s delay); %d orders held", took, p.hold.Len())
	assert.Equal(t, 10, p.hold.Len())

	// 5s: batch 2 links them, held: nothing missed, and the batch span,
	// of a class nothing links to, passes.
	n, _ = consume(5*sec, func(td ptrace.Traces) { batchSpan(td, 2, 11, 20) })
	assert.Equal(t, 1, n)

	// 5s: refunds, a class nothing has linked yet, pass at once; at 6s
	// batch 3 links them, gone: 5 missed backlinks teach their class.
	n, _ = consume(5*sec, refunds(101, 105))
	assert.Equal(t, 5, n)
	n, _ = consume(6*sec, func(td ptrace.Traces) { batchSpan(td, 3, 101, 105) })
	assert.Equal(t, 1, n)
	assert.Equal(t, int64(5), metricValue(t, tel, metricMissedBacklinks, ""))
	assert.ElementsMatch(t, []learner.Class{orderClass, {Service: "refund-api", Name: "receive-refund", Kind: ptrace.SpanKindServer}}, p.learn.HeldClasses())

	// 9s, batch 2's window over: its orders leave, each with its backlink.
	clock.Set(start.Add(9 * sec))
	p.releaseDue(nil)
	require.NoError(t, p.Shutdown(ctx))
	assert.Equal(t, 32+5+1, sink.SpanCount())
	got := backlinkCounts(sink)
	for i := 1; i <= 20; i++ {
		assert.Equal(t, int64(1), got[spanID(kindOrder, i).String()], "order %d", i)
	}
	assert.Equal(t, int64(20), metricValue(t, tel, metricBacklinkedSpans, ""))
	assert.Equal(t, int64(16+10), metricValue(t, tel, metricReleasedSpans, hold.ReasonWindow))
}

// TestMissedBacklinksExportedAtZero: with backlinks delivered as
// attributes, missed_backlinks is exported at 0 before the first miss, so
// that an operator sees it is watched; without backlinks it is not.
func TestMissedBacklinksExportedAtZero(t *testing.T) {
	set, tel := telemetrySettings(t)
	newTestProcessorWith(t, set, createDefaultConfig().(*Config), consumertest.NewNop(), &fakeClock{t: start})
	m, err := tel.GetMetric(metricMissedBacklinks)
	require.NoError(t, err, "exported before any span")
	assert.Zero(t, metricValue(t, tel, metricMissedBacklinks, ""))
	assert.NotNil(t, m.Data)

	set, tel = telemetrySettings(t)
	cfg := createDefaultConfig().(*Config)
	cfg.Backlinks.Enabled = false
	newTestProcessorWith(t, set, cfg, consumertest.NewNop(), &fakeClock{t: start})
	_, err = tel.GetMetric(metricMissedBacklinks)
	assert.Error(t, err, "no backlinks: nothing is missed or counted")
}

// TestMissedBacklinksEveryMode: a link to a span that passed unheld within
// the window is counted under every hold mode; with hold: all nothing
// passes unheld, so nothing is missed; past the window the span is
// forgotten and a late link is not counted.
func TestMissedBacklinksEveryMode(t *testing.T) {
	for _, tt := range []struct {
		name string
		hold Hold
		want int64
	}{
		{"all", Hold{Mode: HoldAll}, 0},
		{"none", Hold{Mode: HoldNone}, 2},
		{"auto", Hold{Mode: HoldAuto}, 2},
		{"conditions", Hold{Conditions: []string{`name == "receive-order" and attributes["order.id"] == "1"`}}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			set, tel := telemetrySettings(t)
			cfg := createDefaultConfig().(*Config)
			cfg.Backlinks.Hold = tt.hold
			require.NoError(t, cfg.Validate())
			clock := &fakeClock{t: start}
			p := newTestProcessorWith(t, set, cfg, consumertest.NewNop(), clock)
			ctx := context.Background()
			require.NoError(t, p.ConsumeTraces(ctx, inputOf(func(td ptrace.Traces) {
				orderSpan(td, 1).Attributes().PutStr("order.id", "1")
				orderSpan(td, 2)
				orderSpan(td, 3)
			})))
			clock.Set(start.Add(10 * sec))
			p.releaseDue(nil)
			require.NoError(t, p.ConsumeTraces(ctx, inputOf(func(td ptrace.Traces) { batchSpan(td, 1, 1, 2) })))
			assert.Equal(t, tt.want, metricValue(t, tel, metricMissedBacklinks, ""))
			// Order 3 is linked past the window: forgotten, not counted.
			clock.Set(start.Add(30 * sec))
			p.releaseDue(nil)
			require.NoError(t, p.ConsumeTraces(ctx, inputOf(func(td ptrace.Traces) { batchSpan(td, 2, 3, 3) })))
			assert.Equal(t, tt.want, metricValue(t, tel, metricMissedBacklinks, ""))
			require.NoError(t, p.Shutdown(ctx))
		})
	}
}

// TestHoldAutoConfig: auto is a hold mode like all and none.
func TestHoldAutoConfig(t *testing.T) {
	h, err := parseHold("auto")
	require.NoError(t, err)
	assert.Equal(t, Hold{Mode: HoldAuto}, h)
	require.NoError(t, h.validate())
	err = Hold{Mode: "automatic"}.validate()
	require.ErrorContains(t, err, `"auto"`)
}

// TestHoldAutoNeverLinked: in the scenario hold-auto-never-linked, each
// step's spans leave in the ConsumeTraces call they arrive in.
func TestHoldAutoNeverLinked(t *testing.T) {
	sc := scenarioNamed(t, "hold-auto-never-linked")
	cfg := sc.config(t)
	require.Equal(t, HoldAuto, cfg.Backlinks.Hold.Mode)
	sink := new(consumertest.TracesSink)
	clock := &fakeClock{t: start}
	p := newTestProcessor(t, cfg, sink, clock)
	ctx := context.Background()
	sent := 0
	for _, s := range sc.steps {
		clock.Set(start.Add(s.at))
		p.releaseDue(nil)
		in := ptrace.NewTraces()
		s.input.CopyTo(in)
		sent += in.SpanCount()
		require.NoError(t, p.ConsumeTraces(ctx, in))
		assert.Equal(t, sent, sink.SpanCount(), "at %s every span sent has left", s.at)
	}
	require.NoError(t, p.Shutdown(ctx))
	assert.Equal(t, sent, sink.SpanCount())
}

// TestMissedBacklinkLog: at debug level a missed backlink is logged with
// the class of its target, so that an operator can write a condition.
func TestMissedBacklinkLog(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	set := processortest.NewNopSettings(typeStr)
	set.Logger = zap.New(core)
	cfg := createDefaultConfig().(*Config)
	cfg.Backlinks.Hold = Hold{Mode: HoldNone}
	clock := &fakeClock{t: start}
	p := newTestProcessorWith(t, set, cfg, consumertest.NewNop(), clock)
	ctx := context.Background()
	require.NoError(t, p.ConsumeTraces(ctx, inputOf(orders(1, 1))))
	require.NoError(t, p.ConsumeTraces(ctx, inputOf(func(td ptrace.Traces) { batchSpan(td, 1, 1, 1) })))
	require.NoError(t, p.Shutdown(ctx))
	missed := logs.FilterMessageSnippet("Missed backlink").All()
	require.Len(t, missed, 1)
	f := missed[0].ContextMap()
	assert.Equal(t, "order-api", f["service.name"])
	assert.Equal(t, "receive-order", f["span.name"])
	assert.Equal(t, "Server", f["span.kind"])
	assert.Equal(t, "process-batch", f["linker"])
	assert.Equal(t, spanID(kindOrder, 1).String(), f["span_id"])
}

// TestExampleConfigs: the example configs (examples/config.yaml is make
// run's) are valid and hold auto, the default, with the demo's 10s window.
func TestExampleConfigs(t *testing.T) {
	for _, path := range []string{"examples/config.yaml", "examples/config-storage.yaml"} {
		t.Run(path, func(t *testing.T) {
			conf, err := confmaptest.LoadConf(path)
			require.NoError(t, err)
			sub, err := conf.Sub("processors::spanlinks")
			require.NoError(t, err)
			cfg := createDefaultConfig().(*Config)
			require.NoError(t, sub.Unmarshal(cfg))
			require.NoError(t, cfg.Validate())
			assert.Equal(t, HoldAuto, cfg.Backlinks.Hold.Mode)
			assert.Equal(t, 10*time.Second, cfg.Backlinks.Window)
		})
	}
}

// TestHoldAutoConcurrent: senders calling ConsumeTraces at once, while the
// release loop runs, in the first window and after it, learn and hold
// classes without a race (go test -race) and every span leaves exactly once.
func TestHoldAutoConcurrent(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Backlinks.Window = 3 * time.Second
	cfg.Backlinks.Hold = Hold{Mode: HoldAuto}
	sink := new(consumertest.TracesSink)
	clock := &fakeClock{t: start}
	p := newTestProcessor(t, cfg, sink, clock)
	ctx := context.Background()
	require.NoError(t, p.Start(ctx, nil)) // the first 3.3s of the clock are the first window: all held
	const senders, rounds = 4, 50
	done := make(chan struct{})
	go func() { // the release loop, as Start would run it, on the fake clock
		defer close(done)
		for i := 0; i < senders*rounds; i++ {
			clock.Set(start.Add(time.Duration(i) * 100 * time.Millisecond))
			p.releaseDue(nil)
		}
	}()
	errs := make(chan error, senders)
	for s := 0; s < senders; s++ {
		go func() {
			for r := 0; r < rounds; r++ {
				n := (s*rounds + r) * 2
				if err := p.ConsumeTraces(ctx, inputOf(both(orders(n+1, n+2), orderAPIHealth(n+1, n+1)))); err != nil {
					errs <- err
					return
				}
				if err := p.ConsumeTraces(ctx, inputOf(func(td ptrace.Traces) { batchSpan(td, n+1, n+1, n+2) })); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for s := 0; s < senders; s++ {
		require.NoError(t, <-errs)
	}
	<-done
	require.NoError(t, p.Shutdown(ctx))
	assert.Equal(t, senders*rounds*4, sink.SpanCount())
	seen := map[string]int{}
	for _, td := range sink.AllTraces() {
		for _, k := range spanKeys(td) {
			seen[k]++
		}
	}
	assert.Len(t, seen, senders*rounds*4)
	for k, n := range seen {
		assert.Equal(t, 1, n, k)
	}
	assert.Contains(t, p.learn.HeldClasses(), learner.Class{Service: "order-api", Name: "receive-order", Kind: ptrace.SpanKindServer})
}
