package spanlinksprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/spanlinks/spanlinksprocessor/internal/redistest"
)

// TestMeasureIndexCPU feeds the same batches (500 spans: 450 orders, 50
// batch spans linking 9 orders each, every order linked by the next batch)
// through the processor with the index in memory and on a real redis-server,
// and reports this process's CPU per span and, for Redis, the server's CPU
// per span. It runs only with SPANLINKS_MEASURE=1.
func TestMeasureIndexCPU(t *testing.T) {
	redistest.MeasureOnly(t, ".")
	const batches, orders, batchSpans = 400, 450, 50
	inputs := make([]ptrace.Traces, batches)
	for i := range inputs {
		td := ptrace.NewTraces()
		for j := range orders {
			orderSpan(td, i*orders+j+1)
		}
		for j := range batchSpans {
			// Links the orders of the previous input: the linker comes after.
			first := (i-1)*orders + j*9 + 1
			if i == 0 {
				first = j*9 + 1
			}
			batchSpan(td, i*batchSpans+j+1, first, first+8)
		}
		inputs[i] = td
	}
	srv := redistest.Start(t)
	rc := srv.Client()
	cpu := map[IndexBackend]float64{}
	for _, backend := range []IndexBackend{IndexMemory, IndexRedis} {
		cfg := createDefaultConfig().(*Config)
		cfg.Backlinks.Hold = Hold{Mode: HoldNone}
		if backend == IndexRedis {
			useRedis(t, cfg, srv.Addr)
		}
		clock := &fakeClock{t: start}
		p := newTestProcessor(t, cfg, consumertest.NewNop(), clock)
		ctx := context.Background()
		require.NoError(t, p.Start(ctx, nil))
		require.NoError(t, p.ConsumeTraces(ctx, copyOf(inputs[0]))) // connect
		redis0, self0, wall0 := redistest.ServerCPU(t, rc), redistest.ProcessCPU(), time.Now()
		for i, in := range inputs {
			clock.Set(start.Add(time.Duration(i) * 10 * time.Millisecond))
			require.NoError(t, p.ConsumeTraces(ctx, copyOf(in)))
		}
		redis1, self1, wall := redistest.ServerCPU(t, rc), redistest.ProcessCPU(), time.Since(wall0)
		spans := float64(batches * (orders + batchSpans))
		cpu[backend] = (self1 - self0) * 1e6 / spans
		t.Logf("%s: collector CPU %.2f µs/span, wall %.2f µs/span, Redis CPU %.2f µs/span",
			backend, cpu[backend], float64(wall.Microseconds())/spans, (redis1-redis0)*1e6/spans)
		require.NoError(t, p.Shutdown(ctx))
	}
	t.Logf("collector CPU per span, redis / memory: %.2f", cpu[IndexRedis]/cpu[IndexMemory])
}

func copyOf(td ptrace.Traces) ptrace.Traces {
	out := ptrace.NewTraces()
	td.CopyTo(out)
	return out
}
