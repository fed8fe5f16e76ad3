package redisindex_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"github.com/spanlinks/spanlinksprocessor/internal/linkindex/linkindextest"
	"github.com/spanlinks/spanlinksprocessor/internal/redisindex"
	"github.com/spanlinks/spanlinksprocessor/internal/redistest"
)

// TestMeasureCluster drives a standalone redis-server and a real 3-master
// Redis Cluster the way a fleet's processors drive the index: 4 goroutines
// (collectors), each adding batches of 1000 links (1000 new targets, one
// linker each) and then looking those 1000 targets up. It reports, from
// INFO cpu of every master, Redis's CPU per span (one link added to it and
// one lookup of it), summed over the masters, each master's share, and
// what that makes of one core per master (Redis runs commands on one
// thread). It runs only with SPANLINKS_MEASURE=1 (make bench-redis).
func TestMeasureCluster(t *testing.T) {
	redistest.MeasureOnly(t, "./internal/redisindex")
	const (
		workers = 4
		rounds  = 100 // batches per worker
		batch   = 1000
	)
	srv := redistest.Start(t)
	cl := redistest.StartCluster(t, 3)
	for _, setup := range []struct {
		name    string
		masters []*redistest.Server
		cluster bool
	}{
		{"standalone", []*redistest.Server{srv}, false},
		{"cluster of 3 masters", cl.Servers, true},
	} {
		t.Run(setup.name, func(t *testing.T) {
			var addrs []string
			for _, s := range setup.masters {
				addrs = append(addrs, s.Addr)
			}
			ix, err := redisindex.New(redisindex.Options{
				Endpoints: addrs, Cluster: setup.cluster, KeyPrefix: "spanlinks:",
				Timeout: 10 * time.Second, Lifetime: 31 * time.Second, Resync: -1,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer ix.Close()
			ctx := context.Background()
			// Connect (scripts loaded, clock read) before counting.
			var q0 linkindex.Targets
			q0.Add(linkindex.KeyOf(linkindextest.Ref(1<<62).TraceID, linkindextest.Ref(1<<62).SpanID))
			if err := ix.Lookup(ctx, &q0, time.Now(), 1); err != nil {
				t.Fatal(err)
			}
			cpu0 := make([]float64, len(setup.masters))
			for i, s := range setup.masters {
				cpu0[i] = redistest.ServerCPU(t, s.Client())
			}
			self0, wall0 := redistest.ProcessCPU(), time.Now()
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			for w := range workers {
				wg.Go(func() {
					var b linkindex.Links
					var q linkindex.Targets
					for r := range rounds {
						b.Reset()
						q.Reset()
						for j := range batch {
							n := uint64(((w*rounds+r)*batch + j) + 1)
							tr, l := linkindextest.Ref(n), linkindextest.LinkerOf(n, j%50 == 0)
							b.Link(linkindex.KeyOf(tr.TraceID, tr.SpanID))
							b.Linker(linkindex.KeyOf(l.TraceID, l.SpanID), "process-batch", l.Error)
							q.Add(linkindex.KeyOf(tr.TraceID, tr.SpanID))
						}
						now := time.Now()
						if err := ix.Add(ctx, &b, now); err != nil {
							errs <- err
							return
						}
						if err := ix.Lookup(ctx, &q, now.Add(-time.Second), 4); err != nil {
							errs <- err
							return
						}
						for j := range q.Len() {
							if q.Result(j).Count != 1 {
								errs <- fmt.Errorf("worker %d round %d target %d: count %d, want 1", w, r, j, q.Result(j).Count)
								return
							}
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			wall, self := time.Since(wall0), redistest.ProcessCPU()-self0
			spans := float64(workers * rounds * batch)
			var sum, busiest float64
			per := make([]float64, len(setup.masters))
			for i, s := range setup.masters {
				per[i] = (redistest.ServerCPU(t, s.Client()) - cpu0[i]) * 1e6 / spans
				sum += per[i]
				busiest = max(busiest, per[i])
			}
			var shares []string
			for i := range per {
				shares = append(shares, fmt.Sprintf("%.2f µs (%.1f%%)", per[i], 100*per[i]/sum))
			}
			t.Logf("%s: %.0f spans (1 link added + 1 lookup each, batches of %d, %d workers) in %v: %.0f spans/s wall",
				setup.name, spans, batch, workers, wall.Round(time.Millisecond), spans/wall.Seconds())
			t.Logf("Redis CPU per span: %.2f µs summed over %d master(s); per master: %s", sum, len(per), strings.Join(shares, ", "))
			t.Logf("at one core per master: %.0f spans/s (the busiest master's %.2f µs/span bounds it); collector CPU %.2f µs/span",
				1e6/busiest, busiest, self*1e6/spans)
		})
	}
}
