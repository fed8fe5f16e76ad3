package linkindex

import "strings"

// nameTable interns the span names of one index shard's linkers, so that an
// entry holds a 4-byte id instead of a string: span names repeat, and
// entries without strings hold no pointers. Each name is counted by the
// entries that hold its id and leaves the table with the last of them, so
// the table never holds more names than its shard holds entries.
type nameTable struct {
	ids   map[string]uint32
	names []string // by id; "" for a free id
	refs  []uint32 // by id: how many entries hold it
	free  []uint32 // ids to reuse

	last   string // the name interned last, and its id: names come in runs
	lastID uint32
	hasID  bool // last and lastID are set
}

// intern returns the id of name, taking one reference on it.
func (t *nameTable) intern(name string) uint32 {
	if t.hasID && name == t.last {
		t.refs[t.lastID]++
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
	t.refs[id]++
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
