package spanlinksprocessor

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
)

// TestConcurrentBacklinks feeds linked spans from several goroutines at
// once: every span comes out exactly once, and every order carries exactly
// the batches that linked it, whichever arrived first.
func TestConcurrentBacklinks(t *testing.T) {
	const workers, rounds = 8, 50
	cfg := createDefaultConfig().(*Config)
	sink := new(consumertest.TracesSink)
	p := newTestProcessor(t, cfg, sink, &fakeClock{t: start})
	ctx := context.Background()
	require.NoError(t, p.Start(ctx, componenttest.NewNopHost()))

	order := func(g, i int) int { return g*rounds + i + 1 }
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				td := ptrace.NewTraces()
				orderSpan(td, order(g, i))
				// Batch (g, i) links order (g+1, i), which another goroutine
				// sends, and order (g, i-1), sent a round earlier.
				b := addSpan(td, "order-batcher", traceID(kindBatch, order(g, i)), spanID(kindBatch, order(g, i)), "process-batch")
				linkTo(b, traceID(kindOrder, order((g+1)%workers, i)), spanID(kindOrder, order((g+1)%workers, i)), flagsSampled)
				if i > 0 {
					linkTo(b, traceID(kindOrder, order(g, i-1)), spanID(kindOrder, order(g, i-1)), flagsSampled)
				}
				if i%7 == 0 {
					failed(b)
				}
				assert.NoError(t, p.ConsumeTraces(ctx, td))
			}
		}()
	}
	wg.Wait()
	require.NoError(t, p.Shutdown(ctx))

	seen := map[string]int{}
	for _, td := range sink.AllTraces() {
		forEachSpan(td, func(s ptrace.Span) {
			seen[s.TraceID().String()+s.SpanID().String()]++
			if s.Name() != "receive-order" {
				return
			}
			n := int(s.SpanID()[4])<<24 | int(s.SpanID()[5])<<16 | int(s.SpanID()[6])<<8 | int(s.SpanID()[7]) - 1
			g, i := n/rounds, n%rounds
			// Linked by batch (g-1, i), and by batch (g, i+1) if there is one.
			want, wantErr := 1, 0
			if i%7 == 0 {
				wantErr++
			}
			if i+1 < rounds {
				want++
				if (i+1)%7 == 0 {
					wantErr++
				}
			}
			count, _ := s.Attributes().Get(attrBacklinksCount)
			errs, _ := s.Attributes().Get(attrBacklinksErrorCount)
			ids, _ := s.Attributes().Get(attrBacklinksSpanIDs)
			assert.Equal(t, int64(want), count.Int(), "order (%d, %d) backlinks", g, i)
			assert.Equal(t, int64(wantErr), errs.Int(), "order (%d, %d) failed backlinks", g, i)
			assert.Equal(t, want, ids.Slice().Len(), "order (%d, %d) listed backlinks", g, i)
		})
	}
	assert.Len(t, seen, 2*workers*rounds)
	for k, n := range seen {
		assert.Equal(t, 1, n, "span %s came out %d times", k, n)
	}
}

// TestPassThroughErrorIsReturned: spans that are not held go downstream in
// the caller's call, so the caller gets the error and can retry.
func TestPassThroughErrorIsReturned(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Backlinks.Hold = Hold{Mode: HoldNone}
	p := newTestProcessor(t, cfg, consumertest.NewErr(errors.New("refused")), &fakeClock{t: start})
	require.EqualError(t, p.ConsumeTraces(context.Background(), inputOf(orders(1, 1))), "refused")
}

// TestShutdownReleasesWithTicker runs the real release loop: Shutdown stops
// it and releases what is held before returning.
func TestShutdownReleasesWithTicker(t *testing.T) {
	sink := new(consumertest.TracesSink)
	f := NewFactory()
	p, err := f.CreateTraces(context.Background(), processortest.NewNopSettings(typeStr), f.CreateDefaultConfig(), sink)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, p.Start(ctx, componenttest.NewNopHost()))
	require.NoError(t, p.ConsumeTraces(ctx, inputOf(orders(1, 4))))
	require.NoError(t, p.Shutdown(ctx))
	assert.Equal(t, 4, sink.SpanCount())

	// After shutdown nothing is held: spans pass straight through.
	require.NoError(t, p.ConsumeTraces(ctx, inputOf(orders(5, 5))))
	assert.Equal(t, 5, sink.SpanCount())
}

// TestHoldOverflowReleasesOldestFirst: past max_held_spans the oldest
// batches leave early, in arrival order, and nothing is dropped.
func TestHoldOverflowReleasesOldestFirst(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Backlinks.Hold = Hold{Mode: HoldAll}
	cfg.Backlinks.MaxHeldSpans = 4
	sink := new(consumertest.TracesSink)
	p := newTestProcessor(t, cfg, sink, &fakeClock{t: start})
	ctx := context.Background()
	for i := 1; i <= 6; i++ {
		require.NoError(t, p.ConsumeTraces(ctx, inputOf(orders(i, i))))
		p.releaseDue(nil) // as the release loop does when woken
		assert.LessOrEqual(t, p.hold.Len(), 4)
	}
	var released []string
	for _, td := range sink.AllTraces() {
		forEachSpan(td, func(s ptrace.Span) { released = append(released, s.SpanID().String()) })
	}
	assert.Equal(t, []string{spanID(kindOrder, 1).String(), spanID(kindOrder, 2).String()}, released)
	require.NoError(t, p.Shutdown(ctx))
	assert.Equal(t, 6, sink.SpanCount())
}

