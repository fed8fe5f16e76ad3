package spanlinksprocessor

import (
	"context"
	"encoding/binary"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/spanlinks/spanlinksprocessor/internal/learner"
	"github.com/spanlinks/spanlinksprocessor/internal/redistest"
)

// newFleetProcessor returns a processor whose index is on the Redis at addr
// under prefix, on clock, started.
func newFleetProcessor(t *testing.T, addr []string, cluster bool, prefix string, clock *fakeClock) (*spanLinksProcessor, *consumertest.TracesSink) {
	t.Helper()
	return newFleetProcessorHolding(t, addr, cluster, prefix, clock, Hold{Mode: HoldAll})
}

// newFleetProcessorHolding is newFleetProcessor with the given hold.
func newFleetProcessorHolding(t *testing.T, addr []string, cluster bool, prefix string, clock *fakeClock, h Hold) (*spanLinksProcessor, *consumertest.TracesSink) {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.Backlinks.Window = 10 * time.Second
	cfg.Backlinks.Hold = h
	cfg.Backlinks.Index.Backend = IndexRedis
	r := &cfg.Backlinks.Index.Redis
	r.Endpoints, r.Cluster, r.KeyPrefix, r.Timeout = addr, cluster, prefix, 5*time.Second
	require.NoError(t, cfg.Validate())
	sink := new(consumertest.TracesSink)
	p := newTestProcessor(t, cfg, sink, clock)
	require.NoError(t, p.Start(context.Background(), nil))
	return p, sink
}

// TestFleetRace drives two processors on one Redis, whose clocks disagree
// by an hour, concurrently: each round sends an order to A while three
// batches that link to it go to A and B at the same moment, and one of
// them is sent again through the other collector. Whatever the interleaving
// of A's adds and lookups with B's adds, each order, looked up once when it
// leaves the hold, must count each of its three linkers exactly once. It
// fails on any count off.
func TestFleetRace(t *testing.T) {
	srv := redistest.Start(t)
	testFleetRace(t, []string{srv.Addr}, false, 300)
}

// TestFleetRaceCluster is TestFleetRace on a three-master Redis Cluster.
func TestFleetRaceCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	testFleetRace(t, c.Addrs(), true, 150)
}

func testFleetRace(t *testing.T, addrs []string, cluster bool, rounds int) {
	clockA, clockB := &fakeClock{t: start}, &fakeClock{t: start.Add(time.Hour)}
	a, sinkA := newFleetProcessor(t, addrs, cluster, "race:", clockA)
	b, sinkB := newFleetProcessor(t, addrs, cluster, "race:", clockB)
	ctx := context.Background()
	batch := func(r, j int) ptrace.Traces {
		td := ptrace.NewTraces()
		s := batchSpan(td, r*3+j, r+1, r+1)
		if j == 2 {
			failed(s)
		}
		return td
	}
	for r := range rounds {
		sends := []struct {
			p  *spanLinksProcessor
			td ptrace.Traces
		}{
			{a, inputOf(func(td ptrace.Traces) { orderSpan(td, r+1) })},
			{b, batch(r, 0)},
			{a, batch(r, 1)},
			{b, batch(r, 2)},
			{a, batch(r, 0)}, // batch (r, 0) again, through the other collector
		}
		// Rotate who goes first, so that every order of arrival is tried.
		go1 := make(chan struct{})
		var wg sync.WaitGroup
		for i := range sends {
			s := sends[(i+r)%len(sends)]
			wg.Go(func() {
				<-go1
				assert.NoError(t, s.p.ConsumeTraces(ctx, s.td))
			})
		}
		close(go1)
		wg.Wait()
	}
	// The window passes: the held spans leave, with what the index holds.
	clockA.Set(start.Add(10 * time.Second))
	clockB.Set(start.Add(time.Hour + 10*time.Second))
	a.releaseDue(nil)
	b.releaseDue(nil)
	require.NoError(t, a.Shutdown(ctx))
	require.NoError(t, b.Shutdown(ctx))

	orders := 0
	for _, sink := range []*consumertest.TracesSink{sinkA, sinkB} {
		for _, td := range sink.AllTraces() {
			forEachSpan(td, func(s ptrace.Span) {
				if s.Name() != "receive-order" {
					return
				}
				orders++
				id := s.SpanID()
				n := binary.BigEndian.Uint32(id[4:])
				count, _ := s.Attributes().Get(attrBacklinksCount)
				errs, _ := s.Attributes().Get(attrBacklinksErrorCount)
				ids, _ := s.Attributes().Get(attrBacklinksSpanIDs)
				assert.Equal(t, int64(3), count.Int(), "order %d: backlinks count", n)
				assert.Equal(t, int64(1), errs.Int(), "order %d: failed backlinks", n)
				if assert.Equal(t, pcommon.ValueTypeSlice, ids.Type(), "order %d: listed backlinks", n) {
					assert.Equal(t, 3, ids.Slice().Len(), "order %d: listed backlinks", n)
				}
			})
		}
	}
	assert.Equal(t, rounds, orders, "orders out")
}

