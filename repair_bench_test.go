package spanlinksprocessor

import (
	"fmt"
	"testing"
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
				spans := g.spans(n, "process-batch")
				for _, s := range spans {
					for range links {
						link(s, g.ref())
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
