package watch

import (
	"bufio"
	"bytes"
	"os"
	"strings"
	"testing"
)

// testdata/collector.log is real otelcol-spanlinks output (make run), cut
// after the first spans of the third export, with a warning added.
func parseFile(t *testing.T, path string) (spans []Span, logs []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := &Parser{
		OnSpan: func(s Span) { spans = append(spans, s) },
		OnLog:  func(level, msg string) { logs = append(logs, level+" "+msg) },
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		p.Line(sc.Text())
	}
	p.Flush()
	return spans, logs
}

func TestParse(t *testing.T) {
	spans, logs := parseFile(t, "testdata/collector.log")
	if len(spans) != 18 {
		t.Fatalf("parsed %d spans, want 18", len(spans))
	}
	first := spans[0]
	if first.Name != "receive-order" || first.TraceID != "fbfbe5f986bf484af97ffefc8b605ba8" ||
		first.SpanID != "6165b45785584c34" || first.Status != "Unset" || first.Links != 0 {
		t.Errorf("first span = %+v", first)
	}
	if v, _ := first.Attr("order.id"); v != "ord-0001" {
		t.Errorf("order.id = %q", v)
	}
	if v, _ := first.Attr("spanlinks.backlinks.span_ids"); v != `["4640bcac05a8cf66"]` {
		t.Errorf("span_ids = %q", v)
	}

	var failed *Span
	for i := range spans {
		if spans[i].Status == "Error" {
			failed = &spans[i]
		}
	}
	if failed == nil {
		t.Fatal("no span with status Error")
	}
	if failed.Name != "process-batch" || failed.StatusMessage != "payment provider timed out" ||
		failed.Links != 4 || failed.DroppedLinksCount != 0 {
		t.Errorf("failed batch = %+v", *failed)
	}
	for _, kv := range [][2]string{{"spanlinks.links.total", "4"}, {"spanlinks.links.sampled_ratio", "1"}, {"batch.number", "2"}} {
		if v, _ := failed.Attr(kv[0]); v != kv[1] {
			t.Errorf("%s = %q, want %q", kv[0], v, kv[1])
		}
	}
	// Link attributes (order.id on each link) are not span attributes.
	n := 0
	for _, a := range failed.Attrs {
		if a.Key == "order.id" {
			n++
		}
	}
	if n != 0 {
		t.Errorf("link attributes read as span attributes: %+v", failed.Attrs)
	}

	var warned bool
	for _, l := range logs {
		if strings.HasPrefix(l, "warn ") && strings.Contains(l, "Something to see") {
			warned = true
		}
		if strings.Contains(l, "ResourceSpans") {
			t.Errorf("span output read as a log line: %q", l)
		}
	}
	if !warned || !strings.Contains(strings.Join(logs, "\n"), "Shutdown complete.") {
		t.Errorf("logs = %q", logs)
	}
}

func TestPrinter(t *testing.T) {
	spans, logs := parseFile(t, "testdata/collector.log")
	var out bytes.Buffer
	pr := &Printer{W: &out, PerGroup: 2, Labels: []string{"order.id", "batch.number"}}
	for _, s := range spans {
		pr.Span(s)
	}
	for _, l := range logs {
		level, msg, _ := strings.Cut(l, " ")
		pr.Log(level, msg)
	}
	pr.Summary()
	got := out.String()
	for _, want := range []string{
		"collector | process-batch  span f9f6cd7e86ac0a18  trace 933c1cba9312a491a7a26dd88f39d6d0  batch.number=2  status Error \"payment provider timed out\"  links 4, DroppedLinksCount 0\n",
		"collector |     spanlinks.backlinks.error_count=1\n",
		"collector |   ... more spans backlinked to f9f6cd7e86ac0a18: not printed, counted in the summary\n",
		"collector | WARN spanlinks/processor.go:1\tSomething to see\n",
		"summary | the collector exported 18 spans: 2 batch spans with spanlinks.links.*, 7 spans with spanlinks.backlinks.*, 9 with neither\n",
		"summary |     -> listed in spanlinks.backlinks.* of 4 spans, 4 of them with spanlinks.backlinks.error_count >= 1: the failed batch is visible on its orders\n",
		"summary | 9 spans (receive-order: 9) have no spanlinks.* attributes",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q; output:\n%s", want, got)
		}
	}
	// Info lines of the collector are not printed.
	if strings.Contains(got, "Everything is ready") {
		t.Errorf("info log printed:\n%s", got)
	}
	// 2 batch spans, 2 orders of each batch and 2 without backlinks.
	if n := strings.Count(got, "collector | receive-order"); n != 6 {
		t.Errorf("%d orders printed, want 6:\n%s", n, got)
	}
}

func TestPrintMetrics(t *testing.T) {
	in := `# HELP otelcol_processor_spanlinks_batch_spans Batch spans annotated.
# TYPE otelcol_processor_spanlinks_batch_spans counter
otelcol_processor_spanlinks_batch_spans{otelcol_component_id="spanlinks",otelcol_component_kind="processor"} 3
otelcol_processor_spanlinks_held_spans 0
otelcol_processor_spanlinks_released_spans{otelcol_component_id="spanlinks",reason="window"} 160
otelcol_exporter_sent_spans{exporter="debug"} 160
otelcol_processor_spanlinks_links_dropped{otelcol_component_id="spanlinks",reason="duplicate"} 1
otelcol_processor_spanlinks_links_dropped{otelcol_component_id="spanlinks",reason="limit"} 22
otelcol_processor_spanlinks_links_dropped{otelcol_component_id="spanlinks",reason="self"} 0
`
	var out bytes.Buffer
	if err := PrintMetrics(&out, strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	want := `metrics | otelcol_processor_spanlinks_batch_spans 3
metrics | otelcol_processor_spanlinks_held_spans 0
metrics | otelcol_processor_spanlinks_released_spans{reason="window"} 160
metrics | otelcol_processor_spanlinks_links_dropped{reason="duplicate"} 1
metrics | otelcol_processor_spanlinks_links_dropped{reason="limit"} 22
metrics | otelcol_processor_spanlinks_links_dropped{reason="self"} 0
metrics | -> spanlinks dropped 1 link repeating an earlier link of their span (reason="duplicate")
metrics | -> spanlinks dropped 22 links over max_links_per_span (reason="limit")
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}