// TestFleetRoundTripsPerBatch reads Redis's own command statistics: every
// batch, whatever its size, costs exactly two commands (script calls): one
// add when it arrives, and one lookup of its spans, when they pass or, for
// the spans the processor holds, when they leave the hold; each is sent
// alone in its round trip, and nothing else reaches Redis but the commands
// those scripts run.
func TestFleetRoundTripsPerBatch(t *testing.T) {
	srv := redistest.Start(t)
	rc := srv.Client()
	ctx := context.Background()
	clock := &fakeClock{t: start}
	p, sink := newFleetProcessor(t, []string{srv.Addr}, false, "rt:", clock)
	// Connect (one-off: scripts loaded, clock read), then count from zero.
	require.NoError(t, p.ConsumeTraces(ctx, inputOf(func(td ptrace.Traces) { batchSpan(td, 1, 1, 2) })))
	for k, spans := range []int{2, 10, 100, 1000, 4000} {
		clock.Set(start.Add(time.Duration(k+1) * time.Minute))
		p.releaseDue(nil) // whatever was held before leaves uncounted
		sink.Reset()
		require.NoError(t, rc.ConfigResetStat(ctx).Err())
		const batches = 5
		for i := range batches {
			td := ptrace.NewTraces()
			for j := range spans {
				n := 1_000_000*spans + 10_000*i + j
				if j%2 == 0 {
					orderSpan(td, n)
				} else {
					batchSpan(td, n, n-1, n-1)
				}
			}
			require.NoError(t, p.ConsumeTraces(ctx, td))
		}
		arrival := commandStats(t, rc)["evalsha"]
		// The window passes: the held spans leave, each batch's looked up.
		clock.Set(start.Add(time.Duration(k+1)*time.Minute + 11*time.Second))
		p.releaseDue(nil)
		require.Equal(t, batches*spans, sink.SpanCount(), "%d-span batches: spans out", spans)
		stats := commandStats(t, rc)
		t.Logf("batch of %d spans: script calls per batch on arrival %.1f, in all %.1f; commands per batch from the scripts: %v",
			spans, float64(arrival)/batches, float64(stats["evalsha"])/batches, perBatch(stats, batches))
		assert.Equal(t, 2*batches, stats["evalsha"], "%d-span batches: script calls", spans)
		for cmd, n := range stats {
			switch cmd {
			case "evalsha", "config|resetstat", "info":
			case "hget", "hset", "hsetnx", "pexpire", "time":
				// Run by the scripts.
			default:
				t.Errorf("%d-span batches: %d calls of %s", spans, n, cmd)
			}
		}
	}
	require.NoError(t, p.Shutdown(ctx))
}

