// Package learner remembers, for one window, the spans that passed the
// processor unheld, so that a link to one of them counts as a missed
// backlink under every hold mode; under hold: auto it learns which classes
// of span links target, and holds them (docs/contract.md, "hold: auto").
package learner

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
)

// Learner remembers, for one window, the IDs and class of the spans that
// passed unheld, so that a link targeting one of them counts as a missed
// backlink, under every hold mode. Under hold: auto it also learns which
// classes links target: a class is held from the moment a link targets
// one of its spans (one remembered, or one that got backlinks) until no
// link has targeted it for forgetWindows windows. It keeps at most limit
// spans and maxClasses classes, evicting the oldest. Safe for concurrent
// use.
//
// Under hold: auto, a start that knows no class holds every span for a
// warm-up (Start, Warming): links to those held spans teach their classes
// as soon as they arrive, so that the first window's links are not missed.
type Learner struct {
	auto   bool
	window time.Duration
	limit  int
	log    *zap.Logger // the sampled debug log of missed backlinks; nil when off
	marker string      // the span attribute the processor writes with backlinks

	// warmEnd is, in Unix nanoseconds, when hold: auto's warm-up ends:
	// until then every span is held (Warming). Zero: no warm-up.
	warmEnd atomic.Int64
	warmup  time.Duration

	// holding is the snapshot of the held classes that Match and
	// ForResource read without mu; published is the classes' version it
	// was made at.
	holding   atomic.Pointer[holding]
	published uint64

	mu      sync.Mutex
	classes classTable
	spans   *unheldSpans
	held    *unheldSpans // spans held during the warm-up: a link to one teaches its class

	// Scratch of passedIn and links, under mu.
	keys []linkindex.Key
	refs []classRef
	at   []int32
}

// Options configure a Learner.
type Options struct {
	// Auto is hold: auto: learn the classes links target, and hold them.
	Auto bool
	// Window is how long a span that passed unheld is remembered.
	Window time.Duration
	// Limit bounds the spans remembered; past it the oldest are forgotten.
	Limit int
	// Log, when not nil, is told of every missed backlink (debug level).
	Log *zap.Logger
	// Marker is the span attribute the processor writes on a span that got
	// backlinks: under hold: auto such a span's class becomes held.
	Marker string
	// Warmup is how long, under hold: auto, every span is held after a
	// start that knows no class (Start): the window and a release tick,
	// so that the first spans held are released, and their classes
	// learnt, before it ends.
	Warmup time.Duration
	// MaxHeld bounds the held spans remembered during the warm-up.
	MaxHeld int
}

// New returns a Learner configured by o.
func New(o Options) *Learner {
	return &Learner{
		auto:    o.Auto,
		window:  o.Window,
		limit:   o.Limit,
		log:     o.Log,
		marker:  o.Marker,
		warmup:  o.Warmup,
		classes: classTable{ids: map[Class]int32{}, limit: maxClasses},
		spans:   newUnheldSpans(o.Limit),
		held:    newUnheldSpans(o.MaxHeld),
	}
}

// Start begins, under hold: auto, the warm-up at now when no class is
// held (a first start, or a restart without stored classes): for
// Options.Warmup every span is held, and a link to one of them teaches its
// class, so that the classes linked in the first window are learnt
// without missing a backlink. It reports whether the warm-up began.
func (l *Learner) Start(now time.Time) bool {
	if !l.auto || l.warmup <= 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.classes.slots {
		if c.held {
			return false
		}
	}
	l.warmEnd.Store(now.Add(l.warmup).UnixNano())
	return true
}

// Warming reports whether the warm-up that Start began lasts at now:
// every span is then held.
func (l *Learner) Warming(now time.Time) bool {
	end := l.warmEnd.Load()
	return end != 0 && now.UnixNano() < end
}

// Match reports whether hold: auto holds span, in its resource: whether
// its class is held. It is the hold's Chooser under hold: auto; the hold
// calls ForResource instead, once per resource.
func (l *Learner) Match(ctx context.Context, rs ptrace.ResourceSpans, _ ptrace.ScopeSpans, span ptrace.Span) bool {
	m := l.ForResource(ctx, rs)
	return m != nil && m(span)
}

