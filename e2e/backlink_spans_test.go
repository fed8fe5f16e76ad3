package e2e

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
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

// backlinkSpanName is the name of a backlink span for a linker named linker.
func backlinkSpanName(linker string) string { return "spanlinks.backlink " + linker }

// backlinkSpanID is the span ID the processor gives the backlink span of the
// link from linker to target: the first 8 bytes of the SHA-256 of the
// linker's trace and span ID and the target's (docs/contract.md).
func backlinkSpanID(linker, target spanRef) pcommon.SpanID {
	sum := sha256.Sum256(slices.Concat(linker.trace[:], linker.span[:], target.trace[:], target.span[:]))
	return pcommon.SpanID(sum[:8])
}

// byName sends the demo's batch spans to one span processor and every other
// span to another: each batch reaches one collector and its orders the other.
type byName struct{ batches, others sdktrace.SpanProcessor }

func (p *byName) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

func (p *byName) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.Name() == orders.SpanProcessBatch {
		p.batches.OnEnd(s)
	} else {
		p.others.OnEnd(s)
	}
}

func (p *byName) Shutdown(ctx context.Context) error {
	return errors.Join(p.batches.Shutdown(ctx), p.others.Shutdown(ctx))
}

func (p *byName) ForceFlush(ctx context.Context) error {
	return errors.Join(p.batches.ForceFlush(ctx), p.others.ForceFlush(ctx))
}

// splitDemo is one run of the order demo split over two collectors.
type splitDemo struct {
	batches []orders.Batch
	sdk     map[spanRef]sdktrace.ReadOnlySpan // what the SDK sent
	// emitted is otelcol_processor_spanlinks_backlink_spans of the
	// collector the batch spans went to and of the other, read before they
	// stopped.
	emitted [2]float64
}

// runSplitDemo runs the demo's order pipeline with the Go SDK, batch spans
// to one collector started with cfg, orders to another with the same
// configuration, both exporting to s; they share nothing. It waits until
// at least want(run) spans arrived, then stops both collectors.
func runSplitDemo(t *testing.T, s *sink, cfg collectorConfig, want func(splitDemo) int) splitDemo {
	t.Helper()
	cfg.exportTo = s.endpoint()
	a, b := startCollector(t, cfg), startCollector(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	exporter := func(c *collector) sdktrace.SpanProcessor {
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(c.httpAddr), otlptracehttp.WithInsecure())
		if err != nil {
			t.Fatal(err)
		}
		return sdktrace.NewBatchSpanProcessor(exp, sdktrace.WithBatchTimeout(100*time.Millisecond))
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "e2e-order-demo"))),
		sdktrace.WithSpanProcessor(rec),
		sdktrace.WithSpanProcessor(&byName{batches: exporter(a), others: exporter(b)}),
	)
	sc := orders.Scenario{Waves: []int{3, 4, 150}, FailBatch: 2, Interval: 300 * time.Millisecond, Redeliver: 2}
	batches, err := orders.Run(ctx, tp, sc, nil)
	if err != nil {
		t.Fatalf("running the demo: %v", err)
	}
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("flushing the SDK: %v", err)
	}
	d := splitDemo{batches: batches, sdk: map[spanRef]sdktrace.ReadOnlySpan{}}
	for _, sp := range rec.Ended() {
		d.sdk[spanRef{[16]byte(sp.SpanContext().TraceID()), [8]byte(sp.SpanContext().SpanID())}] = sp
	}
	n := want(d)
	if !s.waitFor(30*time.Second, func(got []ptrace.Span) bool { return len(got) >= n }) {
		t.Errorf("%d of %d spans arrived within 30s", len(s.received()), n)
	}
	// Under its name with and without _total: metricSum matches names whole.
	const emitted = "otelcol_processor_spanlinks_backlink_spans"
	count := func(c *collector) float64 { return c.metricSum(t, emitted, "") + c.metricSum(t, emitted+"_total", "") }
	d.emitted = [2]float64{count(a), count(b)}
	a.stop(t)
	b.stop(t)
	return d
}

// linkedOrders returns, for every order a batch span kept a link to as the
// SDK exported it, that batch.
func (d splitDemo) linkedOrders() map[spanRef]orders.Batch {
	out := map[spanRef]orders.Batch{}
	for _, b := range d.batches {
		for _, l := range d.sdk[batchRef(b)].Links() {
			out[spanRef{[16]byte(l.SpanContext.TraceID()), [8]byte(l.SpanContext.SpanID())}] = b
		}
	}
	return out
}

func batchRef(b orders.Batch) spanRef {
	return spanRef{[16]byte(b.Span.TraceID()), [8]byte(b.Span.SpanID())}
}

