package spanlinksprocessor

import (
	"context"
	"encoding/hex"
	"strings"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// backlink writes on every span of td the backlinks whose index entries
// were added after since (step 5), and returns how many spans got their
// first backlinks. The spans are looked up together, then written in
// order.
func (p *spanLinksProcessor) backlink(ctx context.Context, td ptrace.Traces, since time.Time) int {
	if p.index.Empty() || td.ResourceSpans().Len() == 0 {
		return 0 // nothing links anywhere, or nothing to look up
	}
	b := p.cfg.Backlinks
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	q := &sc.lookups
	defer q.Reset()
	parts := newPartitions(b.Partition)
	eachSpan(td, func(rs ptrace.ResourceSpans, span ptrace.Span) {
		q.Add(linkindex.KeyOf(span.TraceID(), span.SpanID()).In(parts.of(ctx, rs)))
	})
	if err := p.index.Lookup(ctx, q, since, b.MaxBacklinksPerSpan); err != nil {
		p.indexFailed(opLookup, err)
		return 0
	}
	n, i := 0, 0
	eachSpan(td, func(_ ptrace.ResourceSpans, span ptrace.Span) {
		if writeBacklinks(span, q.Result(i), b.MaxBacklinksPerSpan, b.EmitLinks) {
			n++
		}
		i++
	})
	return n
}

// isBacklink reports whether l is a reverse link written by this processor.
func isBacklink(l ptrace.SpanLink) bool {
	attrs := l.Attributes()
	if attrs.Len() == 0 {
		return false
	}
	v, ok := attrs.Get(attrBacklink)
	return ok && v.Type() == pcommon.ValueTypeBool && v.Bool()
}

// writeBacklinks adds b to span's backlink attributes, merging with what an
// earlier call wrote: counts add up, lists grow up to limit entries in arrival
// order. With emit, every linker listed also gets a reverse link, its
// flags the W3C sampled bit (the linker was exported). It
// reports whether this gave span its first backlinks.
func writeBacklinks(span ptrace.Span, b linkindex.Backlinks, limit int, emit bool) (first bool) {
	if b.Count == 0 {
		return false
	}
	attrs := span.Attributes()
	var traceIDs, spanIDs, names pcommon.Slice
	if v, ok := attrs.Get(attrBacklinksCount); ok && v.Type() == pcommon.ValueTypeInt {
		// An earlier call wrote backlinks: add to them.
		v.SetInt(v.Int() + int64(b.Count))
		errs := int64(b.ErrorCount)
		if v, ok := attrs.Get(attrBacklinksErrorCount); ok && v.Type() == pcommon.ValueTypeInt {
			errs += v.Int()
		}
		attrs.PutInt(attrBacklinksErrorCount, errs)
		traceIDs = stringSlice(attrs, attrBacklinksTraceIDs)
		spanIDs = stringSlice(attrs, attrBacklinksSpanIDs)
		names = stringSlice(attrs, attrBacklinksSpanNames)
	} else {
		// The first backlinks: five new attributes, the map grown once.
		first = true
		attrs.EnsureCapacity(attrs.Len() + 5)
		attrs.PutInt(attrBacklinksCount, int64(b.Count))
		attrs.PutInt(attrBacklinksErrorCount, int64(b.ErrorCount))
		traceIDs = attrs.PutEmptySlice(attrBacklinksTraceIDs)
		spanIDs = attrs.PutEmptySlice(attrBacklinksSpanIDs)
		names = attrs.PutEmptySlice(attrBacklinksSpanNames)
	}

	linkers := b.Linkers
	if room := limit - traceIDs.Len(); room <= 0 {
		linkers = nil
	} else if room < len(linkers) {
		linkers = linkers[:room]
	}
	if len(linkers) == 0 {
		return first
	}
	traceIDs.EnsureCapacity(traceIDs.Len() + len(linkers))
	spanIDs.EnsureCapacity(spanIDs.Len() + len(linkers))
	names.EnsureCapacity(names.Len() + len(linkers))
	hexIDs := hexRefs(linkers)
	for i, l := range linkers {
		ids := hexIDs[i*hexRefLen : (i+1)*hexRefLen]
		traceIDs.AppendEmpty().SetStr(hexOrEmpty(ids[:32], l.TraceID.IsEmpty()))
		spanIDs.AppendEmpty().SetStr(hexOrEmpty(ids[32:], l.SpanID.IsEmpty()))
		names.AppendEmpty().SetStr(l.Name)
	}
	if emit {
		rls := span.Links()
		rls.EnsureCapacity(rls.Len() + len(linkers))
		for _, l := range linkers {
			rl := rls.AppendEmpty()
			rl.SetTraceID(l.TraceID)
			rl.SetSpanID(l.SpanID)
			rl.SetFlags(w3cSampled) // the linking span was exported: it is sampled
			rl.Attributes().PutBool(attrBacklink, true)
		}
	}
	return first
}

// hexRefLen is the length of a SpanRef in hex: 32 digits of trace ID, 16 of
// span ID.
const hexRefLen = 48

// hexRefs returns the IDs of linkers in lowercase hex, hexRefLen digits per
// linker, in one string: the attributes take substrings of it, so that a
// span's backlink IDs cost one allocation, not two per linker.
func hexRefs(linkers []linkindex.Linker) string {
	var sb strings.Builder
	sb.Grow(len(linkers) * hexRefLen)
	var buf [hexRefLen]byte
	for _, l := range linkers {
		hex.Encode(buf[:32], l.TraceID[:])
		hex.Encode(buf[32:], l.SpanID[:])
		sb.Write(buf[:])
	}
	return sb.String()
}

// hexOrEmpty returns s, or "" for an empty ID, as pcommon's String does.
func hexOrEmpty(s string, empty bool) string {
	if empty {
		return ""
	}
	return s
}

// stringSlice returns the slice attribute key of attrs, creating it when it
// is absent or of another type.
func stringSlice(attrs pcommon.Map, key string) pcommon.Slice {
	if v, ok := attrs.Get(key); ok && v.Type() == pcommon.ValueTypeSlice {
		return v.Slice()
	}
	return attrs.PutEmptySlice(key)
}

// eachSpan calls f on every span of td, in order, with the resource it is
// under.
func eachSpan(td ptrace.Traces, f func(rs ptrace.ResourceSpans, s ptrace.Span)) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				f(rs, spans.At(k))
			}
		}
	}
}
