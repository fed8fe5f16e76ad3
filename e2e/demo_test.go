package e2e

import (
	"context"
	"math"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/spanlinks/spanlinksprocessor/examples/demo/orders"
)

// sdkLinkLimit is the Go SDK's default SpanLimits.LinkCountLimit.
const sdkLinkLimit = 128

// TestGoSDKOrderPipeline runs the demo's order pipeline (examples/demo/orders)
// with the OpenTelemetry Go SDK against the collector over OTLP/HTTP and
// checks what the collector exports: every span exactly once; batch spans
// annotated, the SDK's 128-link limit arriving as DroppedLinksCount and
// counted in spanlinks.links.total; every order whose link survived
// backlinked to its batch, the failed batch visible on its orders. Once
// with a short window, the spans leaving as it passes; once with a window
// longer than the test, the spans leaving on SIGTERM.
func TestGoSDKOrderPipeline(t *testing.T) {
	t.Run("released after the window", func(t *testing.T) {
		testOrderPipeline(t, 3*time.Second, false)
	})
	t.Run("released on SIGTERM", func(t *testing.T) {
		testOrderPipeline(t, time.Minute, true)
	})
}

func testOrderPipeline(t *testing.T, window time.Duration, sigtermWhileHeld bool) {
	s := newSink(t)
	c := startCollector(t, collectorConfig{window: window, exportTo: s.endpoint()})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(c.httpAddr), otlptracehttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	rec := tracetest.NewSpanRecorder() // what the SDK sends, to compare with
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "e2e-order-demo"))),
		sdktrace.WithSpanProcessor(rec),
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(100*time.Millisecond)),
	)
	sc := orders.Scenario{Waves: []int{3, 4, 150}, FailBatch: 2, Interval: 300 * time.Millisecond, Redeliver: 2}
	batches, err := orders.Run(ctx, tp, sc, nil)
	if err != nil {
		t.Fatalf("running the demo: %v", err)
	}
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("flushing the SDK: %v", err)
	}

	// What the SDK sent.
	sent := map[spanRef]bool{}
	sdkSpans := map[spanRef]sdktrace.ReadOnlySpan{}
	for _, sp := range rec.Ended() {
		r := spanRef{[16]byte(sp.SpanContext().TraceID()), [8]byte(sp.SpanContext().SpanID())}
		sent[r] = true
		sdkSpans[r] = sp
	}
	if len(batches) != len(sc.Waves) {
		t.Fatalf("the demo ran %d batches, want %d", len(batches), len(sc.Waves))
	}
	nOrders := 0
	for i, b := range batches {
		if len(b.Orders) != sc.Waves[i] {
			t.Fatalf("batch %d carried %d orders, want %d", b.Number, len(b.Orders), sc.Waves[i])
		}
		nOrders += len(b.Orders)
	}
	if want := nOrders + len(batches); len(sent) != want {
		t.Fatalf("the SDK ended %d spans, want %d", len(sent), want)
	}

	if sigtermWhileHeld {
		// All spans reach the collector and stay held: SIGTERM releases them.
		held := func() int { v, _ := c.metric("otelcol_processor_spanlinks_held_spans"); return int(v) }
		if !s.waitFor(30*time.Second, func(got []ptrace.Span) bool { return held()+len(got) >= len(sent) }) {
			t.Errorf("30s after the demo: %d spans held, %d exported; want %d in all", held(), len(s.received()), len(sent))
		}
		if n := len(s.received()); n != 0 {
			t.Errorf("%d spans left the collector before SIGTERM; with backlinks.window %s all %d must still be held", n, window, len(sent))
		} else {
			t.Logf("before SIGTERM: %d spans held by spanlinks, none exported", held())
		}
	} else {
		// Held spans leave after the window; wait for all of them.
		if !s.waitFor(window+30*time.Second, func(got []ptrace.Span) bool { return len(got) >= len(sent) }) {
			t.Errorf("after %s, %d of %d spans arrived", window+30*time.Second, len(s.received()), len(sent))
		}
		checkMetrics(t, c, s.received(), rec.Ended())
	}
	c.stop(t)
	got := checkExactlyOnce(t, sent, s.received())

	// Which batch kept a link to each order, as the SDK exported it.
	linkedBy := map[spanRef]orders.Batch{}
	failed := 0
	for _, b := range batches {
		ref := spanRef{[16]byte(b.Span.TraceID()), [8]byte(b.Span.SpanID())}
		sdkSpan := sdkSpans[ref]
		n, kept := b.Messages, min(b.Messages, sdkLinkLimit)
		if len(sdkSpan.Links()) != kept || sdkSpan.DroppedLinks() != n-kept {
			t.Errorf("batch %d: the SDK exported %d links and %d dropped, want %d and %d",
				b.Number, len(sdkSpan.Links()), sdkSpan.DroppedLinks(), kept, n-kept)
		}
		for _, l := range sdkSpan.Links() {
			linkedBy[spanRef{[16]byte(l.SpanContext.TraceID()), [8]byte(l.SpanContext.SpanID())}] = b
		}
		if b.Err != nil {
			failed++
		}

		span, ok := got[ref]
		if !ok {
			continue // reported by checkExactlyOnce
		}
		checkBatchSpan(t, span, b, n, kept, b.Messages-len(b.Orders))
	}
	if failed != 1 {
		t.Errorf("%d batches failed, want 1", failed)
	}
	if big := batches[len(batches)-1]; len(big.Orders) <= sdkLinkLimit {
		t.Errorf("the largest batch has %d orders, want more than %d", len(big.Orders), sdkLinkLimit)
	}

	// Orders: backlinked to their batch, or, when the SDK dropped their
	// link, untouched.
	ce := &cappedErrors{t: t, max: 20}
	var backlinked, failedOrders, unlinked int
	for ref, sdkSpan := range sdkSpans {
		if sdkSpan.Name() != orders.SpanReceiveOrder {
			continue
		}
		span, ok := got[ref]
		if !ok {
			continue
		}
		b, linked := linkedBy[ref]
		if !linked {
			unlinked++
			if hasAttrPrefix(span, "spanlinks.") {
				ce.Errorf("order %s: no kept link points here, yet it has spanlinks.* attributes", ref)
			}
			continue
		}
		backlinked++
		errs := int64(0)
		if b.Err != nil {
			errs = 1
			failedOrders++
		}
		wantInt(ce, span, "spanlinks.backlinks.count", 1)
		wantInt(ce, span, "spanlinks.backlinks.error_count", errs)
		wantStrings(ce, span, "spanlinks.backlinks.trace_ids", b.Span.TraceID().String())
		wantStrings(ce, span, "spanlinks.backlinks.span_ids", b.Span.SpanID().String())
		wantStrings(ce, span, "spanlinks.backlinks.span_names", orders.SpanProcessBatch)
	}
	ce.done()
	wantUnlinked := 0
	for _, b := range batches {
		wantUnlinked += max(0, b.Messages-sdkLinkLimit)
	}
	if unlinked != wantUnlinked || backlinked != nOrders-wantUnlinked {
		t.Errorf("orders: %d backlinked, %d without a link; want %d and %d",
			backlinked, unlinked, nOrders-wantUnlinked, wantUnlinked)
	}
	t.Logf("%d spans sent, %d received; %d batches (1 failed; the last of %d orders > %d links); checked: %d orders backlinked to their batch, %d of them to the failed batch, %d orders whose link the SDK dropped",
		len(sent), len(got), len(batches), len(batches[len(batches)-1].Orders), sdkLinkLimit, backlinked, failedOrders, unlinked)
}

