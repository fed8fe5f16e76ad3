package spanlinksprocessor

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// spanFacts is what the fuzz test remembers of a span before processing.
type spanFacts struct {
	key            string
	links, dropped int
}

// fuzzTraces builds spans and links from data. IDs come from a pool of 8,
// some all zeros, so that duplicates, self links and invalid links are
// common.
func fuzzTraces(data []byte) ptrace.Traces {
	td := ptrace.NewTraces()
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	id := func(b byte) (pcommon.TraceID, pcommon.SpanID) {
		n := int(b % 8)
		if n == 0 {
			return pcommon.TraceID{}, spanID(kindTarget, 1)
		}
		if n == 1 {
			return traceID(kindTarget, 1), pcommon.SpanID{}
		}
		return traceID(kindTarget, n), spanID(kindTarget, n)
	}
	spans := int(next()%6) + 1
	for i := 0; i < spans && len(data) > 0; i++ {
		t, s := id(next() | 2) // a span's own IDs are valid
		span := addSpan(td, []string{"a", "b"}[i%2], t, s, "span")
		span.SetSpanID(spanID(kindBatch, i+1)) // unique per span
		if next()%4 == 0 {
			t, s := id(next())
			span.SetTraceID(t)
			span.SetSpanID(s)
		}
		span.SetDroppedLinksCount(uint32(next() % 4))
		links := int(next())
		for j := 0; j < links && len(data) > 0; j++ {
			b := next()
			lt, ls := id(b)
			if b%17 == 0 {
				lt, ls = span.TraceID(), span.SpanID() // self
			}
			l := linkTo(span, lt, ls, uint32(b)<<2&0x301)
			for k := 0; k < int(b%5); k++ {
				l.Attributes().PutInt(string(rune('a'+k)), int64(k))
			}
			if b%3 == 0 {
				l.TraceState().FromRaw("k=v")
			}
		}
	}
	return td
}

func FuzzProcessor(f *testing.F) {
	f.Add([]byte{3, 2, 0, 1, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, uint8(4), false)
	f.Add([]byte{5, 7, 1, 3, 200, 255, 254, 17, 34, 0, 0, 0, 9, 9, 9}, uint8(1), true)
	f.Fuzz(func(t *testing.T, data []byte, max uint8, first bool) {
		cfg := createDefaultConfig().(*Config)
		cfg.MaxLinksPerSpan = int(max%16) + 1
		cfg.MaxAttributesPerLink = 2
		if first {
			cfg.Truncation = TruncateFirst
		}
		cfg.Backlinks.Hold = Hold{Mode: HoldNone}
		require.NoError(t, cfg.Validate())

		td := fuzzTraces(data)
		var before []spanFacts
		forEachSpan(td, func(s ptrace.Span) {
			before = append(before, spanFacts{key: s.SpanID().String(), links: s.Links().Len(), dropped: int(s.DroppedLinksCount())})
		})

		sink := new(consumertest.TracesSink)
		p := newTestProcessor(t, cfg, sink, &fakeClock{t: start})
		require.NoError(t, p.ConsumeTraces(context.Background(), td))
		require.NoError(t, p.Shutdown(context.Background()))

		var after []ptrace.Span
		for _, out := range sink.AllTraces() {
			forEachSpan(out, func(s ptrace.Span) { after = append(after, s) })
		}
		require.Len(t, after, len(before), "a span was lost or added")
		for i, s := range after {
			b := before[i]
			require.Equal(t, b.key, s.SpanID().String(), "span %d moved", i)
			links := s.Links().Len()
			require.LessOrEqual(t, links, cfg.MaxLinksPerSpan)
			dropped := int(s.DroppedLinksCount()) - b.dropped
			require.Equal(t, b.links-links, dropped, "every dropped link is counted")
			for j := 0; j < links; j++ {
				require.LessOrEqual(t, s.Links().At(j).Attributes().Len(), cfg.MaxAttributesPerLink)
			}
			if v, ok := s.Attributes().Get(attrLinksKept); ok {
				require.Equal(t, int64(links), v.Int())
				total, _ := s.Attributes().Get(attrLinksTotal)
				require.Equal(t, int64(b.links+b.dropped), total.Int())
			} else {
				require.Zero(t, dropped, "a span that lost links is annotated")
			}
		}
	})
}
