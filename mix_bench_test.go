package spanlinksprocessor

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"github.com/spanlinks/spanlinksprocessor/internal/redistest"
)

// The mix benchmarks measure the processor per span over realistic inputs
// built in code, next to two floors run on the same inputs in the same run:
//
//   - bare: a visit of every span that reads its span ID;
//   - floor: the least work any link processor must do: visit every span and
//     link, look each span's own IDs up in a plain Go map of link targets,
//     and insert each link target into it (the map is cleared whenever it
//     reaches max_index_entries, so that it stays as big as the index).
//
// Each input batch holds benchBatchSpans spans under one resource and scope,
// with random IDs and the attributes of an HTTP or messaging span. Batches
// are built fresh, outside the timer, a chunk at a time: the processor
// changes its input, so no batch is fed twice. Every benchmark first warms
// up until the index (and with hold: all, the hold) is in its steady state,
// full and evicting, and the spans remembered for missed backlinks at
// their bound. The fake clock moves benchClockStep per batch.
//
// An op is one batch; ns/span, B/span and allocs/span divide what was
// measured by the spans fed. cpu-ns/span is the process's CPU time over the
// timed feeding, on every thread: it counts the garbage collector's
// background marking, which ns/span misses when it runs on another core,
// as the CPU that make bench-e2e measures does; it also counts marking set
// off by the untimed building of batches, as the floor's and the bare
// visit's show. x-floor and x-bare divide ns/span by that of
// the floor and the bare visit of the same mix, measured last in this run.

const (
	// benchBatchSpans is the spans in one input batch: an SDK's batch span
	// processor exports up to 512 at a time.
	benchBatchSpans = 500
	// benchChunk is how many batches are built at a time, outside the timer.
	benchChunk = 16
	// benchClockStep is how far the clock moves per batch: 100k spans/s.
	benchClockStep = 5 * time.Millisecond
	// benchWarmSpans bounds the spans fed before the timer starts.
	benchWarmSpans = 2_000_000
)

// mixGen builds the input batches of one mix, deterministically.
type mixGen struct {
	r       *rand.Rand
	prev    []linkindex.Ref // the spans of the previous batch: link targets
	cur     []linkindex.Ref
	recent  []linkindex.Ref // the last telemetrygenContexts spans, for fillTelemetrygen
	batches int             // batches made, for fillMixed
	fill    func(g *mixGen, td ptrace.Traces)
}

func newMixGen(fill func(g *mixGen, td ptrace.Traces)) *mixGen {
	return &mixGen{r: rand.New(rand.NewPCG(7, 11)), fill: fill}
}

// next builds one batch.
func (g *mixGen) next() ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	ra := rs.Resource().Attributes()
	ra.PutStr("service.name", "orders")
	ra.PutStr("service.version", "2.3.1")
	ra.PutStr("host.name", "orders-7f9c-2")
	rs.ScopeSpans().AppendEmpty().Scope().SetName("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp")
	g.cur = g.cur[:0]
	g.fill(g, td)
	g.prev, g.cur = g.cur, g.prev
	return td
}

// ref returns random IDs, as an SDK makes them.
func (g *mixGen) ref() linkindex.Ref {
	var s linkindex.Ref
	binary.LittleEndian.PutUint64(s.TraceID[:8], g.r.Uint64())
	binary.LittleEndian.PutUint64(s.TraceID[8:], g.r.Uint64())
	binary.LittleEndian.PutUint64(s.SpanID[:], g.r.Uint64())
	return s
}

// target returns the i-th span of the previous batch, or random IDs before
// there is one.
func (g *mixGen) target(i int) linkindex.Ref {
	if len(g.prev) == 0 {
		return g.ref()
	}
	return g.prev[i%len(g.prev)]
}

// span appends a span with IDs id and the attributes of an HTTP server span.
func (g *mixGen) span(td ptrace.Traces, id linkindex.Ref, name string) ptrace.Span {
	s := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().AppendEmpty()
	s.SetTraceID(id.TraceID)
	s.SetSpanID(id.SpanID)
	s.SetParentSpanID(g.ref().SpanID)
	s.SetName(name)
	s.SetKind(ptrace.SpanKindServer)
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(50 * time.Millisecond)))
	putHTTPServerAttributes(s.Attributes())
	g.cur = append(g.cur, id)
	return s
}

