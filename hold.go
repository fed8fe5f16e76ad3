package spanlinksprocessor

import (
	"context"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/hold"
	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// takeHeld moves out of td the spans to hold (step 6): none under hold:
// none, those holdIf chooses, or every span when holdIf is nil (hold:
// all). They are looked up once, when they are released.
func (p *spanLinksProcessor) takeHeld(ctx context.Context, td ptrace.Traces) (ptrace.Traces, int) {
	if p.hold == nil {
		return ptrace.Traces{}, 0
	}
	return hold.Take(ctx, td, p.holdIf)
}

// holdSpans holds held, n spans sent in ctx at now, one batch per
// partition (step 6). A batch the hold cannot take (it is full and the
// release loop behind, or the batch's partition holds the most) passes
// now, not held, rather than wait or grow the hold: it gets its backlinks
// and joins td, and it is counted. With backlinks.storage each batch is
// stored before it is held, and its record deleted if it passes. It
// returns how many of those spans got their first backlinks.
func (p *spanLinksProcessor) holdSpans(ctx context.Context, held ptrace.Traces, n int, td ptrace.Traces, now time.Time) int {
	if n == 0 {
		return 0
	}
	parts := newPartitions(p.cfg.Backlinks.Partition)
	partOf := func(rs ptrace.ResourceSpans) linkindex.Partition { return parts.of(ctx, rs) }
	from := client.FromContext(ctx)
	backlinked := 0
	hold.Split(held, n, p.cfg.Backlinks.Partition.ResourceAttribute != "", partOf, func(pt hold.Part) {
		b := hold.Batch{Traces: pt.Traces, Spans: pt.Spans, Client: from, Part: pt.Part, Arrived: now}
		// Stored before it is held, so that the release loop never
		// deletes a record before it is written.
		p.putHeld(ctx, &b)
		switch p.hold.Add(b) {
		case hold.Waits:
			p.countStored(ctx, b)
		case hold.WaitsMadeDue:
			p.countStored(ctx, b)
			p.kick()
		case hold.Passes:
			p.deleteHeld(b)
			p.kick() // what became due before it gave way
			p.tel.releasedSpans.Add(ctx, int64(pt.Spans), p.tel.releaseReason[hold.ReasonFull])
			backlinked += p.backlink(ctx, pt.Traces, now.Add(-p.reach))
			pt.Traces.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
		}
	})
	return backlinked
}
