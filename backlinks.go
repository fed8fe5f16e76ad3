package spanlinksprocessor

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
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
// order; a resource's partition is found once, and a span without
// backlinks is not written.
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
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		part := parts.of(ctx, rs)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				span := spans.At(k)
				q.Add(linkindex.KeyOf(span.TraceID(), span.SpanID()).In(part))
			}
		}
	}
	if err := p.index.Lookup(ctx, q, since, b.MaxBacklinksPerSpan); err != nil {
		p.indexFailed(opLookup, err)
		return 0
	}
	n, at := 0, 0
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				if r := q.Result(at); r.Count > 0 && writeBacklinks(spans.At(k), r, b.MaxBacklinksPerSpan, b.EmitLinks) {
					n++
				}
				at++
			}
		}
	}
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

// With backlinks.deliver: spans, each kept valid link of a span (after
// steps 1 and 2) makes one backlink span in the link's target trace, a child
// of the target span, instead of attributes written on the target
// (docs/contract.md, "Deliver: spans"). Nothing is indexed or held: a
// backlink span depends only on its linker and the link, so it is the same
// on every collector and every replay.
const (
	// backlinkScope is the instrumentation scope of backlink spans.
	backlinkScope = "spanlinks"
	// backlinkNamePrefix starts the name of every backlink span; the
	// linker's name follows, cut as the index stores it
	// (linkindex.CutName): a linker's long name is not copied once per
	// link.
	backlinkNamePrefix = "spanlinks.backlink "
)

// Reasons a kept valid link gets no backlink span, the reason attribute of
// backlink_spans_skipped (skip_reason in metadata.yaml).
const (
	// skipUnsampled: the link's flags say its target trace was not sampled
	// (flags recorded, W3C sampled bit clear); a backlink span would start
	// an orphan trace in the backend.
	skipUnsampled = "unsampled"
)

// backlinkSpansDone counts what appendBacklinkSpans did.
type backlinkSpansDone struct {
	emitted   int // backlink spans appended
	unsampled int // kept valid links skipped: target trace not sampled
}

// appendBacklinkSpans appends to td one backlink span for each kept valid
// link of td's spans, grouped under a copy of their linker's resource and
// the scope backlinkScope, after every span already in td. It reads only
// the spans td held when called: backlink spans are never linkers. Links
// with a zero ID, and reverse links (spanlinks.backlink = true, written by
// emit_links or carried by a backlink span), get none; a link whose flags
// say its target trace was not sampled gets none and is counted.
func appendBacklinkSpans(td ptrace.Traces) backlinkSpansDone {
	var done backlinkSpansDone
	out := ptrace.NewResourceSpansSlice()
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		appendResourceBacklinks(out, rss.At(i), &done)
	}
	out.MoveAndAppendTo(rss)
	return done
}

// appendResourceBacklinks appends to out the backlink spans of the links of
// rs's spans, under one copy of rs's resource, made at the first of them.
func appendResourceBacklinks(out ptrace.ResourceSpansSlice, rs ptrace.ResourceSpans, done *backlinkSpansDone) {
	var spans ptrace.SpanSlice
	made := false
	sss := rs.ScopeSpans()
	for j := 0; j < sss.Len(); j++ {
		linkers := sss.At(j).Spans()
		for k := 0; k < linkers.Len(); k++ {
			span := linkers.At(k)
			links := span.Links()
			if links.Len() == 0 || span.TraceID().IsEmpty() || span.SpanID().IsEmpty() {
				continue // nothing to answer, or no linker to link back to
			}
			var linker linkerOf // made at its first backlink span
			for l := 0; l < links.Len(); l++ {
				link := links.At(l)
				switch answerLink(link) {
				case answerNone:
					continue
				case answerUnsampled:
					done.unsampled++
					continue
				}
				if !made {
					spans = backlinkScopeUnder(out, rs.Resource())
					spans.EnsureCapacity(countLinks(sss))
					made = true
				}
				if linker.spanName == "" {
					linker = newLinkerOf(span)
				}
				fillBacklinkSpan(spans.AppendEmpty(), &linker, link)
				done.emitted++
			}
		}
	}
}

// countLinks returns how many links the spans of sss carry: the most
// backlink spans they make, so that their list is grown once.
func countLinks(sss ptrace.ScopeSpansSlice) int {
	n := 0
	for j := 0; j < sss.Len(); j++ {
		spans := sss.At(j).Spans()
		for k := 0; k < spans.Len(); k++ {
			n += spans.At(k).Links().Len()
		}
	}
	return n
}

// How a link is answered with a backlink span.
const (
	answerSpan      = iota // a backlink span
	answerNone             // none: a zero ID or a reverse link, not a link to answer
	answerUnsampled        // none: its target trace was not sampled
)

// answerLink tells how the kept link l is answered. Flags 0 mean none were
// recorded (older SDKs), and the link is answered; otherwise the W3C sampled
// bit decides, as for spanlinks.links.target_sampled_ratio (annotate.go).
func answerLink(l ptrace.SpanLink) int {
	switch {
	case l.TraceID().IsEmpty() || l.SpanID().IsEmpty() || isBacklink(l):
		return answerNone
	case l.Flags() != 0 && l.Flags()&w3cSampled == 0:
		return answerUnsampled
	}
	return answerSpan
}

