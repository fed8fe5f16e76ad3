package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// storageWindow is backlinks.window of the storage tests: long enough for
// a SIGKILL and a restart on a loaded machine while the orders are held.
const storageWindow = 20 * time.Second

// startStorageCollector starts the collector exporting to s, holding every
// span for storageWindow; with dir, backlinks.storage is a file_storage
// there. spanlinks is the only processor: a held batch's record is deleted
// once the exporter took it.
func startStorageCollector(t *testing.T, s *sink, dir string) *collector {
	t.Helper()
	for range 3 {
		c := &collector{grpcAddr: freeAddr(t), httpAddr: freeAddr(t)}
		metricsAddr := freeAddr(t)
		c.metricsURL = "http://" + metricsAddr + "/metrics"
		host, port, _ := net.SplitHostPort(metricsAddr)
		ext, storage, svcExt := "", "", ""
		if dir != "" {
			ext = fmt.Sprintf("extensions:\n  file_storage:\n    directory: %s\n    timeout: 1s\n", dir)
			storage = "      storage: file_storage\n"
			svcExt = "  extensions: [file_storage]\n"
		}
		yaml := fmt.Sprintf(`%sreceivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
      http:
        endpoint: %s
processors:
  spanlinks:
    backlinks:
      window: %s
      hold: all
%sexporters:
  otlp_http:
    endpoint: http://%s
    tls:
      insecure: true
    sending_queue:
      enabled: false
    retry_on_failure:
      enabled: false
service:
%s  telemetry:
    logs:
      level: info
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: %s
                port: %s
  pipelines:
    traces:
      receivers: [otlp]
      processors: [spanlinks]
      exporters: [otlp_http]
`, ext, c.grpcAddr, c.httpAddr, storageWindow, storage, s.endpoint(), svcExt, host, port)
		path := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		if c.launch(t, exec.Command(collectorBinary(t), "--config", path), yaml) {
			return c
		}
	}
	t.Fatal("the collector found its ports taken three times")
	return nil
}

// counter returns the counter name, exported with or without _total.
func counter(t *testing.T, c *collector, name string) float64 {
	return c.metricSum(t, name, "") + c.metricSum(t, name+"_total", "")
}

// kill SIGKILLs the collector and waits until it is gone.
func (c *collector) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the collector did not exit within 10s of SIGKILL")
	}
}

// crashWhileHeld starts a collector, sends orders 1..5 and 6..10 in two
// requests (two held batches), checks that none left, and SIGKILLs it.
func crashWhileHeld(t *testing.T, s *sink, dir string) {
	t.Helper()
	c := startStorageCollector(t, s, dir)
	post(t, c, ordersTraces(1, 5))
	post(t, c, ordersTraces(6, 10))
	// Both requests held (a window is 20s: nothing is due yet).
	if !s.waitFor(10*time.Second, func([]ptrace.Span) bool {
		n, _ := c.metric("otelcol_processor_spanlinks_held_spans")
		return n == 10
	}) {
		t.Fatal("the collector did not report 10 held spans within 10s")
	}
	if n := len(s.received()); n != 0 {
		t.Fatalf("%d spans left before the window; they should be held", n)
	}
	c.kill(t)
}

// restartAndLink starts the collector again on dir, sends the batch that
// links to orders 1..10 and waits until the batch span and want orders
// arrived, or a window and 10s passed; it returns the collector, running.
func restartAndLink(t *testing.T, s *sink, dir string, want int) *collector {
	t.Helper()
	c := startStorageCollector(t, s, dir)
	post(t, c, batchesTraces(1, 1, 10))
	s.waitFor(storageWindow+10*time.Second, func(spans []ptrace.Span) bool { return len(spans) >= want+1 })
	// A span sent twice is seen once the caller stops the collector:
	// Shutdown forwards everything still held or queued before it returns.
	return c
}

