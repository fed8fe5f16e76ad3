package spanlinksprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/spanlinks/spanlinksprocessor/internal/redistest"
)

// TestRedisTLS: backlinks.index.redis.tls, with the CA of a Redis that
// accepts only TLS, pairs an order with its batch through it.
func TestRedisTLS(t *testing.T) {
	srv := redistest.StartTLS(t)
	cfg := createDefaultConfig().(*Config)
	cfg.Backlinks.Window = 10 * time.Second
	useRedis(t, cfg, srv.Addr)
	cfg.Backlinks.Index.Redis.TLS.Insecure = false
	cfg.Backlinks.Index.Redis.TLS.CAFile = srv.CAFile
	require.NoError(t, cfg.Validate())
	sink := new(consumertest.TracesSink)
	clock := &fakeClock{t: start}
	p := newTestProcessor(t, cfg, sink, clock)
	ctx := context.Background()
	require.NoError(t, p.Start(ctx, nil))
	require.NoError(t, p.ConsumeTraces(ctx, inputOf(func(td ptrace.Traces) { orderSpan(td, 1) })))
	require.NoError(t, p.ConsumeTraces(ctx, inputOf(func(td ptrace.Traces) { batchSpan(td, 1, 1, 1) })))
	clock.Set(start.Add(10 * time.Second))
	p.releaseDue(nil)
	require.NoError(t, p.Shutdown(ctx))
	count, _ := findSpan(t, sink, "receive-order").Attributes().Get(attrBacklinksCount)
	assert.Equal(t, int64(1), count.Int())
}
