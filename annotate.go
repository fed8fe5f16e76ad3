package spanlinksprocessor

import (
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// w3cSampled is the sampled bit of the W3C trace flags, the low byte of a
// link's flags.
const w3cSampled = 0x01

// annotateBatch writes the spanlinks.links.* attributes on span if it is a
// batch span (docs/contract.md, step 3): its links before repair plus its
// incoming DroppedLinksCount reach batch.min_links, or the processor dropped
// a link from it. It reports whether it did. The test is inlined: most spans
// are not batch spans.
func annotateBatch(span ptrace.Span, st linkStats, cfg *BatchConfig) bool {
	if st.before+st.incomingDropped < cfg.MinLinks && st.dropped() == 0 {
		return false
	}
	annotate(span, st.linkCounts, cfg)
	return true
}

// annotate writes the spanlinks.links.* attributes on the batch span span.
func annotate(span ptrace.Span, st *linkCounts, cfg *BatchConfig) {
	total := st.before + st.incomingDropped
	links := span.Links()
	kept := links.Len()
	attrs := span.Attributes()
	denom := max(float64(total), declaredSize(attrs, cfg.SizeAttributes))
	attrs.EnsureCapacity(attrs.Len() + 5)
	attrs.PutInt(attrLinksTotal, int64(total))
	attrs.PutInt(attrLinksKept, int64(kept))
	attrs.PutInt(attrLinksInvalid, int64(st.rejected()))
	attrs.PutDouble(attrLinksSampledRatio, float64(kept)/denom)

	withFlags, sampled := 0, 0
	for i := 0; i < kept; i++ {
		l := links.At(i)
		f := l.Flags()
		if f == 0 || l.TraceID().IsEmpty() || l.SpanID().IsEmpty() {
			continue // no flags recorded, or an invalid link kept for its attributes
		}
		withFlags++
		if f&w3cSampled != 0 {
			sampled++
		}
	}
	if withFlags > 0 {
		attrs.PutDouble(attrLinksTargetSampledRatio, float64(sampled)/float64(withFlags))
	}
}

// declaredSize returns the batch size the application declared in the first
// of names that holds a positive number (int, double or numeric string), or
// 0 when none does.
func declaredSize(attrs pcommon.Map, names []string) float64 {
	for _, name := range names {
		v, ok := attrs.Get(name)
		if !ok {
			continue
		}
		var n float64
		switch v.Type() {
		case pcommon.ValueTypeInt:
			n = float64(v.Int())
		case pcommon.ValueTypeDouble:
			n = v.Double()
		case pcommon.ValueTypeStr:
			n, _ = strconv.ParseFloat(v.Str(), 64)
		}
		if n > 0 {
			return n
		}
	}
	return 0
}