// checkOrders fails unless exactly orders first..last (and the batch span)
// arrived, each once, each with the batch's backlink.
func checkOrders(t *testing.T, s *sink, first, last int) {
	t.Helper()
	want := wantRefs(ordersTraces(first, last), batchesTraces(1, 1, 10))
	byRef := checkExactlyOnce(t, want, s.received())
	batch := spanRef{id16(0xb0, 1), id8(0xb0, 1)}
	for n := first; n <= last; n++ {
		o, ok := byRef[spanRef{id16(0xa0, n), id8(0xa0, n)}]
		if !ok {
			continue
		}
		wantInt(t, o, "spanlinks.backlinks.count", 1)
		if ids, _ := stringsAttr(o, "spanlinks.backlinks.span_ids"); len(ids) != 1 || ids[0] != batch.span.String() {
			t.Errorf("order %d: backlinks.span_ids %v, want [%s]", n, ids, batch.span)
		}
	}
}

// TestStorageSurvivesSIGKILL: with backlinks.storage on file_storage,
// orders held when the collector is SIGKILLed come back when it starts
// again on the same directory, and leave, once each, with the backlink of
// the batch sent after the restart.
func TestStorageSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	s, dir := newSink(t), t.TempDir()
	crashWhileHeld(t, s, dir)
	c := restartAndLink(t, s, dir, 10)
	if v := counter(t, c, "otelcol_processor_spanlinks_replayed_spans"); v != 10 {
		t.Errorf("replayed_spans %v, want 10", v)
	}
	c.stop(t)
	checkOrders(t, s, 1, 10)
}

// TestNoStorageLosesHeldSpans: the same crash without backlinks.storage
// loses every held order: what the storage is for.
func TestNoStorageLosesHeldSpans(t *testing.T) {
	t.Parallel()
	s := newSink(t)
	crashWhileHeld(t, s, "")
	c := restartAndLink(t, s, "", 0)
	c.stop(t)
	got := s.received()
	if len(got) != 1 || got[0].Name() != "process-batch" {
		t.Fatalf("received %d spans, want only the batch span: the held orders are lost without storage", len(got))
	}
}

// TestStorageCorruptRecordLoadsTheRest: garbage written over one stored
// record (directly into file_storage's bbolt file, while the collector is
// down) is skipped at start, counted and logged with its key; the other
// record loads and its orders arrive with their backlinks.
func TestStorageCorruptRecordLoadsTheRest(t *testing.T) {
	t.Parallel()
	s, dir := newSink(t), t.TempDir()
	crashWhileHeld(t, s, dir)
	key := corruptFirstRecord(t, dir)
	c := restartAndLink(t, s, dir, 5)
	if v := counter(t, c, "otelcol_processor_spanlinks_storage_corrupt_records"); v != 1 {
		t.Errorf("storage_corrupt_records %v, want 1", v)
	}
	if !strings.Contains(c.out.String(), "Skipped a corrupt record") || !strings.Contains(c.out.String(), key) {
		t.Errorf("no log of the corrupt record %q", key)
	}
	c.stop(t)
	checkOrders(t, s, 6, 10)
}

// corruptFirstRecord writes garbage over the first held-batch record in
// the bbolt file file_storage keeps under dir, and returns its key.
// file_storage keeps a component's records in the bucket "default" of the
// file named after the component (processor_spanlinks_).
func corruptFirstRecord(t *testing.T, dir string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "processor_spanlinks*"))
	if len(files) != 1 {
		t.Fatalf("file_storage files under %s: %v, want one", dir, files)
	}
	db, err := bolt.Open(files[0], 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var key string
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("default"))
		if b == nil {
			return fmt.Errorf("no bucket default in %s", files[0])
		}
		k, _ := b.Cursor().Seek([]byte("spanlinks/held/"))
		if k == nil || !strings.HasPrefix(string(k), "spanlinks/held/") {
			return fmt.Errorf("no held batch in %s", files[0])
		}
		key = string(k)
		return b.Put(k, []byte("garbage where a held batch was"))
	})
	if err != nil {
		t.Fatal(err)
	}
	return key
}
