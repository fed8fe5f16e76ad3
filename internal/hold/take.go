package hold

import (
	"context"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Chooser decides which spans are held: a Matcher, from OTTL conditions,
// or hold: auto's learner, from the classes links target.
type Chooser interface {
	// Match reports whether span, in its resource and scope, is held.
	Match(ctx context.Context, rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, span ptrace.Span) bool
}

// ResourceChooser is a Chooser that decides per resource first: hold:
// auto's learner, which skips a resource none of whose spans it holds.
type ResourceChooser interface {
	Chooser
	// ForResource returns the test of the spans under rs, or nil when
	// none of them is held.
	ForResource(ctx context.Context, rs ptrace.ResourceSpans) func(ptrace.Span) bool
}

// Take moves out of td the spans to hold and returns them with their
// count. With a nil chooser (hold: all) that is td itself, moved whole,
// nothing copied. Otherwise the spans ch matches move to a new Traces
// under copies of their resource and scope, and resources and scopes that
// they leave empty are removed from td.
func Take(ctx context.Context, td ptrace.Traces, ch Chooser) (ptrace.Traces, int) {
	held := ptrace.NewTraces()
	if ch == nil {
		td.ResourceSpans().MoveAndAppendTo(held.ResourceSpans())
		return held, held.SpanCount()
	}
	rc, _ := ch.(ResourceChooser)
	n := 0
	td.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool {
		var match func(ptrace.Span) bool
		if rc != nil {
			if match = rc.ForResource(ctx, rs); match == nil {
				return false // none of its spans is held
			}
		}
		var hrs ptrace.ResourceSpans
		took := false
		rs.ScopeSpans().RemoveIf(func(ss ptrace.ScopeSpans) bool {
			var hss ptrace.ScopeSpans
			tookScope := false
			ss.Spans().RemoveIf(func(s ptrace.Span) bool {
				var take bool
				if match != nil {
					take = match(s)
				} else {
					take = ch.Match(ctx, rs, ss, s)
				}
				if !take {
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

// Size is the protobuf size of td, which the hold's byte limit bounds:
// what the spans would take on the wire, a measure independent of how
// pdata lays them out in memory. It walks every span and attribute once.
func Size(td ptrace.Traces) int {
	var m ptrace.ProtoMarshaler
	return m.TracesSize(td)
}

// Part is the spans of one partition taken from a batch to hold.
type Part struct {
	Traces ptrace.Traces
	Spans  int
	Part   linkindex.Partition
}

// Split splits held, n spans, into one Part per partition and calls f on
// each, in the order each partition first appears, so that the hold counts
// every tenant's share. partOf gives the partition of the spans under a
// resource. Unless byResource (partitions come from a resource attribute),
// a request is one partition, and f gets held whole, without an
// allocation.
func Split(held ptrace.Traces, n int, byResource bool, partOf func(ptrace.ResourceSpans) linkindex.Partition, f func(Part)) {
	rss := held.ResourceSpans()
	if !byResource || rss.Len() < 2 {
		var part linkindex.Partition
		if rss.Len() > 0 {
			part = partOf(rss.At(0))
		}
		f(Part{Traces: held, Spans: n, Part: part})
		return
	}
	var out []Part
	at := map[linkindex.Partition]int{}
	for i := 0; i < rss.Len(); i++ {
		part := partOf(rss.At(i))
		if _, ok := at[part]; !ok {
			at[part] = len(out)
			out = append(out, Part{Traces: ptrace.NewTraces(), Part: part})
		}
	}
	if len(out) == 1 {
		out[0].Traces, out[0].Spans = held, n
	} else {
		rss.RemoveIf(func(rs ptrace.ResourceSpans) bool {
			p := &out[at[partOf(rs)]]
			for j := 0; j < rs.ScopeSpans().Len(); j++ {
				p.Spans += rs.ScopeSpans().At(j).Spans().Len()
			}
			rs.MoveTo(p.Traces.ResourceSpans().AppendEmpty())
			return true
		})
	}
	for _, p := range out {
		f(p)
	}
}
