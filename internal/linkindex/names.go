package linkindex

import (
	"strings"
	"sync"
	"unicode/utf8"
)

// MaxNameBytes is the most bytes of a linking span's name an index stores:
// a longer name is cut, at a rune boundary, so that what a sender puts in a
// span name cannot grow an entry.
const MaxNameBytes = 256

// CutName returns name cut to at most MaxNameBytes bytes, at the start of
// a rune: a valid UTF-8 name stays valid. It does not copy. The index, the
// learner's classes and backlink spans all cut names with it.
func CutName(name string) string {
	if len(name) <= MaxNameBytes {
		return name
	}
	i := MaxNameBytes
	// Back up over at most the continuation bytes of one rune.
	for j := 0; j < utf8.UTFMax-1 && !utf8.RuneStart(name[i]); j++ {
		i--
	}
	return name[:i]
}

// nameTable interns the span names of an index's linkers, so that an entry
// holds a 4-byte id instead of a string: span names repeat, and entries
// without strings hold no pointers. Each name is counted by the entries that
// hold its id and leaves the table with the last of them, so the table never
// holds more names than its index holds entries (and the few whose release
// is pending). One table serves every shard: a linker whose links land in
// several shards has its name stored once.
type nameTable struct {
	ids   map[string]uint32
	names []string // by id; "" for a free id
	refs  []uint32 // by id: how many entries hold it
	free  []uint32 // ids to reuse

	last   string // the name interned last, and its id: names come in runs
	lastID uint32
	hasID  bool // last and lastID are set
}

// intern returns the id of name, taking refs references on it.
func (t *nameTable) intern(name string, refs uint32) uint32 {
	if t.hasID && name == t.last {
		t.refs[t.lastID] += refs
		return t.lastID
	}
	id, ok := t.ids[name]
	if !ok {
		if t.ids == nil {
			t.ids = make(map[string]uint32)
		}
		// A copy, so that the table never keeps alive the memory the name
		// was cut from.
		name = strings.Clone(name)
		if n := len(t.free); n > 0 {
			id = t.free[n-1]
			t.free = t.free[:n-1]
			t.names[id] = name
		} else {
			id = uint32(len(t.names))
			t.names = append(t.names, name)
			t.refs = append(t.refs, 0)
		}
		t.ids[name] = id
	}
	t.refs[id] += refs
	t.last, t.lastID, t.hasID = t.names[id], id, true
	return id
}

// name returns the name with id id.
func (t *nameTable) name(id uint32) string { return t.names[id] }

// release drops one reference on id, and the name once none is left.
func (t *nameTable) release(id uint32) {
	if t.refs[id]--; t.refs[id] > 0 {
		return
	}
	delete(t.ids, t.names[id])
	t.names[id] = ""
	t.free = append(t.free, id)
	if t.hasID && t.lastID == id {
		t.last, t.hasID = "", false
	}
}

// len reports how many names the table holds.
func (t *nameTable) len() int { return len(t.ids) }

// sharedNames is the name table of a whole index, shared by its shards.
// Lock order: a shard's mu before mu, never the other way round.
type sharedNames struct {
	mu sync.Mutex
	t  nameTable
}

// releaseAll drops one reference on each of ids, and empties it.
func (n *sharedNames) releaseAll(ids *[]uint32) {
	if len(*ids) == 0 {
		return
	}
	n.mu.Lock()
	for _, id := range *ids {
		n.t.release(id)
	}
	n.mu.Unlock()
	*ids = (*ids)[:0]
}
