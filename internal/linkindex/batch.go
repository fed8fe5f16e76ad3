package linkindex

import "slices"

// Links gathers the links of a batch of spans, so that an index adds them
// together: the in-memory index then adds them shard by shard, one lock per
// shard instead of one per link, and within a shard reads the table slots of
// all the batch's targets before it uses any, so that their cache misses
// overlap instead of following one another. The entries are those of adding
// the links one by one, in order.
type Links struct {
	links   []pending
	linkers []linkerKey
	mark    int         // links before the last linker's
	groups  shardGroups // links, by shard
}

// pending is one link waiting in a Links, or one span waiting in a Targets.
type pending struct {
	target Key
	hash   uint64 // Hash of target, set by the in-memory index
	shard  int32  // of target, set by the in-memory index
	pos    int32  // in Links: the linker's place in linkers; in Targets: the span's place
}

// linkerKey is a Linker as the in-memory index adds it.
type linkerKey struct {
	key    Key
	bits   uint32 // linkerBits(key), set by the in-memory index
	name   string
	links  uint32 // how many links it makes
	nameID uint32 // of name in the index's name table, set by the in-memory index
	failed bool
}

// Link records a link to target from the span that the next call to Linker
// names.
func (b *Links) Link(target Key) {
	b.links = append(b.links, pending{target: target, pos: int32(len(b.linkers))})
}

// Linker names the span that links to the targets given to Link since the
// last call: its IDs, its name, and whether it ended with status Error. The
// name is kept cut to MaxNameBytes.
func (b *Links) Linker(k Key, name string, failed bool) {
	n := uint32(len(b.links) - b.mark)
	b.mark = len(b.links)
	b.linkers = append(b.linkers, linkerKey{key: k, name: CutName(name), links: n, failed: failed})
}

// Len reports how many links b holds.
func (b *Links) Len() int { return len(b.links) }

// At returns the i-th link: its target and its linker.
func (b *Links) At(i int) (target Ref, from Linker) {
	p := &b.links[i]
	l := &b.linkers[p.pos]
	return p.target.Ref(), Linker{Ref: l.key.Ref(), Name: l.name, Error: l.failed}
}

// TargetAt returns the key of the i-th link's target, in its partition:
// what At and PartitionAt give, without making a Ref of it.
func (b *Links) TargetAt(i int) Key { return b.links[i].target }

// PartitionAt returns the partition of the i-th link: its target's, which
// is its linker's.
func (b *Links) PartitionAt(i int) Partition { return b.links[i].target.p }

// Reset empties b, keeping its memory but not the span names it held.
func (b *Links) Reset() {
	b.links = b.links[:0]
	b.mark = 0
	clear(b.linkers)
	b.linkers = b.linkers[:0]
}

// Targets gathers the spans of a batch whose backlinks are looked up
// together, and holds the answers, in the order the spans were added.
type Targets struct {
	targets []pending   // the spans' own IDs, in the order added
	groups  shardGroups // targets, by shard
	results []Backlinks // per target, in the order added
	linkers []Linker    // the memory of the results' Linkers
	need    int         // linkers the last lookup listed: linkers' next capacity
}

// Add adds the span with IDs k to the spans to look up.
func (q *Targets) Add(k Key) {
	q.targets = append(q.targets, pending{target: k, pos: int32(len(q.targets))})
}

// Len reports how many spans q holds.
func (q *Targets) Len() int { return len(q.targets) }

// At returns the IDs of the i-th span.
func (q *Targets) At(i int) Ref { return q.targets[i].target.Ref() }

// PartitionAt returns the partition of the i-th span.
func (q *Targets) PartitionAt(i int) Partition { return q.targets[i].target.p }

// Result returns the backlinks of the i-th span, after a lookup. Its
// Linkers are valid until Reset.
func (q *Targets) Result(i int) Backlinks { return q.results[i] }

// SetResult sets the backlinks of the i-th span: for an index's Lookup.
func (q *Targets) SetResult(i int, b Backlinks) { q.results[i] = b }

// ClearResults makes room for one empty result per span: for an index's
// Lookup, before SetResult.
func (q *Targets) ClearResults() { q.clearResults() }

// clearResults makes room for one empty result per span.
func (q *Targets) clearResults() {
	n := len(q.targets)
	q.results = slices.Grow(q.results[:0], n)[:n]
	clear(q.results)
}

// Reset empties q, keeping its memory but not the span names it held.
func (q *Targets) Reset() {
	q.targets = q.targets[:0]
	clear(q.results)
	q.results = q.results[:0]
	clear(q.linkers)
	q.linkers = q.linkers[:0]
}

// shardGroups sorts pending links or spans by shard.
type shardGroups struct {
	grouped []pending // by shard, each shard's in their order
	starts  []int     // grouped[starts[i]:starts[i+1]] are shard i's
	next    []int
}

// group sorts ps into g by shard, stably, for an index of n shards.
func (g *shardGroups) group(ps []pending, n int) {
	g.starts = slices.Grow(g.starts[:0], n+1)[:n+1]
	clear(g.starts)
	for _, p := range ps {
		g.starts[p.shard+1]++
	}
	for i := 1; i <= n; i++ {
		g.starts[i] += g.starts[i-1]
	}
	g.next = append(g.next[:0], g.starts[:n]...)
	g.grouped = append(g.grouped[:0], ps...)
	for _, p := range ps {
		g.grouped[g.next[p.shard]] = p
		g.next[p.shard]++
	}
}

// shard returns the pending items of shard i, after group.
func (g *shardGroups) shard(i int) []pending {
	return g.grouped[g.starts[i]:g.starts[i+1]]
}
