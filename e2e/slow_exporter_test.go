package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// refusingSink is an OTLP/HTTP traces receiver that answers 503 until
// accept is called, so that the collector's exporter retries, and records
// what it accepted.
type refusingSink struct {
	*sink
	mu       sync.Mutex
	accepts  bool
	refused  int
	refusals chan struct{} // one value per refused export, when there is room
}

func newRefusingSink(t *testing.T) *refusingSink {
	inner := &sink{}
	r := &refusingSink{sink: inner, refusals: make(chan struct{}, 1024)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		accepts := r.accepts
		if !accepts {
			r.refused++
		}
		r.mu.Unlock()
		if !accepts {
			select {
			case r.refusals <- struct{}{}:
			default:
			}
			w.Header().Set("Retry-After", "1")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		inner.serveHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	inner.url = srv.URL
	return r
}

// accept makes the sink take every export from now on.
func (r *refusingSink) accept() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.accepts = true
}

// metricsReaderYAML is the service's telemetry block of the configurations
// startCollectorYAML takes: the metrics on the port %[2]s.
const metricsReaderYAML = `  telemetry:
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: %[2]s
`

// startCollectorYAML starts the collector with the configuration yaml, in
// which %[1]s is the OTLP/HTTP receiver's address and %[2]s the metrics
// port, both free loopback ports, and waits until it is ready.
func startCollectorYAML(t *testing.T, yaml string) *collector {
	t.Helper()
	c := &collector{httpAddr: freeAddr(t), out: &syncBuffer{}, exited: make(chan struct{})}
	metricsAddr := freeAddr(t)
	c.metricsURL = "http://" + metricsAddr + "/metrics"
	_, metricsPort, _ := net.SplitHostPort(metricsAddr)
	yaml = fmt.Sprintf(yaml, c.httpAddr, metricsPort)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if !c.launch(t, exec.Command(collectorBinary(t), "--config", path), yaml) {
		t.Fatalf("a port of the collector was taken:\n%s", c.out.String())
	}
	return c
}

// postSpans sends spans named name with IDs kind/first..last to the
// collector's OTLP/HTTP receiver and returns how long the request took.
func postSpans(t *testing.T, c *collector, kind byte, first, last int, name string) time.Duration {
	t.Helper()
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "order-api")
	ss := rs.ScopeSpans().AppendEmpty()
	for i := first; i <= last; i++ {
		s := ss.Spans().AppendEmpty()
		mkSpan(kind, i).CopyTo(s)
		s.SetName(name)
		now := time.Now()
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Millisecond)))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
	}
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 90 * time.Second}
	began := time.Now()
	resp, err := client.Post("http://"+c.httpAddr+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
	took := time.Since(began)
	if err != nil {
		t.Fatalf("sending %d spans: %v", last-first+1, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sending %d spans: %s", last-first+1, resp.Status)
	}
	return took
}

// TestSlowExporterBlocksNoSender runs the collector with an exporter that
// retries for up to 60s without a queue, against a receiver that refuses
// (503) until the test lets it accept. Three orders fill the hold
// (max_held_spans: 3); a fourth makes them due, and the release loop
// forwards them, stuck in the exporter's retries. Both that request and an
// unrelated 1-span request sent while the exporter retries return in under
// a second. Once the receiver accepts, and the collector stops, every span
// has arrived exactly once.
func TestSlowExporterBlocksNoSender(t *testing.T) {
	if withoutSpanlinks() {
		t.Skip("the pipeline holds nothing without spanlinks")
	}
	sk := newRefusingSink(t)
	c := startCollectorYAML(t, `receivers:
  otlp:
    protocols:
      http:
        endpoint: %[1]s
processors:
  spanlinks:
    backlinks:
      window: 30s
      hold: all
      max_held_spans: 3
exporters:
  otlp_http:
    endpoint: `+sk.url+`
    sending_queue:
      enabled: false
    retry_on_failure:
      enabled: true
      initial_interval: 200ms
      max_interval: 1s
      max_elapsed_time: 60s
service:
`+metricsReaderYAML+`  pipelines:
    traces:
      receivers: [otlp]
      processors: [spanlinks]
      exporters: [otlp_http]
`)
	if took := postSpans(t, c, 0xa0, 1, 3, "receive-order"); took > time.Second {
		t.Fatalf("3 orders, held, took %s to be accepted", took)
	}
	if took := postSpans(t, c, 0xa0, 4, 4, "receive-order"); took > time.Second {
		t.Errorf("the order that made 3 others due took %s, want under 1s: it forwarded them itself", took)
	}
	select {
	case <-sk.refusals: // the orders reached the exporter, which retries
	case <-time.After(30 * time.Second):
		t.Fatal("the orders made due never reached the exporter")
	}
	took := postSpans(t, c, 0xc0, 1, 1, "GET /healthz")
	t.Logf("while the exporter retried, an unrelated 1-span request took %s", took)
	if took > time.Second {
		t.Errorf("an unrelated 1-span request took %s while the exporter retried, want under 1s", took)
	}
	sk.accept()
	c.stop(t)

	want := map[spanRef]bool{}
	for i := 1; i <= 4; i++ {
		want[refOf(mkSpan(0xa0, i))] = true
	}
	want[refOf(mkSpan(0xc0, 1))] = true
	checkExactlyOnce(t, want, sk.received())
	sk.mu.Lock()
	t.Logf("the receiver refused %d exports before it accepted", sk.refused)
	sk.mu.Unlock()
}

// mkSpan returns a span with the IDs of span i of kind, as postSpans sends it.
func mkSpan(kind byte, i int) ptrace.Span {
	s := ptrace.NewSpan()
	var tid pcommon.TraceID
	var sid pcommon.SpanID
	tid[0], sid[0] = kind, kind
	tid[15], sid[7] = byte(i), byte(i)
	s.SetTraceID(tid)
	s.SetSpanID(sid)
	return s
}
