package spanlinksprocessor

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TestForgedAttributesNeverLeave runs the forged-attributes scenario and
// checks what no sender may change: every spanlinks.* attribute that leaves
// is one the processor writes, of its type, with its value.
func TestForgedAttributesNeverLeave(t *testing.T) {
	sc := scenarioNamed(t, "forged-attributes")
	out := sc.run(t, sc.config(t))

	types := map[string]pcommon.ValueType{
		attrLinksTotal:              pcommon.ValueTypeInt,
		attrLinksKept:               pcommon.ValueTypeInt,
		attrLinksInvalid:            pcommon.ValueTypeInt,
		attrLinksSampledRatio:       pcommon.ValueTypeDouble,
		attrLinksTargetSampledRatio: pcommon.ValueTypeDouble,
		attrBacklinksCount:          pcommon.ValueTypeInt,
		attrBacklinksErrorCount:     pcommon.ValueTypeInt,
		attrBacklinksTraceIDs:       pcommon.ValueTypeSlice,
		attrBacklinksSpanIDs:        pcommon.ValueTypeSlice,
		attrBacklinksSpanNames:      pcommon.ValueTypeSlice,
	}
	// owned lists the spanlinks.* attributes of a span as raw values.
	owned := func(s ptrace.Span) map[string]any {
		m := map[string]any{}
		for k, v := range s.Attributes().All() {
			if !strings.HasPrefix(k, "spanlinks.") {
				continue
			}
			if assert.Contains(t, types, k, "%s: an attribute the processor never writes", s.Name()) {
				assert.Equal(t, types[k], v.Type(), "%s: %s", s.Name(), k)
			}
			m[k] = v.AsRaw()
		}
		return m
	}
	batch := func(n int) string { return traceID(kindBatch, n).String() }
	batchSpanID := func(n int) string { return spanID(kindBatch, n).String() }
	got := map[string]map[string]any{}
	forEachSpan(out, func(s ptrace.Span) { got[s.Name()+"/"+s.SpanID().String()] = owned(s) })
	order := func(n int) map[string]any { return got["receive-order/"+spanID(kindOrder, n).String()] }

	assert.Equal(t, map[string]any{
		attrBacklinksCount:      int64(2),
		attrBacklinksErrorCount: int64(0),
		attrBacklinksTraceIDs:   []any{batch(1), batch(2)},
		attrBacklinksSpanIDs:    []any{batchSpanID(1), batchSpanID(2)},
		attrBacklinksSpanNames:  []any{"process-batch", "process-batch"},
	}, order(1), "order 1: linked before it arrived and while held")
	for _, n := range []int{2, 3} {
		assert.Equal(t, map[string]any{
			attrBacklinksCount:      int64(1),
			attrBacklinksErrorCount: int64(0),
			attrBacklinksTraceIDs:   []any{batch(2)},
			attrBacklinksSpanIDs:    []any{batchSpanID(2)},
			attrBacklinksSpanNames:  []any{"process-batch"},
		}, order(n), "order %d: linked while held", n)
	}
	assert.Empty(t, order(4), "order 4: nothing links to it")
	assert.Empty(t, got["process-batch/"+batchSpanID(1)], "batch 1: one link, not a batch span")
	assert.Empty(t, got["check-stock/"+spanID(kindWorker, 1).String()], "a span without links")
	assert.Equal(t, map[string]any{
		attrLinksTotal:              int64(3),
		attrLinksKept:               int64(3),
		attrLinksInvalid:            int64(0),
		attrLinksSampledRatio:       1.0,
		attrLinksTargetSampledRatio: 1.0,
	}, got["process-batch/"+batchSpanID(2)], "batch 2")
}

// BenchmarkStripOwned measures what owning the namespace costs on spans
// without spanlinks.* attributes, the common case: HTTP server spans with 6
// attributes, one in ten with a link. ns/span is per span.
func BenchmarkStripOwned(b *testing.B) {
	td := typicalBatch(0)
	b.ReportAllocs()
	for b.Loop() {
		stripOwned(td)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*td.SpanCount()), "ns/span")
}
