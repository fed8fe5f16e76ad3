package redisindex_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"github.com/spanlinks/spanlinksprocessor/internal/linkindex/linkindextest"
	"github.com/spanlinks/spanlinksprocessor/internal/redisindex"
	"github.com/spanlinks/spanlinksprocessor/internal/redistest"
)

// TestMeasureMemory fills a real redis-server with 1M entries, as the
// processor adds them (batches of 1000 links, linker names of a typical
// length), and reports Redis's used_memory per entry, its CPU per link
// added and per span looked up, and this process's CPU per link. It runs
// only with SPANLINKS_MEASURE=1 (make bench-redis). It logs each key
// encoding count: listpack (compact) or hashtable.
func TestMeasureMemory(t *testing.T) {
	redistest.MeasureOnly(t, "./internal/redisindex")
	prefix := "spanlinks:" // the default key_prefix
	if p := os.Getenv("SPANLINKS_MEASURE_PREFIX"); p != "" {
		prefix = p
	}
	for _, shape := range []struct {
		name            string
		targets, perTgt int
		nameLen         int
	}{
		{"1M targets x 1 linker (orders and their batch)", 1_000_000, 1, 14},
		{"100k targets x 10 linkers (fan-in)", 100_000, 10, 14},
		// A value over hash-max-listpack-value (64 bytes) makes its hash a
		// hash table: a 40-byte name makes a 75-byte value.
		{"1M targets x 1 linker, 40-byte names", 1_000_000, 1, 40},
	} {
		t.Run(shape.name, func(t *testing.T) {
			srv := redistest.Start(t)
			rc := srv.Client()
			ctx := context.Background()
			ix, err := redisindex.New(redisindex.Options{
				Endpoints: []string{srv.Addr}, KeyPrefix: prefix,
				Timeout: 10 * time.Second, Lifetime: time.Hour, Resync: -1,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer ix.Close()
			name := strings.Repeat("n", shape.nameLen)
			before := redistest.UsedMemory(t, rc)
			cpu0, self0 := redistest.ServerCPU(t, rc), redistest.ProcessCPU()
			now := time.Now()
			entries := 0
			var b linkindex.Links
			n := shape.targets * shape.perTgt
			for i := 0; i < n; i++ {
				target := uint64(i % shape.targets)
				l := linkindextest.LinkerOf(uint64(i), i%50 == 0)
				r := linkindextest.Ref(target + 1)
				b.Link(linkindex.KeyOf(r.TraceID, r.SpanID))
				b.Linker(linkindex.KeyOf(l.TraceID, l.SpanID), name, l.Error)
				if b.Len() == 1000 || i == n-1 {
					if err := ix.Add(ctx, &b, now); err != nil {
						t.Fatal(err)
					}
					entries += b.Len()
					b.Reset()
				}
			}
			cpu1, self1 := redistest.ServerCPU(t, rc), redistest.ProcessCPU()
			after := redistest.UsedMemory(t, rc)
			if got := ix.Stats().Entries; got != entries {
				t.Fatalf("%d entries added, want %d", got, entries)
			}
			keys, _ := rc.DBSize(ctx).Result()
			t.Logf("key_prefix %q: %d entries in %d keys: used_memory %d -> %d: %.1f bytes/entry", prefix, entries, keys, before, after, float64(after-before)/float64(entries))
			t.Logf("key encodings: %v", encodings(t, rc, prefix))
			t.Logf("add: Redis CPU %.2f µs/link, collector CPU %.2f µs/link", (cpu1-cpu0)*1e6/float64(entries), (self1-self0)*1e6/float64(entries))

			// Look every target up, in batches of 1000 spans.
			var q linkindex.Targets
			cpu0, self0 = redistest.ServerCPU(t, rc), redistest.ProcessCPU()
			hits := 0
			for i := 0; i < shape.targets; i++ {
				r := linkindextest.Ref(uint64(i) + 1)
				q.Add(linkindex.KeyOf(r.TraceID, r.SpanID))
				if q.Len() == 1000 || i == shape.targets-1 {
					if err := ix.Lookup(ctx, &q, now.Add(-time.Second), 32); err != nil {
						t.Fatal(err)
					}
					for j := range q.Len() {
						if q.Result(j).Count == shape.perTgt {
							hits++
						}
					}
					q.Reset()
				}
			}
			cpu1, self1 = redistest.ServerCPU(t, rc), redistest.ProcessCPU()
			if hits != shape.targets {
				t.Fatalf("%d of %d targets found with %d linkers", hits, shape.targets, shape.perTgt)
			}
			t.Logf("lookup: Redis CPU %.2f µs/span, collector CPU %.2f µs/span", (cpu1-cpu0)*1e6/float64(shape.targets), (self1-self0)*1e6/float64(shape.targets))
		})
	}
}

// encodings counts the keys under prefix by OBJECT ENCODING.
func encodings(t *testing.T, rc *redis.Client, prefix string) map[string]int {
	ctx := context.Background()
	out := map[string]int{}
	iter := rc.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	cmds, err := rc.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.ObjectEncoding(ctx, k)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		out[c.(*redis.StringCmd).Val()]++
	}
	return out
}