// spans returns n new spans named name, with random IDs and the attributes
// of an HTTP server span, in a batch of their own.
func (g *mixGen) spans(n int, name string) []ptrace.Span {
	td := ptrace.NewTraces()
	td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	spans := make([]ptrace.Span, n)
	for i := range spans {
		spans[i] = g.span(td, g.ref(), name)
	}
	return spans
}

// putHTTPServerAttributes puts the six attributes of an HTTP server span
// that the benchmarks' spans carry.
func putHTTPServerAttributes(a pcommon.Map) {
	a.PutStr("http.request.method", "POST")
	a.PutStr("url.path", "/orders")
	a.PutInt("http.response.status_code", 201)
	a.PutStr("server.address", "orders.internal")
	a.PutStr("user_agent.original", "checkout/2.3")
	a.PutStr("order.id", "ord-000000")
}

// link appends to s a link to to, with the W3C sampled flag set.
func link(s ptrace.Span, to linkindex.Ref) {
	l := s.Links().AppendEmpty()
	l.SetTraceID(to.TraceID)
	l.SetSpanID(to.SpanID)
	l.SetFlags(flagsSampled)
}

// fillNoLinks is mix (a): spans without links.
func fillNoLinks(g *mixGen, td ptrace.Traces) {
	for range benchBatchSpans {
		g.span(td, g.ref(), "POST /orders")
	}
}

// fillBatch is mix (b): 1% batch spans with 200 links each, to spans of the
// previous batch, among spans with one link each, to their producer in the
// previous batch (a queue consumer).
func fillBatch(g *mixGen, td ptrace.Traces) {
	for i := range benchBatchSpans {
		if i%100 == 99 {
			s := g.span(td, g.ref(), "process-batch")
			s.Attributes().PutInt("messaging.batch.message_count", 200)
			first := g.r.IntN(benchBatchSpans)
			for j := range 200 {
				link(s, g.target(first+j))
			}
			continue
		}
		link(g.span(td, g.ref(), "consume-order"), g.target(i))
	}
}

// fanOut is how many workers each trigger span of mix (c) fans out to.
const fanOut = 9

// fillFanOut is mix (c): fan-out, groups of workers each linking to their
// trigger span, which ends after them and comes after them in the batch.
func fillFanOut(g *mixGen, td ptrace.Traces) {
	for range benchBatchSpans / (fanOut + 1) {
		trigger := g.ref()
		for range fanOut {
			link(g.span(td, g.ref(), "work-item"), trigger)
		}
		g.span(td, trigger, "fan-out")
	}
}

// telemetrygenContexts is how many recent spans telemetrygen (v0.161.0)
// picks its links from.
const telemetrygenContexts = 1000

// fillTelemetrygen is mix (e), and with hold: all mix (f): the load of
// make bench-e2e, as telemetrygen makes it with --child-spans 1
// --span-links 5: traces of a client span and a server span, each with 5
// links, with two attributes each, to spans picked at random among the
// last 1000.
func fillTelemetrygen(g *mixGen, td ptrace.Traces) { g.telemetrygen(td, 5) }

// mixedLinkedEvery: in mix (g), one batch in this many is of the linked
// service.
const mixedLinkedEvery = 10

// fillMixed is mix (g), with hold: auto: the mixed load of make bench-e2e
// (issue 23), as two telemetrygen processes make it: 9 batches in 10 of
// service mixed-plain, without links, never linked to; the tenth of
// service mixed-linked, with 3 links a span to its own recent spans.
func fillMixed(g *mixGen, td ptrace.Traces) {
	g.batches++
	ra := td.ResourceSpans().At(0).Resource().Attributes()
	if g.batches%mixedLinkedEvery != 0 {
		ra.PutStr("service.name", "mixed-plain")
		g.telemetrygen(td, 0)
		return
	}
	ra.PutStr("service.name", "mixed-linked")
	g.telemetrygen(td, 3)
}

// telemetrygen fills td with the spans telemetrygen makes with
// --child-spans 1 --span-links links; with links, later spans may link to
// them, without, none does.
func (g *mixGen) telemetrygen(td ptrace.Traces, links int) {
	for i := range benchBatchSpans {
		id := g.ref()
		name, peer := "lets-go", "telemetrygen-server"
		if i%2 == 1 {
			name, peer = "okey-dokey-0", "telemetrygen-client"
		}
		s := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().AppendEmpty()
		s.SetTraceID(id.TraceID)
		s.SetSpanID(id.SpanID)
		s.SetName(name)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(123 * time.Microsecond)))
		s.Attributes().PutStr("network.peer.address", "1.2.3.4")
		s.Attributes().PutStr("peer.service", peer)
		for j := range links {
			if len(g.recent) == 0 {
				break
			}
			l := s.Links().AppendEmpty()
			to := g.recent[g.r.IntN(len(g.recent))]
			l.SetTraceID(to.TraceID)
			l.SetSpanID(to.SpanID)
			l.SetFlags(flagsSampled)
			l.Attributes().PutStr("link.type", "random")
			l.Attributes().PutInt("link.index", int64(j))
		}
		if links == 0 {
			continue
		}
		if g.recent = append(g.recent, id); len(g.recent) > telemetrygenContexts {
			g.recent = g.recent[1:]
		}
	}
}

