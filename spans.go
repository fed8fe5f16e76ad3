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