// TestBatchLargerThanHoldPassesAtOnce: a batch alone over max_held_spans
// is released at once rather than refused or split.
func TestBatchLargerThanHoldPassesAtOnce(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Backlinks.MaxHeldSpans = 2
	sink := new(consumertest.TracesSink)
	p := newTestProcessor(t, cfg, sink, &fakeClock{t: start})
	require.NoError(t, p.ConsumeTraces(context.Background(), inputOf(orders(1, 3))))
	assert.Equal(t, 3, sink.SpanCount())
	assert.Zero(t, p.hold.Len())
}

// TestDisabledBacklinksPassThrough: with backlinks off the processor only
// repairs and annotates, forwarding in the caller's call.
func TestDisabledBacklinksPassThrough(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Backlinks.Enabled = false
	sink := new(consumertest.TracesSink)
	p := newTestProcessor(t, cfg, sink, &fakeClock{t: start})
	require.NoError(t, p.ConsumeTraces(context.Background(), inputOf(func(td ptrace.Traces) { batchSpan(td, 1, 1, 3) })))
	require.Equal(t, 1, sink.SpanCount())
	s := sink.AllTraces()[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	kept, ok := s.Attributes().Get(attrLinksKept)
	require.True(t, ok)
	assert.Equal(t, int64(3), kept.Int())
	assert.Nil(t, p.index)
	assert.Nil(t, p.hold)
}

// clientSink records, for each call, the tenant in the caller's client
// metadata.
type clientSink struct {
	mu      sync.Mutex
	tenants []string
}

func (s *clientSink) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (s *clientSink) ConsumeTraces(ctx context.Context, _ ptrace.Traces) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tenants = append(s.tenants, strings.Join(client.FromContext(ctx).Metadata.Get("tenant"), ","))
	return nil
}

// withTenant returns a context as a receiver with include_metadata makes it.
func withTenant(tenant string) context.Context {
	return client.NewContext(context.Background(), client.Info{
		Metadata: client.NewMetadata(map[string][]string{"tenant": {tenant}}),
	})
}

// TestReleaseKeepsSenderMetadata: held spans leave under the client
// metadata they arrived with, even when another tenant's spans made them
// due, so per-tenant exporters' headers stay right.
func TestReleaseKeepsSenderMetadata(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Backlinks.MaxHeldSpans = 1
	sink := new(clientSink)
	clock := &fakeClock{t: start}
	p := newTestProcessor(t, cfg, sink, clock)
	require.NoError(t, p.ConsumeTraces(withTenant("acme"), inputOf(orders(1, 1))))
	require.NoError(t, p.ConsumeTraces(withTenant("globex"), inputOf(orders(2, 2)))) // makes acme's span due
	p.releaseDue(nil)
	clock.Set(start.Add(cfg.Backlinks.Window))
	p.releaseDue(nil)                                                                 // releases globex's by window
	require.NoError(t, p.ConsumeTraces(withTenant("initech"), inputOf(orders(3, 3)))) // held
	require.NoError(t, p.Shutdown(context.Background()))                              // releases initech's
	assert.Equal(t, []string{"acme", "globex", "initech"}, sink.tenants)
}

// TestHeldSpanFindsLinkerOfAReachBefore: a held span is looked up once, on
// release, so the entries of linkers that came up to a reach (the window
// and a tick) before it arrived must still be there a window later. A
// linker exactly a reach older counts no more.
func TestHeldSpanFindsLinkerOfAReachBefore(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after time.Duration // from the batch to the orders, past the reach
		want  int64         // backlinks on each order
	}{
		{name: "just inside the reach", after: -1, want: 1},
		{name: "exactly a reach later", after: 0, want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			clock := &fakeClock{t: start}
			sink := new(consumertest.TracesSink)
			p := newTestProcessor(t, cfg, sink, clock)
			ctx := context.Background()
			require.NoError(t, p.ConsumeTraces(ctx, inputOf(func(td ptrace.Traces) { batchSpan(td, 1, 1, 3) })))
			ordersAt := start.Add(p.reach + tc.after)
			clock.Set(ordersAt)
			require.NoError(t, p.ConsumeTraces(ctx, inputOf(orders(1, 3))))
			clock.Set(ordersAt.Add(cfg.Backlinks.Window))
			p.releaseDue(nil)
			got := map[string]int64{}
			for _, td := range sink.AllTraces() {
				forEachSpan(td, func(s ptrace.Span) {
					if v, ok := s.Attributes().Get(attrBacklinksCount); ok {
						got[s.Name()] += v.Int()
					}
				})
			}
			require.Equal(t, 4, sink.SpanCount(), "the batch and its 3 orders, each once")
			orderName := inputOf(orders(1, 1)).ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Name()
			assert.Equal(t, 3*tc.want, got[orderName], "backlinks on the orders, 3 of them")
		})
	}
}
