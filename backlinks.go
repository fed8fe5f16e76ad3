package spanlinksprocessor

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// indexLinks records every kept, valid link of span in idx (DESIGN.md step
// 4). Invalid links and the reverse links this processor added are skipped.
func indexLinks(idx LinkIndex, span ptrace.Span, now time.Time) {
	links := span.Links()
	if links.Len() == 0 {
		return
	}
	from := Linker{
		SpanRef: SpanRef{TraceID: span.TraceID(), SpanID: span.SpanID()},
		Name:    span.Name(),
		Error:   span.Status().Code() == ptrace.StatusCodeError,
	}
	for i := 0; i < links.Len(); i++ {
		l := links.At(i)
		to := SpanRef{TraceID: l.TraceID(), SpanID: l.SpanID()}
		if !validRef(to) || isBacklink(l) {
			continue
		}
		idx.Add(to, from, now)
	}
}

// isBacklink reports whether l is a reverse link written by this processor.
func isBacklink(l ptrace.SpanLink) bool {
	v, ok := l.Attributes().Get(attrBacklink)
	return ok && v.Type() == pcommon.ValueTypeBool && v.Bool()
}

// lookupBacklinks returns what idx knows of the spans linking to span
// whose entries lie in (from, to] (DESIGN.md step 5).
func lookupBacklinks(idx LinkIndex, span ptrace.Span, from, to Cursor, now time.Time, max int) Backlinks {
	return idx.Lookup(SpanRef{TraceID: span.TraceID(), SpanID: span.SpanID()}, from, to, now, max)
}

// writeBacklinks adds b to span's backlink attributes, merging with what an
// earlier call wrote: counts add up, lists grow up to max entries in arrival
// order. With emit, every linker listed also gets a reverse link. It
// reports whether this gave span its first backlinks.
func writeBacklinks(span ptrace.Span, b Backlinks, max int, emit bool) (first bool) {
	if b.Count == 0 {
		return false
	}
	attrs := span.Attributes()
	count, errs := int64(b.Count), int64(b.ErrorCount)
	first = true
	if v, ok := attrs.Get(attrBacklinksCount); ok && v.Type() == pcommon.ValueTypeInt {
		count += v.Int()
		first = false
	}
	if v, ok := attrs.Get(attrBacklinksErrorCount); ok && v.Type() == pcommon.ValueTypeInt {
		errs += v.Int()
	}
	attrs.PutInt(attrBacklinksCount, count)
	attrs.PutInt(attrBacklinksErrorCount, errs)

	traceIDs := stringSlice(attrs, attrBacklinksTraceIDs)
	spanIDs := stringSlice(attrs, attrBacklinksSpanIDs)
	names := stringSlice(attrs, attrBacklinksSpanNames)
	for _, l := range b.Linkers {
		if traceIDs.Len() >= max {
			break
		}
		traceIDs.AppendEmpty().SetStr(l.TraceID.String())
		spanIDs.AppendEmpty().SetStr(l.SpanID.String())
		names.AppendEmpty().SetStr(l.Name)
		if emit {
			rl := span.Links().AppendEmpty()
			rl.SetTraceID(l.TraceID)
			rl.SetSpanID(l.SpanID)
			rl.Attributes().PutBool(attrBacklink, true)
		}
	}
	return first
}

// stringSlice returns the slice attribute key of attrs, creating it when it
// is absent or of another type.
func stringSlice(attrs pcommon.Map, key string) pcommon.Slice {
	if v, ok := attrs.Get(key); ok && v.Type() == pcommon.ValueTypeSlice {
		return v.Slice()
	}
	return attrs.PutEmptySlice(key)
}