// benchMix is one input mix and the processor configuration it runs with.
type benchMix struct {
	name string
	fill func(g *mixGen, td ptrace.Traces)
	cfg  func(c *Config)
}

func holdNone(c *Config) { c.Backlinks.Hold = Hold{Mode: HoldNone} }
func holdAll(c *Config)  { c.Backlinks.Hold = Hold{Mode: HoldAll} }
func holdAuto(c *Config) { c.Backlinks.Hold = Hold{Mode: HoldAuto} }

func backlinksOff(c *Config) { c.Backlinks.Enabled = false }

var benchMixes = []benchMix{
	{name: "a-no-links", fill: fillNoLinks, cfg: holdNone},
	{name: "b-batch-1pct", fill: fillBatch, cfg: holdNone},
	{name: "c-fan-out", fill: fillFanOut, cfg: holdNone},
	{name: "d-held", fill: fillBatch, cfg: holdAll},
	{name: "e-telemetrygen", fill: fillTelemetrygen, cfg: holdNone},
	{name: "f-telemetrygen-held", fill: fillTelemetrygen, cfg: holdAll},
	{name: "g-mixed", fill: fillMixed, cfg: holdAuto},
}

// floorRun is the floor: the least work any link processor must do.
type floorRun struct {
	targets map[linkindex.Ref]struct{}
	max     int
	hits    int
}

func (f *floorRun) consume(td ptrace.Traces) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				s := spans.At(k)
				if _, ok := f.targets[linkindex.Ref{TraceID: s.TraceID(), SpanID: s.SpanID()}]; ok {
					f.hits++
				}
				links := s.Links()
				for l := 0; l < links.Len(); l++ {
					ln := links.At(l)
					if len(f.targets) >= f.max {
						clear(f.targets)
					}
					f.targets[linkindex.Ref{TraceID: ln.TraceID(), SpanID: ln.SpanID()}] = struct{}{}
				}
			}
		}
	}
}

// bareRun is a bare visit of every span.
type bareRun struct{ sum uint64 }

func (v *bareRun) consume(td ptrace.Traces) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				id := spans.At(k).SpanID()
				v.sum ^= binary.LittleEndian.Uint64(id[:])
			}
		}
	}
}

// benchFloors holds, per mix, the ns/span of its floor and bare visit
// measured last, so that the processor's runs report their ratios to them.
var benchFloors = struct {
	sync.Mutex
	floor, bare map[string]float64
}{floor: map[string]float64{}, bare: map[string]float64{}}

// mixRunner feeds batches to one consumer and keeps its state between the
// calls the testing package makes with growing b.N, so that the warm-up is
// paid once per benchmark.
type mixRunner struct {
	name    string
	gen     *mixGen
	clock   *fakeClock
	consume func(td ptrace.Traces)
	full    func() bool // whether its state is as big as it gets
	close   func()
}

var currentRunner *mixRunner

