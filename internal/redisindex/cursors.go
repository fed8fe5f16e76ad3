package redisindex

import (
	"sync"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
)

// cursorTable gives out cursors: each names the counters of every node as
// Cursor read them, for the lookups that take it as a bound. A cursor is
// kept for keep after it was given out, long enough for a span held at that
// cursor to be released; a cursor no longer known bounds nothing.
type cursorTable struct {
	mu    sync.Mutex
	last  linkindex.Cursor
	recs  map[linkindex.Cursor]map[string]int64 // by node address
	order []cursorAt
	keep  time.Duration
}

type cursorAt struct {
	c  linkindex.Cursor
	at time.Time
}

// put returns a new cursor for stamps, given out at now; a nil stamps (the
// counters could not be read) bounds a lookup's to at nothing and its from
// at nothing either.
func (t *cursorTable) put(stamps map[string]int64, now time.Time) linkindex.Cursor {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.last++
	if t.recs == nil {
		t.recs = make(map[linkindex.Cursor]map[string]int64)
	}
	t.recs[t.last] = stamps
	t.order = append(t.order, cursorAt{t.last, now})
	return t.last
}

// get returns the stamps of c; ok is false for a cursor not known.
func (t *cursorTable) get(c linkindex.Cursor) (stamps map[string]int64, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	stamps, ok = t.recs[c]
	return stamps, ok
}

// expire forgets the cursors given out keep or longer before now.
func (t *cursorTable) expire(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := 0
	for ; i < len(t.order) && now.Sub(t.order[i].at) >= t.keep; i++ {
		delete(t.recs, t.order[i].c)
	}
	if i > 0 {
		t.order = append(t.order[:0], t.order[i:]...)
	}
}
