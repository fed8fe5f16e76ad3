// Package redisindex is a link index on Redis, standalone or Redis Cluster,
// that a fleet of collectors shares: each collector adds the links it sees
// and looks up the spans it holds, so that a span is paired with linkers
// that went to another collector.
//
// Each target is one field of a Redis hash, its 24-byte trace and span IDs
// (in a partitioned index, its 8-byte partition + those 24 bytes), whose
// value lists its entries in arrival order, each stamped with the time it
// was added. The hash is the target's bucket (one of a fixed 16384, by a
// hash of the field) for the time slot the entries were added in, and
// lives the index's lifetime (plus a second) after its last write: see
// scripts.go for the layout. A batch is one script call per Redis node for
// Add and one for Lookup, pipelined: a bounded number of round trips, not
// one per span or link.
//
// Each span is looked up once, for the entries added after a time
// (docs/contract.md, steps 4 and 5), so each linker counts once whichever
// collector added it: an entry added through another collector is either
// in Redis when the span is looked up, or added after, and then it is that
// linker's own lookup that pairs them. No counter or cursor is needed.
//
// Time: the times given to Add and Lookup are moved onto the Redis clock
// by an offset measured with TIME, so that entries written by collectors
// whose clocks disagree pair as if written by one.
package redisindex

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
)

// client is what the index needs of a standalone or a cluster client.
type client interface {
	redis.Cmdable
	Close() error
}

// Index is a link index on Redis. It is safe for concurrent use.
type Index struct {
	opt      Options
	client   client
	lifetime int64 // microseconds
	ttl      string
	slot     int64 // microseconds: the length of a time slot, the lifetime + 1s

	mu       sync.Mutex // serialises connect
	topo     atomic.Pointer[topology]
	offset   atomic.Int64 // microseconds to add to the local clock to read Redis's
	resynced atomic.Int64 // local unix ns of the last offset measurement
	latest   atomic.Int64 // local unix microseconds: the latest time given to Add or Expire

	breaker breaker
	ledger  ledger
}

// New returns an index on the Redis that o names. It connects lazily: New
// does not fail when Redis is down, and the first operations fail (and
// back off) until it answers.
func New(o Options) (*Index, error) {
	o = o.withDefaults()
	if len(o.Endpoints) == 0 {
		return nil, errors.New("redis index: no endpoints")
	}
	if !o.Cluster && len(o.Endpoints) > 1 {
		return nil, fmt.Errorf("redis index: %d endpoints without cluster: one server has one address", len(o.Endpoints))
	}
	if o.Lifetime <= 0 {
		return nil, fmt.Errorf("redis index: lifetime %v is not positive", o.Lifetime)
	}
	if o.Cluster && emptyHashTag(o.KeyPrefix) {
		return nil, fmt.Errorf("redis index: key_prefix %q starts a hash tag with {}: Redis Cluster would hash whole keys and spread a bucket over nodes", o.KeyPrefix)
	}
	ix := &Index{
		opt:      o,
		lifetime: o.Lifetime.Microseconds(),
		ttl:      strconv.FormatInt((o.Lifetime + time.Second).Milliseconds(), 10),
		slot:     (o.Lifetime + time.Second).Microseconds(),
	}
	ix.ledger.lifetime = o.Lifetime
	if o.Cluster {
		ix.client = redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: o.Endpoints, Username: o.Username, Password: o.Password, TLSConfig: o.TLS,
			DialTimeout: o.Timeout, ReadTimeout: o.Timeout, WriteTimeout: o.Timeout,
			MaxRetries: -1, DisableIdentity: true,
		})
	} else {
		ix.client = redis.NewClient(&redis.Options{
			Addr: o.Endpoints[0], Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLS,
			DialTimeout: o.Timeout, ReadTimeout: o.Timeout, WriteTimeout: o.Timeout,
			MaxRetries: -1, DisableIdentity: true,
		})
	}
	return ix, nil
}

// do runs f against Redis with the index's timeout, once the index is
// connected, unless the index is backing off; a failure is classified,
// starts or extends the back-off, and makes the next operation connect
// again when it may come from a changed Redis.
func (ix *Index) do(ctx context.Context, f func(ctx context.Context, t *topology) error) error {
	if err := ix.breaker.allow(ix.opt.Clock()); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, ix.opt.Timeout)
	defer cancel()
	t, err := ix.connect(ctx)
	if err == nil {
		err = f(ctx, t)
	}
	if err != nil {
		err = classify(err)
		if reconnect(err) {
			ix.topo.Store(nil)
		}
		ix.breaker.fail(ix.opt.Clock(), err)
		return err
	}
	ix.breaker.ok()
	return nil
}

