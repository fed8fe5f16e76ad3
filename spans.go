package spanlinksprocessor

import "go.opentelemetry.io/collector/pdata/ptrace"

// eachSpan calls f on every span of td, in order, with the resource and
// scope it is under.
func eachSpan(td ptrace.Traces, f func(rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, s ptrace.Span)) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				f(rs, ss, spans.At(k))
			}
		}
	}
}

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
