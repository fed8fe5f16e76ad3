package spanlinksprocessor

import (
	"context"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// partBatch is the spans of one partition taken from a batch to hold.
type partBatch struct {
	td    ptrace.Traces
	spans int
	part  linkindex.Partition
}

// eachPartition splits held, n spans sent in ctx, into one batch per
// partition and calls f on each, in the order each partition first
// appears, so that the hold counts every tenant's share. Unless partitions
// come from a resource attribute, a request is one partition, and f gets
// held whole, without an allocation.
func (p *spanLinksProcessor) eachPartition(ctx context.Context, held ptrace.Traces, n int, f func(pb partBatch)) {
	parts := newPartitions(p.cfg.Backlinks.Partition)
	rss := held.ResourceSpans()
	if p.cfg.Backlinks.Partition.ResourceAttribute == "" || rss.Len() < 2 {
		var part linkindex.Partition
		if rss.Len() > 0 {
			part = parts.of(ctx, rss.At(0))
		}
		f(partBatch{td: held, spans: n, part: part})
		return
	}
	var out []partBatch
	at := map[linkindex.Partition]int{}
	for i := 0; i < rss.Len(); i++ {
		part := parts.of(ctx, rss.At(i))
		if _, ok := at[part]; !ok {
			at[part] = len(out)
			out = append(out, partBatch{td: ptrace.NewTraces(), part: part})
		}
	}
	if len(out) == 1 {
		out[0].td, out[0].spans = held, n
	} else {
		rss.RemoveIf(func(rs ptrace.ResourceSpans) bool {
			pb := &out[at[parts.of(ctx, rs)]]
			for j := 0; j < rs.ScopeSpans().Len(); j++ {
				pb.spans += rs.ScopeSpans().At(j).Spans().Len()
			}
			rs.MoveTo(pb.td.ResourceSpans().AppendEmpty())
			return true
		})
	}
	for _, pb := range out {
		f(pb)
	}
}