// connect returns the topology, reading it, loading the scripts and
// measuring the clock offset first if the index is not connected yet.
func (ix *Index) connect(ctx context.Context) (*topology, error) {
	if t := ix.topo.Load(); t != nil {
		return t, nil
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if t := ix.topo.Load(); t != nil {
		return t, nil
	}
	var t *topology
	if c, ok := ix.client.(*redis.ClusterClient); ok {
		var err error
		if t, err = clusterTopology(ctx, c, ix.opt.KeyPrefix); err != nil {
			return nil, err
		}
	} else {
		t = standalone(ix.opt.Endpoints[0], ix.opt.KeyPrefix)
	}
	for _, s := range []*redis.Script{addScript, lookupScript} {
		if err := s.Load(ctx, ix.client).Err(); err != nil {
			return nil, fmt.Errorf("loading the index scripts: %w", err)
		}
	}
	if ix.resynced.Load() == 0 {
		if err := ix.measure(ctx, t); err != nil {
			return nil, err
		}
	}
	ix.topo.Store(t)
	return t, nil
}

// measure sets the offset from the local clock to Redis's, read with TIME
// on the node of the first route key (the same node for every collector of a
// fleet), to the microsecond.
func (ix *Index) measure(ctx context.Context, t *topology) error {
	var cmd *redis.TimeCmd
	before := ix.opt.Clock()
	if c, ok := ix.client.(*redis.ClusterClient); ok {
		n, err := c.MasterForKey(ctx, t.nodes[0].route)
		if err != nil {
			return fmt.Errorf("finding the clock node: %w", err)
		}
		cmd = n.Time(ctx)
	} else {
		cmd = ix.client.Time(ctx)
	}
	after := ix.opt.Clock()
	rt, err := cmd.Result()
	if err != nil {
		return fmt.Errorf("reading the Redis clock: %w", err)
	}
	local := before.UnixMicro() + after.Sub(before).Microseconds()/2
	ix.offset.Store(rt.UnixMicro() - local)
	ix.resynced.Store(time.Now().UnixNano())
	return nil
}

// saw records that the index was given now, by Add or Expire: entries a
// lifetime older no longer count.
func (ix *Index) saw(now time.Time) {
	us := now.UnixMicro()
	for {
		old := ix.latest.Load()
		if us <= old || ix.latest.CompareAndSwap(old, us) {
			return
		}
	}
}

// floor returns, on the Redis clock in microseconds, the time at or before
// which entries are past their lifetime, as of the latest time the index
// was given: a lookup counts none of them, as the memory index has dropped
// them by then; Redis drops them with their slot's key on its own clock,
// later.
func (ix *Index) floor() int64 {
	latest := ix.latest.Load()
	if latest == 0 {
		return 0
	}
	return latest + ix.offset.Load() - ix.lifetime
}

// head returns the latest time the index was given, on the Redis clock in
// microseconds; 0 when it was given none.
func (ix *Index) head() int64 {
	latest := ix.latest.Load()
	if latest == 0 {
		return 0
	}
	return latest + ix.offset.Load()
}

// redisMicros returns now on the Redis clock, in microseconds.
func (ix *Index) redisMicros(now time.Time) int64 { return now.UnixMicro() + ix.offset.Load() }

// classify names Redis authentication in the errors that come from it.
func classify(err error) error {
	s := err.Error()
	if strings.Contains(s, "WRONGPASS") || strings.Contains(s, "NOAUTH") || strings.Contains(s, "NOPERM") ||
		strings.Contains(s, "AUTH") && strings.Contains(s, "password") {
		return fmt.Errorf("redis authentication failed (check backlinks.index.redis.username and password): %w", err)
	}
	return err
}

// reconnect reports whether err may come from a Redis that changed since
// the index connected: restarted (scripts gone), resharded, or failed over.
func reconnect(err error) bool {
	s := err.Error()
	for _, m := range []string{"NOSCRIPT", "MOVED", "ASK", "non local key", "CLUSTERDOWN", "READONLY", "authentication"} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// refOf returns the 24 bytes of a span's trace ID and span ID.
func refOf(r linkindex.Ref) string { return string(appendRef(nil, r)) }

// appendRef appends the 24 bytes of a span's trace ID and span ID to dst.
func appendRef(dst []byte, r linkindex.Ref) []byte {
	dst = append(dst, r.TraceID[:]...)
	return append(dst, r.SpanID[:]...)
}

// keyOf returns the field of target r in partition p, in its bucket's hash
// (which bucketOf picks from it): its 24 bytes, after the partition's 8
// (big-endian) unless p is zero. Fields of different partitions never
// match: a partitioned field is longer than an unpartitioned one, and two
// partitions' differ in their first 8 bytes.
func keyOf(p linkindex.Partition, r linkindex.Ref) string { return string(appendKey(nil, p, r)) }

// appendKey appends keyOf(p, r) to dst.
func appendKey(dst []byte, p linkindex.Partition, r linkindex.Ref) []byte {
	if p != 0 {
		dst = binary.BigEndian.AppendUint64(dst, uint64(p))
	}
	return appendRef(dst, r)
}

// record returns what an entry keeps of a linker: IDs, error flag, name.
func record(l linkindex.Linker) string { return string(appendRecord(nil, l)) }

// appendRecord appends record(l) to dst.
func appendRecord(dst []byte, l linkindex.Linker) []byte {
	name := l.Name
	if len(name) > maxName {
		name = name[:maxName]
	}
	dst = appendRef(dst, l.Ref)
	if l.Error {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(name)))
	return append(dst, name...)
}

// parseRecords returns the linkers of concatenated records.
func parseRecords(s string, into []linkindex.Linker) ([]linkindex.Linker, error) {
	for len(s) > 0 {
		if len(s) < recordMin {
			return into, fmt.Errorf("a record of %d bytes", len(s))
		}
		var l linkindex.Linker
		copy(l.TraceID[:], s[:16])
		copy(l.SpanID[:], s[16:24])
		l.Error = s[24] == 1
		n := int(binary.BigEndian.Uint16([]byte(s[25:27])))
		if len(s) < recordMin+n {
			return into, fmt.Errorf("a name of %d bytes in %d", n, len(s)-recordMin)
		}
		l.Name = s[recordMin : recordMin+n]
		into = append(into, l)
		s = s[recordMin+n:]
	}
	return into, nil
}
