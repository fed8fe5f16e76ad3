package redisindex_test

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"github.com/spanlinks/spanlinksprocessor/internal/linkindex/linkindextest"
	"github.com/spanlinks/spanlinksprocessor/internal/redisindex"
	"github.com/spanlinks/spanlinksprocessor/internal/redistest"
)

// TestPartitionKeys: a partitioned target's key is the prefix, the
// partition's 8 bytes (big-endian) and the 24 ID bytes; an unpartitioned
// one's the prefix and the 24 ID bytes, as before. A link in one partition
// is not found from another, nor from none.
func TestPartitionKeys(t *testing.T) {
	if !redistest.Available(t) {
		t.Skip("redis-server not installed")
	}
	srv := redistest.Start(t)
	c, f := &clock{t: linkindextest.T0}, &failures{}
	ix := newIndex(t, srv.Addr, c, f, redisindex.Options{})
	ctx := context.Background()
	a, b := linkindex.PartitionOf("A"), linkindex.PartitionOf("B")
	r, l := linkindextest.Ref(1), linkindextest.LinkerOf(10, false)
	add := func(p linkindex.Partition) {
		var bl linkindex.Links
		bl.Link(linkindex.KeyOf(r.TraceID, r.SpanID).In(p))
		bl.Linker(linkindex.KeyOf(l.TraceID, l.SpanID).In(p), l.Name, l.Error)
		if err := ix.Add(ctx, &bl, c.Now()); err != nil {
			t.Fatal(err)
		}
	}
	countIn := func(p linkindex.Partition) int {
		var q linkindex.Targets
		q.Add(linkindex.KeyOf(r.TraceID, r.SpanID).In(p))
		if err := ix.Lookup(ctx, &q, linkindextest.T0.Add(-1), 4); err != nil {
			t.Fatal(err)
		}
		return q.Result(0).Count
	}
	add(a)
	if got := [3]int{countIn(a), countIn(b), countIn(0)}; got != [3]int{1, 0, 0} {
		t.Fatalf("counts in A, B, none: %v, want [1 0 0]", got)
	}
	add(0)
	ids := string(r.TraceID[:]) + string(r.SpanID[:])
	var pa [8]byte
	binary.BigEndian.PutUint64(pa[:], uint64(a))
	rdb := srv.Client()
	for _, key := range []string{t.Name() + ":" + string(pa[:]) + ids, t.Name() + ":" + ids} {
		if n, err := rdb.Exists(ctx, key).Result(); err != nil || n != 1 {
			t.Errorf("key %q: exists %d, %v; want 1", key, n, err)
		}
	}
	if n, err := rdb.DBSize(ctx).Result(); err != nil || n != 2 {
		t.Errorf("keys in Redis: %d, %v; want 2", n, err)
	}
}
