package spanlinksprocessor

import (
	"context"
	"runtime"
	"testing"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
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
// plain slice, and "hold-bytes/span", what holding adds on top (the index
// entries of the spans' links included).
func BenchmarkHoldMemory(b *testing.B) {
	const batches = 1000 // 100k spans
	var total, data float64
	for b.Loop() {
		keep := make([]ptrace.Traces, 0, batches)
		base := liveHeap()
		for i := 0; i < batches; i++ {
			keep = append(keep, typicalBatch(i))
		}
		data = float64(liveHeap()-base) / (batches * 100)
		runtime.KeepAlive(keep)
		keep = nil

		cfg := createDefaultConfig().(*Config)
		p := newTestProcessor(b, cfg, consumertest.NewNop(), &fakeClock{t: start})
		base = liveHeap()
		for i := 0; i < batches; i++ {
			if err := p.ConsumeTraces(context.Background(), typicalBatch(i)); err != nil {
				b.Fatal(err)
			}
		}
		held := liveHeap()
		if p.hold.len() != batches*100 {
			b.Fatalf("held %d spans, want %d", p.hold.len(), batches*100)
		}
		total = float64(held-base) / (batches * 100)
		runtime.KeepAlive(p)
	}
	b.ReportMetric(total, "bytes/held-span")
	b.ReportMetric(data, "span-bytes/span")
	b.ReportMetric(total-data, "hold-bytes/span")
}

// BenchmarkHeldSize measures what max_held_bytes costs: the protobuf size
// of a typical batch, computed once per held batch, per span ("ns/span"),
// and that size per span ("proto-bytes/span").
func BenchmarkHeldSize(b *testing.B) {
	td := typicalBatch(0)
	size := 0
	b.ReportAllocs()
	for b.Loop() {
		size = heldSize(td)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/span")
	b.ReportMetric(float64(size)/100, "proto-bytes/span")
}
