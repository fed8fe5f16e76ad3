package redisindex

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
)

// Add records the links of b, seen at now: one script call per node that
// holds the bucket of one of their targets, pipelined. Each entry is
// stamped with now on the Redis clock. A linker already held for a target
// within the lifetime is not added again.
func (ix *Index) Add(ctx context.Context, b *linkindex.Links, now time.Time) error {
	ix.saw(now)
	if b.Len() == 0 {
		return nil
	}
	added := 0
	err := ix.do(ctx, func(ctx context.Context, t *topology) error {
		us := strconv.FormatInt(ix.redisMicros(now), 10)
		args := make([][]any, len(t.nodes))
		for n, blob := range addBlobs(b, t) {
			if blob != nil {
				args[n] = []any{us, ix.lifetime, ix.ttl, ix.opt.KeyPrefix, ix.slot, ahead, blob}
			}
		}
		cmds, err := ix.run(ctx, t, addScript, args)
		for _, c := range cmds {
			if c == nil || c.Err() != nil {
				continue
			}
			if n, err := c.Int64(); err == nil {
				added += int(n)
			}
		}
		return err
	})
	ix.ledger.add(now, added)
	if err != nil {
		return fmt.Errorf("adding %d links to Redis: %w", b.Len(), err)
	}
	return nil
}

// Lookup finds, for every span of q, the linkers whose entries were added
// after since, and within the lifetime before the latest time given to Add
// or Expire, listing the oldest limit of them: one script call per node
// that holds the bucket of one of the spans, pipelined. since is moved
// onto the Redis clock as Add moves now, so that entries another collector
// added compare with it as if this collector had added them.
func (ix *Index) Lookup(ctx context.Context, q *linkindex.Targets, since time.Time, limit int) error {
	q.ClearResults()
	if q.Len() == 0 {
		return nil
	}
	limit = max(limit, 0)
	err := ix.do(ctx, func(ctx context.Context, t *topology) error {
		us := strconv.FormatInt(max(ix.redisMicros(since), ix.floor()), 10)
		head := ix.head()
		blobs, places := lookupBlobs(q, t)
		args := make([][]any, len(t.nodes))
		for n, blob := range blobs {
			if blob != nil {
				args[n] = []any{us, limit, ix.opt.KeyPrefix, ix.slot, head, ahead, blob}
			}
		}
		cmds, err := ix.run(ctx, t, lookupScript, args)
		for n, c := range cmds {
			if c == nil || c.Err() != nil {
				continue
			}
			r, _ := c.Slice()
			if err := setResults(q, r, places[n], limit); err != nil {
				return err
			}
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("looking %d spans up in Redis: %w", q.Len(), err)
	}
	return nil
}

// setResults sets the results of q's spans from one node's lookup answer
// r: four values per span with entries (its place among the node's spans,
// from 1, the count, the error count and the listed records); places are
// the places in q of the node's spans.
func setResults(q *linkindex.Targets, r []any, places []int, limit int) error {
	for j := 0; j+3 < len(r); j += 4 {
		at, _ := r[j].(int64)
		count, _ := r[j+1].(int64)
		errs, _ := r[j+2].(int64)
		blob, _ := r[j+3].(string)
		if at < 1 || int(at) > len(places) {
			return fmt.Errorf("a lookup answer for span %d of %d", at, len(places))
		}
		var linkers []linkindex.Linker
		if blob != "" {
			var err error
			linkers, err = parseRecords(blob, make([]linkindex.Linker, 0, min(int(count), limit)))
			if err != nil {
				return fmt.Errorf("a lookup answer: %w", err)
			}
		}
		q.SetResult(places[at-1], linkindex.Backlinks{Count: int(count), ErrorCount: int(errs), Linkers: linkers})
	}
	return nil
}

// run calls script once per node that has args, in one pipeline, and once
// more for the calls that found the script missing (a restarted Redis). It
// returns each node's call (nil for nodes without args) and the first error.
func (ix *Index) run(ctx context.Context, t *topology, script *redis.Script, args [][]any) ([]*redis.Cmd, error) {
	cmds := make([]*redis.Cmd, len(args))
	pipe := func(which func(i int) bool, eval bool) {
		_, _ = ix.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, a := range args {
				if a == nil || !which(i) {
					continue
				}
				keys := []string{t.nodes[i].route}
				if eval {
					cmds[i] = script.Eval(ctx, p, keys, a...)
				} else {
					cmds[i] = script.EvalSha(ctx, p, keys, a...)
				}
			}
			return nil
		})
	}
	pipe(func(int) bool { return true }, false)
	missing := func(i int) bool {
		return cmds[i] != nil && cmds[i].Err() != nil && strings.HasPrefix(cmds[i].Err().Error(), "NOSCRIPT")
	}
	for i := range cmds {
		if missing(i) {
			pipe(missing, true) // EVAL loads the script again
			break
		}
	}
	for _, c := range cmds {
		if c != nil && c.Err() != nil {
			return cmds, c.Err()
		}
	}
	return cmds, nil
}

// Expire forgets this index's count of the entries older than the lifetime
// (Redis drops the entries themselves with their slot's key), and measures
// the clock offset again when it is due.
func (ix *Index) Expire(now time.Time) {
	ix.saw(now)
	ix.ledger.expire(now)
	if ix.opt.Resync > 0 && ix.topo.Load() != nil && time.Since(time.Unix(0, ix.resynced.Load())) >= ix.opt.Resync {
		if err := ix.do(context.Background(), ix.measure); err != nil {
			ix.opt.Failed("clock", fmt.Errorf("measuring the Redis clock: %w", err))
		}
	}
}

// Empty reports false: the index is shared, and another collector may have
// added entries since this one last looked.
func (ix *Index) Empty() bool { return false }

// Stats reports the entries this index added that are still within the
// lifetime, and how many of them expired; Redis evicts nothing the index
// knows of.
func (ix *Index) Stats() linkindex.Stats { return ix.ledger.stats() }

// Close closes the connections to Redis.
func (ix *Index) Close() error { return ix.client.Close() }
