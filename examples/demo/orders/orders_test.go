package orders

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestRun checks the spans of a run with the SDK's defaults: one
// receive-order span per order, one process-batch span per batch linking to
// the orders it carried (at most 128: the SDK keeps the last ones and counts
// the others as dropped), the failing batch with status Error.
func TestRun(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	sc := Scenario{Waves: []int{2, 130}, FailBatch: 1, Interval: time.Millisecond, OrderPrefix: "t-"}
	batches, err := Run(context.Background(), tp, sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	if len(batches) != 2 || len(batches[0].Orders) != 2 || len(batches[1].Orders) != 130 {
		t.Fatalf("batches = %+v", batches)
	}
	// What the SDK dropped, as its ended spans say: 2 of the 130 links.
	if batches[0].LinksDropped != 0 || batches[1].LinksDropped != 2 {
		t.Errorf("LinksDropped = %d, %d; want 0, 2", batches[0].LinksDropped, batches[1].LinksDropped)
	}
	if !errors.Is(batches[0].Err, ErrPaymentTimeout) || batches[1].Err != nil {
		t.Errorf("batch errors: %v, %v", batches[0].Err, batches[1].Err)
	}
	if batches[1].Orders[0] != "t-0003" || batches[1].Orders[129] != "t-0132" {
		t.Errorf("second batch orders %s..%s", batches[1].Orders[0], batches[1].Orders[129])
	}

	orderSpan := map[string]trace.SpanContext{} // order ID -> receive-order
	batchSpan := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		switch s.Name() {
		case SpanReceiveOrder:
			if s.SpanKind() != trace.SpanKindServer || s.Parent().IsValid() {
				t.Errorf("receive-order: kind %v, parent %v", s.SpanKind(), s.Parent())
			}
			orderSpan[attr(s.Attributes(), AttrOrderID)] = s.SpanContext()
		case SpanProcessBatch:
			batchSpan[s.SpanContext().SpanID()] = s
		default:
			t.Errorf("unexpected span %q", s.Name())
		}
	}
	if len(orderSpan) != 132 || len(batchSpan) != 2 {
		t.Fatalf("%d orders, %d batches", len(orderSpan), len(batchSpan))
	}

	for _, b := range batches {
		s := batchSpan[b.Span.SpanID()]
		if s == nil {
			t.Fatalf("no span for batch %d", b.Number)
		}
		if s.Parent().IsValid() || s.SpanKind() != trace.SpanKindConsumer {
			t.Errorf("batch %d: parent %v, kind %v", b.Number, s.Parent(), s.SpanKind())
		}
		if got := attr(s.Attributes(), AttrBatchMessageCount); got != itoa(len(b.Orders)) {
			t.Errorf("batch %d: %s = %s", b.Number, AttrBatchMessageCount, got)
		}
		wantStatus := codes.Unset
		if b.Err != nil {
			wantStatus = codes.Error
		}
		if s.Status().Code != wantStatus {
			t.Errorf("batch %d: status %v, want %v", b.Number, s.Status().Code, wantStatus)
		}
		kept := min(len(b.Orders), 128)
		if len(s.Links()) != kept || s.DroppedLinks() != len(b.Orders)-kept {
			t.Errorf("batch %d: %d links, %d dropped", b.Number, len(s.Links()), s.DroppedLinks())
		}
		// The SDK keeps the last links: they point at the last orders, each
		// at the receive-order span its message carried the context of.
		for i, l := range s.Links() {
			id := b.Orders[len(b.Orders)-kept+i]
			if attr(l.Attributes, AttrOrderID) != id || l.SpanContext.SpanID() != orderSpan[id].SpanID() ||
				l.SpanContext.TraceID() != orderSpan[id].TraceID() || !l.SpanContext.IsSampled() {
				t.Errorf("batch %d link %d: %v %v, want order %s %v", b.Number, i, l.SpanContext, l.Attributes, id, orderSpan[id])
				break
			}
		}
	}
}

