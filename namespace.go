package spanlinksprocessor

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// ownedPrefix is the span attribute namespace the processor owns: every
// attribute under it on a span that leaves is the processor's own value.
const ownedPrefix = "spanlinks."

// stripOwned removes from every span of td the attributes under
// ownedPrefix, whatever their type, as the spans enter the processor and
// before it writes any: a sender cannot forge or inflate a count, and what
// the processor writes never merges with a sender's values. A span without
// such attributes costs a scan of its keys (BenchmarkStripOwned). It runs
// on every span, so it loops itself rather than through eachSpan, whose
// call per span made it 20% slower (17.8 against 14.9 ns/span).
func stripOwned(td ptrace.Traces) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				if attrs := spans.At(k).Attributes(); hasOwned(attrs) {
					attrs.RemoveIf(isOwned)
				}
			}
		}
	}
}

// hasOwned reports whether attrs holds an attribute under ownedPrefix.
func hasOwned(attrs pcommon.Map) bool {
	for k := range attrs.All() {
		if strings.HasPrefix(k, ownedPrefix) {
			return true
		}
	}
	return false
}

// isOwned reports whether the attribute k lies under ownedPrefix.
func isOwned(k string, _ pcommon.Value) bool { return strings.HasPrefix(k, ownedPrefix) }
