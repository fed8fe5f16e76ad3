package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/spanlinks/spanlinksprocessor/examples/demo/orders"
)

// Figures of the recipe's timing rule, as the test and the shipped files
// set them.
const (
	// tier1BatchTimeout is batch.timeout in examples/tail-sampling/spanlinks.yaml.
	tier1BatchTimeout = 200 * time.Millisecond
	// tsSDKBatchTimeout is the test's SDK batch timeout: the most one
	// trace's spans can reach tier 1 apart (check-stock ends first).
	tsSDKBatchTimeout = 100 * time.Millisecond
	// tsWindow is backlinks.window in these tests: longer than the demo's
	// longest order-to-batch delay (under a second here).
	tsWindow = 4 * time.Second
)

// Policy names in examples/tail-sampling/tailsampling.yaml.
const (
	policyFailedOrders = "orders-of-failed-batch"
	policyErrors       = "errors"
)

// whyCut is why the recipe cannot keep an order of a failed batch.
const whyCut = "its batch failed, but the SDK cut the batch's link to it: no backlink"

// heldLag is the longest the held receive-order span of an order reaches
// tier 2 after the first span of its trace that tier 1 did not hold: the
// window, the release tick (window/10, at most 1s), tier 1's batch timeout
// and the SDK's batch timeout. (Sending on loopback is well under the
// margins taken below.)
func heldLag(window time.Duration) time.Duration {
	return window + min(window/10, time.Second) + tier1BatchTimeout + tsSDKBatchTimeout
}

// decisionAfter is the earliest and latest tier 2 decides on a trace after
// its first span: tail_sampling keeps decision_wait/1s (whole, at least one)
// one-second batches and decides on a trace when its batch comes round.
func decisionAfter(decisionWait time.Duration) (earliest, latest time.Duration) {
	earliest = max(time.Second, decisionWait.Truncate(time.Second))
	return earliest, earliest + time.Second
}

// TestTailSamplingRecipe runs the order demo with the Go SDK through the
// recipe of examples/tail-sampling: otelcol-spanlinks holding only
// receive-order spans, then otelcol-tailsampling keeping traces with
// spanlinks.backlinks.error_count >= 1, traces with an error, and 0% of
// the rest. Each order's trace also has a check-stock span that tier 1
// does not hold, so that tier 2 sees the trace before its receive-order.
//
// With decision_wait above the rule (decision_wait > window + tick +
// export delays), tier 2 keeps the failed batch and every order whose link
// it kept, with both spans, and drops the successful batch, its orders and
// the orders whose link the SDK cut. With decision_wait under the window,
// tier 2 decides on each order from check-stock alone, drops it, and drops
// receive-order when it comes: the failed batch is kept, its orders lost.
func TestTailSamplingRecipe(t *testing.T) {
	t.Run("decision_wait above the rule keeps the orders of the failed batch", func(t *testing.T) {
		tm := tierTiming{window: tsWindow, decisionWait: 6 * time.Second}
		if earliest, _ := decisionAfter(tm.decisionWait); earliest <= heldLag(tm.window) {
			t.Fatalf("decision_wait %s decides from %s on, not after the held spans (%s): the rule does not hold", tm.decisionWait, earliest, heldLag(tm.window))
		}
		testTailSampling(t, tm, true)
	})
	t.Run("decision_wait under the window loses them", func(t *testing.T) {
		tm := tierTiming{window: tsWindow, decisionWait: time.Second}
		// receive-order leaves tier 1 at least a window after check-stock
		// came in, and check-stock reaches tier 2 at most tier 1's batch
		// timeout after that.
		if _, latest := decisionAfter(tm.decisionWait); latest >= tm.window-tier1BatchTimeout {
			t.Fatalf("decision_wait %s may decide as late as %s, not before the held spans (%s)", tm.decisionWait, latest, tm.window-tier1BatchTimeout)
		}
		testTailSampling(t, tm, false)
	})
}

// sentTrace is a trace of the demo as the SDK sent it.
type sentTrace struct {
	id    pcommon.TraceID
	spans []spanRef
	// what describes the trace in the test's output.
	what string
	// keep is whether the recipe keeps it (with the rule), why the policy
	// that keeps it, or why it is dropped.
	keep bool
	why  string
}