// commandStats returns the calls per command of INFO commandstats.
func commandStats(t *testing.T, rc *redis.Client) map[string]int {
	info, err := rc.Info(context.Background(), "commandstats").Result()
	require.NoError(t, err)
	out := map[string]int{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(rest, "calls="), ",")
		n, err := strconv.Atoi(calls)
		require.NoError(t, err, line)
		out[strings.TrimPrefix(name, "cmdstat_")] = n
	}
	return out
}

// perBatch formats stats divided by batches.
func perBatch(stats map[string]int, batches int) string {
	var b strings.Builder
	for _, c := range []string{"hget", "hset", "hsetnx", "pexpire"} {
		b.WriteString(c + "=" + strconv.FormatFloat(float64(stats[c])/float64(batches), 'f', 1, 64) + " ")
	}
	return b.String()
}

// TestFleetKeyTTL: a target's key lives its entries' lifetime and a second
// after its last write, on Redis's clock: the reach (window and tick) with
// hold: none, twice the reach when spans are held, as docs/contract.md
// steps 4 and 5 say entries live.
func TestFleetKeyTTL(t *testing.T) {
	srv := redistest.Start(t)
	rc := srv.Client()
	ctx := context.Background()
	const window = 10 * time.Second // tick 1s, reach 11s
	for _, tc := range []struct {
		hold HoldMode
		want time.Duration
	}{
		{HoldNone, 11*time.Second + time.Second},
		{HoldAll, 22*time.Second + time.Second},
	} {
		t.Run(string(tc.hold), func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			cfg.Backlinks.Window = window
			cfg.Backlinks.Hold = Hold{Mode: tc.hold}
			cfg.Backlinks.Index.Backend = IndexRedis
			prefix := "ttl-" + string(tc.hold) + ":"
			r := &cfg.Backlinks.Index.Redis
			r.Endpoints, r.KeyPrefix, r.Timeout = []string{srv.Addr}, prefix, 5*time.Second
			require.NoError(t, cfg.Validate())
			p := newTestProcessor(t, cfg, new(consumertest.TracesSink), &fakeClock{t: start})
			require.NoError(t, p.Start(ctx, nil))
			require.NoError(t, p.ConsumeTraces(ctx, inputOf(func(td ptrace.Traces) { batchSpan(td, 1, 1, 1) })))
			keys, err := rc.Keys(ctx, prefix+"*").Result()
			require.NoError(t, err)
			require.Len(t, keys, 1, "one target linked")
			ttl, err := rc.PTTL(ctx, keys[0]).Result()
			require.NoError(t, err)
			t.Logf("hold: %s: key TTL %v, want %v", tc.hold, ttl, tc.want)
			assert.LessOrEqual(t, ttl, tc.want)
			assert.Greater(t, ttl, tc.want-2*time.Second)
			require.NoError(t, p.Shutdown(ctx))
		})
	}
}

