package redisindex_test

import (
	"context"
	"testing"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"github.com/spanlinks/spanlinksprocessor/internal/linkindex/linkindextest"
	"github.com/spanlinks/spanlinksprocessor/internal/redisindex"
	"github.com/spanlinks/spanlinksprocessor/internal/redistest"
)

// openOn returns an Open of indexes on endpoints, each under its own key
// prefix so that the suite's indexes do not see one another.
func openOn(endpoints []string, cluster bool) linkindextest.Open {
	n := 0
	return func(t *testing.T, lifetime time.Duration) linkindex.Index {
		n++
		ix, err := redisindex.New(redisindex.Options{
			Endpoints: endpoints, Cluster: cluster,
			KeyPrefix: t.Name() + "/" + string(rune('a'+n%26)) + ":",
			Timeout:   5 * time.Second, Lifetime: lifetime, Resync: -1,
		})
		if err != nil {
			t.Fatal(err)
		}
		return ix
	}
}

func TestConformance(t *testing.T) {
	s := redistest.Start(t)
	linkindextest.Run(t, openOn([]string{s.Addr}, false), linkindextest.Shared())
}

func TestConformanceCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	linkindextest.Run(t, openOn(c.Addrs(), true), linkindextest.Shared())

	// Every key on one node: each of the others serves a third of the
	// slots, and none of the keys. Spread keys must reach all three.
	t.Run("KeysOnEveryMaster", func(t *testing.T) {
		keysPerNode(t, c, "spread:", 3)
	})
	// A key_prefix with a hash tag puts every key in one slot, on one
	// node; the index works with every script call routed there.
	t.Run("HashTagPrefix", func(t *testing.T) {
		keysPerNode(t, c, "{one}:", 1)
	})
}

// keysPerNode adds 300 links under prefix, looks them up, and checks that
// the keys landed on want masters.
func keysPerNode(t *testing.T, c *redistest.Cluster, prefix string, want int) {
	ix, err := redisindex.New(redisindex.Options{
		Endpoints: c.Addrs(), Cluster: true, KeyPrefix: prefix,
		Timeout: 5 * time.Second, Lifetime: time.Minute, Resync: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	ctx := context.Background()
	var b linkindex.Links
	var q linkindex.Targets
	for i := range uint64(300) {
		r, l := linkindextest.Ref(i+1), linkindextest.LinkerOf(i, false)
		b.Link(linkindex.KeyOf(r.TraceID, r.SpanID))
		b.Linker(linkindex.KeyOf(l.TraceID, l.SpanID), l.Name, false)
		q.Add(linkindex.KeyOf(r.TraceID, r.SpanID))
	}
	if err := ix.Add(ctx, &b, linkindextest.T0); err != nil {
		t.Fatal(err)
	}
	if err := ix.Lookup(ctx, &q, linkindextest.T0.Add(-time.Second), 1); err != nil {
		t.Fatal(err)
	}
	for i := range q.Len() {
		if q.Result(i).Count != 1 {
			t.Fatalf("target %d: count %d, want 1", i, q.Result(i).Count)
		}
	}
	holding := 0
	for _, s := range c.Servers {
		keys, err := s.Client().Keys(ctx, prefix+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) > 0 {
			holding++
		}
	}
	if holding != want {
		t.Errorf("targets on %d masters, want %d", holding, want)
	}
}
