package learner

import (
	"strings"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Bounds of what the learner keeps (docs/contract.md, "hold: auto").
const (
	// maxClasses bounds the classes known, seen or linked; past it the
	// class least recently seen or linked is forgotten (CLOCK order).
	maxClasses = 10000
	// maxClassNameBytes is the most bytes of a service or span name a
	// class keeps, as the index keeps linkers' names: with maxClasses,
	// class names take at most about 5 MB.
	maxClassNameBytes = linkindex.MaxNameBytes
	// forgetWindows: a class stops being held once no link has targeted
	// it for this many windows.
	forgetWindows = 10
)

// Class is a span's class: its resource's service.name, its name and its
// kind, the names cut to MaxNameBytes.
type Class struct {
	Service string
	Name    string
	Kind    ptrace.SpanKind
}

// classOf returns the class of span in rs; its strings are the span's own,
// not yet cut or copied.
func classOf(rs ptrace.ResourceSpans, span ptrace.Span) Class {
	return Class{Service: serviceName(rs), Name: linkindex.CutName(span.Name()), Kind: span.Kind()}
}

// serviceName returns the service.name of rs, cut to maxClassNameBytes.
func serviceName(rs ptrace.ResourceSpans) string {
	v, ok := rs.Resource().Attributes().Get("service.name")
	if !ok {
		return ""
	}
	return linkindex.CutName(v.Str())
}

// classSlot is one known class.
type classSlot struct {
	key    Class
	gen    uint32    // bumped when the slot takes another class
	used   bool      // seen or linked since the clock hand last passed
	held   bool      // hold: auto holds its spans
	linked time.Time // when a link last targeted one of its spans
}

// classRef names a class slot at a generation: stale once the slot has
// taken another class.
type classRef struct {
	slot int32
	gen  uint32
}

// classTable interns classes into at most limit slots; when full, a new
// class takes the slot of one not seen or linked since the clock hand last
// passed it (the CLOCK approximation of least recently used), so that
// admitting a class costs O(1) amortised.
type classTable struct {
	ids   map[Class]int32
	slots []classSlot
	hand  int
	limit int

	// version changes whenever a class starts or stops being held, so
	// that a copy of the held classes (backlinks.storage) knows it is
	// out of date.
	version uint64
}

// intern returns the slot of k, making one if k is new, and marks it used.
func (t *classTable) intern(k Class) classRef {
	if i, ok := t.ids[k]; ok {
		t.slots[i].used = true
		return classRef{slot: i, gen: t.slots[i].gen}
	}
	k.Service, k.Name = strings.Clone(k.Service), strings.Clone(k.Name) // not the span's memory
	var i int
	if len(t.slots) < t.limit {
		i = len(t.slots)
		t.slots = append(t.slots, classSlot{})
	} else {
		for t.slots[t.hand].used {
			t.slots[t.hand].used = false
			t.hand = (t.hand + 1) % len(t.slots)
		}
		i = t.hand
		t.hand = (t.hand + 1) % len(t.slots)
		delete(t.ids, t.slots[i].key)
		if t.slots[i].held {
			t.version++
		}
	}
	s := &t.slots[i]
	*s = classSlot{key: k, gen: s.gen + 1, used: true}
	t.ids[k] = int32(i)
	return classRef{slot: int32(i), gen: s.gen}
}

// get returns the slot r names, or nil if it has taken another class.
func (t *classTable) get(r classRef) *classSlot {
	if int(r.slot) >= len(t.slots) || t.slots[r.slot].gen != r.gen {
		return nil
	}
	return &t.slots[r.slot]
}

// recentClasses remembers the last few classes of one resource's spans and
// their refs, so that spans of a class seen just before are not interned
// (hashed and looked up) again.
type recentClasses struct {
	service string
	n, next int
	names   [4]string
	kinds   [4]ptrace.SpanKind
	refs    [4]classRef
}

// ref returns the ref of span's class, span being under the resource
// whose service.name is r.service, interning it if it is not one of the
// last few; a ref whose slot took another class since is interned anew.
func (r *recentClasses) ref(t *classTable, span ptrace.Span) classRef {
	name, kind := linkindex.CutName(span.Name()), span.Kind()
	for i := range r.n {
		if r.kinds[i] == kind && r.names[i] == name && t.get(r.refs[i]) != nil {
			return r.refs[i]
		}
	}
	ref := t.intern(Class{Service: r.service, Name: name, Kind: kind})
	i := r.next
	r.names[i], r.kinds[i], r.refs[i] = name, kind, ref
	r.next = (i + 1) % len(r.names)
	r.n = min(r.n+1, len(r.names))
	return ref
}
