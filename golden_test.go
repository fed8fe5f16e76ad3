package spanlinksprocessor

import (
	"context"
	"flag"
	"path/filepath"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/spanlinks/spanlinksprocessor/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
)

// update rewrites the expected.yaml of every scenario from what the
// processor produces now: go test . -run TestScenarios -update. The inputs
// and config.yaml are authored and never written.
var update = flag.Bool("update", false, "rewrite testdata/<scenario>/expected.yaml (never the inputs)")

// TestScenarios runs every scenario under testdata/ (a folder with a
// config.yaml; testdata/README.md) and compares what came out with its
// expected.yaml. It also checks the invariant every scenario shares: each
// span that went in comes out exactly once; under deliver: spans the other
// spans out are backlink spans, each counted.
func TestScenarios(t *testing.T) {
	backends := []IndexBackend{IndexMemory}
	var redisAddr string
	if !*update && redistest.Available(t) {
		backends = append(backends, IndexRedis)
		redisAddr = redistest.Start(t).Addr
	}
	for _, sc := range loadScenarios(t) {
		t.Run(sc.name, func(t *testing.T) {
			// The same golden file for every backend: the index on Redis
			// pairs spans exactly as the one in memory does.
			for _, backend := range backends {
				t.Run(string(backend), func(t *testing.T) {
					cfg := sc.config(t)
					spans := cfg.Backlinks.Deliver == DeliverSpans
					if backend == IndexRedis {
						if spans {
							t.Skip("deliver: spans uses no index")
						}
						useRedis(t, cfg, redisAddr)
					}
					tel := componenttest.NewTelemetry()
					t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
					set := processortest.NewNopSettings(typeStr)
					set.TelemetrySettings = tel.NewTelemetrySettings()
					got := sc.runWith(t, set, cfg)
					if spans {
						n := requireInputsAndBacklinkSpans(t, sc.steps, got)
						assert.Equal(t, int64(n), metricValue(t, tel, metricBacklinkSpans, ""), "backlink spans counted")
					} else {
						requireSpansOnceEach(t, sc.steps, got)
					}
					path := filepath.Join("testdata", sc.name, "expected.yaml")
					if *update {
						require.NoError(t, golden.WriteTracesToFile(path, got))
						return
					}
					want, err := golden.ReadTraces(path)
					require.NoError(t, err, "run go test . -run TestScenarios -update to write it")
					requireSameTraces(t, want, got, path)
				})
			}
		})
	}
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
