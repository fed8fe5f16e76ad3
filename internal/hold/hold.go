// Package hold keeps batches of spans for up to a window, so that linkers
// arriving after them still give them backlinks (docs/contract.md, step 6),
// and hands them, oldest first, to the processor's release loop. It never
// drops a batch. It also chooses which spans are held (Chooser, Matcher,
// Take) and splits what is held by tenant (Split).
package hold

import (
	"sync"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Batch is spans held together and released together, grouped by
// resource and scope as they arrived.
type Batch struct {
	Traces  ptrace.Traces
	Spans   int
	Bytes   int         // their protobuf size when held
	Client  client.Info // who sent it: released under the sender's metadata
	Part    linkindex.Partition
	Arrived time.Time
	Reason  string // why it is released, once it is due
	Key     string // its record in the Store; empty when it is not stored
}

// Reasons a batch is released, the reason attribute of the processor's
// released_spans metric.
const (
	// ReasonWindow: held for the whole window.
	ReasonWindow = "window"
	// ReasonCapacity: made due early, to make room under the limits.
	ReasonCapacity = "capacity"
	// ReasonShutdown: still held when the hold closed.
	ReasonShutdown = "shutdown"
	// ReasonFull: never held, because the hold and the batches due were
	// full, or the batch alone is over the limits; it passed in its
	// sender's call.
	ReasonFull = "full"
)

// Reasons lists every reason a batch is released.
var Reasons = []string{ReasonWindow, ReasonCapacity, ReasonShutdown, ReasonFull}

// Result is what Hold.Add did with a batch.
type Result int

const (
	// Waits: the batch waits in the hold.
	Waits Result = iota
	// WaitsMadeDue: the batch waits, and older batches became due to
	// make room for it: the release loop has work.
	WaitsMadeDue
	// Passes: the batch was not held and the caller forwards it: it is
	// over the limits alone, the hold is closed, or the hold is full and
	// its due batches wait for the release loop.
	Passes
)

// Hold keeps batches of spans for up to window, then hands them, oldest
// first, to the processor's release loop. It never drops one. Held batches
// never exceed limit spans and limitBytes bytes: past them the oldest of
// the partition holding the most (the new batch counted) become due early
// (reason capacity), so that a tenant's flood releases its own spans, not
// another's that holds less; unpartitioned, that is the oldest. Due
// batches not yet forwarded, the one being forwarded included, are bounded
// by the same limits: when they are full, a new batch is not held and its
// caller forwards it. So the hold keeps at most twice its limits, whatever
// the next consumer does.
type Hold struct {
	window     time.Duration
	limit      int
	limitBytes int

	mu       sync.Mutex
	queue    []Batch // waiting, in arrival order, so expiry order too
	spans    int     // in queue
	bytes    int     // in queue
	due      []Batch // for the release loop, oldest first
	dueSpans int     // in due, and being forwarded
	dueBytes int     // in due, and being forwarded
	closed   bool

	parts shares // in queue, by partition
}

// New returns a hold of batches for up to window, of at most limit spans
// and limitBytes bytes.
func New(window time.Duration, limit, limitBytes int) *Hold {
	return &Hold{window: window, limit: limit, limitBytes: limitBytes, parts: newShares(limit, limitBytes)}
}

// Add holds b, its Spans, Bytes, Client, Part and Arrived set, making older
// batches due if it needs room, and reports what it did.
func (h *Hold) Add(b Batch) Result {
	n, size, part := b.Spans, b.Bytes, b.Part
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || n > h.limit || size > h.limitBytes {
		return Passes
	}
	r := Waits
	for len(h.queue) > 0 && (h.spans+n > h.limit || h.bytes+size > h.limitBytes) {
		i, ok := h.givesWay(part, n, size)
		if !ok {
			// The new batch's partition holds the most and has nothing
			// older waiting: it is the one that gives way, unheld.
			return Passes
		}
		q := &h.queue[i]
		if h.dueSpans+q.Spans > h.limit || h.dueBytes+q.Bytes > h.limitBytes {
			break // the release loop is behind by a whole hold
		}
		h.makeDueAt(i, ReasonCapacity)
		r = WaitsMadeDue
	}
	if h.spans+n > h.limit || h.bytes+size > h.limitBytes {
		return Passes
	}
	b.Reason = ""
	h.queue = append(h.queue, b)
	h.spans += n
	h.bytes += size
	h.parts.add(part, n, size)
	return r
}

// Restore holds b, a batch loaded from the Store at start, as Add does,
// making older batches due if it needs room. A batch that Add would pass
// (it is over the limits alone, or the hold and its due batches are full)
// becomes due at once, reason capacity, whatever the limits: it was
// acknowledged to its sender before the restart, and only the release
// loop forwards it. It reports whether the release loop has work.
func (h *Hold) Restore(b Batch) bool {
	switch h.Add(b) {
	case Waits:
		return false
	case WaitsMadeDue:
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	b.Reason = ReasonCapacity
	h.due = append(h.due, b)
	h.dueSpans += b.Spans
	h.dueBytes += b.Bytes
	return true
}

// givesWay returns the place in the queue of the batch that becomes due to
// make room for a batch of n spans and size bytes of partition part: the
// oldest of the partition that holds the most, the new batch counted
// (shares.givingWay). It reports false when that partition is part and has
// no batch waiting. It reads the queue up to that batch: unpartitioned,
// the first. h.mu must be held.
func (h *Hold) givesWay(part linkindex.Partition, n, size int) (int, bool) {
	p := h.parts.givingWay(part, n, size)
	if !h.parts.holds(p) {
		return 0, false
	}
	for i := range h.queue {
		if h.queue[i].Part == p {
			return i, true
		}
	}
	return 0, false // not reached: p holds a batch
}

// Expire makes due the batches held for window or longer.
func (h *Hold) Expire(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for len(h.queue) > 0 && !now.Before(h.queue[0].Arrived.Add(h.window)) {
		h.makeDueAt(0, ReasonWindow)
	}
}

// Next removes and returns the oldest due batch, which stays counted until
// Done is called with it.
func (h *Hold) Next() (Batch, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.due) == 0 {
		return Batch{}, false
	}
	b := h.due[0]
	h.due[0] = Batch{}
	h.due = h.due[1:]
	return b, true
}

// Done says that b, from Next, has been forwarded.
func (h *Hold) Done(b Batch) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dueSpans -= b.Spans
	h.dueBytes -= b.Bytes
}

