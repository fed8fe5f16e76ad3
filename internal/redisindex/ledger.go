package redisindex

import (
	"sync"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
)

// ledger counts the entries this index added that are still within the
// lifetime: Redis drops them with their slot's key, and a shared index
// cannot tell its own from the fleet's without a scan, so Stats reports
// this collector's share.
type ledger struct {
	mu       sync.Mutex
	lifetime time.Duration
	adds     []ledgerAdd // in the order added
	entries  int
	expired  uint64
}

type ledgerAdd struct {
	at time.Time
	n  int
}

// add records n entries added at now.
func (l *ledger) add(now time.Time, n int) {
	if n == 0 {
		return
	}
	l.mu.Lock()
	l.adds = append(l.adds, ledgerAdd{now, n})
	l.entries += n
	l.mu.Unlock()
}

// expire forgets the entries lifetime or more older than now.
func (l *ledger) expire(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := 0
	for ; i < len(l.adds) && now.Sub(l.adds[i].at) >= l.lifetime; i++ {
		l.entries -= l.adds[i].n
		l.expired += uint64(l.adds[i].n)
	}
	if i > 0 {
		l.adds = append(l.adds[:0], l.adds[i:]...)
	}
}

// stats reports the entries counted now.
func (l *ledger) stats() linkindex.Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return linkindex.Stats{Entries: l.entries, Expired: l.expired}
}
