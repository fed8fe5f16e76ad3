package spanlinksprocessor

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/ptracetest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// The fixtures every test of the package shares: the fake clock, the
// scenarios of testdata/ and their loader, the test processor, the config
// loader, the span builders and the helpers that read spans and metrics.

const sec = time.Second

// start is the fake clock's origin in every scenario.
var start = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// fakeClock is a clock that moves only when a test moves it.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// step feeds one input batch at an offset from start; a step with no input
// (a tick) only moves the clock and lets the release loop run, as its
// ticker would.
type step struct {
	at    time.Duration
	input ptrace.Traces
	crash bool // the processor crashes and starts again on its storage
}

// scenario is one user story: a folder under testdata/ holding config.yaml
// (the story and its config), the step files and expected.yaml (all the
// processor emitted, in order, ending with what Shutdown released). Only
// expected.yaml is written by -update; testdata/README.md has the layout.
type scenario struct {
	name  string
	steps []step
}

// stepFile matches a step's file name: input-N-at-D.yaml feeds its traces
// at start+D, tick-N-at-D.yaml (which holds {}) only moves the clock there,
// crash-N-at-D.yaml (which holds {}) also ends the processor as a SIGKILL
// would and starts another on the same backlinks.storage.
// N numbers the steps from 1 in the order they run; D is written as Go
// prints a time.Duration (0s, 20s, 5m40s).
var stepFile = regexp.MustCompile(`^(input|tick|crash)-([1-9][0-9]*)-at-([0-9hms.]+)\.yaml$`)