func testTailSampling(t *testing.T, tm tierTiming, ruleHolds bool) {
	s := newSink(t)
	tr := startTiers(t, s, tm)
	t.Logf("tier 1: backlinks.window %s, hold receive-order; tier 2: decision_wait %s (decides %s after a trace's first span); the held span comes up to %s after the rest of its trace",
		tm.window, tm.decisionWait, decisionRange(tm.decisionWait), heldLag(tm.window))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(tr.spanlinks.httpAddr), otlptracehttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "e2e-tail-sampling"))),
		sdktrace.WithSpanProcessor(rec),
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(tsSDKBatchTimeout)),
	)
	// A successful batch of 20 orders, then a failed one of 140: the SDK
	// keeps 128 of its links.
	sc := orders.Scenario{Waves: []int{20, 140}, FailBatch: 2, Interval: 300 * time.Millisecond, CheckStock: true}
	started := time.Now()
	batches, err := orders.Run(ctx, tp, sc, nil)
	if err != nil {
		t.Fatalf("running the demo: %v", err)
	}
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("flushing the SDK: %v", err)
	}
	flushed := time.Now()

	traces := classify(t, rec.Ended(), batches, sc)
	nSpans := len(rec.Ended())
	nOrders := 0
	for _, b := range batches {
		nOrders += len(b.Orders)
	}

	// Tier 2 has every span once tier 1 has let the held ones go, and has
	// decided on every trace a decision_wait after its first span. Late
	// spans, of a trace decided on already, follow that decision (the
	// decision cache) and are counted; tier 2 processes what it accepted
	// a little later, so without the rule the test waits for all of them.
	ts := tr.tailSampling
	accepted := func() float64 { return ts.metricSum(t, "otelcol_receiver_accepted_spans", "") }
	decided := func() float64 {
		return ts.metricSum(t, "otelcol_processor_tail_sampling_global_count_traces_sampled", "")
	}
	late := func(sampled string) float64 {
		return ts.metricSum(t, "otelcol_processor_tail_sampling_early_releases_from_cache_decision", `sampled="`+sampled+`"`)
	}
	deadline := heldLag(tm.window) + tm.decisionWait + 30*time.Second
	if !s.waitFor(deadline, func([]ptrace.Span) bool {
		return accepted() >= float64(nSpans) && decided() >= float64(len(traces)) && (ruleHolds || late("false") >= float64(nOrders))
	}) {
		t.Fatalf("after %s: tier 2 accepted %g of %d spans, decided on %g of %d traces, dropped %g late spans",
			deadline, accepted(), nSpans, decided(), len(traces), late("false"))
	}
	allDecided := time.Now()
	lateDropped, lateKept := late("false"), late("true")
	// Stopping the tiers sends what tier 2's exporter still queues: after
	// this, the sink has all it will get.
	tr.spanlinks.stop(t)
	tr.tailSampling.stop(t)

	want := map[spanRef]bool{}
	wantPolicy := map[pcommon.TraceID]string{}
	for _, st := range traces {
		// Without the rule, only the failed batch is kept: its trace has
		// one span, nothing held.
		if st.keep && (ruleHolds || st.why == policyErrors) {
			for _, r := range st.spans {
				want[r] = true
			}
			wantPolicy[st.id] = st.why
		}
	}
	got := checkExactlyOnce(t, want, s.received())
	scopes := s.scopeAttrs()
	keptBy := map[pcommon.TraceID]string{} // kept trace -> the policy tier 2 recorded
	for ref, span := range got {
		policy := ""
		if v, ok := scopes[ref].Get("tailsampling.policy"); ok {
			policy = v.AsString()
		}
		keptBy[ref.trace] = policy
		if wp, ok := wantPolicy[ref.trace]; ok && policy != wp {
			t.Errorf("%s %s: kept by policy %q, want %q", span.Name(), ref, policy, wp)
		}
	}

	// The output names every trace: kept or dropped, and why.
	var nKept, nDropped, nKeptOrders, nLost int
	for _, st := range traces {
		if policy, ok := keptBy[st.id]; ok {
			nKept++
			if st.why == policyFailedOrders {
				nKeptOrders++
			}
			t.Logf("kept    %s %s: policy %s", st.id, st.what, policy)
			continue
		}
		nDropped++
		switch {
		case ruleHolds && st.keep:
			t.Logf("dropped %s %s: policy %s should have kept it", st.id, st.what, st.why)
		case ruleHolds:
			t.Logf("dropped %s %s: %s", st.id, st.what, st.why)
		case st.keep:
			// Named once each, not 128 times.
			nLost++
			if nLost <= 3 {
				t.Logf("dropped %s %s: decided on from check-stock alone, before receive-order came", st.id, st.what)
			}
		}
	}
	if nLost > 3 {
		t.Logf("dropped ... and %d more orders of the failed batch the same way", nLost-3)
	}
	t.Logf("%d traces (%d spans): %d kept (%d orders of the failed batch), %d dropped; late spans after their trace's decision: %g dropped, %g kept",
		len(traces), nSpans, nKept, nKeptOrders, nDropped, lateDropped, lateKept)
	t.Logf("timings: demo %s; from the SDK's flush to tier 2's last decision %s (window %s, decision_wait %s)",
		flushed.Sub(started).Round(time.Millisecond), allDecided.Sub(flushed).Round(time.Millisecond), tm.window, tm.decisionWait)

	// What the rule is about: under it no receive-order comes after its
	// trace's decision (one still queued in tier 2 would be missing from
	// the sink, checked above); without it every one of them does.
	if ruleHolds && lateDropped+lateKept != 0 {
		t.Errorf("%g spans came after their trace's decision; with decision_wait %s none may", lateDropped+lateKept, tm.decisionWait)
	}
	if !ruleHolds && lateDropped != float64(nOrders) {
		t.Errorf("%g spans came after their trace's decision and were dropped, want the %d held receive-order spans", lateDropped, nOrders)
	}
}

