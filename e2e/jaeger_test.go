package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// jaeger is a running Jaeger all-in-one (cmd/jaeger, v2), storing in
// memory, listening on loopback only.
type jaeger struct {
	otlpHTTP string // its OTLP/HTTP receiver, host:port
	queryURL string // its query service's HTTP API, http://host:port
}

// startJaeger starts $JAEGER_BIN (make e2e builds it into .tools/bin) with
// in-memory storage, an OTLP/HTTP receiver and the query service on free
// loopback ports, and waits until its API answers. The test is skipped
// without JAEGER_BIN.
func startJaeger(t *testing.T) *jaeger {
	t.Helper()
	if os.Getenv("JAEGER_BIN") == "" {
		t.Skip("JAEGER_BIN is not set: make e2e builds Jaeger and sets it")
	}
	bin := binary(t, "JAEGER_BIN", "", "make e2e builds it into .tools/bin")
	j := &jaeger{otlpHTTP: freeAddr(t)}
	queryAddr := freeAddr(t)
	j.queryURL = "http://" + queryAddr
	config := fmt.Sprintf(`extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
  jaeger_query:
    storage:
      traces: memstore
    enable_tracing: false
    http:
      endpoint: %s
    grpc:
      endpoint: %s
receivers:
  otlp:
    protocols:
      http:
        endpoint: %s
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: info
`, queryAddr, freeAddr(t), j.otlpHTTP)
	path := filepath.Join(t.TempDir(), "jaeger.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	cmd := exec.Command(bin, "--config", path)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting Jaeger: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("Jaeger configuration:\n%s\nJaeger output:\n%s", config, out.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		var services struct{ Data []string }
		if err := getJSON(j.queryURL+"/api/services", &services); err == nil {
			return j
		}
		select {
		case <-exited:
			t.Fatalf("Jaeger exited at start:\n%s", out.String())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("Jaeger's API did not answer within 60s:\n%s", out.String())
		}
	}
}

// getJSON decodes the JSON answer of a GET of u into v.
func getJSON(u string, v any) error {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// jaegerTrace is a trace as Jaeger's HTTP API (/api/traces) returns it.
type jaegerTrace struct {
	TraceID string `json:"traceID"`
	Spans   []struct {
		SpanID        string `json:"spanID"`
		OperationName string `json:"operationName"`
		ProcessID     string `json:"processID"`
		References    []struct {
			RefType string `json:"refType"`
			TraceID string `json:"traceID"`
			SpanID  string `json:"spanID"`
		} `json:"references"`
		Tags []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"tags"`
	} `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
	} `json:"processes"`
}

// trace returns the trace id (hex) from Jaeger, once it holds at least n
// spans, waiting up to 30s.
func (j *jaeger) trace(t *testing.T, id string, n int) jaegerTrace {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var r struct{ Data []jaegerTrace }
		err := getJSON(j.queryURL+"/api/traces/"+id, &r)
		if err == nil && len(r.Data) == 1 && len(r.Data[0].Spans) >= n {
			return r.Data[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("Jaeger: trace %s has not %d spans within 30s (last answer: %+v, %v)", id, n, r.Data, err)
		}
		<-time.After(200 * time.Millisecond) // polling Jaeger, whose clock is real
	}
}

// TestJaegerBacklinkSpans sends orders and the failed batch that linked
// them through the collector with backlinks.deliver: spans to a real
// Jaeger, and reads Jaeger's HTTP API: each order's trace holds the
// backlink span, a child of the order span with a FOLLOWS_FROM reference to
// the batch span, under the batch's service, marked as an error; and a
// search for the failed backlink spans finds exactly the orders whose batch
// failed.
func TestJaegerBacklinkSpans(t *testing.T) {
	j := startJaeger(t)
	c := startCollector(t, collectorConfig{deliver: "spans", exportTo: j.otlpHTTP})
	// Batch 3 fails (batchesTraces fails every third) and links orders
	// 7-9; batch 4 succeeds and links orders 10-12.
	post(t, c, ordersTraces(7, 12))
	post(t, c, batchesTraces(3, 4, 3))
	c.stop(t)

	for n := 7; n <= 12; n++ {
		order := spanRef{id16(0xa0, n), id8(0xa0, n)}
		batchNo := 3 + (n-7)/3
		batch := spanRef{id16(0xb0, batchNo), id8(0xb0, batchNo)}
		tr := j.trace(t, order.trace.String(), 2)
		checkJaegerBacklink(t, tr, order, batch, batchNo == 3)
	}

	// "Orders whose batch failed": the traces holding a backlink span of
	// process-batch with error_count 1. (Not tag error=true: Jaeger v1.76's
	// in-memory store reads the query's "true" as a bool, false, and then
	// matches only spans with status OK.)
	q := url.Values{
		"service":   {"order-batcher"},
		"operation": {backlinkSpanName("process-batch")},
		"tags":      {`{"spanlinks.backlinks.error_count":"1"}`},
		"lookback":  {"1h"},
		"limit":     {"100"},
	}
	var r struct{ Data []jaegerTrace }
	if err := getJSON(j.queryURL+"/api/traces?"+q.Encode(), &r); err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, tr := range r.Data {
		found = append(found, tr.TraceID)
	}
	slices.Sort(found)
	want := []string{id16(0xa0, 7).String(), id16(0xa0, 8).String(), id16(0xa0, 9).String()}
	if !slices.Equal(found, want) {
		t.Errorf("Jaeger search %s: traces %q, want the orders of the failed batch %q", q.Encode(), found, want)
	}
	t.Logf("Jaeger: 6 order traces each hold their backlink span (child of the order, FOLLOWS_FROM the batch); the search %q finds the %d orders of the failed batch", q.Encode(), len(found))
}

// checkJaegerBacklink checks, in the order's trace as Jaeger returns it,
// the backlink span of batch.
func checkJaegerBacklink(t *testing.T, tr jaegerTrace, order, batch spanRef, failed bool) {
	t.Helper()
	want := backlinkSpanID(batch, order).String()
	for _, s := range tr.Spans {
		if s.SpanID != want {
			continue
		}
		if s.OperationName != backlinkSpanName("process-batch") {
			t.Errorf("order %s: backlink span named %q", order, s.OperationName)
		}
		if svc := tr.Processes[s.ProcessID].ServiceName; svc != "order-batcher" {
			t.Errorf("order %s: backlink span under service %q, want order-batcher", order, svc)
		}
		refs := map[string]string{}
		for _, r := range s.References {
			refs[r.RefType] = r.TraceID + "/" + r.SpanID
		}
		if refs["CHILD_OF"] != order.String() || refs["FOLLOWS_FROM"] != batch.String() {
			t.Errorf("order %s: backlink span references %v, want CHILD_OF %s and FOLLOWS_FROM %s", order, refs, order, batch)
		}
		tags := map[string]string{}
		for _, kv := range s.Tags {
			tags[kv.Key] = fmt.Sprint(kv.Value)
		}
		if tags["error"] != fmt.Sprint(failed) && (failed || tags["error"] != "") {
			t.Errorf("order %s: backlink span tag error=%q, want %v", order, tags["error"], failed)
		}
		return
	}
	t.Errorf("order %s: Jaeger's trace has no backlink span %s: %+v", order, want, tr.Spans)
}
