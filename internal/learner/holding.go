package learner

import (
	"context"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// holding is the classes hold: auto holds, by service: a snapshot that
// senders read without the learner's lock, published anew whenever a
// class starts or stops being held.
type holding map[string]map[nameKind]struct{}

// nameKind is a class within its service.
type nameKind struct {
	name string
	kind ptrace.SpanKind
}

// publish makes the held classes the snapshot senders read, if they
// changed since it was last made; l.mu is held.
func (l *Learner) publish() {
	if l.classes.version == l.published {
		return
	}
	h := holding{}
	for _, c := range l.classes.slots {
		if !c.held {
			continue
		}
		names := h[c.key.Service]
		if names == nil {
			names = map[nameKind]struct{}{}
			h[c.key.Service] = names
		}
		names[nameKind{c.key.Name, c.key.Kind}] = struct{}{}
	}
	l.holding.Store(&h)
	l.published = l.classes.version
}

// ForResource returns hold: auto's test of the spans under rs, or nil when
// no class of rs's service is held: the hold then skips its spans at the
// cost of one lookup. It reads the published snapshot, without a lock.
func (l *Learner) ForResource(_ context.Context, rs ptrace.ResourceSpans) func(ptrace.Span) bool {
	h := l.holding.Load()
	if h == nil || len(*h) == 0 {
		return nil
	}
	names := (*h)[serviceName(rs)]
	if len(names) == 0 {
		return nil
	}
	return func(span ptrace.Span) bool {
		_, ok := names[nameKind{linkindex.CutName(span.Name()), span.Kind()}]
		return ok
	}
}