// checkBatchSpan checks the spanlinks.links.* attributes of the batch span
// of b, which linked n messages of which the SDK kept kept, dups of them
// to an order already linked (a redelivered message).
func checkBatchSpan(t errorer, span ptrace.Span, b orders.Batch, n, kept, dups int) {
	t.Helper()
	if want := kept - dups; span.Links().Len() != want {
		t.Errorf("batch %d: %d links left the collector, want %d", b.Number, span.Links().Len(), want)
	}
	// The SDK's own limit arrives as DroppedLinksCount; the processor, with
	// max_links_per_span 128 too, adds only the duplicates it drops.
	if got, want := span.DroppedLinksCount(), uint32(n-kept+dups); got != want {
		t.Errorf("batch %d: DroppedLinksCount = %d, want %d (the SDK's 128-link limit, plus %d duplicates)", b.Number, got, want, dups)
	}
	wantInt(t, span, "spanlinks.links.total", int64(n))
	wantInt(t, span, "spanlinks.links.kept", int64(kept-dups))
	wantInt(t, span, "spanlinks.links.invalid", int64(dups))
	wantDouble(t, span, "spanlinks.links.sampled_ratio", float64(kept-dups)/float64(n))
	wantDouble(t, span, "spanlinks.links.target_sampled_ratio", 1)
	wantErr := b.Err != nil
	if gotErr := span.Status().Code() == ptrace.StatusCodeError; gotErr != wantErr {
		t.Errorf("batch %d: status %s, want error %v", b.Number, span.Status().Code(), wantErr)
	}
}

func wantDouble(t errorer, s ptrace.Span, key string, want float64) {
	t.Helper()
	got, ok := doubleAttr(s, key)
	switch {
	case !ok:
		t.Errorf("%s %s: no double attribute %s (want %g)", s.Name(), refOf(s), key, want)
	case math.Abs(got-want) > 1e-9:
		t.Errorf("%s %s: %s = %g, want %g", s.Name(), refOf(s), key, got, want)
	}
}

func wantStrings(t errorer, s ptrace.Span, key string, want ...string) {
	t.Helper()
	got, ok := stringsAttr(s, key)
	if !ok {
		t.Errorf("%s %s: no string slice attribute %s (want %q)", s.Name(), refOf(s), key, want)
		return
	}
	if len(got) != len(want) {
		t.Errorf("%s %s: %s = %q, want %q", s.Name(), refOf(s), key, got, want)
		return
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s %s: %s = %q, want %q", s.Name(), refOf(s), key, got, want)
			return
		}
	}
}
