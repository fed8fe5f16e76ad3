package spanlinksprocessor

import (
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// linkBatch gathers the links of a batch of spans for the index (DESIGN.md
// step 4), so that indexBatch adds them together. The in-memory index then
// adds them shard by shard: one lock per shard instead of one per link, and
// within a shard it reads the table slots of all the batch's targets before
// it uses any, so that their cache misses overlap instead of following one
// another. This halves the cost of indexing a link in a full index
// (BenchmarkLinkIndexAddSpans). The entries are the same as adding the
// links one by one, in order: each shard sees its own links in their order.
type linkBatch struct {
	links   []pendingLink
	linkers []linkerKey
	groups  shardGroups // links, by shard
}

// pendingLink is one link waiting in a linkBatch, or one target waiting
// in a lookupBatch.
type pendingLink struct {
	target refKey
	hash   uint64 // refHash of target, for the in-memory index
	shard  int32  // of target, for the in-memory index
	linker int32  // in linkBatch.linkers; in a lookupBatch, the target's position
}

// shardGroups sorts pending links by shard.
type shardGroups struct {
	grouped []pendingLink // the links, by shard, each shard's in their order
	starts  []int         // grouped[starts[i]:starts[i+1]] are shard i's
	next    []int
}

// group sorts links into g by shard, stably, for an index of n shards.
func (g *shardGroups) group(links []pendingLink, n int) {
	g.starts = append(g.starts[:0], make([]int, n+1)...)
	for _, p := range links {
		g.starts[p.shard+1]++
	}
	for i := 1; i <= n; i++ {
		g.starts[i] += g.starts[i-1]
	}
	g.next = append(g.next[:0], g.starts[:n]...)
	g.grouped = append(g.grouped[:0], links...)
	for _, p := range links {
		g.grouped[g.next[p.shard]] = p
		g.next[p.shard]++
	}
}

// shard returns the links of shard i, after group.
func (g *shardGroups) shard(i int) []pendingLink {
	return g.grouped[g.starts[i]:g.starts[i+1]]
}

// addSpan gathers the links of span that idx records: the kept, valid ones
// that this processor did not add. For the in-memory index it also hashes
// them, while the span is in cache.
func (b *linkBatch) addSpan(idx LinkIndex, span ptrace.Span) {
	links := span.Links()
	if links.Len() == 0 {
		return
	}
	ix, _ := idx.(*memoryIndex)
	li := int32(len(b.linkers))
	added := false
	for i := 0; i < links.Len(); i++ {
		l := links.At(i)
		to := keyOf(l.TraceID(), l.SpanID())
		if !to.valid() || isBacklink(l) {
			continue
		}
		p := pendingLink{target: to, linker: li}
		if ix != nil {
			p.hash, p.shard = refHash(to, ix.seed), int32(ix.shardOf(to))
		}
		b.links = append(b.links, p)
		added = true
	}
	if added {
		b.linkers = append(b.linkers, newLinkerKey(keyOf(span.TraceID(), span.SpanID()), span.Name(),
			span.Status().Code() == ptrace.StatusCodeError))
	}
}

// reset empties b, keeping its memory but not the span names it held.
func (b *linkBatch) reset() {
	b.links = b.links[:0]
	clear(b.linkers)
	b.linkers = b.linkers[:0]
}

// indexBatch adds the links gathered in b to idx, seen at now, and empties
// b.
func indexBatch(idx LinkIndex, b *linkBatch, now time.Time) {
	defer b.reset()
	if ix, ok := idx.(*memoryIndex); ok {
		ix.addBatch(b, now.UnixNano())
		return
	}
	for _, p := range b.links {
		l := &b.linkers[p.linker]
		idx.Add(p.target.ref(), Linker{SpanRef: l.key.ref(), Name: l.name, Error: l.failed}, now)
	}
}

// addBatch adds the links of b at t, shard by shard.
func (ix *memoryIndex) addBatch(b *linkBatch, t int64) {
	if len(b.links) == 0 {
		return
	}
	b.groups.group(b.links, len(ix.shards))
	for i := range ix.shards {
		group := b.groups.shard(i)
		if len(group) == 0 {
			continue
		}
		s := &ix.shards[i]
		s.mu.Lock()
		s.expire(t, ix.window)
		s.table.touch(group)
		for j := range group {
			p := &group[j]
			s.add(p.target, p.hash, &b.linkers[p.linker], t, &ix.cursor)
		}
		s.mu.Unlock()
	}
}
