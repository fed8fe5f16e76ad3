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
// (collectors), with two loads. One link: each goroutine adds batches of
// 1000 links (1000 new targets, one linker each) and then looks those 1000
// targets up. Telemetrygen: each goroutine adds the links of 512 spans of
// make bench-e2e's telemetrygen load (3 links a span, to spans before it)
// and looks those spans up, as the processor does with hold: none. It
// reports, from INFO cpu of every master, Redis's CPU per span (and per
// link), summed over the masters, each master's share, and what that makes
// of one core per master (Redis runs commands on one thread). It runs only
// with SPANLINKS_MEASURE=1 (make bench-redis).
func TestMeasureCluster(t *testing.T) {
	redistest.MeasureOnly(t, "./internal/redisindex")
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
		for _, l := range []fleetLoad{oneLinkLoad(), telemetrygenLoad()} {
			t.Run(setup.name+"/"+l.name, func(t *testing.T) {
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
				measureFleet(t, ix, setup.masters, l)
				for _, s := range setup.masters {
					if err := s.Client().FlushAll(context.Background()).Err(); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	}
}

// fleetLoad is what each of a fleet's collectors sends the index: run
// drives collector w's share, and returns its error; spans and links are
// each collector's counts.
type fleetLoad struct {
	name         string
	workers      int
	spans, links int
	run          func(ix *redisindex.Index, w int) error
}

// oneLinkLoad: 100 rounds of 1000 new targets, one link added to each and
// each looked up, every lookup checked (count 1).
func oneLinkLoad() fleetLoad {
	const rounds, batch = 100, 1000
	return fleetLoad{
		name: "one link", workers: 4, spans: rounds * batch, links: rounds * batch,
		run: func(ix *redisindex.Index, w int) error {
			ctx := context.Background()
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
					return err
				}
				if err := ix.Lookup(ctx, &q, now.Add(-time.Second), 4); err != nil {
					return err
				}
				for j := range q.Len() {
					if q.Result(j).Count != 1 {
						return fmt.Errorf("worker %d round %d target %d: count %d, want 1", w, r, j, q.Result(j).Count)
					}
				}
			}
			return nil
		},
	}
}

// telemetrygenLoad: 100k spans of telemetrygen's load (its own spans for
// each collector), 512 a batch, each batch's links added, then its spans
// looked up.
func telemetrygenLoad() fleetLoad {
	const n, batch = 100_352, 512
	loads := make([][]redistest.Span, 4)
	links := 0
	for w := range loads {
		loads[w] = redistest.TelemetrygenLoad(uint64(w)+1, n, 3)
	}
	for _, s := range loads[0] {
		links += len(s.Links)
	}
	return fleetLoad{
		name: "telemetrygen", workers: 4, spans: n, links: links,
		run: func(ix *redisindex.Index, w int) error {
			ctx := context.Background()
			var b linkindex.Links
			var q linkindex.Targets
			for i := 0; i+batch <= n; i += batch {
				redistest.Batch(loads[w][i:i+batch], &b, &q)
				now := time.Now()
				if err := ix.Add(ctx, &b, now); err != nil {
					return err
				}
				if err := ix.Lookup(ctx, &q, now.Add(-31*time.Second), 8); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// measureFleet runs l's collectors on ix at once, after connecting it, and
// logs Redis's CPU over the run per span and per link on masters.
func measureFleet(t *testing.T, ix *redisindex.Index, masters []*redistest.Server, l fleetLoad) {
	ctx := context.Background()
	// Connect (scripts loaded, clock read) before counting.
	var q0 linkindex.Targets
	q0.Add(linkindex.KeyOf(linkindextest.Ref(1<<62).TraceID, linkindextest.Ref(1<<62).SpanID))
	if err := ix.Lookup(ctx, &q0, time.Now(), 1); err != nil {
		t.Fatal(err)
	}
	cpu0 := make([]float64, len(masters))
	for i, s := range masters {
		cpu0[i] = redistest.ServerCPU(t, s.Client())
	}
	self0, wall0 := redistest.ProcessCPU(), time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, l.workers)
	for w := range l.workers {
		wg.Go(func() {
			if err := l.run(ix, w); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	wall, self := time.Since(wall0), redistest.ProcessCPU()-self0
	spans, links := float64(l.workers*l.spans), float64(l.workers*l.links)
	var sum, busiest float64
	per := make([]float64, len(masters))
	for i, s := range masters {
		per[i] = (redistest.ServerCPU(t, s.Client()) - cpu0[i]) * 1e6 / spans
		sum += per[i]
		busiest = max(busiest, per[i])
	}
	var shares []string
	for i := range per {
		shares = append(shares, fmt.Sprintf("%.2f µs (%.1f%%)", per[i], 100*per[i]/sum))
	}
	t.Logf("%.0f spans, %.0f links, %d workers, in %v: %.0f spans/s wall", spans, links, l.workers, wall.Round(time.Millisecond), spans/wall.Seconds())
	t.Logf("Redis CPU per span: %.2f µs summed over %d master(s) (%.2f µs per link); per master: %s", sum, len(per), sum*spans/links, strings.Join(shares, ", "))
	t.Logf("at one core per master: %.0f spans/s (the busiest master's %.2f µs/span bounds it); collector CPU %.2f µs/span",
		1e6/busiest, busiest, self*1e6/spans)
}
