package spanlinksprocessor

import (
	"sync"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
)

// linkStats is what repairLinks saw and did on one span: a handle on counts
// kept in the call's scratch, so that handing it from step to step costs
// one word instead of a 56-byte copy per span. It is valid until the next
// repairLinks with the same scratch.
type linkStats struct{ *linkCounts }

// linkCounts are the counts a linkStats refers to.
type linkCounts struct {
	before          int // links before the processor touched them
	incomingDropped int // DroppedLinksCount as the span arrived
	invalid         int // links dropped for a zero trace or span ID
	duplicate       int // links dropped as duplicates of an earlier link
	self            int // links dropped for pointing at the span itself
	truncated       int // links dropped by max_links_per_span
	attrsDropped    int // link attributes dropped by max_attributes_per_link
}

// rejected reports how many links were dropped as invalid, duplicate or self.
func (s *linkCounts) rejected() int { return s.invalid + s.duplicate + s.self }

// dropped reports how many links the processor dropped from the span.
func (s *linkCounts) dropped() int { return s.rejected() + s.truncated }

// Reasons a link is dropped, as logged and as the reason attribute of the
// links dropped metric.
const (
	dropInvalid   = "invalid"
	dropDuplicate = "duplicate"
	dropSelf      = "self"
	dropLimit     = "limit"
)

// repairLinks validates, deduplicates and truncates span's links and limits
// their attributes (docs/contract.md, steps 1 and 2). Every link it drops is
// added to the span's DroppedLinksCount. sc is scratch space reused across
// spans; the stats returned live in it. log, when not nil, is told of every
// dropped link. A span without links costs a few loads: this is inlined.
func repairLinks(span ptrace.Span, cfg *Config, sc *scratch, log *zap.Logger) linkStats {
	st := &sc.stats
	*st = linkCounts{before: span.Links().Len(), incomingDropped: int(span.DroppedLinksCount())}
	if st.before > 0 {
		repairSpan(span, cfg, sc, st, log)
	}
	return linkStats{st}
}

// repairSpan is repairLinks for a span with links, counting in st.
func repairSpan(span ptrace.Span, cfg *Config, sc *scratch, st *linkCounts, log *zap.Logger) {
	links := span.Links()
	validateLinks(span, sc, st, log)
	if links.Len() > cfg.MaxLinksPerSpan {
		st.truncated = truncateLinks(links, cfg.MaxLinksPerSpan, cfg.Truncation, sc)
		if log != nil {
			log.Debug("Dropped span links over max_links_per_span",
				zap.Stringer("trace_id", span.TraceID()), zap.Stringer("span_id", span.SpanID()),
				zap.String("reason", dropLimit), zap.Int("dropped", st.truncated),
				zap.Int("max_links_per_span", cfg.MaxLinksPerSpan), zap.String("truncation", string(cfg.Truncation)))
		}
	}
	st.attrsDropped = limitLinkAttributes(links, cfg.MaxAttributesPerLink)
	if d := st.dropped(); d > 0 {
		span.SetDroppedLinksCount(span.DroppedLinksCount() + uint32(d))
	}
}

// validateLinks drops invalid links that carry nothing, duplicates of an
// earlier valid link, and links to the span itself, counting each in st.
// Invalid links that carry attributes or trace state are kept. A first pass
// only reads: most spans have nothing to drop.
func validateLinks(span ptrace.Span, sc *scratch, st *linkCounts, log *zap.Logger) {
	links := span.Links()
	self := linkindex.KeyOf(span.TraceID(), span.SpanID())
	sc.seen.Reset()
	clean := true
	for i := 0; i < links.Len() && clean; i++ {
		clean = linkVerdict(links.At(i), self, &sc.seen) == ""
	}
	if clean {
		return
	}
	sc.seen.Reset()
	links.RemoveIf(func(l ptrace.SpanLink) bool {
		why := linkVerdict(l, self, &sc.seen)
		switch why {
		case "":
			return false
		case dropInvalid:
			st.invalid++
		case dropSelf:
			st.self++
		case dropDuplicate:
			st.duplicate++
		}
		if log != nil {
			log.Debug("Dropped span link",
				zap.Stringer("trace_id", span.TraceID()), zap.Stringer("span_id", span.SpanID()),
				zap.Stringer("link_trace_id", l.TraceID()), zap.Stringer("link_span_id", l.SpanID()),
				zap.String("reason", why))
		}
		return true
	})
}

// linkVerdict returns why l, a link of the span self, is dropped, or ""
// when it is kept; a kept valid link is added to seen.
func linkVerdict(l ptrace.SpanLink, self linkindex.Key, seen *linkindex.Set) string {
	k := linkindex.KeyOf(l.TraceID(), l.SpanID())
	switch {
	case !k.Valid():
		if l.Attributes().Len() > 0 || l.TraceState().AsRaw() != "" {
			return ""
		}
		return dropInvalid
	case k == self:
		return dropSelf
	case !seen.Add(k):
		return dropDuplicate
	}
	return ""
}

// limitLinkAttributes keeps the first limit attributes of every link, counts
// the rest in the link's DroppedAttributesCount, and returns how many it
// dropped in all.
func limitLinkAttributes(links ptrace.SpanLinkSlice, limit int) int {
	total := 0
	for i := 0; i < links.Len(); i++ {
		l := links.At(i)
		attrs := l.Attributes()
		extra := attrs.Len() - limit
		if extra <= 0 {
			continue
		}
		j := 0
		attrs.RemoveIf(func(string, pcommon.Value) bool { j++; return j > limit })
		l.SetDroppedAttributesCount(l.DroppedAttributesCount() + uint32(extra))
		total += extra
	}
	return total
}

// scratch is per-call working memory, pooled so that repairing links
// allocates nothing in the steady state.
type scratch struct {
	stats   linkCounts // what repairLinks returns a handle on
	seen    linkindex.Set
	hashes  []uint64 // the links' bottom-k hashes, in link order
	sorted  []uint64 // the same, partly sorted to find the k-th
	keep    []bool
	links   linkindex.Links   // the batch's links, for the index
	lookups linkindex.Targets // the batch's spans, to look up their backlinks
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// eachLinkingSpan calls f on every span of td that carries links or a
// DroppedLinksCount, in order, with its resource: the others have nothing to repair, annotate
// or index (batch.min_links is at least 1). The test is inline, so that a
// span without links costs two loads, not a call.
func eachLinkingSpan(td ptrace.Traces, f func(rs ptrace.ResourceSpans, s ptrace.Span)) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				if s := spans.At(k); s.Links().Len() > 0 || s.DroppedLinksCount() > 0 {
					f(rs, s)
				}
			}
		}
	}
}
