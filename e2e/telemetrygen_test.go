package e2e

import (
	"context"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TestTelemetrygenShutdownReleasesHeldSpans sends telemetrygen's spans, each
// with 5 links to random earlier spans (so with duplicates), to a collector
// whose window is far longer than the test, checks that the processor still
// holds them all, stops the collector with SIGTERM and checks that every
// span arrived exactly once, repaired, annotated and backlinked.
func TestTelemetrygenShutdownReleasesHeldSpans(t *testing.T) {
	const (
		traces    = 50
		perTrace  = 2 // telemetrygen's parent span and --child-spans 1
		spans     = traces * perTrace
		spanLinks = 5
		listMax   = 32 // max_backlinks_per_span, default
	)
	s := newSink(t)
	c := startCollector(t, collectorConfig{window: time.Minute, exportTo: s.endpoint()})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, telemetrygenBinary(t), "traces",
		"--otlp-endpoint", c.grpcAddr, "--otlp-insecure",
		"--traces", strconv.Itoa(traces), "--workers", "1", "--rate", "0",
		"--child-spans", "1", "--span-links", strconv.Itoa(spanLinks),
		"--service", "e2e-telemetrygen")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("telemetrygen: %v\n%s", err, out)
	}

	// Every span reached the collector: held by spanlinks (or, without it,
	// already exported).
	held := func() float64 {
		v, _ := c.metric("otelcol_processor_spanlinks_held_spans")
		return v
	}
	if !s.waitFor(30*time.Second, func(got []ptrace.Span) bool { return int(held())+len(got) >= spans }) {
		t.Errorf("30s after telemetrygen: %v spans held, %d exported; want %d in all", held(), len(s.received()), spans)
	}
	if n := len(s.received()); n != 0 {
		t.Errorf("%d spans left the collector before SIGTERM; with backlinks.window 1m and hold all, all %d must still be held", n, spans)
	} else {
		t.Logf("before SIGTERM: %v spans held by spanlinks, none exported", held())
	}

	c.stop(t) // Shutdown releases every held span
	got := s.received()

	// Exactly once: telemetrygen's span IDs are unknown here, so count them,
	// and count their distinct IDs.
	ids := map[spanRef]int{}
	traceIDs := map[string]bool{}
	for _, sp := range got {
		ids[refOf(sp)]++
		traceIDs[sp.TraceID().String()] = true
	}
	if len(got) != spans || len(ids) != spans || len(traceIDs) != traces {
		t.Errorf("exactly once: received %d spans, %d distinct, in %d traces; want %d spans in %d traces",
			len(got), len(ids), len(traceIDs), spans, traces)
	}
	for r, n := range ids {
		if n > 1 {
			t.Errorf("span %s arrived %d times", r, n)
		}
	}

	// Links: repaired (telemetrygen draws its 5 targets with replacement, so
	// duplicates are common) and annotated; all kept links distinct.
	byRef := map[spanRef]ptrace.Span{}
	for _, sp := range got {
		byRef[refOf(sp)] = sp
	}
	linkers := map[spanRef]map[spanRef]bool{} // target -> spans linking to it
	noLinks, dropped := 0, 0
	ce := &cappedErrors{t: t, max: 20}
	for _, sp := range got {
		self := refOf(sp)
		if sp.Links().Len() == 0 && !hasAttrPrefix(sp, "spanlinks.links.") {
			noLinks++ // telemetrygen's very first span: nothing to link to yet
			continue
		}
		kept := sp.Links().Len()
		seen := map[spanRef]bool{}
		for _, l := range sp.Links().All() {
			to := spanRef{l.TraceID(), l.SpanID()}
			if seen[to] || to == self {
				ce.Errorf("%s %s: kept a duplicate or self link to %s", sp.Name(), self, to)
			}
			seen[to] = true
			if linkers[to] == nil {
				linkers[to] = map[spanRef]bool{}
			}
			linkers[to][self] = true
		}
		dropped += spanLinks - kept
		wantInt(ce, sp, "spanlinks.links.total", spanLinks)
		wantInt(ce, sp, "spanlinks.links.kept", int64(kept))
		wantInt(ce, sp, "spanlinks.links.invalid", int64(spanLinks-kept))
		if got, want := sp.DroppedLinksCount(), uint32(spanLinks-kept); got != want {
			ce.Errorf("%s %s: DroppedLinksCount = %d, want %d", sp.Name(), self, got, want)
		}
	}
	if noLinks != 1 {
		ce.Errorf("%d spans without links, want 1 (telemetrygen's first span)", noLinks)
	}

	// Backlinks: every span linked to lists its linkers, all of them seen
	// within the window, none failed.
	backlinked := 0
	for _, sp := range got {
		from := linkers[refOf(sp)]
		if len(from) == 0 {
			if hasAttrPrefix(sp, "spanlinks.backlinks.") {
				ce.Errorf("%s %s: nothing links here, yet it has spanlinks.backlinks.*", sp.Name(), refOf(sp))
			}
			continue
		}
		backlinked++
		wantInt(ce, sp, "spanlinks.backlinks.count", int64(len(from)))
		wantInt(ce, sp, "spanlinks.backlinks.error_count", 0)
		tids, _ := stringsAttr(sp, "spanlinks.backlinks.trace_ids")
		sids, _ := stringsAttr(sp, "spanlinks.backlinks.span_ids")
		names, _ := stringsAttr(sp, "spanlinks.backlinks.span_names")
		if want := min(len(from), listMax); len(tids) != want || len(sids) != want || len(names) != want {
			ce.Errorf("%s %s: backlink lists of %d, %d, %d entries, want %d",
				sp.Name(), refOf(sp), len(tids), len(sids), len(names), want)
			continue
		}
		for i := range sids {
			r, ok := parseRef(tids[i], sids[i])
			if !ok || !from[r] {
				ce.Errorf("%s %s: backlink %s/%s is not a span linking here", sp.Name(), refOf(sp), tids[i], sids[i])
				continue
			}
			if linker := byRef[r]; names[i] != linker.Name() {
				ce.Errorf("%s %s: backlink name %q, want %q", sp.Name(), refOf(sp), names[i], linker.Name())
			}
		}
	}
	ce.done()
	if backlinked == 0 || dropped == 0 {
		t.Errorf("%d spans backlinked, %d links dropped: telemetrygen's links should give both", backlinked, dropped)
	}
	t.Logf("%d spans received once each after SIGTERM, %d traces; %d links dropped as duplicates; %d spans backlinked",
		len(got), len(traceIDs), dropped, backlinked)
}

// parseRef parses hex trace and span IDs.
func parseRef(traceID, spanID string) (spanRef, bool) {
	var r spanRef
	if len(traceID) != 32 || len(spanID) != 16 {
		return r, false
	}
	for i := range r.trace {
		b, err := strconv.ParseUint(traceID[2*i:2*i+2], 16, 8)
		if err != nil {
			return r, false
		}
		r.trace[i] = byte(b)
	}
	for i := range r.span {
		b, err := strconv.ParseUint(spanID[2*i:2*i+2], 16, 8)
		if err != nil {
			return r, false
		}
		r.span[i] = byte(b)
	}
	return r, true
}