// TestDeliverSpansFleet runs the Go SDK order demo over two collectors that
// share nothing, each batch span to one and its orders to the other. With
// backlinks.deliver: spans every order whose link the SDK kept gets, in its
// own trace, the backlink span of its batch. With deliver: attributes and
// no Redis the same fleet cannot pair them: the orders' collector never
// sees their linkers.
func TestDeliverSpansFleet(t *testing.T) {
	t.Run("spans", func(t *testing.T) {
		s := newSink(t)
		// The SDK's spans, and a backlink span per order linked.
		d := runSplitDemo(t, s, collectorConfig{deliver: "spans"}, func(d splitDemo) int { return len(d.sdk) + len(d.linkedOrders()) })
		checkBacklinkSpans(t, d, s.received())
	})
	t.Run("attributes without Redis", func(t *testing.T) {
		s := newSink(t)
		d := runSplitDemo(t, s, collectorConfig{window: fleetWindow}, func(d splitDemo) int { return len(d.sdk) })
		got := checkExactlyOnce(t, sentRefs(d.sdk), s.received())
		linked := d.linkedOrders()
		unpaired := 0
		for ref := range linked {
			if _, ok := intAttr(got[ref], "spanlinks.backlinks.count"); !ok {
				unpaired++
			}
		}
		if unpaired == 0 {
			t.Errorf("all %d linked orders got backlinks from two collectors sharing no index; want some unpaired", len(linked))
		}
		t.Logf("deliver: attributes, no Redis: %d of %d linked orders left without their backlink", unpaired, len(linked))
	})
}

func sentRefs(m map[spanRef]sdktrace.ReadOnlySpan) map[spanRef]bool {
	out := make(map[spanRef]bool, len(m))
	for r := range m {
		out[r] = true
	}
	return out
}

// checkBacklinkSpans checks what two collectors with deliver: spans
// exported: every span the SDK sent, once, untouched by backlinks; and for
// each order a batch kept a link to, one backlink span in the order's trace.
func checkBacklinkSpans(t *testing.T, d splitDemo, received []ptrace.Span) {
	t.Helper()
	var sent []ptrace.Span
	backlinks := map[spanRef]ptrace.Span{} // by target
	for _, s := range received {
		if s.Name() != backlinkSpanName(orders.SpanProcessBatch) {
			sent = append(sent, s)
			continue
		}
		target := spanRef{s.TraceID(), s.ParentSpanID()}
		if _, dup := backlinks[target]; dup {
			t.Errorf("order %s: two backlink spans", target)
		}
		backlinks[target] = s
	}
	got := checkExactlyOnce(t, sentRefs(d.sdk), sent)
	ce := &cappedErrors{t: t, max: 20}
	linked := d.linkedOrders()
	failed := 0
	for order, b := range linked {
		if hasAttrPrefix(got[order], "spanlinks.backlinks.") {
			ce.Errorf("order %s: backlink attributes written with deliver: spans", order)
		}
		bl, ok := backlinks[order]
		if !ok {
			ce.Errorf("order %s: no backlink span in its trace (batch %d)", order, b.Number)
			continue
		}
		checkBacklinkSpan(ce, bl, batchRef(b), order, b.Err != nil)
		if b.Err != nil {
			failed++
		}
	}
	for target := range backlinks {
		if _, ok := linked[target]; !ok {
			ce.Errorf("backlink span under %s, which no batch kept a link to", target)
		}
	}
	ce.done()
	if failed == 0 {
		t.Error("no order of a failed batch: the check of status Error checks nothing")
	}
	if d.emitted != [2]float64{float64(len(backlinks)), 0} {
		t.Errorf("backlink spans counted by the batches' collector and the orders': %v, want [%d 0]", d.emitted, len(backlinks))
	}
	t.Logf("%d SDK spans, each once; %d orders linked, each with its backlink span in its own trace (%d of a failed batch); backlink spans counted by the batches' collector and the orders': %v",
		len(d.sdk), len(linked), failed, d.emitted)
}

// checkBacklinkSpan checks the backlink span bl of the link from linker to
// target.
func checkBacklinkSpan(t errorer, bl ptrace.Span, linker, target spanRef, failed bool) {
	t.Helper()
	if want := backlinkSpanID(linker, target); bl.SpanID() != want {
		t.Errorf("backlink span of %s: span ID %s, want %s", target, bl.SpanID(), want)
	}
	if bl.Links().Len() != 1 || bl.Links().At(0).TraceID() != linker.trace || bl.Links().At(0).SpanID() != linker.span {
		t.Errorf("backlink span of %s: links %d, want one to %s", target, bl.Links().Len(), linker)
	}
	if got := bl.Status().Code() == ptrace.StatusCodeError; got != failed {
		t.Errorf("backlink span of %s: status %s, want error %v", target, bl.Status().Code(), failed)
	}
	errs := int64(0)
	if failed {
		errs = 1
	}
	wantInt(t, bl, "spanlinks.backlinks.count", 1)
	wantInt(t, bl, "spanlinks.backlinks.error_count", errs)
	wantStrings(t, bl, "spanlinks.backlinks.trace_ids", linker.trace.String())
	wantStrings(t, bl, "spanlinks.backlinks.span_ids", linker.span.String())
	wantStrings(t, bl, "spanlinks.backlinks.span_names", orders.SpanProcessBatch)
}
