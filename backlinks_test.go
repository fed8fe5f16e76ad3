package spanlinksprocessor

import (
	"testing"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TestWriteBacklinksMerges writes backlinks twice on one span, with a
// linker whose IDs are empty, over the list limit: the IDs are written as
// pcommon prints them, the lists stop at max, the counts add up.
func TestWriteBacklinksMerges(t *testing.T) {
	td := ptrace.NewTraces()
	span := addSpan(td, "order-api", traceID(kindOrder, 1), spanID(kindOrder, 1), "receive-order")
	span.Attributes().PutStr("http.request.method", "POST")
	l1 := linkindex.Linker{Ref: linkindex.Ref{TraceID: traceID(kindBatch, 1), SpanID: spanID(kindBatch, 1)}, Name: "process-batch", Error: true}
	l2 := linkindex.Linker{Name: "anonymous"} // empty IDs
	l3 := linkindex.Linker{Ref: linkindex.Ref{TraceID: traceID(kindBatch, 3), SpanID: spanID(kindBatch, 3)}, Name: "retry-batch"}

	assert.True(t, writeBacklinks(span, linkindex.Backlinks{Count: 2, ErrorCount: 1, Linkers: []linkindex.Linker{l1, l2}}, 3, true))
	assert.False(t, writeBacklinks(span, linkindex.Backlinks{Count: 4, Linkers: []linkindex.Linker{l3, l1}}, 3, true))

	attrs := span.Attributes()
	get := func(key string) pcommon.Value {
		v, ok := attrs.Get(key)
		assert.True(t, ok, key)
		return v
	}
	assert.Equal(t, int64(6), get(attrBacklinksCount).Int())
	assert.Equal(t, int64(1), get(attrBacklinksErrorCount).Int())
	assert.Equal(t, []any{l1.TraceID.String(), "", l3.TraceID.String()}, get(attrBacklinksTraceIDs).Slice().AsRaw())
	assert.Equal(t, []any{l1.SpanID.String(), "", l3.SpanID.String()}, get(attrBacklinksSpanIDs).Slice().AsRaw())
	assert.Equal(t, []any{"process-batch", "anonymous", "retry-batch"}, get(attrBacklinksSpanNames).Slice().AsRaw())
	assert.Equal(t, 6, attrs.Len())

	links := span.Links()
	if assert.Equal(t, 3, links.Len()) {
		for i, l := range []linkindex.Linker{l1, l2, l3} {
			assert.Equal(t, l.TraceID, links.At(i).TraceID())
			assert.Equal(t, l.SpanID, links.At(i).SpanID())
			assert.True(t, isBacklink(links.At(i)))
		}
	}
}