// backlinkScopeUnder appends to out a copy of res with one scope,
// backlinkScope, and returns that scope's span list.
func backlinkScopeUnder(out ptrace.ResourceSpansSlice, res pcommon.Resource) ptrace.SpanSlice {
	rs := out.AppendEmpty()
	res.CopyTo(rs.Resource())
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName(backlinkScope)
	return ss.Spans()
}

// linkerOf is what every backlink span of one linker repeats, made once
// per linker rather than once per link.
type linkerOf struct {
	span     ptrace.Span
	name     string // the linker's name, cut
	spanName string // the backlink spans' name
	traceHex string // the linker's trace ID in lowercase hex
	spanHex  string // the linker's span ID in lowercase hex
	failed   bool   // the linker's status is Error
}

// newLinkerOf returns what the backlink spans of span repeat.
func newLinkerOf(span ptrace.Span) linkerOf {
	name := linkindex.CutName(span.Name())
	tid, sid := span.TraceID(), span.SpanID()
	var buf [hexRefLen]byte // the IDs in hex, one string: one allocation
	hex.Encode(buf[:32], tid[:])
	hex.Encode(buf[32:], sid[:])
	ids := string(buf[:])
	return linkerOf{
		span:     span,
		name:     name,
		spanName: backlinkNamePrefix + name,
		traceHex: ids[:32],
		spanHex:  ids[32:],
		failed:   span.Status().Code() == ptrace.StatusCodeError,
	}
}

// fillBacklinkSpan makes s the backlink span of link, a kept valid link of
// linker: in the target's trace, a child of the target span, timed and
// failed as the linker, with one reverse link to the linker and the
// spanlinks.backlinks.* attributes that linker alone gives its target.
func fillBacklinkSpan(s ptrace.Span, linker *linkerOf, link ptrace.SpanLink) {
	ls := linker.span
	s.SetTraceID(link.TraceID())
	s.SetParentSpanID(link.SpanID())
	s.SetSpanID(backlinkSpanID(ls.TraceID(), ls.SpanID(), link.TraceID(), link.SpanID()))
	if ts := link.TraceState().AsRaw(); ts != "" {
		s.TraceState().FromRaw(ts) // the target trace's
	}
	s.SetFlags(link.Flags() & 0xff) // its W3C trace flags, as the link recorded them
	s.SetName(linker.spanName)
	s.SetKind(ptrace.SpanKindInternal)
	s.SetStartTimestamp(ls.StartTimestamp())
	s.SetEndTimestamp(ls.EndTimestamp())
	errs := int64(0)
	if linker.failed {
		errs = 1
		s.Status().SetCode(ptrace.StatusCodeError)
		s.Status().SetMessage(ls.Status().Message())
	}

	rl := s.Links().AppendEmpty()
	rl.SetTraceID(ls.TraceID())
	rl.SetSpanID(ls.SpanID())
	rl.SetFlags(w3cSampled) // the linker was exported: it is sampled
	rl.Attributes().PutBool(attrBacklink, true)

	attrs := s.Attributes()
	attrs.EnsureCapacity(5)
	attrs.PutInt(attrBacklinksCount, 1)
	attrs.PutInt(attrBacklinksErrorCount, errs)
	attrs.PutEmptySlice(attrBacklinksTraceIDs).AppendEmpty().SetStr(linker.traceHex)
	attrs.PutEmptySlice(attrBacklinksSpanIDs).AppendEmpty().SetStr(linker.spanHex)
	attrs.PutEmptySlice(attrBacklinksSpanNames).AppendEmpty().SetStr(linker.name)
}

// backlinkSpanID returns the span ID of the backlink span that the link
// from the linker (linkerTrace, linkerSpan) to the target (targetTrace,
// targetSpan) makes: the first 8 bytes of the SHA-256 of the 48 bytes
// linker trace ID, linker span ID, target trace ID, target span ID, in that
// order; should those be zero, the next 8 that are not, and never zero.
// Any collector, and any replay, computes the same ID, so a backend that
// receives the span twice sees one span twice.
func backlinkSpanID(linkerTrace pcommon.TraceID, linkerSpan pcommon.SpanID, targetTrace pcommon.TraceID, targetSpan pcommon.SpanID) pcommon.SpanID {
	var in [48]byte
	copy(in[0:16], linkerTrace[:])
	copy(in[16:24], linkerSpan[:])
	copy(in[24:40], targetTrace[:])
	copy(in[40:48], targetSpan[:])
	sum := sha256.Sum256(in[:])
	for i := 0; i < len(sum); i += 8 {
		if binary.BigEndian.Uint64(sum[i:i+8]) != 0 {
			return pcommon.SpanID(sum[i : i+8])
		}
	}
	return pcommon.SpanID{7: 1}
}
