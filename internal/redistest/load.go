package redistest

import (
	be "encoding/binary"
	"math/rand/v2"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
)

// Span is one span of a generated load: its IDs, the spans it links to and
// its name.
type Span struct {
	ID    linkindex.Key
	Links []linkindex.Key
	Name  string
}

// TelemetrygenLoad returns n spans as make bench-e2e's telemetrygen makes
// them (cmd/telemetrygen v0.161.0, --child-spans 1 --span-links links): a
// span links links spans drawn at random, with repeats, from the 1000
// before it (the first span links none), so that a span is linked links
// times on average, by spans that come after it. Spans alternate between
// telemetrygen's two names. The same seed gives the same spans.
func TelemetrygenLoad(seed uint64, n, links int) []Span {
	r := rand.New(rand.NewPCG(seed, 9))
	out := make([]Span, n)
	for i := range out {
		var tr [16]byte
		var sp [8]byte
		be.LittleEndian.PutUint64(tr[:8], r.Uint64())
		be.LittleEndian.PutUint64(tr[8:], r.Uint64())
		be.LittleEndian.PutUint64(sp[:], r.Uint64())
		out[i].ID = linkindex.KeyOf(tr, sp)
		out[i].Name = []string{"lets-go", "okey-dokey-0"}[i%2]
		if i == 0 {
			continue
		}
		lo := max(0, i-1000)
		for range links {
			out[i].Links = append(out[i].Links, out[lo+r.IntN(i-lo)].ID)
		}
	}
	return out
}

// Batch returns the links of spans, each span's after the span that makes
// them, and the spans' own IDs to look up: what the processor adds and
// looks up for a batch with hold: none.
func Batch(spans []Span, b *linkindex.Links, q *linkindex.Targets) {
	b.Reset()
	q.Reset()
	for _, s := range spans {
		for _, l := range s.Links {
			b.Link(l)
		}
		b.Linker(s.ID, s.Name, false)
		q.Add(s.ID)
	}
}
