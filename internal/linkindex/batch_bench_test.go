package linkindex

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkLinkIndexAddSpans adds the links of batches of 500 spans with 5
// links each to random targets, into a full 1M-entry index: link by link,
// and a batch at a time, as the processor does. ns/link is per link.
func BenchmarkLinkIndexAddSpans(b *testing.B) {
	const spans, perSpan = 500, 5
	r := rand.New(rand.NewPCG(3, 4))
	type span struct {
		id      Ref
		targets [perSpan]Ref
	}
	batches := make([][]span, 450) // 1.125M links: a batch comes back after its entries were evicted
	for i := range batches {
		batches[i] = make([]span, spans)
		for j := range batches[i] {
			s := &batches[i][j]
			s.id = randRef(r)
			for k := range s.targets {
				s.targets[k] = randRef(r)
			}
		}
	}
	for _, batched := range []bool{false, true} {
		name := "link-by-link"
		if batched {
			name = "batched"
		}
		b.Run(name, func(b *testing.B) {
			ix := NewMemory(time.Minute, 1_000_000)
			fillIndex(ix, rand.New(rand.NewPCG(1, 2)), 1_000_000, time.Now(), false)
			now := time.Now()
			o := &one{ix: ix}
			var lb Links
			links := 0
			for i := 0; b.Loop(); i++ {
				for _, s := range batches[i%len(batches)] {
					l := Linker{Ref: s.id, Name: "consume"}
					for _, to := range s.targets {
						if batched {
							lb.Link(KeyOf(to.TraceID, to.SpanID))
						} else {
							o.add(to, l, now)
						}
					}
					if batched {
						lb.Linker(KeyOf(l.TraceID, l.SpanID), l.Name, false)
					}
				}
				if batched {
					_ = ix.Add(context.Background(), &lb, now)
					lb.Reset()
				}
				links += spans * perSpan
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(links), "ns/link")
		})
	}
}
