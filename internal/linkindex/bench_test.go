package linkindex

import (
	"encoding/binary"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// randRef returns a Ref with random IDs, as an SDK would make them.
func randRef(r *rand.Rand) Ref {
	var s Ref
	binary.LittleEndian.PutUint64(s.TraceID[:8], r.Uint64())
	binary.LittleEndian.PutUint64(s.TraceID[8:], r.Uint64())
	binary.LittleEndian.PutUint64(s.SpanID[:], r.Uint64())
	return s
}

// benchName is the one span name every benchmark linker shares, as the spans
// of one batch job do.
const benchName = "process-batch"

// fillIndex adds n entries with distinct random targets to ix at now and
// returns the targets when keep is set.
func fillIndex(ix *Memory, r *rand.Rand, n int, now time.Time, keep bool) []Ref {
	var targets []Ref
	if keep {
		targets = make([]Ref, 0, n)
	}
	o := &one{ix: ix}
	for range n {
		t := randRef(r)
		o.add(t, Linker{Ref: randRef(r), Name: benchName}, now)
		if keep {
			targets = append(targets, t)
		}
	}
	return targets
}

func BenchmarkLinkIndexAdd(b *testing.B) {
	ix := NewMemory(time.Minute, 1_000_000)
	r := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	o := &one{ix: ix}
	b.ReportAllocs()
	for b.Loop() {
		o.add(randRef(r), Linker{Ref: randRef(r), Name: benchName}, now)
	}
	b.ReportMetric(float64(ix.Stats().Entries), "entries")
}

func BenchmarkLinkIndexLookupHit(b *testing.B) {
	const linkersPerTarget = 8
	ix := NewMemory(time.Minute, 1_000_000)
	r := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	targets := fillIndex(ix, r, 100_000, now, true)
	o := &one{ix: ix}
	for _, t := range targets {
		for range linkersPerTarget - 1 {
			o.add(t, Linker{Ref: randRef(r), Name: benchName}, now)
		}
	}
	b.ReportAllocs()
	i, listed := 0, 0
	for b.Loop() {
		listed += len(o.lookup(targets[i%len(targets)], allTime, 32).Linkers)
		i++
	}
	b.ReportMetric(float64(listed)/float64(i), "linkers/op")
}

func BenchmarkLinkIndexLookupMiss(b *testing.B) {
	ix := NewMemory(time.Minute, 1_000_000)
	r := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	fillIndex(ix, r, 100_000, now, false)
	misses := make([]Ref, 1024)
	for i := range misses {
		misses[i] = randRef(r)
	}
	o := &one{ix: ix}
	b.ReportAllocs()
	i, hits := 0, 0
	for b.Loop() {
		hits += o.lookup(misses[i%len(misses)], allTime, 32).Count
		i++
	}
	b.ReportMetric(float64(hits)/float64(i), "hits/op")
}

// BenchmarkLinkIndexParallel runs what the processor does per span from every
// core: look up the span's own IDs (a miss, mostly) and add one link.
func BenchmarkLinkIndexParallel(b *testing.B) {
	ix := NewMemory(time.Minute, 1_000_000)
	now := time.Now()
	fillIndex(ix, rand.New(rand.NewPCG(1, 2)), 100_000, now, false)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
		o := &one{ix: ix}
		for pb.Next() {
			o.lookup(randRef(r), allTime, 32)
			o.add(randRef(r), Linker{Ref: randRef(r), Name: benchName}, now)
		}
	})
	b.ReportMetric(float64(ix.Stats().Entries), "entries")
}

// BenchmarkLinkIndexMemory1M measures the heap an index of one million
// entries takes, filled with distinct targets and one shared linker name.
// Shards fill unevenly, so a few entries are evicted before the whole index is
// full: bytes/entry divides by the entries held.
func BenchmarkLinkIndexMemory1M(b *testing.B) {
	const n = 1_000_000
	now := time.Now()
	var perEntry float64
	var held int
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		ix := NewMemory(time.Minute, n)
		fillIndex(ix, rand.New(rand.NewPCG(1, 2)), n, now, false)
		runtime.GC()
		runtime.ReadMemStats(&after)
		held = ix.Stats().Entries
		if held < n*99/100 {
			b.Fatalf("Len = %d after %d adds, want about %d", held, n, n)
		}
		perEntry = float64(after.HeapAlloc-before.HeapAlloc) / float64(held)
		runtime.KeepAlive(ix)
	}
	b.ReportMetric(float64(held), "entries")
	b.ReportMetric(perEntry, "bytes/entry")
}
