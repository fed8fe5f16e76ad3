package spanlinksprocessor

import (
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// lookupBatch looks up the backlinks of a batch of spans at once
// (DESIGN.md step 5), as linkBatch adds their links: the in-memory index
// answers shard by shard, one lock per shard instead of one per span, and
// reads the table slots of all of a shard's spans before it uses any, so
// that their cache misses overlap. The answers are those of looking the
// spans up one by one.
type lookupBatch struct {
	targets []pendingLink // the spans' own IDs, in the order added
	groups  shardGroups   // targets, by shard
	results []Backlinks   // per target, in the order added
	linkers []Linker      // the memory of the results' Linkers
	need    int           // linkers the last lookup listed: linkers' next capacity
}

// addSpan adds span to the spans to look up. For the in-memory index it
// also hashes its IDs, while the span is in cache.
func (b *lookupBatch) addSpan(idx LinkIndex, span ptrace.Span) {
	p := pendingLink{target: keyOf(span.TraceID(), span.SpanID()), linker: int32(len(b.targets))}
	if ix, ok := idx.(*memoryIndex); ok {
		p.hash, p.shard = refHash(p.target, ix.seed), int32(ix.shardOf(p.target))
	}
	b.targets = append(b.targets, p)
}

// lookup finds, for every span added, the backlinks in idx whose entries
// lie in (from, to], at most max linkers each, and returns them in the
// order the spans were added. They are valid until reset.
func (b *lookupBatch) lookup(idx LinkIndex, from, to Cursor, now time.Time, max int) []Backlinks {
	b.results = append(b.results[:0], make([]Backlinks, len(b.targets))...)
	ix, ok := idx.(*memoryIndex)
	if !ok {
		for i, p := range b.targets {
			b.results[i] = idx.Lookup(p.target.ref(), from, to, now, max)
		}
		return b.results
	}
	if cap(b.linkers) < b.need {
		b.linkers = make([]Linker, 0, b.need)
	}
	b.need = 0
	t := now.UnixNano()
	b.groups.group(b.targets, len(ix.shards))
	for i := range ix.shards {
		group := b.groups.shard(i)
		s := &ix.shards[i]
		if len(group) == 0 || s.empty.Load() {
			continue
		}
		s.mu.Lock()
		s.expire(t, ix.window)
		s.table.touch(group)
		for _, p := range group {
			_, newest, ok := s.find(p.target, p.hash)
			if !ok {
				continue
			}
			// The linkers go into the spare memory of b.linkers when it
			// is large enough, so that earlier results stay where they are.
			spare := b.linkers[len(b.linkers):]
			r := s.backlinks(newest, from, to, t-ix.window, max, spare)
			if n := len(r.Linkers); n > 0 && n <= cap(spare) {
				b.linkers = b.linkers[:len(b.linkers)+n]
			}
			b.need += len(r.Linkers)
			b.results[p.linker] = r
		}
		s.mu.Unlock()
	}
	return b.results
}

// reset empties b, keeping its memory but not the span names it held.
func (b *lookupBatch) reset() {
	b.targets = b.targets[:0]
	clear(b.results)
	b.results = b.results[:0]
	clear(b.linkers)
	b.linkers = b.linkers[:0]
}
