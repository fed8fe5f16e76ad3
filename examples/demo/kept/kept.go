// Package kept tells, for the tail-sampling recipe (examples/tail-sampling),
// which traces the tail-sampling tier kept and why, and which it dropped and
// why. It is given two streams of spans: everything the spanlinks tier sent
// on (Sent), and what the tail-sampling tier exported (Kept), whose spans
// carry the name of the policy that kept them (scope attribute
// tailsampling.policy, with the processor.tailsamplingprocessor.recordpolicy
// feature gate).
package kept

import (
	"encoding/hex"
	"sync"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// Stream says which of the two streams spans came from.
type Stream int

const (
	// Sent is everything the spanlinks tier sent on to the tail-sampling tier.
	Sent Stream = iota
	// Kept is what the tail-sampling tier exported.
	Kept
)

// Attributes read from the spans.
const (
	AttrPolicy         = "tailsampling.policy"
	AttrBacklinks      = "spanlinks.backlinks.count"
	AttrBacklinkErrors = "spanlinks.backlinks.error_count"
	AttrOrderID        = "order.id"
	AttrBatchNumber    = "batch.number"
)

// The demo's span names (examples/demo/orders).
const (
	receiveOrder = "receive-order"
	processBatch = "process-batch"
)

// Span is what the report needs of a span.
type Span struct {
	Name    string
	OrderID string // order.id, on the demo's receive-order spans
	Batch   int64  // batch.number, on the demo's process-batch spans
	Error   bool   // status Error
	// Backlinks and BacklinkErrors are the spanlinks.backlinks.* counts;
	// HasBacklinks is false when the span has none.
	Backlinks, BacklinkErrors int64
	HasBacklinks              bool
}

// Trace is one trace seen on either stream.
type Trace struct {
	ID    string           // hex
	Spans map[string]*Span // by span ID, hex
	order []string         // span IDs, first seen first
	// Kept is whether the tail-sampling tier exported any span of it;
	// Policy is the tailsampling.policy its spans carried.
	Kept   bool
	Policy string
	seq    int
}

// Traces collects the spans of both streams. Safe for concurrent use.
type Traces struct {
	mu     sync.Mutex
	byID   map[string]*Trace
	nSpans [2]int
}

// NewTraces returns an empty collection.
func NewTraces() *Traces { return &Traces{byID: map[string]*Trace{}} }

// Add records the spans of rss, received on stream.
func (ts *Traces) Add(stream Stream, rss []*tracepb.ResourceSpans) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, rs := range rss {
		for _, ss := range rs.GetScopeSpans() {
			policy, _ := attr(ss.GetScope().GetAttributes(), AttrPolicy)
			for _, sp := range ss.GetSpans() {
				ts.nSpans[stream]++
				ts.add(stream, sp, policy.GetStringValue())
			}
		}
	}
}

func (ts *Traces) add(stream Stream, sp *tracepb.Span, policy string) {
	id := hex.EncodeToString(sp.GetTraceId())
	tr := ts.byID[id]
	if tr == nil {
		tr = &Trace{ID: id, Spans: map[string]*Span{}, seq: len(ts.byID)}
		ts.byID[id] = tr
	}
	if stream == Kept {
		tr.Kept = true
		if policy != "" {
			tr.Policy = policy
		}
	}
	sid := hex.EncodeToString(sp.GetSpanId())
	if _, ok := tr.Spans[sid]; ok {
		return
	}
	s := &Span{Name: sp.GetName(), Error: sp.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR}
	if v, ok := attr(sp.GetAttributes(), AttrOrderID); ok {
		s.OrderID = v.GetStringValue()
	}
	if v, ok := attr(sp.GetAttributes(), AttrBatchNumber); ok {
		s.Batch = v.GetIntValue()
	}
	if v, ok := attr(sp.GetAttributes(), AttrBacklinks); ok {
		s.Backlinks, s.HasBacklinks = v.GetIntValue(), true
	}
	if v, ok := attr(sp.GetAttributes(), AttrBacklinkErrors); ok {
		s.BacklinkErrors = v.GetIntValue()
	}
	tr.Spans[sid] = s
	tr.order = append(tr.order, sid)
}

// Counts returns how many spans each stream brought.
func (ts *Traces) Counts() (sent, kept int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.nSpans[Sent], ts.nSpans[Kept]
}

// snapshot returns the traces in the order they were first seen.
func (ts *Traces) snapshot() []*Trace {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	out := make([]*Trace, len(ts.byID))
	for _, tr := range ts.byID {
		out[tr.seq] = tr
	}
	return out
}

// root returns the span that names the trace: the demo's receive-order or
// process-batch span if there is one, else the first span seen.
func (tr *Trace) root() *Span {
	for _, sid := range tr.order {
		if s := tr.Spans[sid]; s.Name == receiveOrder || s.Name == processBatch {
			return s
		}
	}
	return tr.Spans[tr.order[0]]
}

func attr(kvs []*commonpb.KeyValue, key string) (*commonpb.AnyValue, bool) {
	for _, kv := range kvs {
		if kv.GetKey() == key {
			return kv.GetValue(), true
		}
	}
	return nil, false
}
