package spanlinksprocessor

import (
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
)

// linkStats is what repairLinks saw and did on one span.
type linkStats struct {
	before          int // links before the processor touched them
	incomingDropped int // DroppedLinksCount as the span arrived
	invalid         int // links dropped for a zero trace or span ID
	duplicate       int // links dropped as duplicates of an earlier link
	self            int // links dropped for pointing at the span itself
	truncated       int // links dropped by max_links_per_span
	attrsDropped    int // link attributes dropped by max_attributes_per_link
}

// rejected reports how many links were dropped as invalid, duplicate or self.
func (s linkStats) rejected() int { return s.invalid + s.duplicate + s.self }

// dropped reports how many links the processor dropped from the span.
func (s linkStats) dropped() int { return s.rejected() + s.truncated }

// Reasons a link is dropped, as logged and as the reason attribute of the
// links dropped metric.
const (
	dropInvalid   = "invalid"
	dropDuplicate = "duplicate"
	dropSelf      = "self"
	dropLimit     = "limit"
)

// repairLinks validates, deduplicates and truncates span's links and limits
// their attributes (DESIGN.md steps 1 and 2). Every link it drops is added
// to the span's DroppedLinksCount. sc is scratch space reused across spans.
// log, when not nil, is told of every dropped link.
func repairLinks(span ptrace.Span, cfg *Config, sc *scratch, log *zap.Logger) linkStats {
	links := span.Links()
	st := linkStats{before: links.Len(), incomingDropped: int(span.DroppedLinksCount())}
	if st.before == 0 {
		return st
	}
	validateLinks(span, sc, &st, log)
	if links.Len() > cfg.MaxLinksPerSpan {
		st.truncated = truncateLinks(links, cfg.MaxLinksPerSpan, cfg.Truncation, sc)
		if log != nil {
			log.Debug("Dropped span links over max_links_per_span",
				zap.Stringer("trace_id", span.TraceID()), zap.Stringer("span_id", span.SpanID()),
				zap.String("reason", dropLimit), zap.Int("dropped", st.truncated),
				zap.Int("max_links_per_span", cfg.MaxLinksPerSpan), zap.String("truncation", cfg.Truncation))
		}
	}
	st.attrsDropped = limitLinkAttributes(links, cfg.MaxAttributesPerLink)
	if d := st.dropped(); d > 0 {
		span.SetDroppedLinksCount(span.DroppedLinksCount() + uint32(d))
	}
	return st
}

// validateLinks drops invalid links that carry nothing, duplicates of an
// earlier valid link, and links to the span itself, counting each in st.
// Invalid links that carry attributes or trace state are kept.
func validateLinks(span ptrace.Span, sc *scratch, st *linkStats, log *zap.Logger) {
	self := SpanRef{TraceID: span.TraceID(), SpanID: span.SpanID()}
	sc.seen.reset()
	span.Links().RemoveIf(func(l ptrace.SpanLink) bool {
		ref := SpanRef{TraceID: l.TraceID(), SpanID: l.SpanID()}
		var why string
		switch {
		case !validRef(ref):
			if l.Attributes().Len() > 0 || l.TraceState().AsRaw() != "" {
				return false
			}
			st.invalid++
			why = dropInvalid
		case ref == self:
			st.self++
			why = dropSelf
		case !sc.seen.add(ref):
			st.duplicate++
			why = dropDuplicate
		default:
			return false
		}
		if log != nil {
			log.Debug("Dropped span link",
				zap.Stringer("trace_id", span.TraceID()), zap.Stringer("span_id", span.SpanID()),
				zap.Stringer("link_trace_id", ref.TraceID), zap.Stringer("link_span_id", ref.SpanID),
				zap.String("reason", why))
		}
		return true
	})
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
