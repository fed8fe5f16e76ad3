package spanlinksprocessor

import (
	"math/rand/v2"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// BenchmarkWriteBacklinks measures writing the backlink attributes of 3
// linkers on a span that already has the 6 attributes of an HTTP span, as
// a released span of mix (d) gets them.
func BenchmarkWriteBacklinks(b *testing.B) {
	g := newMixGen(fillNoLinks)
	r := rand.New(rand.NewPCG(1, 2))
	bl := Backlinks{Count: 3, ErrorCount: 1}
	for i := range 3 {
		bl.Linkers = append(bl.Linkers, Linker{SpanRef: randRef(r), Name: "consume-order", Error: i == 1})
	}
	const n = 512
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		td := ptrace.NewTraces()
		td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
		spans := make([]ptrace.Span, n)
		for i := range spans {
			spans[i] = g.span(td, g.ref(), "POST /orders")
		}
		b.StartTimer()
		for _, s := range spans {
			writeBacklinks(s, bl, 32, false)
		}
	}
}
