package spanlinksprocessor

import (
	"encoding/binary"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Kinds of IDs, so that a golden file tells at a glance whose ID it shows:
// the kind is the ID's first byte, the number its last four.
const (
	kindOrder    = 0xa0
	kindBatch    = 0xb0
	kindTarget   = 0xc0
	kindProducer = 0xd0
	kindWorker   = 0xe0
	kindJob      = 0xf0
)

func traceID(kind byte, n int) pcommon.TraceID {
	var id pcommon.TraceID
	id[0] = kind
	binary.BigEndian.PutUint32(id[12:], uint32(n))
	return id
}

func spanID(kind byte, n int) pcommon.SpanID {
	var id pcommon.SpanID
	id[0] = kind
	binary.BigEndian.PutUint32(id[4:], uint32(n))
	return id
}

// W3C trace flags as the Go SDK records them on links: the low byte holds
// the trace flags, 0x100 says that the flags are known, 0x200 that the
// context was remote.
const (
	flagsSampled   = 0x301
	flagsUnsampled = 0x300
)

// addSpan appends a span to td under the resource of service and a scope
// named after it, reusing both when the last resource is the same service.
func addSpan(td ptrace.Traces, service string, t pcommon.TraceID, id pcommon.SpanID, name string) ptrace.Span {
	rss := td.ResourceSpans()
	var ss ptrace.ScopeSpans
	if n := rss.Len(); n > 0 && serviceOf(rss.At(n-1)) == service {
		ss = rss.At(n - 1).ScopeSpans().At(0)
	} else {
		rs := rss.AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", service)
		ss = rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName(service)
	}
	s := ss.Spans().AppendEmpty()
	s.SetTraceID(t)
	s.SetSpanID(id)
	s.SetName(name)
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(50 * time.Millisecond)))
	return s
}

func serviceOf(rs ptrace.ResourceSpans) string {
	v, _ := rs.Resource().Attributes().Get("service.name")
	return v.Str()
}

// linkTo appends to s a link to (t, id) with the given flags.
func linkTo(s ptrace.Span, t pcommon.TraceID, id pcommon.SpanID, flags uint32) ptrace.SpanLink {
	l := s.Links().AppendEmpty()
	l.SetTraceID(t)
	l.SetSpanID(id)
	l.SetFlags(flags)
	return l
}

// orderSpan adds order n's request span to td.
func orderSpan(td ptrace.Traces, n int) ptrace.Span {
	s := addSpan(td, "order-api", traceID(kindOrder, n), spanID(kindOrder, n), "receive-order")
	s.SetKind(ptrace.SpanKindServer)
	return s
}

// batchSpan adds a batch span n to td that links to orders first..last.
func batchSpan(td ptrace.Traces, n, first, last int) ptrace.Span {
	s := addSpan(td, "order-batcher", traceID(kindBatch, n), spanID(kindBatch, n), "process-batch")
	for i := first; i <= last; i++ {
		linkTo(s, traceID(kindOrder, i), spanID(kindOrder, i), flagsSampled)
	}
	s.Attributes().PutInt("messaging.batch.message_count", int64(last-first+1))
	return s
}

// linkMany adds n links from s to distinct targets of kind.
func linkMany(s ptrace.Span, kind byte, n int) {
	for i := 1; i <= n; i++ {
		linkTo(s, traceID(kind, i), spanID(kind, i), flagsSampled)
	}
}

// inputOf builds one input batch with fill.
func inputOf(fill func(td ptrace.Traces)) ptrace.Traces {
	td := ptrace.NewTraces()
	fill(td)
	return td
}

// at0 is a scenario of one input batch fed at the start.
func at0(td ptrace.Traces) []step { return []step{{at: 0, input: td}} }

// tick is a step that only moves the clock to at.
func tick(at time.Duration) step { return step{at: at, input: ptrace.NewTraces()} }

// feed is a step that feeds the batch fill builds at at.
func feed(at time.Duration, fill func(td ptrace.Traces)) step {
	return step{at: at, input: inputOf(fill)}
}

// orders adds the request spans of orders first..last.
func orders(first, last int) func(td ptrace.Traces) {
	return func(td ptrace.Traces) {
		for i := first; i <= last; i++ {
			orderSpan(td, i)
		}
	}
}

// failed marks s as ended with status Error.
func failed(s ptrace.Span) {
	s.Status().SetCode(ptrace.StatusCodeError)
	s.Status().SetMessage("payment provider unavailable")
}
