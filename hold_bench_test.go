package spanlinksprocessor

import (
	"context"
	"runtime"
	"testing"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/spanlinks/spanlinksprocessor/internal/hold"
)

// typicalBatch is what an OTLP exporter sends: 100 server spans, each with
// the attributes of an HTTP request, one in ten carrying a link.
func typicalBatch(n int) ptrace.Traces {
	td := ptrace.NewTraces()
	for i := 0; i < 100; i++ {
		s := orderSpan(td, n*100+i+1)
		putHTTPServerAttributes(s.Attributes())
		if i%10 == 0 {
			linkTo(s, traceID(kindTarget, n*100+i+1), spanID(kindTarget, n*100+i+1), flagsSampled)
		}
	}
	return td
}

// liveHeap returns the live heap, with garbage collected.
func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkHoldMemory measures the heap per held span with hold: all:
// "bytes/held-span" in all, "span-bytes/span" for the same spans kept in a
// plain slice, "hold-bytes/span", what holding adds on top (the index
// entries of the spans' links included), and "proto-bytes/span", the
// spans' protobuf size, which max_held_bytes counts. The spans are HTTP
// server spans, one in ten with a link.
func BenchmarkHoldMemory(b *testing.B) { holdMemory(b, typicalBatch) }

// BenchmarkHoldMemoryTelemetrygen is BenchmarkHoldMemory for the spans of
// make bench-e2e's telemetrygen load: 2 attributes and 5 links each, with 2
// attributes per link.
func BenchmarkHoldMemoryTelemetrygen(b *testing.B) {
	g := newMixGen(fillTelemetrygen)
	batches := make([]ptrace.Traces, 0, 1000)
	for len(batches) < cap(batches) {
		td := g.next()
		// In batches of 100 spans, as typicalBatch makes them.
		for td.SpanCount() > 0 {
			part := ptrace.NewTraces()
			rs := part.ResourceSpans().AppendEmpty()
			td.ResourceSpans().At(0).Resource().CopyTo(rs.Resource())
			ss := rs.ScopeSpans().AppendEmpty()
			spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
			n := 0
			spans.RemoveIf(func(s ptrace.Span) bool {
				if n == 100 {
					return false
				}
				n++
				s.MoveTo(ss.Spans().AppendEmpty())
				return true
			})
			batches = append(batches, part)
		}
	}
	holdMemory(b, func(i int) ptrace.Traces {
		td := ptrace.NewTraces()
		batches[i%len(batches)].CopyTo(td)
		return td
	})
}

// holdMemory measures the heap per held span of 1000 batches of 100 spans
// that batch(i) makes.
func holdMemory(b *testing.B, batch func(i int) ptrace.Traces) {
	const batches = 1000 // 100k spans
	var total, data, proto float64
	for b.Loop() {
		keep := make([]ptrace.Traces, 0, batches)
		base := liveHeap()
		size := 0
		for i := 0; i < batches; i++ {
			keep = append(keep, batch(i))
			size += hold.Size(keep[i])
		}
		data = float64(liveHeap()-base) / (batches * 100)
		proto = float64(size) / (batches * 100)
		runtime.KeepAlive(keep)
		keep = nil

		cfg := createDefaultConfig().(*Config)
		p := newTestProcessor(b, cfg, consumertest.NewNop(), &fakeClock{t: start})
		base = liveHeap()
		for i := 0; i < batches; i++ {
			if err := p.ConsumeTraces(context.Background(), batch(i)); err != nil {
				b.Fatal(err)
			}
		}
		held := liveHeap()
		if p.hold.Len() != batches*100 {
			b.Fatalf("held %d spans, want %d", p.hold.Len(), batches*100)
		}
		total = float64(held-base) / (batches * 100)
		runtime.KeepAlive(p)
	}
	b.ReportMetric(total, "bytes/held-span")
	b.ReportMetric(data, "span-bytes/span")
	b.ReportMetric(total-data, "hold-bytes/span")
	b.ReportMetric(proto, "proto-bytes/span")
}

// BenchmarkHeldSize measures what max_held_bytes costs: the protobuf size
// of a typical batch, computed once per held batch, per span ("ns/span"),
// and that size per span ("proto-bytes/span").
func BenchmarkHeldSize(b *testing.B) {
	td := typicalBatch(0)
	size := 0
	b.ReportAllocs()
	for b.Loop() {
		size = hold.Size(td)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/span")
	b.ReportMetric(float64(size)/100, "proto-bytes/span")
}

// BenchmarkConsumeHoldMode measures ConsumeTraces per span of typical
// batches that nothing links to, which every mode but all passes at once:
// none (the spans remembered for missed backlinks) and auto (each span's
// class looked up too).
func BenchmarkConsumeHoldMode(b *testing.B) {
	for _, mode := range []HoldMode{HoldNone, HoldAuto} {
		b.Run(string(mode), func(b *testing.B) {
			cfg := createDefaultConfig().(*Config)
			cfg.Backlinks.Hold = Hold{Mode: mode}
			p := newTestProcessor(b, cfg, consumertest.NewNop(), &fakeClock{t: start})
			in := make([]ptrace.Traces, 1000)
			for i := range in {
				in[i] = typicalBatch(i)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				td := ptrace.NewTraces()
				in[i%len(in)].CopyTo(td)
				if err := p.ConsumeTraces(context.Background(), td); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i*100), "ns/span")
		})
	}
}
