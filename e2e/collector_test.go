// Package e2e tests the otelcol-spanlinks distribution as users run it: the
// binary built by ocb (make build), started with a YAML file, fed by real
// OpenTelemetry clients, exporting over OTLP/HTTP to a receiver inside the
// test. Run them with `make e2e`, which builds what they need.
//
// Environment:
//
//	OTELCOL_BIN            the collector (default ../dist/otelcol-spanlinks)
//	TELEMETRYGEN_BIN       telemetrygen (default ../.tools/bin/telemetrygen-v0.161.0)
//	TAILSAMPLING_BIN       the tail-sampling tier of examples/tail-sampling
//	                       (default ../dist/tailsampling/otelcol-tailsampling)
//	JAEGER_BIN             Jaeger v2 (cmd/jaeger, all-in-one); without it
//	                       TestJaegerBacklinkSpans is skipped
//	E2E_WITHOUT_SPANLINKS  when 1, the collector runs without the spanlinks
//	                       processor: the tests must then fail.
package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// binary returns the path in env, or def relative to this directory, and
// fails the test when there is no executable there.
func binary(t *testing.T, env, def, hint string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		p = def
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(abs); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		t.Fatalf("%s: no executable at %s (%s); run the end-to-end tests with `make e2e`", env, abs, hint)
	}
	return abs
}

func collectorBinary(t *testing.T) string {
	return binary(t, "OTELCOL_BIN", "../dist/otelcol-spanlinks", "make build")
}

func telemetrygenBinary(t *testing.T) string {
	return binary(t, "TELEMETRYGEN_BIN", "../.tools/bin/telemetrygen-v0.161.0", "make tools")
}

// withoutSpanlinks reports whether the collector runs without the processor,
// to show that the tests fail then.
func withoutSpanlinks() bool { return os.Getenv("E2E_WITHOUT_SPANLINKS") == "1" }

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// syncBuffer is a bytes.Buffer safe for the collector's output copier and
// the test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// collectorConfig is what a test chooses of the collector's configuration.
type collectorConfig struct {
	// window is backlinks.window.
	window time.Duration
	// exportTo is the OTLP/HTTP endpoint of the test's receiver.
	exportTo string
	// index is the backlinks.index section, indented under backlinks;
	// empty: the default, in memory.
	index string
	// hold is backlinks.hold as one YAML word; empty: all.
	hold string
	// defaultHold writes no backlinks.hold: the default, auto.
	defaultHold bool
	// deliver is backlinks.deliver; with "spans", window, hold and index
	// are not written (the processor refuses them).
	deliver string
}

// collector is a running otelcol-spanlinks.
type collector struct {
	grpcAddr, httpAddr string // OTLP receiver
	metricsURL         string // the collector's own metrics, Prometheus text

	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's result, once exited is closed
}

// startCollector writes a configuration for cfg on free loopback ports,
// starts the collector with it and waits until it is ready. The collector is
// stopped at the end of the test if the test did not stop it.
func startCollector(t *testing.T, cfg collectorConfig) *collector {
	t.Helper()
	// A port found free can be taken by another process before the
	// collector binds it: then it exits at once, and is started again on
	// other ports.
	for range 3 {
		if c := tryStartCollector(t, cfg); c != nil {
			return c
		}
	}
	t.Fatal("the collector found its ports taken three times")
	return nil
}

// tryStartCollector is startCollector once; it returns nil when the
// collector exited at start because a port was taken.
func tryStartCollector(t *testing.T, cfg collectorConfig) *collector {
	t.Helper()
	c := &collector{
		grpcAddr: freeAddr(t),
		httpAddr: freeAddr(t),
	}
	metricsAddr := freeAddr(t)
	c.metricsURL = "http://" + metricsAddr + "/metrics"
	metricsHost, metricsPort, _ := net.SplitHostPort(metricsAddr)

	hold := cfg.hold
	if hold == "" {
		hold = "all"
	}
	backlinks := fmt.Sprintf("      window: %s\n      hold: %s\n%s", cfg.window, hold, cfg.index)
	if cfg.defaultHold {
		backlinks = fmt.Sprintf("      window: %s\n%s", cfg.window, cfg.index)
	}
	if cfg.deliver == "spans" {
		backlinks = "      deliver: spans\n"
	}
	processors := "[spanlinks, batch]"
	if withoutSpanlinks() {
		processors = "[batch]"
		t.Log("E2E_WITHOUT_SPANLINKS=1: the pipeline runs without the spanlinks processor")
	}
	yaml := fmt.Sprintf(`receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %[1]s
      http:
        endpoint: %[2]s
processors:
  spanlinks:
    max_links_per_span: 128
    backlinks:
%[3]s  batch:
    timeout: 100ms
exporters:
  otlp_http:
    endpoint: http://%[4]s
    tls:
      insecure: true
    # No queue: every export is synchronous, so that what Shutdown releases
    # is sent before the collector exits.
    sending_queue:
      enabled: false
    retry_on_failure:
      enabled: false
service:
  telemetry:
    logs:
      level: info
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: %[5]s
                port: %[6]s
  pipelines:
    traces:
      receivers: [otlp]
      processors: %[7]s
      exporters: [otlp_http]
`, c.grpcAddr, c.httpAddr, backlinks, cfg.exportTo, metricsHost, metricsPort, processors)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if !c.launch(t, exec.Command(collectorBinary(t), "--config", path), yaml) {
		return nil
	}
	return c
}

