package spanlinksprocessor

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
