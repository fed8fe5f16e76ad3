package spanlinksprocessor

import (
	"fmt"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// BenchmarkRepairLinks measures repairLinks on spans with 1, 20 and 200
// distinct valid links (the last truncated to 128 by the sample strategy),
// per span.
func BenchmarkRepairLinks(b *testing.B) {
	cfg := createDefaultConfig().(*Config)
	for _, links := range []int{1, 20, 200} {
		b.Run(fmt.Sprint(links, "-links"), func(b *testing.B) {
			g := newMixGen(fillNoLinks)
			const n = 64
			sc := new(scratch)
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				td := ptrace.NewTraces()
				td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
				spans := make([]ptrace.Span, n)
				for i := range spans {
					spans[i] = g.span(td, g.ref(), "process-batch")
					for range links {
						link(spans[i], g.ref())
					}
				}
				b.StartTimer()
				for _, s := range spans {
					repairLinks(s, cfg, sc, nil)
				}
			}
		})
	}
}
