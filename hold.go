package spanlinksprocessor

import (
	"sync"
	"time"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// heldBatch is spans held together and released together, grouped by
// resource and scope as they arrived.
type heldBatch struct {
	td      ptrace.Traces
	spans   int
	client  client.Info // who sent it: released under the sender's metadata
	arrived time.Time
}

// hold keeps batches of spans for up to window, releasing the oldest first.
// It never holds more than limit spans and never drops one: past limit, or
// once closed, batches leave at once.
type hold struct {
	window time.Duration
	limit  int

	mu     sync.Mutex
	queue  []heldBatch // arrival order, so expiry order too
	spans  int
	closed bool
}

func newHold(window time.Duration, limit int) *hold {
	return &hold{window: window, limit: limit}
}

// add holds td, n spans sent by from that arrived at now, and returns the batches that
// must be released at once, oldest first: those over the limit (td itself
// when it alone is over it), or td when the hold is closed.
func (h *hold) add(td ptrace.Traces, n int, from client.Info, now time.Time) []heldBatch {
	b := heldBatch{td: td, spans: n, client: from, arrived: now}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return []heldBatch{b}
	}
	h.queue = append(h.queue, b)
	h.spans += n
	var over []heldBatch
	for h.spans > h.limit {
		over = append(over, h.pop())
	}
	return over
}

// expired removes and returns the batches held for window or longer.
func (h *hold) expired(now time.Time) []heldBatch {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []heldBatch
	for len(h.queue) > 0 && !now.Before(h.queue[0].arrived.Add(h.window)) {
		out = append(out, h.pop())
	}
	return out
}

// close removes and returns everything held; from then on add holds nothing.
func (h *hold) close() []heldBatch {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	var out []heldBatch
	for len(h.queue) > 0 {
		out = append(out, h.pop())
	}
	return out
}

// len reports how many spans are held.
func (h *hold) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.spans
}

// pop removes the oldest batch; h.mu must be held.
func (h *hold) pop() heldBatch {
	b := h.queue[0]
	h.queue[0] = heldBatch{}
	h.queue = h.queue[1:]
	h.spans -= b.spans
	return b
}