// launch starts cmd, a collector whose configuration is config (shown if
// the test fails), and waits until it is ready; it returns false when the
// collector exited at start because a port was taken. The collector is
// stopped at the end of the test if the test did not stop it.
func (c *collector) launch(t *testing.T, cmd *exec.Cmd, config string) bool {
	t.Helper()
	if c.out == nil {
		c.out = &syncBuffer{}
	}
	c.exited = make(chan struct{})
	c.cmd = cmd
	c.cmd.Stdout = c.out
	c.cmd.Stderr = c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting the collector: %v", err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-c.exited:
		default:
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
		if t.Failed() {
			t.Logf("collector configuration:\n%s\ncollector output:\n%s", config, c.out.String())
		}
	})

	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(c.out.String(), "Everything is ready") {
		select {
		case <-c.exited:
			if strings.Contains(c.out.String(), "address already in use") {
				t.Logf("the collector exited at start, a port taken; starting it again:\n%s", c.out.String())
				return false
			}
			t.Fatalf("the collector exited at start: %v\n%s", c.err, c.out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the collector was not ready within 30s:\n%s", c.out.String())
		}
	}
	return true
}

// waitOutput waits until the collector's output holds text, polling, up
// to timeout; it reports whether it did.
func (c *collector) waitOutput(timeout time.Duration, text string) bool {
	deadline := time.Now().Add(timeout)
	for !strings.Contains(c.out.String(), text) {
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-c.exited:
			return strings.Contains(c.out.String(), text)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return true
}

// stop sends SIGTERM and waits for the collector to exit cleanly.
func (c *collector) stop(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the collector did not exit within 30s of SIGTERM")
	}
	if c.err != nil {
		t.Fatalf("the collector exited with %v", c.err)
	}
	if !strings.Contains(c.out.String(), "Shutdown complete.") {
		t.Error("the collector did not log Shutdown complete.")
	}
}

// metric returns the value of the sample name (without labels) on the
// collector's metrics endpoint, and whether there is one.
func (c *collector) metric(name string) (float64, bool) {
	samples, err := c.samples()
	if err != nil {
		return 0, false
	}
	for _, s := range samples {
		if s.name == name {
			return s.value, true
		}
	}
	return 0, false
}

// sample is one line of the Prometheus text format.
type sample struct {
	name, labels string
	value        float64
}

// samples reads the collector's metrics endpoint.
func (c *collector) samples() ([]sample, error) {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(c.metricsURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out []sample
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		key, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		name, labels, _ := strings.Cut(key, "{")
		if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			out = append(out, sample{name: name, labels: labels, value: v})
		}
	}
	return out, sc.Err()
}

// sink is an OTLP/HTTP traces receiver: what the collector exports.
type sink struct {
	url string

	mu     sync.Mutex
	spans  []ptrace.Span                  // in arrival order; each keeps its request's data alive
	scopes []pcommon.InstrumentationScope // the scope of each of spans
	errs   []error
}

func newSink(t *testing.T) *sink {
	s := &sink{}
	srv := httptest.NewServer(http.HandlerFunc(s.serveHTTP)) // 127.0.0.1
	t.Cleanup(srv.Close)
	s.url = srv.URL
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, err := range s.errs {
			t.Errorf("receiver: %v", err)
		}
	})
	return s
}

// endpoint returns host:port of the receiver.
func (s *sink) endpoint() string { return strings.TrimPrefix(s.url, "http://") }

func (s *sink) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		s.fail(fmt.Errorf("unexpected %s %s", r.Method, r.URL.Path))
		http.NotFound(w, r)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			s.fail(err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	if err != nil {
		s.fail(err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := ptraceotlp.NewExportRequest()
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		err = req.UnmarshalJSON(data)
	} else {
		err = req.UnmarshalProto(data)
	}
	if err != nil {
		s.fail(err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	td := req.Traces()
	s.mu.Lock()
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				s.spans = append(s.spans, sp)
				s.scopes = append(s.scopes, ss.Scope())
			}
		}
	}
	s.mu.Unlock()
	resp, _ := ptraceotlp.NewExportResponse().MarshalProto()
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp)
}

