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
	// Empty reports whether the index surely holds no entry; it is cheap,
	// so that a batch skips its lookups while nothing links anywhere. An
	// index shared with other collectors (Redis) answers false.
	Empty() bool
	// Stats reports the entries held, expired and evicted; a shared index
	// reports those this collector added.
	Stats() linkindex.Stats
	// Close releases what the index holds outside the process.
	Close() error
}

var _ linkIndex = (*linkindex.Memory)(nil)

// newLinkIndex returns the index that cfg configures, whose entries live
// for lifetime; failed hears of the failures no method returns, and now is
// the clock of the times the processor gives the index.
func newLinkIndex(cfg *BacklinksConfig, lifetime time.Duration, failed func(op string, err error), now func() time.Time) (linkIndex, error) {
	if cfg.Index.Backend == IndexRedis {
		return newRedisIndex(cfg.Index.Redis, lifetime, failed, now)
	}
	return linkindex.NewMemory(lifetime, cfg.MaxIndexEntries), nil
}

// gatherLinks adds to b the links of span that the index records: the
// kept, valid ones that this processor did not add, in partition part:
// links pair only within the linker's partition.
func gatherLinks(b *linkindex.Links, span ptrace.Span, part linkindex.Partition) {
	links := span.Links()
	n := 0
	for i := 0; i < links.Len(); i++ {
		l := links.At(i)
		if to := linkindex.KeyOf(l.TraceID(), l.SpanID()).In(part); to.Valid() && !isBacklink(l) {
			b.Link(to)
			n++
		}
	}
	if n > 0 {
		b.Linker(linkindex.KeyOf(span.TraceID(), span.SpanID()).In(part), span.Name(),
			span.Status().Code() == ptrace.StatusCodeError)
	}
}
