package e2e

import (
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// metricSum returns the sum of the samples of name on the collector's
// metrics endpoint whose labels include label (all of them when label is
// empty), e.g. metricSum("..._released_spans", `reason="window"`).
func (c *collector) metricSum(t *testing.T, name, label string) float64 {
	t.Helper()
	samples, err := c.samples()
	if err != nil {
		t.Fatalf("reading the collector's metrics: %v", err)
	}
	var sum float64
	for _, s := range samples {
		if s.name == name && strings.Contains(s.labels, label) {
			sum += s.value
		}
	}
	return sum
}

// checkMetrics compares the processor's own metrics, read from the
// collector's metrics endpoint, with the spans that came out (got) and
// those the SDK sent (sent): each figure must agree, and drop, batch,
// backlink and hold figures must not be zero.
func checkMetrics(t *testing.T, c *collector, got []ptrace.Span, sent []sdktrace.ReadOnlySpan) {
	t.Helper()
	var sdkDropped, outDropped, rejected, batch, backlinked, keptLinks int64
	for _, s := range sent {
		sdkDropped += int64(s.DroppedLinks())
	}
	for _, s := range got {
		outDropped += int64(s.DroppedLinksCount())
		keptLinks += int64(s.Links().Len())
		if v, ok := intAttr(s, "spanlinks.links.invalid"); ok {
			rejected += v
			batch++
		}
		if _, ok := intAttr(s, "spanlinks.backlinks.count"); ok {
			backlinked++
		}
	}
	const p = "otelcol_processor_spanlinks_"
	figures := []struct {
		what      string
		got, want float64
	}{
		{"links dropped = growth of DroppedLinksCount", c.metricSum(t, p+"links_dropped", ""), float64(outDropped - sdkDropped)},
		{"links dropped as duplicates = sum of spanlinks.links.invalid", c.metricSum(t, p+"links_dropped", `reason="duplicate"`), float64(rejected)},
		{"batch spans = spans with spanlinks.links.*", c.metricSum(t, p+"batch_spans", ""), float64(batch)},
		{"backlinked spans = spans with spanlinks.backlinks.*", c.metricSum(t, p+"backlinked_spans", ""), float64(backlinked)},
		{"released spans (window) = spans out, every one held", c.metricSum(t, p+"released_spans", `reason="window"`), float64(len(got))},
		{"held spans once all are out", c.metricSum(t, p+"held_spans", ""), 0},
		{"index entries + removed = links kept", c.metricSum(t, p+"index_entries", "") + c.metricSum(t, p+"index_evictions", ""), float64(keptLinks)},
		{"release errors", c.metricSum(t, p+"release_errors", ""), 0},
	}
	for _, f := range figures {
		if f.got != f.want {
			t.Errorf("metrics: %s: %g, want %g", f.what, f.got, f.want)
		}
	}
	for _, nonZero := range []float64{float64(outDropped - sdkDropped), float64(batch), float64(backlinked), float64(len(got))} {
		if nonZero == 0 {
			t.Errorf("metrics: the demo must give non-zero drop, batch, backlink and hold figures; got %+v", figures)
			break
		}
	}
	t.Logf("metrics agree with the spans: %d links dropped (%d duplicates), %d batch spans, %d backlinked spans, %d released after the window, %d index entries in all",
		outDropped-sdkDropped, rejected, batch, backlinked, len(got), keptLinks)
}
