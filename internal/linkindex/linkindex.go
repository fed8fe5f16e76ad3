// Package linkindex maps span link targets to the spans that link to them,
// for the spanlinks processor: an entry is one (target, linker) pair, seen
// at a time, and lives for the index's lifetime; a lookup counts the entries
// added after a given time.
//
// Work comes in batches: a batch's links are gathered in a Links and added
// together, and a batch's spans are gathered in a Targets and looked up
// together, so that an index can take one lock per shard, or one round trip
// per batch, instead of one per link. Memory is the in-memory index;
// package linkindextest holds the conformance suite that every index passes.
package linkindex

import (
	"encoding/binary"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Ref names a span by its trace ID and span ID.
type Ref struct {
	TraceID pcommon.TraceID
	SpanID  pcommon.SpanID
}

// Linker is a span that links to a target: its IDs, its name, and whether
// it ended with status Error.
type Linker struct {
	Ref
	Name  string
	Error bool
}

// Backlinks is what an index knows of the spans that link to one target.
type Backlinks struct {
	Count      int      // distinct linkers seen within the window
	ErrorCount int      // how many of those ended with status Error
	Linkers    []Linker // the first (oldest) of them, up to a limit, in arrival order
}

// Stats reports what an index holds and what it dropped, by reason, since
// it was created.
type Stats struct {
	Entries int    // entries held now
	Expired uint64 // entries dropped for being older than the window
	Evicted uint64 // entries dropped for capacity
}

// Key is a Ref as indexes keep and compare it: three words, which fit in
// registers.
type Key struct{ t0, t1, s uint64 }

// KeyOf returns the Key of a trace ID and a span ID.
func KeyOf(t pcommon.TraceID, s pcommon.SpanID) Key {
	return Key{
		t0: binary.LittleEndian.Uint64(t[:8]),
		t1: binary.LittleEndian.Uint64(t[8:]),
		s:  binary.LittleEndian.Uint64(s[:]),
	}
}

// Valid reports whether neither ID is all zeros.
func (k Key) Valid() bool { return k.t0|k.t1 != 0 && k.s != 0 }

// Words returns k's three words, for a hash.
func (k Key) Words() (t0, t1, s uint64) { return k.t0, k.t1, k.s }

// Ref returns k as a Ref.
func (k Key) Ref() Ref {
	var r Ref
	binary.LittleEndian.PutUint64(r.TraceID[:8], k.t0)
	binary.LittleEndian.PutUint64(r.TraceID[8:], k.t1)
	binary.LittleEndian.PutUint64(r.SpanID[:], k.s)
	return r
}