// Links counts the links gathered in b whose target passed unheld within
// the window: missed backlinks. Under hold: auto their targets' classes
// become held, and so do those of targets held during the warm-up, which
// are not missed. It returns how many it counted.
func (l *Learner) Links(b *linkindex.Links, now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.publish() // before the unlock
	if l.spans.len() == 0 && l.held.len() == 0 {
		return 0
	}
	cutoff := now.UnixNano() - int64(l.window) // passed before: forgotten, though not yet expired
	l.keys = l.keys[:0]
	for i := range b.Len() {
		l.keys = append(l.keys, b.TargetAt(i))
	}
	for _, p := range l.live(l.held, cutoff) { // held in the warm-up: learnt, not missed
		if p >= 0 {
			if c := l.classes.get(l.held.entry(p).class); c != nil {
				l.linked(c, now)
			}
		}
	}
	missed := 0
	for i, p := range l.live(l.spans, cutoff) {
		if p < 0 {
			continue
		}
		u := l.spans.entry(p)
		missed++
		c := l.classes.get(u.class)
		if c != nil {
			l.linked(c, now)
		}
		if l.log != nil {
			var k Class
			if c != nil {
				k = c.key
			}
			to, from := b.At(i)
			l.log.Debug("Missed backlink: its target passed unheld; hold its class to pair it",
				zap.String("service.name", k.Service), zap.String("span.name", k.Name),
				zap.String("span.kind", k.Kind.String()),
				zap.Stringer("trace_id", to.TraceID), zap.Stringer("span_id", to.SpanID),
				zap.String("linker", from.Name), zap.Bool("hold_auto", l.auto))
		}
	}
	return missed
}

// live sets l.at to the ring place in s of each target in l.keys that s
// remembers as passed after cutoff, or -1, and returns it; nil when s is
// empty. l.mu is held.
func (l *Learner) live(s *unheldSpans, cutoff int64) []int32 {
	if s.len() == 0 {
		return nil
	}
	l.at = s.findAll(l.keys, l.at)
	for i, p := range l.at {
		if p >= 0 && s.entry(p).at <= cutoff {
			l.at[i] = -1
		}
	}
	return l.at
}

// linked says that a link targeted a span of class c at now; l.mu is held.
func (l *Learner) linked(c *classSlot, now time.Time) {
	c.used = true
	if l.auto {
		if !c.held {
			l.classes.version++
		}
		c.held = true
		c.linked = now
	}
}

// Passed remembers the spans of td, which pass unheld at now, the spans
// under each resource in partition partOf(rs) (zero when partOf is nil), so
// that a link counts as missed only within its own partition: another
// tenant's link to the same IDs neither counts nor teaches a class. Under
// hold: auto, the classes of those that got backlinks (the linker came
// first) become held.
func (l *Learner) Passed(td ptrace.Traces, now time.Time, partOf func(ptrace.ResourceSpans) linkindex.Partition) {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.publish() // before the unlock
	l.expireSpans(now.UnixNano())
	l.remember(l.spans, td, now, partOf, l.auto)
}

// Held remembers, during hold: auto's warm-up, the spans of td held at
// now, in their partitions as in Passed, so that a link to one of them
// teaches its class (Links) without counting a missed backlink.
func (l *Learner) Held(td ptrace.Traces, now time.Time, partOf func(ptrace.ResourceSpans) linkindex.Partition) {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.publish() // before the unlock
	l.expireSpans(now.UnixNano())
	l.remember(l.held, td, now, partOf, false)
}

// remember adds the spans of td, at now, to s; with backlinked, the
// classes of those that got backlinks become held. l.mu is held.
func (l *Learner) remember(s *unheldSpans, td ptrace.Traces, now time.Time, partOf func(ptrace.ResourceSpans) linkindex.Partition, backlinked bool) {
	at := now.UnixNano()
	l.keys, l.refs = l.keys[:0], l.refs[:0]
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		rs := rss.At(i)
		var part linkindex.Partition
		if partOf != nil {
			part = partOf(rs)
		}
		// A resource's spans come in a few classes (telemetrygen's
		// alternate two names): each is interned once per resource.
		recent := recentClasses{service: serviceName(rs)}
		sss := rs.ScopeSpans()
		for j := range sss.Len() {
			spans := sss.At(j).Spans()
			for k := range spans.Len() {
				span := spans.At(k)
				ref := recent.ref(&l.classes, span)
				if backlinked && l.hasBacklinks(span) {
					l.linked(&l.classes.slots[ref.slot], now)
				}
				l.keys = append(l.keys, linkindex.KeyOf(span.TraceID(), span.SpanID()).In(part))
				l.refs = append(l.refs, ref)
			}
		}
	}
	s.addAll(l.keys, l.refs, at)
}