// loadScenarios reads every folder of testdata/ that holds a config.yaml,
// in the order of their names.
func loadScenarios(t testing.TB) []scenario {
	t.Helper()
	configs, err := filepath.Glob(filepath.Join("testdata", "*", "config.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, configs, "no scenario under testdata/")
	sort.Strings(configs)
	scs := make([]scenario, 0, len(configs))
	for _, c := range configs {
		scs = append(scs, scenarioNamed(t, filepath.Base(filepath.Dir(c))))
	}
	return scs
}

// scenarioNamed reads the scenario of folder testdata/<name>, failing t if
// there is none, it has no steps, or a file there is not one of its own.
func scenarioNamed(t testing.TB, name string) scenario {
	t.Helper()
	dir := filepath.Join("testdata", name)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err, "no scenario %q", name)
	byN := map[int]step{}
	for _, e := range entries {
		if e.Name() == "config.yaml" || e.Name() == "expected.yaml" {
			continue
		}
		m := stepFile.FindStringSubmatch(e.Name())
		require.NotNil(t, m, "%s: not config.yaml, expected.yaml or a step file (testdata/README.md)", filepath.Join(dir, e.Name()))
		n, err := strconv.Atoi(m[2])
		require.NoError(t, err)
		at, err := time.ParseDuration(m[3])
		require.NoError(t, err, e.Name())
		require.Equal(t, at.String(), m[3], "%s: write the offset as Go prints it", e.Name())
		require.NotContains(t, byN, n, "%s: two files for step %d", dir, n)
		input, err := golden.ReadTraces(filepath.Join(dir, e.Name()))
		require.NoError(t, err, e.Name())
		if m[1] == "input" {
			require.NotZero(t, input.ResourceSpans().Len(), "%s: an input with nothing in it is a tick", e.Name())
		} else {
			require.Zero(t, input.ResourceSpans().Len(), "%s: a %s feeds nothing", e.Name(), m[1])
		}
		byN[n] = step{at: at, input: input, crash: m[1] == "crash"}
	}
	require.NotEmpty(t, byN, "scenario %q has no steps", name)
	steps := make([]step, len(byN))
	for i := range steps {
		s, ok := byN[i+1]
		require.True(t, ok, "%s: no file for step %d", dir, i+1)
		if i > 0 {
			require.GreaterOrEqual(t, s.at, steps[i-1].at, "%s: step %d goes back in time", dir, i+1)
		}
		steps[i] = s
	}
	return scenario{name: name, steps: steps}
}

// config reads the scenario's config.yaml over the defaults and validates
// it; each call returns a config of its own.
func (sc scenario) config(t testing.TB) *Config {
	t.Helper()
	cfg, err := loadConfig(t, filepath.Join("testdata", sc.name, "config.yaml"), "")
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	return cfg
}

// run feeds sc's steps through a processor configured by cfg and returns
// everything it emitted, in order, merged into one Traces.
func (sc scenario) run(t *testing.T, cfg *Config) ptrace.Traces {
	return sc.runWith(t, processortest.NewNopSettings(typeStr), cfg)
}

// runWith is run with the given settings. With backlinks.storage set, the
// processor stores on a file_storage of its own, which a crash step leaves
// as a SIGKILL would for the next processor.
func (sc scenario) runWith(t *testing.T, set processor.Settings, cfg *Config) ptrace.Traces {
	sink := new(consumertest.TracesSink)
	clock := &fakeClock{t: start}
	ctx := context.Background()
	dir := t.TempDir()
	var p *spanLinksProcessor
	stop := func() {}
	begin := func() {
		p = newTestProcessorWith(t, set, cfg, sink, clock)
		var host component.Host
		if cfg.Backlinks.Storage != "" {
			host, stop = startFileStorage(t, dir)
		}
		require.NoError(t, p.Start(ctx, host))
	}
	begin()
	for _, s := range sc.steps {
		clock.Set(start.Add(s.at))
		if s.crash {
			require.NotNil(t, p.store, "%s: a crash step needs backlinks.storage", sc.name)
			require.NoError(t, p.store.Close(ctx)) // nothing released or deleted
			require.NoError(t, p.index.Close())
			stop()
			begin()
		}
		if p.index != nil {
			p.releaseDue(nil)
		}
		if s.input.ResourceSpans().Len() > 0 {
			in := ptrace.NewTraces()
			s.input.CopyTo(in)
			require.NoError(t, p.ConsumeTraces(ctx, in))
			if p.index != nil {
				p.releaseDue(nil) // what became due early, as the loop would when woken
			}
		}
	}
	require.NoError(t, p.Shutdown(ctx))
	out := ptrace.NewTraces()
	for _, td := range sink.AllTraces() {
		td.ResourceSpans().MoveAndAppendTo(out.ResourceSpans())
	}
	return out
}

// loadConfig reads a processor config over the defaults from the YAML file
// at path: the whole file when entry is "" (a scenario's config.yaml), else
// its top-level key entry ("spanlinks", "spanlinks/custom"), which must be
// there. It does not validate; it returns the unmarshal error, for the
// caller to require or to expect.
func loadConfig(t testing.TB, path, entry string) (*Config, error) {
	t.Helper()
	conf, err := confmaptest.LoadConf(path)
	require.NoError(t, err)
	if entry != "" {
		require.Truef(t, conf.IsSet(entry), "%s has no entry %q", path, entry)
		conf, err = conf.Sub(entry)
		require.NoError(t, err)
	}
	cfg := createDefaultConfig().(*Config)
	return cfg, conf.Unmarshal(cfg)
}

// newTestProcessor builds a processor on a fake clock, without its release
// loop: the test moves time and calls releaseDue itself.
func newTestProcessor(t testing.TB, cfg *Config, next consumer.Traces, clock *fakeClock) *spanLinksProcessor {
	t.Helper()
	return newTestProcessorWith(t, processortest.NewNopSettings(typeStr), cfg, next, clock)
}

// newTestProcessorWith is newTestProcessor with the given settings.
func newTestProcessorWith(t testing.TB, set processor.Settings, cfg *Config, next consumer.Traces, clock *fakeClock) *spanLinksProcessor {
	t.Helper()
	p, err := newProcessor(set, cfg, next)
	require.NoError(t, err)
	p.now = clock.Now
	p.tick = 0
	p.manual = true
	return p
}

// holdAllConfig is the default config with hold: all, which tests of the
// hold use: every span is held, whatever the time since Start.
func holdAllConfig() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Backlinks.Hold = Hold{Mode: HoldAll}
	return cfg
}