// decisionRange says when tier 2 decides after a trace's first span.
func decisionRange(decisionWait time.Duration) string {
	earliest, latest := decisionAfter(decisionWait)
	return fmt.Sprintf("%s to %s", earliest, latest)
}

// classify groups the spans the SDK sent into traces, tells each what it
// is, and whether the recipe keeps it: the failed batch (status Error),
// the orders whose link the failed batch kept (backlinked with an error
// count); not the successful batch, its orders, nor the orders whose link
// the SDK cut (no backlink).
func classify(t *testing.T, ended []sdktrace.ReadOnlySpan, batches []orders.Batch, sc orders.Scenario) []*sentTrace {
	t.Helper()
	if len(batches) != len(sc.Waves) {
		t.Fatalf("the demo ran %d batches, want %d", len(batches), len(sc.Waves))
	}
	byID := map[pcommon.TraceID]*sentTrace{}
	var out []*sentTrace
	linked := map[pcommon.TraceID]bool{} // order traces a batch kept a link to
	batchOf := map[string]orders.Batch{} // order ID -> the batch that carried it
	for _, b := range batches {
		for _, id := range b.Orders {
			batchOf[id] = b
		}
	}
	for _, sp := range ended {
		id := pcommon.TraceID(sp.SpanContext().TraceID())
		st := byID[id]
		if st == nil {
			st = &sentTrace{id: id}
			byID[id] = st
			out = append(out, st)
		}
		st.spans = append(st.spans, spanRef{id, pcommon.SpanID(sp.SpanContext().SpanID())})
		if sp.Name() == orders.SpanProcessBatch {
			for _, l := range sp.Links() {
				linked[pcommon.TraceID(l.SpanContext.TraceID())] = true
			}
		}
	}
	for _, sp := range ended {
		st := byID[pcommon.TraceID(sp.SpanContext().TraceID())]
		switch sp.Name() {
		case orders.SpanProcessBatch:
			var b orders.Batch
			for _, x := range batches {
				if x.Span.SpanID() == sp.SpanContext().SpanID() {
					b = x
				}
			}
			if b.Err != nil {
				st.what = fmt.Sprintf("process-batch %d (failed, %d orders)", b.Number, len(b.Orders))
				st.keep, st.why = true, policyErrors
			} else {
				st.what = fmt.Sprintf("process-batch %d (succeeded, %d orders)", b.Number, len(b.Orders))
				st.why = "no error, no failed batch, baseline 0%"
			}
		case orders.SpanReceiveOrder:
			var orderID string
			for _, kv := range sp.Attributes() {
				if kv.Key == orders.AttrOrderID {
					orderID = kv.Value.AsString()
				}
			}
			b := batchOf[orderID]
			st.what = fmt.Sprintf("receive-order %s + check-stock (batch %d)", orderID, b.Number)
			switch {
			case b.Err == nil:
				st.why = "its batch succeeded"
			case !linked[st.id]:
				st.why = whyCut
			default:
				st.keep, st.why = true, policyFailedOrders
			}
		}
	}
	var kept, failedLinked, cut int
	for _, st := range out {
		if st.what == "" || (len(st.spans) != 1 && len(st.spans) != 2) {
			t.Fatalf("trace %s: %d spans, not a batch or an order of the demo", st.id, len(st.spans))
		}
		if st.keep {
			kept++
		}
		if st.why == policyFailedOrders {
			failedLinked++
		}
		if st.why == whyCut {
			cut++
		}
	}
	// The scenario must exercise each case: 128 orders linked from the
	// failed batch, 12 whose link the SDK cut, a successful batch.
	if failedLinked != 128 || cut != 12 || kept != 129 || len(out) != 162 {
		t.Fatalf("the demo sent %d traces, %d to keep, %d orders linked from the failed batch and %d cut off; want 162, 129, 128 and 12", len(out), kept, failedLinked, cut)
	}
	return out
}
