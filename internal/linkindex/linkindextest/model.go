package linkindextest

import (
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
)

// model is an index written as plainly as possible: a list of entries in
// insertion order, with no bound on how many it holds.
type model struct {
	lifetime time.Duration
	entries  []modelEntry
}

type modelEntry struct {
	target linkindex.Ref
	linker linkindex.Linker
	at     time.Time
}

// expire drops the entries lifetime or more older than now.
func (m *model) expire(now time.Time) {
	for len(m.entries) > 0 && now.Sub(m.entries[0].at) >= m.lifetime {
		m.entries = m.entries[1:]
	}
}

// add records a batch of links at now; a linker already held for a target
// is not added again.
func (m *model) add(links []modelLink, now time.Time) {
	m.expire(now)
	for _, l := range links {
		if !m.holds(l.target, l.linker.Ref) {
			m.entries = append(m.entries, modelEntry{target: l.target, linker: l.linker, at: now})
		}
	}
}

// holds reports whether linker is held for target.
func (m *model) holds(target, linker linkindex.Ref) bool {
	for _, e := range m.entries {
		if e.target == target && e.linker.Ref == linker {
			return true
		}
	}
	return false
}

// lookup returns the backlinks of target held and added after since,
// listing the oldest limit.
func (m *model) lookup(target linkindex.Ref, since time.Time, limit int) linkindex.Backlinks {
	var b linkindex.Backlinks
	for _, e := range m.entries {
		if e.target != target || !e.at.After(since) {
			continue
		}
		b.Count++
		if e.linker.Error {
			b.ErrorCount++
		}
		if len(b.Linkers) < limit {
			b.Linkers = append(b.Linkers, e.linker)
		}
	}
	return b
}

// modelLink is one link of a batch: a target and its linker.
type modelLink struct {
	target linkindex.Ref
	linker linkindex.Linker
}
