package linkindex

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// readmeBytesPerEntry is the index's memory per entry at 1M entries that
// the README plans with (BenchmarkLinkIndexMemory1M, one shared linker
// name, printed 97.8; 89.9 before entries carried a partition word).
const readmeBytesPerEntry = 98

// maxBytesPerEntry bounds the index's memory per entry whatever the span
// names, with 5 links per linker.
const maxBytesPerEntry = 2 * readmeBytesPerEntry

// TestUniqueLongNamesMemory fills a 1M-entry index, as the README's figure
// is measured, with 200,000 linkers of 5 links each whose span names are
// unique and 4 KiB long, as a hostile sender would, in batches of 100
// linkers: the index's heap per entry stays within twice the README's
// figure. A name is stored cut to MaxNameBytes, once per linker in the
// index's one name table, not once per shard its links land in. Before,
// 20,000 such linkers took 4,025 bytes per entry; now 1M entries take about
// 161, against 98 with one shared name: a fifth of each name's 256 bytes and
// table slot.
func TestUniqueLongNamesMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("fills an index of 1M entries")
	}
	const linkers, linksEach, perBatch = 200_000, 5, 100
	r := rand.New(rand.NewPCG(3, 4))
	now := time.Now()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ix := NewMemory(time.Minute, 1_000_000)
	var b Links
	for i := 0; i < linkers; i += perBatch {
		b.Reset()
		for j := i; j < i+perBatch; j++ {
			for range linksEach {
				t := randRef(r)
				b.Link(KeyOf(t.TraceID, t.SpanID))
			}
			l := randRef(r)
			// Unique in its first bytes, so that cutting it keeps it unique.
			name := fmt.Sprintf("%08d", j) + strings.Repeat("é", (4096-8)/2)
			b.Linker(KeyOf(l.TraceID, l.SpanID), name, false)
		}
		if err := ix.Add(context.Background(), &b, now); err != nil {
			t.Fatal(err)
		}
	}
	b = Links{}
	runtime.GC()
	runtime.ReadMemStats(&after)
	entries := ix.Stats().Entries
	// Shards fill unevenly: a few entries are evicted before the whole
	// index is full, as in BenchmarkLinkIndexMemory1M.
	if entries < linkers*linksEach*99/100 {
		t.Fatalf("%d entries, want about %d", entries, linkers*linksEach)
	}
	perEntry := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(entries)
	t.Logf("%.1f bytes per entry for %d entries with unique 4 KiB names (README: %d)", perEntry, entries, readmeBytesPerEntry)
	if perEntry > maxBytesPerEntry {
		t.Errorf("%.1f bytes per entry, want at most %d (twice the README's %d)", perEntry, maxBytesPerEntry, readmeBytesPerEntry)
	}
	runtime.KeepAlive(ix)
}

// TestNamesStoredCut: a linker's name comes back cut to MaxNameBytes at a
// rune boundary; shorter names come back whole.
func TestNamesStoredCut(t *testing.T) {
	ix := NewMemory(time.Minute, 1024)
	now := time.Now()
	r := rand.New(rand.NewPCG(5, 6))
	long := "x" + strings.Repeat("é", 300) // 'é' is 2 bytes: byte 256 is inside one
	for _, tc := range []struct{ name, want string }{
		{"process-batch", "process-batch"},
		{strings.Repeat("a", MaxNameBytes), strings.Repeat("a", MaxNameBytes)},
		{strings.Repeat("a", 4096), strings.Repeat("a", MaxNameBytes)},
		{long, long[:MaxNameBytes-1]},
	} {
		target := randRef(r)
		add1(ix, target, Linker{Ref: randRef(r), Name: tc.name}, now)
		got := lookup1(ix, target, now.Add(-time.Minute), 1)
		if len(got.Linkers) != 1 || got.Linkers[0].Name != tc.want {
			t.Errorf("name of %d bytes came back as %+v, want %d bytes", len(tc.name), got.Linkers, len(tc.want))
			continue
		}
		if !utf8.ValidString(got.Linkers[0].Name) {
			t.Errorf("cut name %q is not valid UTF-8", got.Linkers[0].Name)
		}
	}
}