func (s *sink) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, err)
}

// received returns the spans received so far.
func (s *sink) received() []ptrace.Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ptrace.Span(nil), s.spans...)
}

// scopeAttrs returns the attributes of the scope each span received so far
// arrived under, by span.
func (s *sink) scopeAttrs() map[spanRef]pcommon.Map {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[spanRef]pcommon.Map, len(s.spans))
	for i, sp := range s.spans {
		out[refOf(sp)] = s.scopes[i].Attributes()
	}
	return out
}

// waitFor waits until cond holds for the spans received, polling, up to
// timeout; it reports whether cond held.
func (s *sink) waitFor(timeout time.Duration, cond func([]ptrace.Span) bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		if cond(s.received()) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// spanRef identifies a span.
type spanRef struct {
	trace pcommon.TraceID
	span  pcommon.SpanID
}

func refOf(s ptrace.Span) spanRef { return spanRef{s.TraceID(), s.SpanID()} }

func (r spanRef) String() string { return r.trace.String() + "/" + r.span.String() }

// checkExactlyOnce fails for every span of want not received exactly once,
// and for every span received that is not in want. It returns the received
// spans by reference.
func checkExactlyOnce(t *testing.T, want map[spanRef]bool, got []ptrace.Span) map[spanRef]ptrace.Span {
	t.Helper()
	byRef := make(map[spanRef]ptrace.Span, len(got))
	times := map[spanRef]int{}
	for _, s := range got {
		r := refOf(s)
		times[r]++
		byRef[r] = s
	}
	missing, dup, extra := 0, 0, 0
	for r := range want {
		switch n := times[r]; {
		case n == 0:
			missing++
			if missing <= 5 {
				t.Errorf("span %s was sent but never arrived", r)
			}
		case n > 1:
			dup++
			if dup <= 5 {
				t.Errorf("span %s arrived %d times", r, n)
			}
		}
	}
	for r := range times {
		if !want[r] {
			extra++
			if extra <= 5 {
				t.Errorf("span %s arrived but was not sent", r)
			}
		}
	}
	if missing+dup+extra > 0 {
		t.Errorf("exactly once: %d spans sent, %d received; %d missing, %d duplicated, %d unexpected",
			len(want), len(got), missing, dup, extra)
	}
	return byRef
}

// intAttr returns the int attribute key of s.
func intAttr(s ptrace.Span, key string) (int64, bool) {
	v, ok := s.Attributes().Get(key)
	if !ok || v.Type() != pcommon.ValueTypeInt {
		return 0, false
	}
	return v.Int(), true
}

// doubleAttr returns the double attribute key of s.
func doubleAttr(s ptrace.Span, key string) (float64, bool) {
	v, ok := s.Attributes().Get(key)
	if !ok || v.Type() != pcommon.ValueTypeDouble {
		return 0, false
	}
	return v.Double(), true
}

// stringsAttr returns the string slice attribute key of s.
func stringsAttr(s ptrace.Span, key string) ([]string, bool) {
	v, ok := s.Attributes().Get(key)
	if !ok || v.Type() != pcommon.ValueTypeSlice {
		return nil, false
	}
	var out []string
	for _, e := range v.Slice().All() {
		out = append(out, e.AsString())
	}
	return out, true
}

// hasAttrPrefix reports whether s has an attribute starting with prefix.
func hasAttrPrefix(s ptrace.Span, prefix string) bool {
	for k := range s.Attributes().All() {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// errorer is what the checks below need of a *testing.T.
type errorer interface {
	Helper()
	Errorf(format string, args ...any)
}

// cappedErrors reports the first max errors and counts the others, so that
// a test checking every span (and failing on each, say without the
// processor) stays readable.
type cappedErrors struct {
	t   *testing.T
	max int
	n   int
}

func (c *cappedErrors) Helper() { c.t.Helper() }

func (c *cappedErrors) Errorf(format string, args ...any) {
	c.t.Helper()
	c.n++
	if c.n <= c.max {
		c.t.Errorf(format, args...)
	} else {
		c.t.Fail()
	}
}

// done reports how many errors were not printed.
func (c *cappedErrors) done() {
	c.t.Helper()
	if c.n > c.max {
		c.t.Errorf("... and %d more errors like these", c.n-c.max)
	}
}

// wantInt checks the int attribute key of s.
func wantInt(t errorer, s ptrace.Span, key string, want int64) {
	t.Helper()
	got, ok := intAttr(s, key)
	switch {
	case !ok:
		t.Errorf("%s %s: no int attribute %s (want %d)", s.Name(), refOf(s), key, want)
	case got != want:
		t.Errorf("%s %s: %s = %d, want %d", s.Name(), refOf(s), key, got, want)
	}
}
