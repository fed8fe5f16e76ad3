package spanlinksprocessor

import (
	"encoding/binary"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// randRef returns a SpanRef with random IDs, as an SDK would make them.
func randRef(r *rand.Rand) SpanRef {
	var s SpanRef
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
func fillIndex(ix *memoryIndex, r *rand.Rand, n int, now time.Time, keep bool) []SpanRef {
	var targets []SpanRef
	if keep {
		targets = make([]SpanRef, 0, n)
	}
	for range n {
		t := randRef(r)
		ix.Add(t, Linker{SpanRef: randRef(r), Name: benchName}, now)
		if keep {
			targets = append(targets, t)
		}
	}
	return targets
}

func BenchmarkLinkIndexAdd(b *testing.B) {
	ix := newMemoryIndex(time.Minute, 1_000_000)
	r := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		ix.Add(randRef(r), Linker{SpanRef: randRef(r), Name: benchName}, now)
	}
	b.ReportMetric(float64(ix.Len()), "entries")
}

func BenchmarkLinkIndexLookupHit(b *testing.B) {
	const linkersPerTarget = 8
	ix := newMemoryIndex(time.Minute, 1_000_000)
	r := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	targets := fillIndex(ix, r, 100_000, now, true)
	for _, t := range targets {
		for range linkersPerTarget - 1 {
			ix.Add(t, Linker{SpanRef: randRef(r), Name: benchName}, now)
		}
	}
	b.ReportAllocs()
	i, listed := 0, 0
	for b.Loop() {
		listed += len(ix.Lookup(targets[i%len(targets)], 0, CursorEnd, now, 32).Linkers)
		i++
	}
	b.ReportMetric(float64(listed)/float64(i), "linkers/op")
}

func BenchmarkLinkIndexLookupMiss(b *testing.B) {
	ix := newMemoryIndex(time.Minute, 1_000_000)
	r := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	fillIndex(ix, r, 100_000, now, false)
	misses := make([]SpanRef, 1024)
	for i := range misses {
		misses[i] = randRef(r)
	}
	b.ReportAllocs()
	i, hits := 0, 0
	for b.Loop() {
		hits += ix.Lookup(misses[i%len(misses)], 0, CursorEnd, now, 32).Count
		i++
	}
	b.ReportMetric(float64(hits)/float64(i), "hits/op")
}

// BenchmarkLinkIndexParallel runs what the processor does per span from every
// core: look up the span's own IDs (a miss, mostly) and add one link.
func BenchmarkLinkIndexParallel(b *testing.B) {
	ix := newMemoryIndex(time.Minute, 1_000_000)
	now := time.Now()
	fillIndex(ix, rand.New(rand.NewPCG(1, 2)), 100_000, now, false)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
		for pb.Next() {
			ix.Lookup(randRef(r), 0, CursorEnd, now, 32)
			ix.Add(randRef(r), Linker{SpanRef: randRef(r), Name: benchName}, now)
		}
	})
	b.ReportMetric(float64(ix.Len()), "entries")
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
		ix := newMemoryIndex(time.Minute, n)
		fillIndex(ix, rand.New(rand.NewPCG(1, 2)), n, now, false)
		runtime.GC()
		runtime.ReadMemStats(&after)
		held = ix.Len()
		if held < n*99/100 {
			b.Fatalf("Len = %d after %d adds, want about %d", held, n, n)
		}
		perEntry = float64(after.HeapAlloc-before.HeapAlloc) / float64(held)
		runtime.KeepAlive(ix)
	}
	b.ReportMetric(float64(held), "entries")
	b.ReportMetric(perEntry, "bytes/entry")
}