// runner returns the runner for the running benchmark, building and
// warming it up on its first call, and dropping the previous benchmark's.
func runner(b *testing.B, m benchMix, kind string) *mixRunner {
	if currentRunner != nil && currentRunner.name == b.Name() {
		return currentRunner
	}
	if currentRunner != nil {
		currentRunner.close()
		currentRunner = nil
		runtime.GC()
	}
	cfg := createDefaultConfig().(*Config)
	m.cfg(cfg)
	r := &mixRunner{
		name:  b.Name(),
		gen:   newMixGen(m.fill),
		clock: &fakeClock{t: start},
		full:  func() bool { return true },
		close: func() {},
	}
	switch kind {
	case "bare":
		v := new(bareRun)
		r.consume = v.consume
	case "floor":
		f := &floorRun{targets: map[linkindex.Ref]struct{}{}, max: cfg.Backlinks.MaxIndexEntries}
		cleared := false
		r.consume = func(td ptrace.Traces) {
			n := len(f.targets)
			f.consume(td)
			cleared = cleared || len(f.targets) < n
		}
		r.full = func() bool { return cleared }
	default:
		if kind == "spanlinks-backlinks-off" {
			backlinksOff(cfg)
		}
		p := newTestProcessor(b, cfg, consumertest.NewNop(), r.clock)
		ctx := context.Background()
		r.consume = func(td ptrace.Traces) {
			if err := p.ConsumeTraces(ctx, td); err != nil {
				b.Fatal(err)
			}
			if p.hold != nil {
				p.releaseDue(nil) // what the release loop does, in the same goroutine
			}
		}
		r.close = func() {
			if err := p.Shutdown(ctx); err != nil {
				b.Fatal(err)
			}
		}
		r.full = func() bool {
			// An index still empty after a batch: the mix has no links.
			return (p.index == nil || p.index.Empty() || p.index.Stats().Evicted > 0) &&
				(p.hold == nil || p.hold.Len() > cfg.Backlinks.MaxHeldSpans-benchBatchSpans) &&
				(p.learn == nil || func() bool { n, _ := p.learn.Remembered(); return n > cfg.Backlinks.MaxIndexEntries-benchBatchSpans }())
		}
	}
	// Warm up until the index, the hold or the floor's map is full, or
	// benchWarmSpans were fed (mix (a) never fills the index).
	for n := 0; n < benchWarmSpans; n += benchBatchSpans {
		r.feed(r.gen.next())
		if r.full() {
			break
		}
	}
	for range benchChunk {
		r.feed(r.gen.next())
	}
	currentRunner = r
	return r
}

// feed moves the clock one step and feeds td.
func (r *mixRunner) feed(td ptrace.Traces) {
	r.clock.Set(r.clock.Now().Add(benchClockStep))
	r.consume(td)
}

// run feeds b.N fresh batches, timing only the feeding, and reports ns,
// bytes and allocations per span.
func (r *mixRunner) run(b *testing.B) (nsPerSpan float64) {
	var before, after runtime.MemStats
	var bytes, allocs uint64
	var cpu float64 // seconds
	batches := make([]ptrace.Traces, 0, benchChunk)
	b.StopTimer()
	b.ResetTimer()
	for done := 0; done < b.N; done += len(batches) {
		batches = batches[:0]
		for range min(benchChunk, b.N-done) {
			batches = append(batches, r.gen.next())
		}
		runtime.ReadMemStats(&before)
		c0 := redistest.ProcessCPU()
		b.StartTimer()
		for _, td := range batches {
			r.feed(td)
		}
		b.StopTimer()
		cpu += redistest.ProcessCPU() - c0
		runtime.ReadMemStats(&after)
		bytes += after.TotalAlloc - before.TotalAlloc
		allocs += after.Mallocs - before.Mallocs
	}
	spans := float64(b.N * benchBatchSpans)
	nsPerSpan = float64(b.Elapsed().Nanoseconds()) / spans
	b.ReportMetric(nsPerSpan, "ns/span")
	b.ReportMetric(cpu*1e9/spans, "cpu-ns/span")
	b.ReportMetric(float64(bytes)/spans, "B/span")
	b.ReportMetric(float64(allocs)/spans, "allocs/span")
	return nsPerSpan
}

// BenchmarkMix runs every mix under the bare visit, the floor and the
// processor, in that order, so that the processor's ratios to the floor
// come from the same run.
func BenchmarkMix(b *testing.B) {
	for _, m := range benchMixes {
		b.Run(m.name, func(b *testing.B) {
			kinds := []string{"floor", "spanlinks"}
			if m.name == "a-no-links" {
				kinds = []string{"bare", "floor", "spanlinks", "spanlinks-backlinks-off"}
			}
			for _, kind := range kinds {
				b.Run(kind, func(b *testing.B) {
					ns := runner(b, m, kind).run(b)
					benchFloors.Lock()
					defer benchFloors.Unlock()
					switch kind {
					case "bare":
						benchFloors.bare[m.name] = ns
					case "floor":
						benchFloors.floor[m.name] = ns
					default:
						if f := benchFloors.floor[m.name]; f > 0 {
							b.ReportMetric(ns/f, "x-floor")
						}
						if v := benchFloors.bare[m.name]; v > 0 {
							b.ReportMetric(ns/v, "x-bare")
						}
					}
				})
			}
		})
	}
	if currentRunner != nil {
		currentRunner.close()
		currentRunner = nil
	}
}