// TestRedisDownThenUp: a collector whose Redis is down at start-up starts,
// loses no span and holds none past its window; the spans leave with the
// backlinks known so far (none); the failures are counted and logged,
// sampled; a paused Redis does not cost a timeout per batch; and pairing
// resumes by itself once Redis is back.
func TestRedisDownThenUp(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	set, tel := telemetrySettings(t)
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
	where := logs.FilterMessage("Link index on Redis").All()
	require.Len(t, where, 1, "the Redis the index is on is logged at start")
	assert.Equal(t, []any{srv.Addr}, where[0].ContextMap()["endpoints"])
	assert.Equal(t, cfg.Backlinks.Index.Redis.KeyPrefix, where[0].ContextMap()["key_prefix"])

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
	failed := logs.FilterMessageSnippet("The link index failed")
	warned := failed.Len()
	assert.Positive(t, warned, "failures logged")
	assert.Equal(t, []any{srv.Addr}, failed.All()[0].ContextMap()["endpoints"], "the failure names the Redis")
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

// TestRedisTLS: backlinks.index.redis.tls, with the CA of a Redis that
// accepts only TLS, pairs an order with its batch through it.
func TestRedisTLS(t *testing.T) {
	srv := redistest.StartTLS(t)
	cfg := createDefaultConfig().(*Config)
	cfg.Backlinks.Window = 10 * time.Second
	useRedis(t, cfg, srv.Addr)
	cfg.Backlinks.Index.Redis.TLS.Insecure = false
	cfg.Backlinks.Index.Redis.TLS.CAFile = srv.CAFile
	require.NoError(t, cfg.Validate())
	sink := new(consumertest.TracesSink)
	clock := &fakeClock{t: start}
	p := newTestProcessor(t, cfg, sink, clock)
	ctx := context.Background()
	require.NoError(t, p.Start(ctx, nil))
	require.NoError(t, p.ConsumeTraces(ctx, inputOf(func(td ptrace.Traces) { orderSpan(td, 1) })))
	require.NoError(t, p.ConsumeTraces(ctx, inputOf(func(td ptrace.Traces) { batchSpan(td, 1, 1, 1) })))
	clock.Set(start.Add(10 * time.Second))
	p.releaseDue(nil)
	require.NoError(t, p.Shutdown(ctx))
	count, _ := findSpan(t, sink, "receive-order").Attributes().Get(attrBacklinksCount)
	assert.Equal(t, int64(1), count.Int())
}

// TestMeasureIndexCPU feeds the same batches (500 spans: 450 orders, 50
// batch spans linking 9 orders each, every order linked by the next batch)
// through the processor with the index in memory and on a real redis-server,
// and reports this process's CPU per span and, for Redis, the server's CPU
// per span. It runs only with SPANLINKS_MEASURE=1.
func TestMeasureIndexCPU(t *testing.T) {
	redistest.MeasureOnly(t, ".")
	const batches, orders, batchSpans = 400, 450, 50
	inputs := make([]ptrace.Traces, batches)
	for i := range inputs {
		td := ptrace.NewTraces()
		for j := range orders {
			orderSpan(td, i*orders+j+1)
		}
		for j := range batchSpans {
			// Links the orders of the previous input: the linker comes after.
			first := (i-1)*orders + j*9 + 1
			if i == 0 {
				first = j*9 + 1
			}
			batchSpan(td, i*batchSpans+j+1, first, first+8)
		}
		inputs[i] = td
	}
	srv := redistest.Start(t)
	rc := srv.Client()
	cpu := map[IndexBackend]float64{}
	for _, backend := range []IndexBackend{IndexMemory, IndexRedis} {
		cfg := createDefaultConfig().(*Config)
		cfg.Backlinks.Hold = Hold{Mode: HoldNone}
		if backend == IndexRedis {
			useRedis(t, cfg, srv.Addr)
		}
		clock := &fakeClock{t: start}
		p := newTestProcessor(t, cfg, consumertest.NewNop(), clock)
		ctx := context.Background()
		require.NoError(t, p.Start(ctx, nil))
		require.NoError(t, p.ConsumeTraces(ctx, copyOf(inputs[0]))) // connect
		redis0, self0, wall0 := redistest.ServerCPU(t, rc), redistest.ProcessCPU(), time.Now()
		for i, in := range inputs {
			clock.Set(start.Add(time.Duration(i) * 10 * time.Millisecond))
			require.NoError(t, p.ConsumeTraces(ctx, copyOf(in)))
		}
		redis1, self1, wall := redistest.ServerCPU(t, rc), redistest.ProcessCPU(), time.Since(wall0)
		spans := float64(batches * (orders + batchSpans))
		cpu[backend] = (self1 - self0) * 1e6 / spans
		t.Logf("%s: collector CPU %.2f µs/span, wall %.2f µs/span, Redis CPU %.2f µs/span",
			backend, cpu[backend], float64(wall.Microseconds())/spans, (redis1-redis0)*1e6/spans)
		require.NoError(t, p.Shutdown(ctx))
	}
	t.Logf("collector CPU per span, redis / memory: %.2f", cpu[IndexRedis]/cpu[IndexMemory])
}

func copyOf(td ptrace.Traces) ptrace.Traces {
	out := ptrace.NewTraces()
	td.CopyTo(out)
	return out
}

// TestFleetAutoLearnsInFirstWindow measures how soon each of two
// collectors on one Redis, both with the default hold (auto) and started
// knowing no class, holds the orders' class when every order is linked
// only through the other collector: each second an order goes to each, and
// two seconds later the batch that links it goes to the other one. Each
// collector holds every span for its first window (10s and a 1s tick) and
// learns the class when its first orders leave that hold with backlinks
// from Redis, before the first window is over: no order passes unheld and
// every order carries its backlink, so classes need not be shared.
func TestFleetAutoLearnsInFirstWindow(t *testing.T) {
	srv := redistest.Start(t)
	clock := &fakeClock{t: start}
	a, sinkA := newFleetProcessorHolding(t, []string{srv.Addr}, false, "auto:", clock, Hold{Mode: HoldAuto})
	b, sinkB := newFleetProcessorHolding(t, []string{srv.Addr}, false, "auto:", clock, Hold{Mode: HoldAuto})
	ctx := context.Background()
	orderClass := learner.Class{Service: "order-api", Name: "receive-order", Kind: ptrace.SpanKindServer}
	type collector struct {
		name     string
		p        *spanLinksProcessor
		sink     *consumertest.TracesSink
		learntAt time.Duration // when it first held orderClass; -1: not yet
		unheld   int           // orders that passed in the call they came in
		batches  int           // batches it was sent before it held the class
	}
	cs := []*collector{{name: "A", p: a, sink: sinkA, learntAt: -1}, {name: "B", p: b, sink: sinkB, learntAt: -1}}
	const seconds = 40
	for s := range seconds {
		at := time.Duration(s) * time.Second
		clock.Set(start.Add(at))
		for i, c := range cs {
			c.p.releaseDue(nil)
			if c.learntAt < 0 && slices.Contains(c.p.learn.HeldClasses(), orderClass) {
				c.learntAt = at
			}
			n := 2*s + i + 1 // A gets the odd orders, B the even
			before := c.sink.SpanCount()
			require.NoError(t, c.p.ConsumeTraces(ctx, inputOf(orders(n, n))))
			c.unheld += c.sink.SpanCount() - before
			if s >= 2 { // the batch of the order the other got 2s ago
				m := 2*(s-2) + (1 - i) + 1
				require.NoError(t, c.p.ConsumeTraces(ctx, inputOf(func(td ptrace.Traces) { batchSpan(td, m, m, m) })))
				if c.learntAt < 0 {
					c.batches++
				}
			}
		}
	}
	for s := seconds; s <= seconds+12; s++ { // the release loop's ticks, until all have left
		clock.Set(start.Add(time.Duration(s) * time.Second))
		for _, c := range cs {
			c.p.releaseDue(nil)
		}
	}
	for _, c := range cs {
		assert.Zero(t, c.p.hold.Len())
		require.NoError(t, c.p.Shutdown(ctx))
	}
	paired := 0
	for _, c := range cs {
		t.Logf("collector %s: holds the orders' class from %s, after %d batches; %d of its %d orders passed unheld",
			c.name, c.learntAt, c.batches, c.unheld, seconds)
		assert.GreaterOrEqual(t, c.learntAt, time.Duration(0), "collector %s learns the class", c.name)
		assert.Less(t, c.learntAt, 11*time.Second, "collector %s learns the class within its first window", c.name)
		assert.Zero(t, c.unheld, "collector %s: no order passes unheld", c.name)
		for _, td := range c.sink.AllTraces() {
			forEachSpan(td, func(s ptrace.Span) {
				if count, ok := s.Attributes().Get(attrBacklinksCount); ok && s.Name() == "receive-order" && count.Int() == 1 {
					paired++
				}
			})
		}
	}
	assert.Equal(t, 2*seconds-4, paired, "every order but the last two seconds' (never linked) carries its backlink")
}
