package linkindex

import (
	"context"
	"time"
)

// Index maps link targets to the spans that link to them: the one seam
// between the processor and whatever stores the entries (docs/contract.md,
// "Index" and "Backlink"). Work goes through it a batch at a time, so that
// an index can take one lock per shard, or one round trip per batch,
// instead of one per link or span. Implementations are safe for concurrent
// use; package linkindextest holds the suite each one passes.
type Index interface {
	// Add records the links gathered in b, seen at now.
	Add(ctx context.Context, b *Links, now time.Time) error
	// Lookup finds, for every span gathered in q, the linkers whose entries
	// were added after since, listing the oldest limit of them, and stores
	// them in q. Each span is looked up once: when it passes, or when it
	// leaves the hold, so that each linker counts once.
	Lookup(ctx context.Context, q *Targets, since time.Time, limit int) error
	// Expire drops the entries older than the index's lifetime.
	Expire(now time.Time)
	// Empty reports whether the index surely holds no entry; it is cheap,
	// so that a batch skips its lookups while nothing links anywhere. An
	// index shared with other collectors (Redis) answers false.
	Empty() bool
	// Stats reports the entries held, expired and evicted; a shared index
	// reports those this collector added.
	Stats() Stats
	// Close releases what the index holds outside the process.
	Close() error
}

var _ Index = (*Memory)(nil)
