package spanlinksprocessor

import (
	"context"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
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

// classKey is a span's class: its resource's service.name, its name and
// its kind.
type classKey struct {
	service string
	name    string
	kind    ptrace.SpanKind
}

// classOf returns the class of span in rs; its strings are the span's own,
// not yet cut or copied.
func classOf(rs ptrace.ResourceSpans, span ptrace.Span) classKey {
	return classKey{service: serviceName(rs), name: cutClassName(span.Name()), kind: span.Kind()}
}

// serviceName returns the service.name of rs, cut to maxClassNameBytes.
func serviceName(rs ptrace.ResourceSpans) string {
	v, ok := rs.Resource().Attributes().Get("service.name")
	if !ok {
		return ""
	}
	return cutClassName(v.Str())
}

// cutClassName cuts s to maxClassNameBytes, on a rune boundary.
func cutClassName(s string) string {
	if len(s) <= maxClassNameBytes {
		return s
	}
	n := maxClassNameBytes
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// classSlot is one known class.
type classSlot struct {
	key    classKey
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
	ids   map[classKey]int32
	slots []classSlot
	hand  int
	limit int
}

// intern returns the slot of k, making one if k is new, and marks it used.
func (t *classTable) intern(k classKey) classRef {
	if i, ok := t.ids[k]; ok {
		t.slots[i].used = true
		return classRef{slot: i, gen: t.slots[i].gen}
	}
	k.service, k.name = strings.Clone(k.service), strings.Clone(k.name) // not the span's memory
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

// learner remembers, for one window, the IDs and class of the spans that
// passed unheld, so that a link targeting one of them counts as a missed
// backlink, under every hold mode. Under hold: auto it also learns which
// classes links target: a class is held from the moment a link targets
// one of its spans (one remembered, or one that got backlinks) until no
// link has targeted it for forgetWindows windows. It keeps at most limit
// spans and maxClasses classes, evicting the oldest. Safe for concurrent
// use.
type learner struct {
	auto   bool
	window time.Duration
	limit  int
	log    *zap.Logger // the sampled debug log of missed backlinks; nil when off

	mu      sync.Mutex
	classes classTable
	spans   *unheldSpans

	// Scratch of passedIn and links, under mu.
	keys []linkindex.Key
	refs []classRef
	at   []int32
}

func newLearner(auto bool, window time.Duration, limit int, log *zap.Logger) *learner {
	return &learner{
		auto:    auto,
		window:  window,
		limit:   limit,
		log:     log,
		classes: classTable{ids: map[classKey]int32{}, limit: maxClasses},
		spans:   newUnheldSpans(limit),
	}
}

// match reports whether hold: auto holds span, in its resource: whether
// its class is held. It is takeHeld's spanChooser under hold: auto.
func (l *learner) match(_ context.Context, rs ptrace.ResourceSpans, _ ptrace.ScopeSpans, span ptrace.Span) bool {
	k := classOf(rs, span)
	l.mu.Lock()
	defer l.mu.Unlock()
	i, ok := l.classes.ids[k]
	return ok && l.classes.slots[i].held
}

// links counts the links gathered in b whose target passed unheld within
// the window: missed backlinks. Under hold: auto their targets' classes
// become held. It returns how many it counted.
func (l *learner) links(b *linkindex.Links, now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.spans.len() == 0 {
		return 0
	}
	missed := 0
	cutoff := now.UnixNano() - int64(l.window) // passed before: forgotten, though not yet expired
	l.keys = l.keys[:0]
	for i := range b.Len() {
		l.keys = append(l.keys, b.TargetAt(i))
	}
	l.at = l.spans.findAll(l.keys, l.at)
	for i, p := range l.at {
		if p < 0 {
			continue
		}
		u := l.spans.entry(p)
		if u.at <= cutoff {
			continue
		}
		missed++
		c := l.classes.get(u.class)
		if c != nil {
			l.linked(c, now)
		}
		if l.log != nil {
			var k classKey
			if c != nil {
				k = c.key
			}
			to, from := b.At(i)
			l.log.Debug("Missed backlink: its target passed unheld; hold its class to pair it",
				zap.String("service.name", k.service), zap.String("span.name", k.name),
				zap.String("span.kind", k.kind.String()),
				zap.Stringer("trace_id", to.TraceID), zap.Stringer("span_id", to.SpanID),
				zap.String("linker", from.Name), zap.Bool("hold_auto", l.auto))
		}
	}
	return missed
}

// linked says that a link targeted a span of class c at now; l.mu is held.
func (l *learner) linked(c *classSlot, now time.Time) {
	c.used = true
	if l.auto {
		c.held = true
		c.linked = now
	}
}

// passed remembers the spans of td, which pass unheld at now; under hold:
// auto, the classes of those that got backlinks (the linker came first)
// become held.
func (l *learner) passed(td ptrace.Traces, now time.Time) { l.passedIn(td, now, nil) }

// passedIn is passed with the spans under each resource in partition
// partOf(rs) (zero when partOf is nil), so that a link counts as missed
// only within its own partition: another tenant's link to the same IDs
// neither counts nor teaches a class.
func (l *learner) passedIn(td ptrace.Traces, now time.Time, partOf func(ptrace.ResourceSpans) linkindex.Partition) {
	at := now.UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expireSpans(at)
	l.keys, l.refs = l.keys[:0], l.refs[:0]
	var last classKey // spans of a batch come in runs of one class:
	var ref classRef  // the class of the last span, interned once
	has := false
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		rs := rss.At(i)
		service := serviceName(rs)
		var part linkindex.Partition
		if partOf != nil {
			part = partOf(rs)
		}
		sss := rs.ScopeSpans()
		for j := range sss.Len() {
			spans := sss.At(j).Spans()
			for k := range spans.Len() {
				span := spans.At(k)
				c := classKey{service: service, name: cutClassName(span.Name()), kind: span.Kind()}
				if !has || c != last || l.classes.get(ref) == nil {
					last, ref, has = c, l.classes.intern(c), true
				}
				if l.auto && hasBacklinks(span) {
					l.linked(&l.classes.slots[ref.slot], now)
				}
				l.keys = append(l.keys, linkindex.KeyOf(span.TraceID(), span.SpanID()).In(part))
				l.refs = append(l.refs, ref)
			}
		}
	}
	l.spans.addAll(l.keys, l.refs, at)
}

// released tells hold: auto of held spans released at now: the classes of
// those that got backlinks stay held.
func (l *learner) released(td ptrace.Traces, now time.Time) {
	if !l.auto {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	eachSpan(td, func(rs ptrace.ResourceSpans, _ ptrace.ScopeSpans, span ptrace.Span) {
		if hasBacklinks(span) {
			r := l.classes.intern(classOf(rs, span))
			l.linked(&l.classes.slots[r.slot], now)
		}
	})
}

// expire forgets the spans that passed a window or more before now and,
// under hold: auto, stops holding the classes no link has targeted for
// forgetWindows windows.
func (l *learner) expire(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expireSpans(now.UnixNano())
	if !l.auto {
		return
	}
	cutoff := now.Add(-forgetWindows * l.window)
	for i := range l.classes.slots {
		if c := &l.classes.slots[i]; c.held && !c.linked.After(cutoff) {
			c.held = false
		}
	}
}

// expireSpans forgets the spans that passed a window or more before now,
// in Unix nanoseconds; l.mu is held.
func (l *learner) expireSpans(now int64) {
	cutoff := now - int64(l.window)
	for l.spans.len() > 0 && l.spans.oldest() <= cutoff {
		l.spans.pop()
	}
}

// remembered reports how many spans are remembered and classes known.
func (l *learner) remembered() (spans, classes int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.spans.len(), len(l.classes.slots)
}

// heldClasses lists the classes hold: auto holds now.
func (l *learner) heldClasses() []classKey {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []classKey
	for _, c := range l.classes.slots {
		if c.held {
			out = append(out, c.key)
		}
	}
	return out
}

// hasBacklinks reports whether the processor wrote backlinks on span.
func hasBacklinks(span ptrace.Span) bool {
	_, ok := span.Attributes().Get(attrBacklinksCount)
	return ok
}
