package spanlinksprocessor

import (
	"context"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// spanChooser decides which spans are held: holdMatcher, from OTTL
// conditions, or hold: auto's learner, from the classes links target.
type spanChooser interface {
	match(ctx context.Context, rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, span ptrace.Span) bool
}

// takeHeld moves out of td the spans to hold and returns them with their
// count. With hold: all that is td itself, moved whole, nothing copied.
// Otherwise the spans matching the hold conditions move to a new Traces
// under copies of their resource and scope, and resources and scopes that
// they leave empty are removed from td.
func (p *spanLinksProcessor) takeHeld(ctx context.Context, td ptrace.Traces) (ptrace.Traces, int) {
	if p.holdIf == nil {
		held := ptrace.NewTraces()
		td.ResourceSpans().MoveAndAppendTo(held.ResourceSpans())
		return held, held.SpanCount()
	}
	held := ptrace.NewTraces()
	n := 0
	td.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool {
		var hrs ptrace.ResourceSpans
		took := false
		rs.ScopeSpans().RemoveIf(func(ss ptrace.ScopeSpans) bool {
			var hss ptrace.ScopeSpans
			tookScope := false
			ss.Spans().RemoveIf(func(s ptrace.Span) bool {
				if !p.holdIf.match(ctx, rs, ss, s) {
					return false
				}
				if !took {
					hrs = held.ResourceSpans().AppendEmpty()
					rs.Resource().CopyTo(hrs.Resource())
					hrs.SetSchemaUrl(rs.SchemaUrl())
					took = true
				}
				if !tookScope {
					hss = hrs.ScopeSpans().AppendEmpty()
					ss.Scope().CopyTo(hss.Scope())
					hss.SetSchemaUrl(ss.SchemaUrl())
					tookScope = true
				}
				s.MoveTo(hss.Spans().AppendEmpty())
				n++
				return true
			})
			return tookScope && ss.Spans().Len() == 0
		})
		return took && rs.ScopeSpans().Len() == 0
	})
	return held, n
}

// heldSize is the protobuf size of td, which max_held_bytes bounds: what
// the spans would take on the wire, a measure independent of how pdata
// lays them out in memory. It walks every span and attribute once.
func heldSize(td ptrace.Traces) int {
	var m ptrace.ProtoMarshaler
	return m.TracesSize(td)
}
