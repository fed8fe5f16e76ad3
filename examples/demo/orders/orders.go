// Package orders is the order pipeline of the spanlinks demo, traced with the
// OpenTelemetry Go SDK the way users describe it:
//
//   - an HTTP API handler traces each order in a receive-order span and
//     queues the order together with that span's W3C trace context
//     (traceparent), as a message broker would carry it in message headers;
//   - a batch job runs every few seconds and processes all pending orders in
//     one process-batch span, which starts a new trace and links to the
//     receive-order span of every order it carries.
//
// From process-batch a trace UI can reach every order. The other way round,
// from an order to the batch that processed (or failed) it, is what the
// spanlinks processor adds in the collector.
package orders

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Span names and attributes the demo writes.
const (
	SpanReceiveOrder = "receive-order"
	SpanProcessBatch = "process-batch"
	// SpanCheckStock is a child of receive-order, ended before it, when
	// Scenario.CheckStock is set: a span of the order's trace that hold
	// conditions naming receive-order do not hold.
	SpanCheckStock = "check-stock"

	AttrOrderID = "order.id" // on receive-order, and on each link of process-batch
	// AttrBatchNumber numbers the batch runs from 1, on process-batch.
	AttrBatchNumber = "batch.number"
	// AttrBatchMessageCount is the semantic-conventions batch size, which
	// spanlinks reads (batch.size_attributes) to know the real batch size.
	AttrBatchMessageCount = "messaging.batch.message_count"
)

// ErrPaymentTimeout is why the failing batch fails.
var ErrPaymentTimeout = errors.New("payment provider timed out")

// Message is a queued order: its ID, and headers carrying the W3C trace
// context of the receive-order span that queued it.
type Message struct {
	OrderID string
	Headers map[string]string
}

// Queue is an in-memory stand-in for a message broker.
type Queue struct {
	mu        sync.Mutex
	msgs      []Message
	redeliver string // an order ID whose message is delivered twice
}

// Push queues m, twice if m's order is the one to redeliver.
func (q *Queue) Push(m Message) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.msgs = append(q.msgs, m)
	if m.OrderID == q.redeliver {
		q.msgs = append(q.msgs, m)
	}
}

// Drain removes and returns every queued message, oldest first.
func (q *Queue) Drain() []Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	msgs := q.msgs
	q.msgs = nil
	return msgs
}

// API is the HTTP API: POST /orders with {"id": "..."} traces the order in
// a receive-order span and queues it with that span's trace context.
type API struct {
	Tracer     trace.Tracer
	Propagator propagation.TextMapPropagator
	Queue      *Queue
	// CheckStock traces a check-stock child span of each receive-order.
	CheckStock bool
}

// orderRequest is the body of POST /orders.
type orderRequest struct {
	ID string `json:"id"`
}

// ServeHTTP handles POST /orders.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Continue the caller's trace if it sent one; here the callers do not,
	// so every order starts its own trace.
	ctx := a.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := a.Tracer.Start(ctx, SpanReceiveOrder,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("url.path", r.URL.Path),
		))
	defer span.End()

	var req orderRequest
	if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&req) != nil || req.ID == "" {
		span.SetStatus(codes.Error, "bad request")
		http.Error(w, `POST {"id": "..."}`, http.StatusBadRequest)
		return
	}
	span.SetAttributes(attribute.String(AttrOrderID, req.ID))
	if a.CheckStock {
		_, check := a.Tracer.Start(ctx, SpanCheckStock, trace.WithAttributes(attribute.String(AttrOrderID, req.ID)))
		check.End()
	}

	// The message carries the trace context of this span (traceparent),
	// exactly as it would in Kafka or SQS message headers.
	headers := map[string]string{}
	a.Propagator.Inject(ctx, propagation.MapCarrier(headers))
	a.Queue.Push(Message{OrderID: req.ID, Headers: headers})

	span.SetAttributes(attribute.Int("http.response.status_code", http.StatusAccepted))
	w.WriteHeader(http.StatusAccepted)
}

// Batch is what one run of the batch job did.
type Batch struct {
	Number int
	// Orders are the distinct orders processed, in queue order.
	Orders []string
	// Messages is how many messages the batch took: more than Orders when
	// the queue delivered an order twice. The span links each message.
	Messages int
	// Span is the process-batch span's context.
	Span trace.SpanContext
	// LinksDropped is how many of the batch's links the SDK dropped for
	// its link limit (OTEL_SPAN_LINK_COUNT_LIMIT, 128 by default), as the
	// ended span reports it; 0 with a tracer that does not say.
	LinksDropped int
	// Err is why the batch failed, nil when it succeeded.
	Err error
}

// BatchJob processes all pending orders in one process-batch span.
type BatchJob struct {
	Tracer     trace.Tracer
	Propagator propagation.TextMapPropagator
	Queue      *Queue
	// Process handles one batch; an error fails the whole batch.
	Process func(ctx context.Context, number int, orders []string) error

	runs int
}