func attr(kvs []attribute.KeyValue, key string) string {
	for _, kv := range kvs {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

func itoa(n int) string { return attribute.IntValue(n).Emit() }

// TestRunRedeliver: an order the queue delivers twice is processed once
// but linked twice, as applications do; the second link is what spanlinks
// drops as a duplicate.
func TestRunRedeliver(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	sc := Scenario{Waves: []int{3}, Interval: time.Millisecond, OrderPrefix: "r-", Redeliver: 2}
	batches, err := Run(context.Background(), tp, sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(batches) != 1 || batches[0].Messages != 4 || strings.Join(batches[0].Orders, ",") != "r-0001,r-0002,r-0003" {
		t.Fatalf("batches = %+v", batches)
	}
	for _, s := range rec.Ended() {
		if s.Name() != SpanProcessBatch {
			continue
		}
		var ids []string
		for _, l := range s.Links() {
			ids = append(ids, attr(l.Attributes, AttrOrderID))
		}
		if got := strings.Join(ids, ","); got != "r-0001,r-0002,r-0002,r-0003" {
			t.Errorf("links to %s", got)
		}
		if got := attr(s.Attributes(), AttrBatchMessageCount); got != "4" {
			t.Errorf("%s = %s, want 4", AttrBatchMessageCount, got)
		}
	}
}

// TestRunCheckStock: with CheckStock, each order's trace has a check-stock
// span too, a child of receive-order that ends before it, so that exporters
// can send it first; the batch still links to receive-order.
func TestRunCheckStock(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	sc := Scenario{Waves: []int{3}, Interval: time.Millisecond, OrderPrefix: "c-", CheckStock: true}
	batches, err := Run(context.Background(), tp, sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(batches) != 1 || len(batches[0].Orders) != 3 {
		t.Fatalf("batches = %+v", batches)
	}

	ended := rec.Ended()
	order := map[string]sdktrace.ReadOnlySpan{} // order ID -> receive-order
	endedAt := map[trace.SpanID]int{}           // span -> position in ended
	for i, s := range ended {
		endedAt[s.SpanContext().SpanID()] = i
		if s.Name() == SpanReceiveOrder {
			order[attr(s.Attributes(), AttrOrderID)] = s
		}
	}
	checks := 0
	for _, s := range ended {
		if s.Name() != SpanCheckStock {
			continue
		}
		checks++
		id := attr(s.Attributes(), AttrOrderID)
		parent := order[id]
		if parent == nil {
			t.Fatalf("check-stock of order %q: no receive-order span", id)
		}
		if s.Parent().SpanID() != parent.SpanContext().SpanID() || s.SpanContext().TraceID() != parent.SpanContext().TraceID() {
			t.Errorf("check-stock of order %s: parent %v, want receive-order %v", id, s.Parent(), parent.SpanContext())
		}
		if endedAt[s.SpanContext().SpanID()] > endedAt[parent.SpanContext().SpanID()] {
			t.Errorf("check-stock of order %s ended after its receive-order", id)
		}
	}
	if checks != 3 || len(ended) != 3*2+1 {
		t.Errorf("%d check-stock spans of %d spans, want 3 of 7", checks, len(ended))
	}
	for _, s := range ended {
		if s.Name() != SpanProcessBatch {
			continue
		}
		for _, l := range s.Links() {
			if o := order[attr(l.Attributes, AttrOrderID)]; o == nil || o.SpanContext().SpanID() != l.SpanContext.SpanID() {
				t.Errorf("process-batch links to %v, not to a receive-order span", l.SpanContext)
			}
		}
	}
}

// TestRunLinkLimitRaised: with the SDK's link limit raised (as
// OTEL_SPAN_LINK_COUNT_LIMIT=200 does), nothing is dropped by the SDK and
// the batch says so.
func TestRunLinkLimitRaised(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	limits := sdktrace.NewSpanLimits()
	limits.LinkCountLimit = 200
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithRawSpanLimits(limits))
	sc := Scenario{Waves: []int{150}, Interval: time.Millisecond, OrderPrefix: "l-"}
	batches, err := Run(context.Background(), tp, sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(batches) != 1 || batches[0].Messages != 150 || batches[0].LinksDropped != 0 {
		t.Fatalf("batches = %+v", batches)
	}
	for _, s := range rec.Ended() {
		if s.Name() == SpanProcessBatch && (len(s.Links()) != 150 || s.DroppedLinks() != 0) {
			t.Errorf("process-batch: %d links, %d dropped; want 150, 0", len(s.Links()), s.DroppedLinks())
		}
	}
}
