package spanlinksprocessor

import (
	"flag"
	"path/filepath"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/spanlinks/spanlinksprocessor/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
					set, tel := telemetrySettings(t)
					got := sc.runWith(t, set, cfg)
					n := requireSpansOnceEach(t, sc.steps, got)
					assert.Equal(t, int64(n), metricValue(t, tel, metricBacklinkSpans, ""), "backlink spans counted")
					if !spans {
						assert.Zero(t, n, "backlink spans come only with deliver: spans")
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
