package linkindex

import (
	"context"
	"math/bits"
	"math/rand/v2"
	"time"
)

const (
	// memoryShards is the most shards a Memory index splits into.
	memoryShards = 32
	// minShare is the fewest entries a shard is given while there is more
	// than one: a small index keeps one shard, so eviction stays oldest-first.
	minShare = 1024
	// indexMinRing is the length a shard's ring starts at when first used.
	indexMinRing = 64
	// maxDedupeWalk bounds how many entries of a target's chain an add
	// inspects to find a linker it already holds. A target with more linkers
	// than this may count a re-sent linker twice; that costs one entry,
	// never a lost one.
	maxDedupeWalk = 1024
)

// Memory is the in-memory index. Targets are spread over shards by a hash,
// each shard with its own lock, so no lock is global. An entry added at t
// lives until an Add or Expire at t+window or later. It is safe for
// concurrent use.
type Memory struct {
	window int64  // nanoseconds
	shift  uint   // 64 - log2(len(shards)): the hash's top bits pick the shard
	seed   uint64 // of the hash that places targets in a shard's table
	shards []indexShard
	names  sharedNames // the linkers' names, for all shards
}

// NewMemory returns an index whose entries live for window and that never
// holds more than maxEntries entries (at least 1). It uses up to 32 shards,
// each holding an equal share of maxEntries, no share under 1024; when a
// shard is full its oldest entry is evicted.
func NewMemory(window time.Duration, maxEntries int) *Memory {
	n := memoryShards
	for n > 1 && maxEntries/n < minShare {
		n /= 2
	}
	return newSharded(window, maxEntries, n)
}

// newSharded is NewMemory with n shards; n must be a power of two no
// greater than maxEntries.
func newSharded(window time.Duration, maxEntries, n int) *Memory {
	maxEntries = max(maxEntries, 1)
	ix := &Memory{
		window: int64(window),
		shift:  uint(64 - bits.TrailingZeros(uint(n))),
		seed:   rand.Uint64(),
		shards: make([]indexShard, n),
	}
	for i := range ix.shards {
		c := maxEntries / n
		if i < maxEntries%n {
			c++
		}
		ix.shards[i] = indexShard{capacity: c, seed: ix.seed, names: &ix.names}
		ix.shards[i].empty.Store(true)
	}
	return ix
}

// shardOf returns the index of the shard that holds target. It depends on
// the target alone, so that which entries a full index evicts is the same
// on every run.
func (ix *Memory) shardOf(target Key) int {
	h := target.t0 ^ target.t1 ^ target.s ^ uint64(target.p)
	return int((h * 0x9e3779b97f4a7c15) >> ix.shift) // Fibonacci hashing
}

// place sets the hash and shard of each of ps.
func (ix *Memory) place(ps []pending) {
	for i := range ps {
		p := &ps[i]
		p.hash, p.shard = Hash(p.target, ix.seed), int32(ix.shardOf(p.target))
	}
}

// Add records the links of b, seen at now, shard by shard. A linker already
// held for a target is not added again. It never fails.
func (ix *Memory) Add(_ context.Context, b *Links, now time.Time) error {
	if len(b.links) == 0 {
		return nil
	}
	t := now.UnixNano()
	ix.place(b.links)
	// Each link takes a reference on its linker's name; a link not added
	// gives it back.
	ix.names.mu.Lock()
	for i := range b.linkers {
		l := &b.linkers[i]
		l.bits = linkerBits(l.key)
		if l.links > 0 {
			l.nameID = ix.names.t.intern(l.name, l.links)
		}
	}
	ix.names.mu.Unlock()
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
			s.add(p.target, p.hash, &b.linkers[p.pos], t)
		}
		s.releaseNames()
		s.mu.Unlock()
	}
	return nil
}

// Lookup finds, for every span of q, the linkers whose entries were added
// after since, listing the oldest limit of them (none when limit <= 0), and
// stores them in q. It answers shard by
// shard, one lock per shard, and reads the table slots of all of a shard's
// spans before it uses any, so that their cache misses overlap; an empty
// shard answers without locking. It never fails.
func (ix *Memory) Lookup(_ context.Context, q *Targets, since time.Time, limit int) error {
	q.clearResults()
	if cap(q.linkers) < q.need {
		q.linkers = make([]Linker, 0, q.need)
	}
	q.need = 0
	t := since.UnixNano()
	ix.place(q.targets)
	q.groups.group(q.targets, len(ix.shards))
	for i := range ix.shards {
		group := q.groups.shard(i)
		s := &ix.shards[i]
		if len(group) == 0 || s.empty.Load() {
			continue
		}
		s.mu.Lock()
		s.table.touch(group)
		for _, p := range group {
			_, newest, ok := s.find(p.target, p.hash)
			if !ok {
				continue
			}
			// The linkers go into the spare memory of q.linkers when it
			// is large enough, so that earlier results stay where they are.
			spare := q.linkers[len(q.linkers):]
			r := s.backlinks(newest, t, limit, spare)
			if n := len(r.Linkers); n > 0 && n <= cap(spare) {
				q.linkers = q.linkers[:len(q.linkers)+n]
			}
			q.need += len(r.Linkers)
			q.results[p.pos] = r
		}
		s.mu.Unlock()
	}
	return nil
}

// Expire drops the entries older than the window from every shard.
func (ix *Memory) Expire(now time.Time) {
	t := now.UnixNano()
	for i := range ix.shards {
		s := &ix.shards[i]
		s.mu.Lock()
		s.expire(t, ix.window)
		s.releaseNames()
		s.mu.Unlock()
	}
}

// Empty reports whether no shard holds an entry. It reads each shard's flag
// without its lock: an entry whose Add returned before is seen.
func (ix *Memory) Empty() bool {
	for i := range ix.shards {
		if !ix.shards[i].empty.Load() {
			return false
		}
	}
	return true
}

// Stats reports how many entries the index holds, locking each shard in
// turn, and how many expired and were evicted since it was created.
func (ix *Memory) Stats() Stats {
	var st Stats
	for i := range ix.shards {
		s := &ix.shards[i]
		s.mu.Lock()
		st.Entries += s.n
		st.Expired += s.expired
		st.Evicted += s.evicted
		s.mu.Unlock()
	}
	return st
}

// Close releases nothing: the index is memory only. It is there so that
// every index closes alike.
func (ix *Memory) Close() error { return nil }
