package e2e

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// Span ID kinds of TestHoldAuto (the first byte of the IDs).
const (
	autoOrder  = 0xa0
	autoHealth = 0xc0
	autoBatch  = 0xb0
)

// autoRef names span i of kind, as postSpans makes them.
func autoRef(kind byte, i int) spanRef {
	var r spanRef
	r.trace[0], r.span[0] = kind, kind
	r.trace[15], r.span[7] = byte(i), byte(i)
	return r
}

// postBatch sends, over OTLP/HTTP, batch span n of order-batcher linking
// orders first..last.
func postBatch(t *testing.T, c *collector, n, first, last int) {
	t.Helper()
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "order-batcher")
	s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	r := autoRef(autoBatch, n)
	s.SetTraceID(r.trace)
	s.SetSpanID(r.span)
	s.SetName("process-batch")
	now := time.Now()
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Millisecond)))
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
	for i := first; i <= last; i++ {
		l := s.Links().AppendEmpty()
		o := autoRef(autoOrder, i)
		l.SetTraceID(o.trace)
		l.SetSpanID(o.span)
	}
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post("http://"+c.httpAddr+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("sending batch %d: %v", n, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sending batch %d: %s", n, resp.Status)
	}
}

// receivedAll reports whether every span of refs was received.
func receivedAll(spans []ptrace.Span, refs []spanRef) bool {
	got := map[spanRef]bool{}
	for _, s := range spans {
		got[refOf(s)] = true
	}
	for _, r := range refs {
		if !got[r] {
			return false
		}
	}
	return true
}

// refsOf lists the spans first..last of kind.
func refsOf(kind byte, first, last int) []spanRef {
	var out []spanRef
	for i := first; i <= last; i++ {
		out = append(out, autoRef(kind, i))
	}
	return out
}

// TestHoldAuto is the default hold (auto) on the built collector, window
// 3s, measured from outside. In the first window, knowing no class, it
// holds every span: batch 1 links its 10 held orders, which teaches their
// class, and they leave with their backlinks: nothing is missed. From the
// first window on, health checks, a class nothing links to, leave within
// 1s of being sent, and batch 2's orders are held and all carry their
// backlink. Refunds, a class first linked after the first window, pass
// until a batch links them: 5 missed backlinks, as issue 15 learnt.
func TestHoldAuto(t *testing.T) {
	if withoutSpanlinks() {
		t.Skip("needs the spanlinks processor")
	}
	sink := newSink(t)
	c := startCollector(t, collectorConfig{window: 3 * time.Second, exportTo: sink.endpoint(), defaultHold: true})
	if !c.waitOutput(time.Second, "every span is held for the first window") {
		t.Fatal("the collector did not log that it holds every span for its first window")
	}

	// The first window: batch 1's orders and health checks are held, and
	// the batch links the orders while they are.
	began := time.Now()
	postSpans(t, c, autoOrder, 1, 10, "receive-order")
	postSpans(t, c, autoHealth, 1, 5, "GET /health")
	postBatch(t, c, 1, 1, 10)
	if n := len(sink.received()); n > 0 {
		t.Errorf("%d spans left before their window: the first window holds every span", n)
	}
	if !sink.waitFor(10*time.Second, func(s []ptrace.Span) bool {
		return receivedAll(s, append(refsOf(autoOrder, 1, 10), refsOf(autoHealth, 1, 5)...))
	}) {
		t.Fatal("batch 1's orders and health checks did not leave within 10s")
	}
	t.Logf("first window: 10 orders and 5 health checks left %s after they were sent", time.Since(began).Round(time.Millisecond))
	if missed, _ := c.metric("otelcol_processor_spanlinks_missed_backlinks"); missed != 0 {
		t.Errorf("missed_backlinks = %v after batch 1, want 0", missed)
	}
	if !c.waitOutput(5*time.Second, "hold: auto's first window is over") {
		t.Fatal("the collector did not log the end of its first window")
	}

	// Batch 2: the orders' class is held, the health checks are not.
	began = time.Now()
	postSpans(t, c, autoOrder, 11, 20, "receive-order")
	postSpans(t, c, autoHealth, 6, 10, "GET /health")
	if !sink.waitFor(time.Second, func(s []ptrace.Span) bool { return receivedAll(s, refsOf(autoHealth, 6, 10)) }) {
		t.Fatal("batch 2's health checks did not leave within 1s")
	}
	t.Logf("batch 2: 5 health checks left %s after they were sent", time.Since(began).Round(time.Millisecond))
	postBatch(t, c, 2, 11, 20)
	if !sink.waitFor(10*time.Second, func(s []ptrace.Span) bool { return receivedAll(s, refsOf(autoOrder, 11, 20)) }) {
		t.Fatal("batch 2's orders did not leave within 10s")
	}
	t.Logf("batch 2: 10 orders left %s after they were sent", time.Since(began).Round(time.Millisecond))

	// Refunds: a class no link has targeted yet passes at once; the batch
	// that links them finds them gone.
	began = time.Now()
	postSpans(t, c, autoOrder, 101, 105, "receive-refund")
	if !sink.waitFor(time.Second, func(s []ptrace.Span) bool { return receivedAll(s, refsOf(autoOrder, 101, 105)) }) {
		t.Fatal("the refunds did not leave within 1s")
	}
	t.Logf("refunds: 5 left %s after they were sent", time.Since(began).Round(time.Millisecond))
	postBatch(t, c, 3, 101, 105)
	var missed float64
	if !sink.waitFor(5*time.Second, func([]ptrace.Span) bool {
		missed, _ = c.metric("otelcol_processor_spanlinks_missed_backlinks")
		return missed == 5
	}) {
		t.Errorf("missed_backlinks = %v after the refunds' batch, want 5", missed)
	}
	c.stop(t)

	paired := 0
	for _, s := range sink.received() {
		if s.SpanID()[0] != autoOrder || s.Name() != "receive-order" {
			continue
		}
		if n, ok := intAttr(s, "spanlinks.backlinks.count"); ok && n == 1 {
			paired++
		}
	}
	t.Logf("%d of 20 orders carry their backlink; missed_backlinks %v", paired, missed)
	if paired != 20 {
		t.Errorf("%d of the 20 orders carry their backlink, want all", paired)
	}
}
