package spanlinksprocessor

import (
	"context"
	"runtime"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// BenchmarkLearnerMemory measures the heap the learner takes per span it
// remembers ("bytes/remembered-span"): 100k HTTP server spans of one
// class that passed unheld, remembered for the window. The spans
// themselves are made before the measure and not counted.
func BenchmarkLearnerMemory(b *testing.B) {
	const batches = 1000 // 100k spans
	in := make([]ptrace.Traces, batches)
	for i := range in {
		in[i] = typicalBatch(i)
	}
	var per float64
	for b.Loop() {
		base := liveHeap()
		l := newLearner(true, 30*time.Second, 1000000, nil)
		for _, td := range in {
			l.passed(td, start)
		}
		after := liveHeap()
		if n, _ := l.remembered(); n != batches*100 {
			b.Fatalf("remembered %d spans, want %d", n, batches*100)
		}
		per = float64(after-base) / (batches * 100)
		runtime.KeepAlive(l)
	}
	b.ReportMetric(per, "bytes/remembered-span")
}

// BenchmarkLearnerPassed measures remembering a batch of 100 spans in the
// steady state, the oldest forgotten as new ones come ("ns/span").
func BenchmarkLearnerPassed(b *testing.B) {
	l := newLearner(true, 30*time.Second, 10000, nil)
	in := make([]ptrace.Traces, 200) // 20k distinct spans: twice the limit
	for i := range in {
		in[i] = typicalBatch(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.passed(in[i%len(in)], start)
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i*100), "ns/span")
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
