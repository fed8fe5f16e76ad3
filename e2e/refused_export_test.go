package e2e

import (
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// refusedExportConfig is a collector whose held orders leave after a 1s
// window into processors, then an otlp_http exporter configured by
// exporter (indented under it), sending to url.
func refusedExportConfig(processors, exporter, url string) string {
	return `receivers:
  otlp:
    protocols:
      http:
        endpoint: %[1]s
processors:
  spanlinks:
    backlinks:
      window: 1s
      hold: all
  batch:
    timeout: 100ms
exporters:
  otlp_http:
    endpoint: ` + url + `
` + exporter + `
service:
` + metricsReaderYAML + `  pipelines:
    traces:
      receivers: [otlp]
      processors: ` + processors + `
      exporters: [otlp_http]
`
}

// sendFailed returns the spans the collector's exporters counted as failed.
func sendFailed(t *testing.T, c *collector) float64 {
	return c.metricSum(t, "otelcol_exporter_send_failed_spans", "") +
		c.metricSum(t, "otelcol_exporter_send_failed_spans_total", "")
}

// TestRefusedExportBehindBatch: with `spanlinks, batch` and an exporter
// without a queue or retries, the batch processor accepts the released
// spans before it exports them, so a refused export never reaches
// spanlinks (release_errors stays 0); the loss is counted where an
// operator looks, in the exporter's otelcol_exporter_send_failed_spans.
func TestRefusedExportBehindBatch(t *testing.T) {
	if withoutSpanlinks() {
		t.Skip("the pipeline holds nothing without spanlinks")
	}
	sk := newRefusingSink(t) // never accepts
	c := startCollectorYAML(t, refusedExportConfig("[spanlinks, batch]", `    sending_queue:
      enabled: false
    retry_on_failure:
      enabled: false`, sk.url))
	postSpans(t, c, 0xa0, 1, 3, "receive-order")
	deadline := time.Now().Add(30 * time.Second)
	for sendFailed(t, c) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("after 30s the exporter counted %v failed spans, want 3", sendFailed(t, c))
		}
		<-time.After(100 * time.Millisecond) // polling the collector, whose clock is real
	}
	failed := sendFailed(t, c)
	hidden := c.metricSum(t, "otelcol_processor_spanlinks_release_errors", "")
	c.stop(t)
	t.Logf("3 held orders refused behind batch: otelcol_exporter_send_failed_spans %v, spanlinks release_errors %v, spans received %d",
		failed, hidden, len(sk.received()))
	if failed != 3 || hidden != 0 || len(sk.received()) != 0 {
		t.Errorf("want the 3 spans counted by the exporter only (3 failed, 0 release errors, 0 received)")
	}
}

// TestRefusedExportRetriedByExporterQueue: the exporter's own
// sending_queue and retries, which the README's pipeline keeps on (here
// batching inside the queue, with no batch processor), lose no span while
// the backend refuses for a while: every order arrives once.
func TestRefusedExportRetriedByExporterQueue(t *testing.T) {
	if withoutSpanlinks() {
		t.Skip("the pipeline holds nothing without spanlinks")
	}
	sk := newRefusingSink(t)
	c := startCollectorYAML(t, refusedExportConfig("[spanlinks]", `    sending_queue:
      enabled: true
      batch:
        flush_timeout: 100ms
    retry_on_failure:
      enabled: true
      initial_interval: 100ms
      max_interval: 1s
      max_elapsed_time: 60s`, sk.url))
	postSpans(t, c, 0xa0, 1, 3, "receive-order")
	select {
	case <-sk.refusals: // released after the window, refused, retried
	case <-time.After(30 * time.Second):
		t.Fatal("the held orders never reached the exporter")
	}
	select {
	case <-sk.refusals: // a second attempt: the exporter retries
	case <-time.After(30 * time.Second):
		t.Fatal("the exporter did not retry a refused export")
	}
	sk.accept()
	if !sk.waitFor(30*time.Second, func(got []ptrace.Span) bool { return len(got) >= 3 }) {
		t.Fatalf("after the backend accepted, %d of 3 orders arrived", len(sk.received()))
	}
	failed := sendFailed(t, c)
	c.stop(t)
	want := map[spanRef]bool{}
	for i := 1; i <= 3; i++ {
		want[refOf(mkSpan(0xa0, i))] = true
	}
	checkExactlyOnce(t, want, sk.received())
	sk.mu.Lock()
	t.Logf("the backend refused %d exports, then accepted; otelcol_exporter_send_failed_spans %v", sk.refused, failed)
	sk.mu.Unlock()
	if failed != 0 {
		t.Errorf("the exporter counted %v failed spans, want 0: retries should deliver them", failed)
	}
}
