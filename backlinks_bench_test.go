package spanlinksprocessor

import (
	"testing"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
)

// BenchmarkWriteBacklinks measures writing the backlink attributes of 3
// linkers on a span that already has the 6 attributes of an HTTP span, as
// a released span of mix (d) gets them.
func BenchmarkWriteBacklinks(b *testing.B) {
	g := newMixGen(fillNoLinks)
	bl := linkindex.Backlinks{Count: 3, ErrorCount: 1}
	for i := range 3 {
		bl.Linkers = append(bl.Linkers, linkindex.Linker{Ref: g.ref(), Name: "consume-order", Error: i == 1})
	}
	const n = 512
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		spans := g.spans(n, "POST /orders")
		b.StartTimer()
		for _, s := range spans {
			writeBacklinks(s, bl, 32, false)
		}
	}
}
