package e2e

import (
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TestTailSamplingLateBacklinkSpans runs the tail-sampling recipe with
// tier 1 set to backlinks.deliver: spans, and a failed batch that arrives
// after tier 2 decided on the traces of its orders: the late backlink spans
// follow their trace's decision (the decision cache). Orders 9-11 were
// dropped, so their backlink spans are dropped too, the batch's failure
// notwithstanding; order 12 ended in error and was kept, so its backlink
// span joins it. The failed batch's own trace is kept by the errors policy.
func TestTailSamplingLateBacklinkSpans(t *testing.T) {
	s := newSink(t)
	tm := tierTiming{window: 30 * time.Second, decisionWait: time.Second, tier1Args: []string{
		"--set=processors::spanlinks::backlinks::deliver=spans",
		"--set=processors::spanlinks::backlinks::hold=auto", // the default: spans refuse any other
	}}
	tr := startTiers(t, s, tm)
	ts := tr.tailSampling
	decided := func() float64 {
		return metricOr0(ts, "otelcol_processor_tail_sampling_global_count_traces_sampled", "")
	}
	late := func(sampled string) float64 {
		return metricOr0(ts, "otelcol_processor_tail_sampling_early_releases_from_cache_decision", `sampled="`+sampled+`"`)
	}

	orders := ordersTraces(9, 12)
	failedOrder := orders.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(3) // order 12
	failedOrder.Status().SetCode(ptrace.StatusCodeError)
	post(t, tr.spanlinks, orders)
	if !s.waitFor(30*time.Second, func([]ptrace.Span) bool { return decided() >= 4 }) {
		t.Fatalf("tier 2 decided on %g of the 4 orders' traces within 30s", decided())
	}
	// Batch 3 fails (batchesTraces fails every third) and links orders 9-12.
	batch := batchesTraces(3, 3, 4)
	post(t, tr.spanlinks, batch)
	if !s.waitFor(30*time.Second, func([]ptrace.Span) bool {
		return late("false") >= 3 && late("true") >= 1 && decided() >= 5
	}) {
		t.Fatalf("within 30s: %g late spans dropped (want 3), %g kept (want 1), %g traces decided (want 5)", late("false"), late("true"), decided())
	}
	dropped, kept := late("false"), late("true")
	tr.spanlinks.stop(t)
	tr.tailSampling.stop(t)

	order12 := spanRef{id16(0xa0, 12), id8(0xa0, 12)}
	batchRef := spanRef{id16(0xb0, 3), id8(0xb0, 3)}
	want := map[spanRef]bool{
		order12:  true,
		batchRef: true,
		{order12.trace, backlinkSpanID(batchRef, order12)}: true,
	}
	checkExactlyOnce(t, want, s.received())
	t.Logf("decision_wait %s; the failed batch came after the orders were decided: %g late backlink spans dropped with their dropped orders, %g kept with the order kept for its own error; the batch kept",
		tm.decisionWait, dropped, kept)
}

// metricOr0 is metricSum, but 0 while c's metrics endpoint does not answer
// yet (it may start listening just after the collector says it is ready).
func metricOr0(c *collector, name, label string) float64 {
	samples, err := c.samples()
	if err != nil {
		return 0
	}
	var sum float64
	for _, s := range samples {
		if s.name == name && strings.Contains(s.labels, label) {
			sum += s.value
		}
	}
	return sum
}
