package spanlinksprocessor

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/ptracetest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
)

// update rewrites the golden files of every scenario from what the
// processor produces now: go test . -run TestScenarios -update
var update = flag.Bool("update", false, "rewrite the golden files under testdata/ (inputs and expected outputs)")

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
// only moves the clock and lets the release loop run, as its ticker would.
type step struct {
	at    time.Duration
	input ptrace.Traces
}

// scenario is one user story: a folder under testdata/ holding config.yaml
// (hand-written), input-N.yaml (written from steps) and expected.yaml (all
// the processor emitted, in order, ending with what Shutdown released).
type scenario struct {
	name  string
	steps []step
}

// inputPath names step i's input file; the name carries the clock offset.
func inputPath(dir string, i int, at time.Duration) string {
	return filepath.Join(dir, fmt.Sprintf("input-%d-at-%s.yaml", i+1, at))
}

// loadConfig reads a scenario's config.yaml over the defaults and validates it.
func loadConfig(t *testing.T, path string) *Config {
	t.Helper()
	conf, err := confmaptest.LoadConf(path)
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, conf.Unmarshal(cfg))
	require.NoError(t, cfg.Validate())
	return cfg
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

// run feeds sc's steps through a processor configured by cfg and returns
// everything it emitted, in order, merged into one Traces.
func (sc scenario) run(t *testing.T, cfg *Config) ptrace.Traces {
	return sc.runWith(t, processortest.NewNopSettings(typeStr), cfg)
}

// runWith is run with the given settings.
func (sc scenario) runWith(t *testing.T, set processor.Settings, cfg *Config) ptrace.Traces {
	sink := new(consumertest.TracesSink)
	clock := &fakeClock{t: start}
	p := newTestProcessorWith(t, set, cfg, sink, clock)
	ctx := context.Background()
	require.NoError(t, p.Start(ctx, nil))
	for _, s := range sc.steps {
		clock.Set(start.Add(s.at))
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

// TestScenarios runs every scenario and compares what came out with its
// golden file. It also checks the invariant every scenario shares: each
// span that went in comes out exactly once.
func TestScenarios(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			dir := filepath.Join("testdata", sc.name)
			cfg := loadConfig(t, filepath.Join(dir, "config.yaml"))
			for i, s := range sc.steps {
				if s.input.ResourceSpans().Len() == 0 {
					continue
				}
				path := inputPath(dir, i, s.at)
				if *update {
					require.NoError(t, golden.WriteTracesToFile(path, s.input))
					continue
				}
				want, err := golden.ReadTraces(path)
				require.NoError(t, err, "run go test . -run TestScenarios -update to write it")
				requireSameTraces(t, want, s.input, path+" is out of date with scenarios_test.go")
			}

			got := sc.run(t, cfg)
			requireSpansOnceEach(t, sc.steps, got)
			path := filepath.Join(dir, "expected.yaml")
			if *update {
				require.NoError(t, golden.WriteTracesToFile(path, got))
				return
			}
			want, err := golden.ReadTraces(path)
			require.NoError(t, err)
			requireSameTraces(t, want, got, path)
		})
	}
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

// requireSpansOnceEach checks that every span fed in came out exactly once
// and nothing else came out.
func requireSpansOnceEach(t *testing.T, steps []step, out ptrace.Traces) {
	t.Helper()
	in := map[string]int{}
	for _, s := range steps {
		for _, id := range spanKeys(s.input) {
			in[id]++
		}
	}
	got := map[string]int{}
	for _, id := range spanKeys(out) {
		got[id]++
	}
	require.Equal(t, in, got, "spans in and spans out differ")
}

// spanKeys lists every span of td as "traceid/spanid/name".
func spanKeys(td ptrace.Traces) []string {
	var keys []string
	forEachSpan(td, func(s ptrace.Span) {
		keys = append(keys, s.TraceID().String()+"/"+s.SpanID().String()+"/"+s.Name())
	})
	return keys
}