// Close removes and returns every due and held batch, oldest first, the
// held ones with reason shutdown; from then on Add holds nothing.
func (h *Hold) Close() []Batch {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	out := h.due
	h.due = nil
	for _, b := range out {
		h.dueSpans -= b.Spans
		h.dueBytes -= b.Bytes
	}
	for _, b := range h.queue {
		b.Reason = ReasonShutdown
		out = append(out, b)
	}
	h.queue, h.spans, h.bytes = nil, 0, 0
	h.parts.reset()
	return out
}

// Len reports how many spans the hold keeps: held, due, and being
// forwarded.
func (h *Hold) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.spans + h.dueSpans
}

// Size reports the protobuf size of what the hold keeps, as Len counts.
func (h *Hold) Size() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bytes + h.dueBytes
}

// makeDueAt moves the i-th held batch to the due ones, released for
// reason; h.mu must be held. The queue keeps its order.
func (h *Hold) makeDueAt(i int, reason string) {
	b := h.queue[i]
	// The batches before it move up one: O(i), not O(len(queue)), since
	// the batch that gives way is mostly near the front.
	copy(h.queue[1:i+1], h.queue[:i])
	h.queue[0] = Batch{}
	h.queue = h.queue[1:]
	h.spans -= b.Spans
	h.bytes -= b.Bytes
	h.parts.add(b.Part, -b.Spans, -b.Bytes)
	b.Reason = reason
	h.due = append(h.due, b)
	h.dueSpans += b.Spans
	h.dueBytes += b.Bytes
}

// Waiting reports how many batches wait in the hold, not yet due.
func (h *Hold) Waiting() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.queue)
}

// Share reports how many spans of partition p wait in the hold.
func (h *Hold) Share(p linkindex.Partition) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if sh := h.parts.by[p]; sh != nil {
		return sh.spans
	}
	return 0
}