// Released tells hold: auto of held spans released at now: the classes of
// those that got backlinks stay held.
func (l *Learner) Released(td ptrace.Traces, now time.Time) {
	if !l.auto {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.publish() // before the unlock
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		rs := rss.At(i)
		sss := rs.ScopeSpans()
		for j := range sss.Len() {
			spans := sss.At(j).Spans()
			for k := range spans.Len() {
				if span := spans.At(k); l.hasBacklinks(span) {
					r := l.classes.intern(classOf(rs, span))
					l.linked(&l.classes.slots[r.slot], now)
				}
			}
		}
	}
}

// Expire forgets the spans that passed a window or more before now and,
// under hold: auto, stops holding the classes no link has targeted for
// forgetWindows windows.
func (l *Learner) Expire(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.publish() // before the unlock
	l.expireSpans(now.UnixNano())
	if !l.auto {
		return
	}
	if l.held.len() == 0 && l.held.ring != nil && !l.Warming(now) {
		l.held = newUnheldSpans(l.held.limit) // the warm-up is over: its memory goes
	}
	cutoff := now.Add(-forgetWindows * l.window)
	for i := range l.classes.slots {
		if c := &l.classes.slots[i]; c.held && !c.linked.After(cutoff) {
			c.held = false
			l.classes.version++
		}
	}
}

// expireSpans forgets the spans that passed a window or more before now,
// in Unix nanoseconds; l.mu is held.
func (l *Learner) expireSpans(now int64) {
	cutoff := now - int64(l.window)
	for _, s := range [...]*unheldSpans{l.spans, l.held} {
		for s.len() > 0 && s.oldest() <= cutoff {
			s.pop()
		}
	}
}

// Remembered reports how many spans are remembered and classes known.
func (l *Learner) Remembered() (spans, classes int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.spans.len(), len(l.classes.slots)
}

// HeldClasses lists the classes hold: auto holds now.
func (l *Learner) HeldClasses() []Class {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Class
	for _, c := range l.classes.slots {
		if c.held {
			out = append(out, c.key)
		}
	}
	return out
}

// hasBacklinks reports whether the processor wrote backlinks on span.
func (l *Learner) hasBacklinks(span ptrace.Span) bool {
	_, ok := span.Attributes().Get(l.marker)
	return ok
}

// Learnt is a class hold: auto holds, with when a link last targeted it.
type Learnt struct {
	Class
	Linked time.Time
}

// Learnt lists the classes hold: auto holds now, with when each was last
// linked, and a version that changes whenever a class starts or stops
// being held: a copy kept elsewhere (backlinks.storage) is out of date
// when the version it was made at differs.
func (l *Learner) Learnt() ([]Learnt, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Learnt
	for _, c := range l.classes.slots {
		if c.held {
			out = append(out, Learnt{Class: c.key, Linked: c.linked})
		}
	}
	return out, l.classes.version
}

// Version returns what Learnt would return as its version, without
// listing the classes.
func (l *Learner) Version() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.classes.version
}

// Restore holds again, under hold: auto, the classes an earlier run
// learnt, as of when each was last linked, so that a restart does not
// learn them anew; those no link has targeted for forgetWindows windows
// before now are not held. Names are cut as a span's would be.
func (l *Learner) Restore(cs []Learnt, now time.Time) {
	if !l.auto {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.publish() // before the unlock
	cutoff := now.Add(-forgetWindows * l.window)
	for _, c := range cs {
		if !c.Linked.After(cutoff) {
			continue
		}
		k := Class{Service: linkindex.CutName(c.Service), Name: linkindex.CutName(c.Name), Kind: c.Kind}
		r := l.classes.intern(k)
		s := &l.classes.slots[r.slot]
		if !s.held {
			l.classes.version++
		}
		s.held = true
		if c.Linked.After(s.linked) {
			s.linked = c.Linked
		}
	}
}
