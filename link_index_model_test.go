package spanlinksprocessor

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// indexModel is the memoryIndex of one shard written as plainly as possible:
// a list of entries in insertion order.
type indexModel struct {
	window   time.Duration
	capacity int
	cursor   Cursor
	entries  []modelEntry
	expired  uint64
	evicted  uint64
}

type modelEntry struct {
	target SpanRef
	linker Linker
	at     time.Time
	cursor Cursor
}

func (m *indexModel) expire(now time.Time) {
	for len(m.entries) > 0 && now.Sub(m.entries[0].at) >= m.window {
		m.entries = m.entries[1:]
		m.expired++
	}
}

func (m *indexModel) add(target SpanRef, l Linker, now time.Time) {
	m.expire(now)
	for _, e := range m.entries {
		if e.target == target && e.linker.SpanRef == l.SpanRef {
			return
		}
	}
	if len(m.entries) == m.capacity {
		m.entries = m.entries[1:]
		m.evicted++
	}
	m.cursor++
	m.entries = append(m.entries, modelEntry{target: target, linker: l, at: now, cursor: m.cursor})
}

func (m *indexModel) lookup(target SpanRef, from, to Cursor, now time.Time, limit int) Backlinks {
	m.expire(now)
	var b Backlinks
	for _, e := range m.entries {
		if e.target != target || e.cursor <= from || e.cursor > to || now.Sub(e.at) >= m.window {
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

// TestLinkIndexMatchesModel drives a one-shard memoryIndex and indexModel
// with the same random adds, lookups and expiries over few targets, linkers
// and names, with small capacities so that entries are evicted and chains
// cut, and compares every answer.
func TestLinkIndexMatchesModel(t *testing.T) {
	for _, capacity := range []int{1, 7, 64, 300} {
		t.Run(fmt.Sprint(capacity), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(capacity), 12))
			const window = 10 * time.Second
			ix := newShardedIndex(window, capacity, 1)
			m := &indexModel{window: window, capacity: capacity}
			now := idxT0
			for step := range 20_000 {
				now = now.Add(time.Duration(r.IntN(40)) * time.Millisecond)
				target := idxRef(uint64(r.IntN(40)))
				switch op := r.IntN(10); {
				case op < 6:
					n := uint64(r.IntN(30))
					l := Linker{SpanRef: idxLinker(n, false).SpanRef, Name: fmt.Sprint("job-", n%7), Error: n%5 == 0}
					ix.Add(target, l, now)
					m.add(target, l, now)
				case op < 9:
					from := Cursor(r.IntN(int(m.cursor) + 1))
					to := CursorEnd
					if r.IntN(2) == 0 {
						to = from + Cursor(r.IntN(50))
					}
					limit := r.IntN(6)
					got := ix.Lookup(target, from, to, now, limit)
					want := m.lookup(target, from, to, now, limit)
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("step %d: Lookup(%v, %d, %d, limit %d) = %+v, want %+v", step, target.SpanID, from, to, limit, got, want)
					}
				default:
					now = now.Add(time.Duration(r.IntN(3)) * time.Second)
					ix.Expire(now)
					m.expire(now)
				}
				if ix.Len() != len(m.entries) {
					t.Fatalf("step %d: Len = %d, want %d", step, ix.Len(), len(m.entries))
				}
				if st := ix.Stats(); st != (IndexStats{Expired: m.expired, Evicted: m.evicted}) {
					t.Fatalf("step %d: Stats = %+v, want %d expired, %d evicted", step, st, m.expired, m.evicted)
				}
			}
			ix.Expire(now.Add(window))
			assertIndexEmpty(t, ix)
		})
	}
}
