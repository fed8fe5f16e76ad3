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
	"crypto/sha256"
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

// Key is a Ref as indexes keep and compare it, within a partition: four
// words, which fit in registers. Keys of different partitions never match,
// whatever their IDs.
type Key struct {
	ids
	p Partition
}

// ids are a Ref's three words; an entry keeps its linker's as ids, since a
// linker is in its target's partition.
type ids struct{ t0, t1, s uint64 }

// Partition names a tenant's share of an index: links pair only within one.
// Zero is the one partition of an index that is not partitioned.
type Partition uint64

// PartitionOf returns the partition of the tenant called name: the first 8
// bytes of its SHA-256, never zero, so that no tenant can pick a name (or
// IDs) that lands in another's partition short of a second preimage of
// SHA-256 cut to 64 bits. Every collector computes the same one, so that a
// shared index (Redis) partitions alike.
func PartitionOf(name string) Partition {
	h := sha256.Sum256([]byte(name))
	return Partition(max(binary.BigEndian.Uint64(h[:8]), 1))
}

// KeyOf returns the Key of a trace ID and a span ID, in partition zero.
func KeyOf(t pcommon.TraceID, s pcommon.SpanID) Key {
	return Key{ids: ids{
		t0: binary.LittleEndian.Uint64(t[:8]),
		t1: binary.LittleEndian.Uint64(t[8:]),
		s:  binary.LittleEndian.Uint64(s[:]),
	}}
}

// In returns k in partition p.
func (k Key) In(p Partition) Key {
	k.p = p
	return k
}

// Partition returns the partition of k.
func (k Key) Partition() Partition { return k.p }

// Valid reports whether neither ID is all zeros.
func (k Key) Valid() bool { return k.t0|k.t1 != 0 && k.s != 0 }

// Words returns k's three words, for a hash.
func (k Key) Words() (t0, t1, s uint64) { return k.t0, k.t1, k.s }

// Ref returns k's IDs as a Ref, without its partition.
func (k Key) Ref() Ref { return k.ids.ref() }

// ref returns the IDs as a Ref.
func (k ids) ref() Ref {
	var r Ref
	binary.LittleEndian.PutUint64(r.TraceID[:8], k.t0)
	binary.LittleEndian.PutUint64(r.TraceID[8:], k.t1)
	binary.LittleEndian.PutUint64(r.SpanID[:], k.s)
	return r
}
