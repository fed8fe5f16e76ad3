package redisindex_test

import (
	"context"
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"github.com/spanlinks/spanlinksprocessor/internal/linkindex/linkindextest"
	"github.com/spanlinks/spanlinksprocessor/internal/redisindex"
	"github.com/spanlinks/spanlinksprocessor/internal/redistest"
)

// TestPartitionKeys: a partitioned target's field is the partition's 8
// bytes (big-endian) and the 24 ID bytes; an unpartitioned one's the 24 ID
// bytes. A link in one partition is not found from another, nor from none.
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
	// Each target is a field of its bucket's hash: its partition's 8 bytes
	// and ID bytes, or the ID bytes alone.
	ids := string(r.TraceID[:]) + string(r.SpanID[:])
	var pa [8]byte
	binary.BigEndian.PutUint64(pa[:], uint64(a))
	rdb := srv.Client()
	keys, err := rdb.Keys(ctx, t.Name()+":*").Result()
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]int{}
	for _, k := range keys {
		fs, err := rdb.HKeys(ctx, k).Result()
		if err != nil {
			t.Fatalf("HKEYS %q: %v", k, err)
		}
		for _, f := range fs {
			fields[f]++
		}
	}
	want := map[string]int{string(pa[:]) + ids: 1, ids: 1}
	if !reflect.DeepEqual(fields, want) {
		t.Errorf("fields in the index's hashes %q: %v, want %v", keys, fields, want)
	}
}