// useRedis points cfg's index at the redis-server on addr, under a key
// prefix of the test's own.
func useRedis(t testing.TB, cfg *Config, addr string) {
	cfg.Backlinks.Index.Backend = IndexRedis
	r := &cfg.Backlinks.Index.Redis
	r.Endpoints = []string{addr}
	r.KeyPrefix = t.Name() + ":"
	r.Timeout = 5 * time.Second
}

// requireSameTraces compares with ptracetest, then byte for byte as OTLP
// JSON, which also pins what ptracetest leaves out (link flags, order).
func requireSameTraces(t *testing.T, want, got ptrace.Traces, what string) {
	t.Helper()
	require.NoError(t, ptracetest.CompareTraces(want, got), what)
	var m ptrace.JSONMarshaler
	wb, err := m.MarshalTraces(want)
	require.NoError(t, err)
	gb, err := m.MarshalTraces(got)
	require.NoError(t, err)
	require.JSONEq(t, string(wb), string(gb), what)
}

// forEachSpan calls f on every span of td, in order.
func forEachSpan(td ptrace.Traces, f func(ptrace.Span)) {
	forEachSpanIn(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) { f(s) })
}

// forEachSpanIn calls f on every span of td, in order, with the resource
// and scope it is under.
func forEachSpanIn(td ptrace.Traces, f func(rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, s ptrace.Span)) {
	for i := range td.ResourceSpans().Len() {
		rs := td.ResourceSpans().At(i)
		for j := range rs.ScopeSpans().Len() {
			ss := rs.ScopeSpans().At(j)
			for k := range ss.Spans().Len() {
				f(rs, ss, ss.Spans().At(k))
			}
		}
	}
}

// spanKeys lists every span of td as "traceid/spanid/name".
func spanKeys(td ptrace.Traces) []string {
	var keys []string
	forEachSpan(td, func(s ptrace.Span) {
		keys = append(keys, s.TraceID().String()+"/"+s.SpanID().String()+"/"+s.Name())
	})
	return keys
}

// backlinkCounts returns spanlinks.backlinks.count of every span the sink
// received, by span ID, summed over the spans with that ID; a span without
// it counts 0.
func backlinkCounts(sink *consumertest.TracesSink) map[string]int64 {
	got := map[string]int64{}
	for _, td := range sink.AllTraces() {
		forEachSpan(td, func(s ptrace.Span) {
			v, _ := s.Attributes().Get(attrBacklinksCount)
			got[s.SpanID().String()] += v.Int()
		})
	}
	return got
}

// metricValue returns the value of the int64 sum or gauge name in tel,
// summed over the points whose reason is reason (any reason when empty);
// 0 when the metric is absent.
func metricValue(t *testing.T, tel *componenttest.Telemetry, name, reason string) int64 {
	t.Helper()
	m, err := tel.GetMetric(name)
	if err != nil {
		return 0
	}
	var points []metricdata.DataPoint[int64]
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		points = d.DataPoints
	case metricdata.Gauge[int64]:
		points = d.DataPoints
	default:
		t.Fatalf("%s: unexpected data %T", name, m.Data)
	}
	var v int64
	for _, p := range points {
		if r, _ := p.Attributes.Value(attribute.Key(reasonKey)); reason == "" || r.AsString() == reason {
			v += p.Value
		}
	}
	return v
}

// Kinds of IDs, so that a golden file tells at a glance whose ID it shows:
// the kind is the ID's first byte, the number its last four (0xd0, a
// message producer's, appears in testdata/ only; testdata/README.md).
const (
	kindOrder  = 0xa0
	kindBatch  = 0xb0
	kindTarget = 0xc0
	kindWorker = 0xe0
	kindJob    = 0xf0
)

