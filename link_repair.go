package spanlinksprocessor

import (
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// linkStats is what repairLinks saw and did on one span.
type linkStats struct {
	before          int // links before the processor touched them
	incomingDropped int // DroppedLinksCount as the span arrived
	invalid         int // links dropped as invalid, duplicate or self
	truncated       int // links dropped by max_links_per_span
	attrsDropped    int // link attributes dropped by max_attributes_per_link
}

// dropped reports how many links the processor dropped from the span.
func (s linkStats) dropped() int { return s.invalid + s.truncated }

// repairLinks validates, deduplicates and truncates span's links and limits
// their attributes (DESIGN.md steps 1 and 2). Every link it drops is added
// to the span's DroppedLinksCount. sc is scratch space reused across spans.
func repairLinks(span ptrace.Span, cfg *Config, sc *scratch) linkStats {
	links := span.Links()
	st := linkStats{before: links.Len(), incomingDropped: int(span.DroppedLinksCount())}
	if st.before == 0 {
		return st
	}
	st.invalid = validateLinks(span, sc)
	if links.Len() > cfg.MaxLinksPerSpan {
		st.truncated = truncateLinks(links, cfg.MaxLinksPerSpan, cfg.Truncation, sc)
	}
	st.attrsDropped = limitLinkAttributes(links, cfg.MaxAttributesPerLink)
	if d := st.dropped(); d > 0 {
		span.SetDroppedLinksCount(span.DroppedLinksCount() + uint32(d))
	}
	return st
}

// validateLinks drops invalid links that carry nothing, duplicates of an
// earlier valid link, and links to the span itself. It returns how many it
// dropped. Invalid links that carry attributes or trace state are kept.
func validateLinks(span ptrace.Span, sc *scratch) int {
	self := SpanRef{TraceID: span.TraceID(), SpanID: span.SpanID()}
	sc.seen.reset()
	dropped := 0
	span.Links().RemoveIf(func(l ptrace.SpanLink) bool {
		ref := SpanRef{TraceID: l.TraceID(), SpanID: l.SpanID()}
		drop := false
		switch {
		case !validRef(ref):
			drop = l.Attributes().Len() == 0 && l.TraceState().AsRaw() == ""
		case ref == self:
			drop = true
		default:
			drop = !sc.seen.add(ref)
		}
		if drop {
			dropped++
		}
		return drop
	})
	return dropped
}

// truncateLinks keeps max links, chosen by strategy, in their original
// relative order, and returns how many it dropped.
func truncateLinks(links ptrace.SpanLinkSlice, max int, strategy string, sc *scratch) int {
	n := links.Len()
	if strategy == TruncateFirst {
		i := 0
		links.RemoveIf(func(ptrace.SpanLink) bool { i++; return i > max })
		return n - max
	}
	// Bottom-k: keep the links whose target hashes lowest; ties go to the
	// earlier link, so the choice depends on nothing but the links.
	sc.ranks = sc.ranks[:0]
	for i := 0; i < n; i++ {
		l := links.At(i)
		sc.ranks = append(sc.ranks, rank{hash: linkHash(l.TraceID(), l.SpanID()), index: i})
	}
	slices.SortFunc(sc.ranks, compareRanks)
	sc.keep = slices.Grow(sc.keep[:0], n)[:n]
	clear(sc.keep)
	for _, r := range sc.ranks[:max] {
		sc.keep[r.index] = true
	}
	i := 0
	links.RemoveIf(func(ptrace.SpanLink) bool { i++; return !sc.keep[i-1] })
	return n - max
}

// limitLinkAttributes keeps the first max attributes of every link, counts
// the rest in the link's DroppedAttributesCount, and returns how many it
// dropped in all.
func limitLinkAttributes(links ptrace.SpanLinkSlice, max int) int {
	total := 0
	for i := 0; i < links.Len(); i++ {
		l := links.At(i)
		attrs := l.Attributes()
		extra := attrs.Len() - max
		if extra <= 0 {
			continue
		}
		j := 0
		attrs.RemoveIf(func(string, pcommon.Value) bool { j++; return j > max })
		l.SetDroppedAttributesCount(l.DroppedAttributesCount() + uint32(extra))
		total += extra
	}
	return total
}
