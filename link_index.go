package spanlinksprocessor

import (
	"context"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// linkIndex is the one seam between the processor and the index of links
// (docs/contract.md, "Index" and "Backlink"): it maps link targets to the
// spans that link to them. Work goes through it a batch at a time, so that
// an index can take one lock per shard, or one round trip per batch,
// instead of one per link or span. Implementations are safe for concurrent
// use; internal/linkindex/linkindextest is the suite each one passes.
type linkIndex interface {
	// Add records the links gathered in b, seen at now.
	Add(ctx context.Context, b *linkindex.Links, now time.Time) error
	// Lookup finds, for every span gathered in q, the linkers whose entries
	// were added after since, listing the oldest limit of them, and stores
	// them in q. Each span is looked up once: when it passes, or when it
	// leaves the hold, so that each linker counts once.
	Lookup(ctx context.Context, q *linkindex.Targets, since time.Time, limit int) error
	// Expire drops the entries older than the index's lifetime.
	Expire(now time.Time)
	// Empty reports whether the index holds no entry; it is cheap, so that
	// a batch skips its lookups while nothing links anywhere.
	Empty() bool
	// Stats reports the entries held, expired and evicted.
	Stats() linkindex.Stats
	// Close releases what the index holds outside the process.
	Close() error
}

var _ linkIndex = (*linkindex.Memory)(nil)

// newLinkIndex returns the index that cfg configures, whose entries live
// for lifetime.
func newLinkIndex(cfg *BacklinksConfig, lifetime time.Duration) linkIndex {
	return linkindex.NewMemory(lifetime, cfg.MaxIndexEntries)
}

// gatherLinks adds to b the links of span that the index records: the
// kept, valid ones that this processor did not add.
func gatherLinks(b *linkindex.Links, span ptrace.Span) {
	links := span.Links()
	n := 0
	for i := 0; i < links.Len(); i++ {
		l := links.At(i)
		if to := linkindex.KeyOf(l.TraceID(), l.SpanID()); to.Valid() && !isBacklink(l) {
			b.Link(to)
			n++
		}
	}
	if n > 0 {
		b.Linker(linkindex.KeyOf(span.TraceID(), span.SpanID()), span.Name(),
			span.Status().Code() == ptrace.StatusCodeError)
	}
}
