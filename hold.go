package spanlinksprocessor

import (
	"sync"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// heldBatch is spans held together and released together, grouped by
// resource and scope as they arrived.
type heldBatch struct {
	td      ptrace.Traces
	spans   int
	bytes   int         // their protobuf size when held
	client  client.Info // who sent it: released under the sender's metadata
	part    linkindex.Partition
	arrived time.Time
	reason  string // why it is released, once it is due
}

// holdResult is what hold.add did with a batch.
type holdResult int

const (
	// holdWaits: the batch waits in the hold.
	holdWaits holdResult = iota
	// holdWaitsMadeDue: the batch waits, and older batches became due to
	// make room for it: the release loop has work.
	holdWaitsMadeDue
	// holdPasses: the batch was not held and the caller forwards it: it is
	// over the limits alone, the hold is closed, or the hold is full and
	// its due batches wait for the release loop.
	holdPasses
)

// hold keeps batches of spans for up to window, then hands them, oldest
// first, to the processor's release loop. It never drops one. Held batches
// never exceed limit spans and limitBytes bytes: past them the oldest of
// the partition holding the most (the new batch counted) become due early
// (reason capacity), so that a tenant's flood releases its own spans, not
// another's that holds less; unpartitioned, that is the oldest. Due
// batches not yet forwarded, the one being forwarded included, are bounded
// by the same limits: when they are full, a new batch is not held and its
// caller forwards it. So the hold keeps at most twice its limits, whatever
// the next consumer does.
type hold struct {
	window     time.Duration
	limit      int
	limitBytes int

	mu       sync.Mutex
	queue    []heldBatch // waiting, in arrival order, so expiry order too
	spans    int         // in queue
	bytes    int         // in queue
	due      []heldBatch // for the release loop, oldest first
	dueSpans int         // in due, and being forwarded
	dueBytes int         // in due, and being forwarded
	closed   bool

	parts shares // in queue, by partition
}

func newHold(window time.Duration, limit, limitBytes int) *hold {
	return &hold{window: window, limit: limit, limitBytes: limitBytes, parts: newShares(limit, limitBytes)}
}

// add holds td, n spans of size bytes of partition part sent by from that
// arrived at now, making older batches due if it needs room, and reports
// what it did.
func (h *hold) add(td ptrace.Traces, n, size int, part linkindex.Partition, from client.Info, now time.Time) holdResult {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || n > h.limit || size > h.limitBytes {
		return holdPasses
	}
	r := holdWaits
	for len(h.queue) > 0 && (h.spans+n > h.limit || h.bytes+size > h.limitBytes) {
		i, ok := h.givesWay(part, n, size)
		if !ok {
			// The new batch's partition holds the most and has nothing
			// older waiting: it is the one that gives way, unheld.
			return holdPasses
		}
		b := &h.queue[i]
		if h.dueSpans+b.spans > h.limit || h.dueBytes+b.bytes > h.limitBytes {
			break // the release loop is behind by a whole hold
		}
		h.makeDueAt(i, releaseCapacity)
		r = holdWaitsMadeDue
	}
	if h.spans+n > h.limit || h.bytes+size > h.limitBytes {
		return holdPasses
	}
	h.queue = append(h.queue, heldBatch{td: td, spans: n, bytes: size, client: from, part: part, arrived: now})
	h.spans += n
	h.bytes += size
	h.parts.add(part, n, size)
	return r
}

// givesWay returns the place in the queue of the batch that becomes due to
// make room for a batch of n spans and size bytes of partition part: the
// oldest of the partition that holds the most, the new batch counted
// (shares.givingWay). It reports false when that partition is part and has
// no batch waiting. It reads the queue up to that batch: unpartitioned,
// the first. h.mu must be held.
func (h *hold) givesWay(part linkindex.Partition, n, size int) (int, bool) {
	p := h.parts.givingWay(part, n, size)
	if !h.parts.holds(p) {
		return 0, false
	}
	for i := range h.queue {
		if h.queue[i].part == p {
			return i, true
		}
	}
	return 0, false // not reached: p holds a batch
}

// expire makes due the batches held for window or longer.
func (h *hold) expire(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for len(h.queue) > 0 && !now.Before(h.queue[0].arrived.Add(h.window)) {
		h.makeDueAt(0, releaseWindow)
	}
}

// next removes and returns the oldest due batch, which stays counted until
// done is called with it.
func (h *hold) next() (heldBatch, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.due) == 0 {
		return heldBatch{}, false
	}
	b := h.due[0]
	h.due[0] = heldBatch{}
	h.due = h.due[1:]
	return b, true
}

// done says that b, from next, has been forwarded.
func (h *hold) done(b heldBatch) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dueSpans -= b.spans
	h.dueBytes -= b.bytes
}

// close removes and returns every due and held batch, oldest first, the
// held ones with reason shutdown; from then on add holds nothing.
func (h *hold) close() []heldBatch {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	out := h.due
	h.due = nil
	for _, b := range out {
		h.dueSpans -= b.spans
		h.dueBytes -= b.bytes
	}
	for _, b := range h.queue {
		b.reason = releaseShutdown
		out = append(out, b)
	}
	h.queue, h.spans, h.bytes = nil, 0, 0
	h.parts.reset()
	return out
}

// len reports how many spans the hold keeps: held, due, and being
// forwarded.
func (h *hold) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.spans + h.dueSpans
}

// size reports the protobuf size of what the hold keeps, as len counts.
func (h *hold) size() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bytes + h.dueBytes
}

// makeDueAt moves the i-th held batch to the due ones, released for
// reason; h.mu must be held. The queue keeps its order.
func (h *hold) makeDueAt(i int, reason string) {
	b := h.queue[i]
	// The batches before it move up one: O(i), not O(len(queue)), since
	// the batch that gives way is mostly near the front.
	copy(h.queue[1:i+1], h.queue[:i])
	h.queue[0] = heldBatch{}
	h.queue = h.queue[1:]
	h.spans -= b.spans
	h.bytes -= b.bytes
	h.parts.add(b.part, -b.spans, -b.bytes)
	b.reason = reason
	h.due = append(h.due, b)
	h.dueSpans += b.spans
	h.dueBytes += b.bytes
}