// RunOnce processes the pending orders, if any, in one process-batch span
// linking to the receive-order span of each. It reports false when nothing
// was pending.
func (j *BatchJob) RunOnce(ctx context.Context) (Batch, bool) {
	msgs := j.Queue.Drain()
	if len(msgs) == 0 {
		return Batch{}, false
	}
	j.runs++
	b := Batch{Number: j.runs, Messages: len(msgs)}

	// One link per message, to the span context it carried: a message the
	// queue delivered twice is linked twice, as applications do. Links are
	// given at span start: samplers see them, and every SDK keeps them.
	links := make([]trace.Link, 0, len(msgs))
	seen := map[string]bool{}
	for _, m := range msgs {
		if !seen[m.OrderID] { // processing is idempotent: once per order
			seen[m.OrderID] = true
			b.Orders = append(b.Orders, m.OrderID)
		}
		origin := trace.SpanContextFromContext(
			j.Propagator.Extract(context.Background(), propagation.MapCarrier(m.Headers)))
		links = append(links, trace.Link{
			SpanContext: origin,
			Attributes:  []attribute.KeyValue{attribute.String(AttrOrderID, m.OrderID)},
		})
	}
	// The Go SDK keeps at most 128 links per span (SpanLimits.LinkCountLimit)
	// and counts the rest in the span's dropped links count; the batch size
	// is recorded too, so that spanlinks can tell what share is left.
	ctx, span := j.Tracer.Start(ctx, SpanProcessBatch,
		trace.WithNewRoot(),
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithLinks(links...),
		trace.WithAttributes(
			attribute.Int(AttrBatchNumber, b.Number),
			attribute.Int(AttrBatchMessageCount, len(msgs)),
			attribute.String("messaging.operation.type", "process"),
		))
	b.Span = span.SpanContext()
	if j.Process != nil {
		b.Err = j.Process(ctx, b.Number, b.Orders)
	}
	if b.Err != nil {
		span.RecordError(b.Err)
		span.SetStatus(codes.Error, b.Err.Error())
	}
	span.End()
	// The SDK's ended span says how many links it dropped.
	if ro, ok := span.(interface{ DroppedLinks() int }); ok {
		b.LinksDropped = ro.DroppedLinks()
	}
	return b, true
}

// Scenario is one run of the demo.
type Scenario struct {
	// Waves are how many orders customers place before each batch run.
	Waves []int
	// FailBatch is the number (from 1) of the batch that fails; 0: none.
	FailBatch int
	// Interval is how often the batch job runs.
	Interval time.Duration
	// OrderPrefix starts every order ID ("ord-" when empty).
	OrderPrefix string
	// Redeliver is the number (from 1) of an order whose message the queue
	// delivers twice, as at-least-once brokers do; 0: none.
	Redeliver int
	// CheckStock gives each order's trace a second span, check-stock, a
	// child of receive-order that ends before it.
	CheckStock bool
}

// DefaultScenario is the demo's story: a small batch in which the queue
// delivers order 2 twice, a batch that fails, and a batch larger than the
// SDK's 128-link limit.
func DefaultScenario() Scenario {
	return Scenario{Waves: []int{3, 4, 150}, FailBatch: 2, Interval: 2 * time.Second, Redeliver: 2}
}

// Run plays sc against the tracer provider tp: it starts the API on a free
// loopback port, places each wave of orders through it, and runs the batch
// job on its schedule after each wave. onBatch, when not nil, is called
// after each batch. Run does not flush tp: its caller shuts it down.
func Run(ctx context.Context, tp trace.TracerProvider, sc Scenario, onBatch func(Batch)) ([]Batch, error) {
	tracer := tp.Tracer("github.com/spanlinks/spanlinksprocessor/examples/demo/orders")
	prop := propagation.TraceContext{}
	queue := &Queue{}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the order API: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/orders", &API{Tracer: tracer, Propagator: prop, Queue: queue, CheckStock: sc.CheckStock})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown below
	defer srv.Shutdown(context.Background())

	if sc.Redeliver > 0 {
		queue.redeliver = fmt.Sprintf("%s%04d", orderPrefix(sc), sc.Redeliver)
	}
	job := &BatchJob{
		Tracer: tracer, Propagator: prop, Queue: queue,
		Process: func(_ context.Context, number int, _ []string) error {
			if number == sc.FailBatch {
				return ErrPaymentTimeout
			}
			return nil
		},
	}
	prefix := orderPrefix(sc)
	client := &http.Client{Timeout: 10 * time.Second}
	url := "http://" + ln.Addr().String() + "/orders"

	tick := time.NewTicker(sc.Interval)
	defer tick.Stop()
	var batches []Batch
	next := 1
	for _, n := range sc.Waves {
		// Customers place this wave's orders.
		if err := placeOrders(ctx, client, url, prefix, next, n); err != nil {
			return batches, err
		}
		next += n
		// The batch job runs on its schedule and takes what is pending.
		select {
		case <-ctx.Done():
			return batches, ctx.Err()
		case <-tick.C:
		}
		if b, ok := job.RunOnce(ctx); ok {
			batches = append(batches, b)
			if onBatch != nil {
				onBatch(b)
			}
		}
	}
	return batches, nil
}

// orderPrefix starts every order ID of sc.
func orderPrefix(sc Scenario) string {
	if sc.OrderPrefix == "" {
		return "ord-"
	}
	return sc.OrderPrefix
}

// placeOrders posts n orders, numbered from first, one after the other so
// that they queue in order.
func placeOrders(ctx context.Context, client *http.Client, url, prefix string, first, n int) error {
	for i := range n {
		if err := postOrder(ctx, client, url, fmt.Sprintf("%s%04d", prefix, first+i)); err != nil {
			return err
		}
	}
	return nil
}

func postOrder(ctx context.Context, client *http.Client, url, id string) error {
	body, _ := json.Marshal(orderRequest{ID: id})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("placing order %s: %w", id, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("placing order %s: %s", id, resp.Status)
	}
	return nil
}
