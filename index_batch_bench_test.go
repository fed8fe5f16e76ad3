package spanlinksprocessor

import (
	"math/rand/v2"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// BenchmarkLinkIndexAddSpans adds the links of batches of 500 spans with 5
// links each to random targets, into a full 1M-entry index: link by link,
// as indexLinks does, and a batch at a time, as linkBatch does. ns/link is
// per link.
func BenchmarkLinkIndexAddSpans(b *testing.B) {
	g := newMixGen(func(g *mixGen, td ptrace.Traces) {
		for range benchBatchSpans {
			s := g.span(td, g.ref(), "consume")
			for range 5 {
				link(s, g.ref())
			}
		}
	})
	batches := make([]ptrace.Traces, 450) // 1.125M links: a batch comes back after its entries were evicted
	for i := range batches {
		batches[i] = g.next()
	}
	for _, batched := range []bool{false, true} {
		name := "link-by-link"
		if batched {
			name = "batched"
		}
		b.Run(name, func(b *testing.B) {
			ix := newMemoryIndex(time.Minute, 1_000_000)
			fillIndex(ix, rand.New(rand.NewPCG(1, 2)), 1_000_000, time.Now(), false)
			now := time.Now()
			var lb linkBatch
			var idx LinkIndex = ix
			links := 0
			for i := 0; b.Loop(); i++ {
				td := batches[i%len(batches)]
				if batched {
					forEachSpan(td, func(s ptrace.Span) { lb.addSpan(idx, s) })
					indexBatch(idx, &lb, now)
				} else {
					forEachSpan(td, func(s ptrace.Span) { indexLinks(ix, s, now) })
				}
				links += benchBatchSpans * 5
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(links), "ns/link")
		})
	}
}
