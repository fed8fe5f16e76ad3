package spanlinksprocessor

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Span attributes written on batch spans (docs/contract.md, step 3).
const (
	attrLinksTotal              = "spanlinks.links.total"
	attrLinksKept               = "spanlinks.links.kept"
	attrLinksInvalid            = "spanlinks.links.invalid"
	attrLinksSampledRatio       = "spanlinks.links.sampled_ratio"
	attrLinksTargetSampledRatio = "spanlinks.links.target_sampled_ratio"
)

// Span attributes written on origin spans (docs/contract.md, steps 5 and 6).
const (
	attrBacklinksCount      = "spanlinks.backlinks.count"
	attrBacklinksTraceIDs   = "spanlinks.backlinks.trace_ids"
	attrBacklinksSpanIDs    = "spanlinks.backlinks.span_ids"
	attrBacklinksSpanNames  = "spanlinks.backlinks.span_names"
	attrBacklinksErrorCount = "spanlinks.backlinks.error_count"
)

// attrBacklink marks, on a link, a reverse link this processor added.
const attrBacklink = "spanlinks.backlink"

// ownedPrefix is the span attribute namespace the processor owns: every
// attribute under it on a span that leaves is the processor's own value.
const ownedPrefix = "spanlinks."

// stripOwned removes from every span of td the attributes under
// ownedPrefix, whatever their type, as the spans enter the processor and
// before it writes any: a sender cannot forge or inflate a count, and what
// the processor writes never merges with a sender's values. A span without
// such attributes costs a scan of its keys (BenchmarkStripOwned). It runs
// on every span, so it loops itself, with no call per span.
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
