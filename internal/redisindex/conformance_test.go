package redisindex_test

import (
	"testing"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex/linkindextest"
	"github.com/spanlinks/spanlinksprocessor/internal/redisindex"
	"github.com/spanlinks/spanlinksprocessor/internal/redistest"
)

// openOn returns an Open of indexes on endpoints, each under its own key
// prefix so that the suite's indexes do not see one another.
func openOn(endpoints []string, cluster bool) linkindextest.Open {
	n := 0
	return func(t *testing.T, window time.Duration) linkindextest.Index {
		n++
		ix, err := redisindex.New(redisindex.Options{
			Endpoints: endpoints, Cluster: cluster,
			KeyPrefix: t.Name() + "/" + string(rune('a'+n%26)) + ":",
			Timeout:   5 * time.Second, Lifetime: window, Resync: -1,
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
}
