package redisindex

import (
	"testing"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"github.com/spanlinks/spanlinksprocessor/internal/linkindex/linkindextest"
)

// TestBucketSpread: targets whose IDs repeat a counter (the tests' Refs),
// partitioned or not, fill every bucket about evenly, so that no bucket's
// hash outgrows the listpack encoding long before the others.
func TestBucketSpread(t *testing.T) {
	const n = 1 << 20 // 64 a bucket on average
	for _, p := range []linkindex.Partition{0, linkindex.PartitionOf("tenant")} {
		per := make([]int, buckets)
		for i := range uint64(n) {
			per[bucketOf(keyOf(p, linkindextest.Ref(i+1)))]++
		}
		empty, most := 0, 0
		for _, c := range per {
			if c == 0 {
				empty++
			}
			most = max(most, c)
		}
		// Poisson(64): the fullest of 16384 buckets holds about 100.
		if empty > 0 || most > 120 {
			t.Errorf("partition %x: %d targets: %d empty buckets, the fullest holds %d; want none empty and at most 120", p, n, empty, most)
		}
	}
}

// TestBucketTag: a bucket's tag is its number in lower-case hexadecimal,
// what every collector's keys must agree on.
func TestBucketTag(t *testing.T) {
	for b, want := range map[int]string{0: "0", 10: "a", 255: "ff", buckets - 1: "3fff"} {
		if got := bucketTag(b); got != want {
			t.Errorf("bucketTag(%d) = %q, want %q", b, got, want)
		}
	}
}