func traceID(kind byte, n int) pcommon.TraceID {
	var id pcommon.TraceID
	id[0] = kind
	binary.BigEndian.PutUint32(id[12:], uint32(n))
	return id
}

func spanID(kind byte, n int) pcommon.SpanID {
	var id pcommon.SpanID
	id[0] = kind
	binary.BigEndian.PutUint32(id[4:], uint32(n))
	return id
}

// W3C trace flags as the Go SDK records them on links: the low byte holds
// the trace flags, 0x100 says that the remote flag is known, 0x200 that the
// context was remote.
const (
	flagsSampled   = 0x301
	flagsUnsampled = 0x300
)

// addSpan appends a span to td under the resource of service and a scope
// named after it, reusing both when the last resource is the same service.
func addSpan(td ptrace.Traces, service string, t pcommon.TraceID, id pcommon.SpanID, name string) ptrace.Span {
	rss := td.ResourceSpans()
	var ss ptrace.ScopeSpans
	if n := rss.Len(); n > 0 && serviceOf(rss.At(n-1)) == service {
		ss = rss.At(n - 1).ScopeSpans().At(0)
	} else {
		rs := rss.AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", service)
		ss = rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName(service)
	}
	s := ss.Spans().AppendEmpty()
	s.SetTraceID(t)
	s.SetSpanID(id)
	s.SetName(name)
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(50 * time.Millisecond)))
	return s
}

func serviceOf(rs ptrace.ResourceSpans) string {
	v, _ := rs.Resource().Attributes().Get("service.name")
	return v.Str()
}

// linkTo appends to s a link to (t, id) with the given flags.
func linkTo(s ptrace.Span, t pcommon.TraceID, id pcommon.SpanID, flags uint32) ptrace.SpanLink {
	l := s.Links().AppendEmpty()
	l.SetTraceID(t)
	l.SetSpanID(id)
	l.SetFlags(flags)
	return l
}

// orderSpan adds order n's request span to td.
func orderSpan(td ptrace.Traces, n int) ptrace.Span {
	s := addSpan(td, "order-api", traceID(kindOrder, n), spanID(kindOrder, n), "receive-order")
	s.SetKind(ptrace.SpanKindServer)
	return s
}

// batchSpan adds a batch span n to td that links to orders first..last.
func batchSpan(td ptrace.Traces, n, first, last int) ptrace.Span {
	s := addSpan(td, "order-batcher", traceID(kindBatch, n), spanID(kindBatch, n), "process-batch")
	for i := first; i <= last; i++ {
		linkTo(s, traceID(kindOrder, i), spanID(kindOrder, i), flagsSampled)
	}
	s.Attributes().PutInt("messaging.batch.message_count", int64(last-first+1))
	return s
}

// linkMany adds n links from s to distinct targets of kind.
func linkMany(s ptrace.Span, kind byte, n int) {
	for i := 1; i <= n; i++ {
		linkTo(s, traceID(kind, i), spanID(kind, i), flagsSampled)
	}
}

// inputOf builds one input batch with fill.
func inputOf(fill func(td ptrace.Traces)) ptrace.Traces {
	td := ptrace.NewTraces()
	fill(td)
	return td
}

// orders adds the request spans of orders first..last.
func orders(first, last int) func(td ptrace.Traces) {
	return func(td ptrace.Traces) {
		for i := first; i <= last; i++ {
			orderSpan(td, i)
		}
	}
}

// failed marks s as ended with status Error.
func failed(s ptrace.Span) {
	s.Status().SetCode(ptrace.StatusCodeError)
	s.Status().SetMessage("payment provider unavailable")
}

// telemetrySettings returns the processor's settings with metrics read by
// the returned Telemetry, shut down when t ends.
func telemetrySettings(t *testing.T) (processor.Settings, *componenttest.Telemetry) {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := processortest.NewNopSettings(typeStr)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	return set, tel
}
