package spanlinksprocessor

import (
	"sync"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
)

// scratch is per-call working memory, pooled so that repairing links
// allocates nothing in the steady state.
type scratch struct {
	stats   linkCounts // what repairLinks returns a handle on
	seen    refSet
	hashes  []uint64 // the links' bottom-k hashes, in link order
	sorted  []uint64 // the same, partly sorted to find the k-th
	keep    []bool
	links   linkindex.Links   // the batch's links, for the index
	lookups linkindex.Targets // the batch's spans, to look up their backlinks
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}
