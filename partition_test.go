package spanlinksprocessor

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/spanlinks/spanlinksprocessor/internal/redistest"
)

// partitionModes are the two ways of naming a tenant, and how a test sends
// a tenant's spans under each.
var partitionModes = []partitionMode{
	{
		name: "metadata_key",
		cfg:  PartitionConfig{MetadataKey: "tenant"},
		send: func(p *spanLinksProcessor, tenant string, td ptrace.Traces) error {
			return p.ConsumeTraces(withTenant(tenant), td)
		},
	},
	{
		name: "resource_attribute",
		cfg:  PartitionConfig{ResourceAttribute: "tenant"},
		send: func(p *spanLinksProcessor, tenant string, td ptrace.Traces) error {
			setTenant(td, tenant)
			return p.ConsumeTraces(context.Background(), td)
		},
	},
}

// partitionMode is one way of naming a tenant: its config and how a test
// sends a tenant's spans.
type partitionMode struct {
	name string
	cfg  PartitionConfig
	send func(p *spanLinksProcessor, tenant string, td ptrace.Traces) error
}

// withUnpartitioned returns partitionModes after an unpartitioned mode,
// whose tenants share everything: the case each test guards against.
func withUnpartitioned() []partitionMode {
	return append([]partitionMode{{name: "unpartitioned", send: partitionModes[0].send}}, partitionModes...)
}

// setTenant puts the resource attribute tenant on every resource of td.
func setTenant(td ptrace.Traces, tenant string) {
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		td.ResourceSpans().At(i).Resource().Attributes().PutStr("tenant", tenant)
	}
}

// TestPartitionKeepsTenantsApart: tenant A knows the IDs of tenant B's
// orders and sends a batch linking to them, before and after B's orders
// arrive; B's own batch links to order 3. B's orders get only B's backlink,
// in memory and on Redis, with either way of naming tenants. Unpartitioned,
// the same input writes A's batch onto B's orders: the test sees the leak.
func TestPartitionKeepsTenantsApart(t *testing.T) {
	backends := []IndexBackend{IndexMemory}
	var redisAddr string
	if redistest.Available(t) {
		backends = append(backends, IndexRedis)
		redisAddr = redistest.Start(t).Addr
	}
	modes := withUnpartitioned()
	for _, backend := range backends {
		for _, m := range modes {
			t.Run(string(backend)+"/"+m.name, func(t *testing.T) {
				cfg := createDefaultConfig().(*Config)
				cfg.Backlinks.Hold = Hold{Mode: HoldAll}
				cfg.Backlinks.Partition = m.cfg
				if backend == IndexRedis {
					useRedis(t, cfg, redisAddr)
				}
				require.NoError(t, cfg.Validate())
				sink := new(consumertest.TracesSink)
				p := newTestProcessor(t, cfg, sink, &fakeClock{t: start})
				require.NoError(t, m.send(p, "A", inputOf(func(td ptrace.Traces) { batchSpan(td, 1, 1, 2) })))
				require.NoError(t, m.send(p, "B", inputOf(orders(1, 3))))
				require.NoError(t, m.send(p, "A", inputOf(func(td ptrace.Traces) { batchSpan(td, 2, 1, 3) })))
				require.NoError(t, m.send(p, "B", inputOf(func(td ptrace.Traces) { batchSpan(td, 3, 3, 3) })))
				require.NoError(t, p.Shutdown(context.Background()))
				require.Equal(t, 6, sink.SpanCount())
				got := backlinkCounts(sink)
				want := []int64{0, 0, 1} // orders 1..3: B's batch 3 alone
				if m.cfg == (PartitionConfig{}) {
					want = []int64{2, 2, 2} // A's batches 1 and 2 (and B's 3) too
				}
				for i, w := range want {
					assert.Equal(t, w, got[spanID(kindOrder, i+1).String()], "backlinks on order %d", i+1)
				}
			})
		}
	}
}

// TestPartitionMissingValueIsItsOwn: spans without the tenant's value pair
// with each other, and not with a named tenant's.
func TestPartitionMissingValueIsItsOwn(t *testing.T) {
	for _, m := range partitionModes {
		t.Run(m.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			cfg.Backlinks.Hold = Hold{Mode: HoldAll}
			cfg.Backlinks.Partition = m.cfg
			sink := new(consumertest.TracesSink)
			p := newTestProcessor(t, cfg, sink, &fakeClock{t: start})
			require.NoError(t, p.ConsumeTraces(context.Background(), inputOf(orders(1, 2))))
			require.NoError(t, p.ConsumeTraces(context.Background(), inputOf(func(td ptrace.Traces) { batchSpan(td, 1, 1, 1) })))
			require.NoError(t, m.send(p, "A", inputOf(func(td ptrace.Traces) { batchSpan(td, 2, 2, 2) })))
			require.NoError(t, p.Shutdown(context.Background()))
			got := backlinkCounts(sink)
			assert.Equal(t, int64(1), got[spanID(kindOrder, 1).String()], "order 1: the unnamed batch")
			assert.Equal(t, int64(0), got[spanID(kindOrder, 2).String()], "order 2: tenant A's batch is elsewhere")
		})
	}
}

// TestPartitionIndexFloodKeepsOtherTenantsEntries: with max_index_entries
// 100 and hold: none, tenant B's batch links to its 10 orders, then tenant
// A's spans make 1000 links to other targets; B's orders, arriving after,
// still find B's batch. Unpartitioned, A's flood evicted B's entries.
func TestPartitionIndexFloodKeepsOtherTenantsEntries(t *testing.T) {
	modes := withUnpartitioned()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			cfg.Backlinks.Hold = Hold{Mode: HoldNone}
			cfg.Backlinks.MaxIndexEntries = 100
			cfg.Backlinks.Partition = m.cfg
			sink := new(consumertest.TracesSink)
			p := newTestProcessor(t, cfg, sink, &fakeClock{t: start})
			require.NoError(t, m.send(p, "B", inputOf(func(td ptrace.Traces) { batchSpan(td, 1, 1, 10) })))
			for i := 0; i < 100; i++ {
				require.NoError(t, m.send(p, "A", inputOf(func(td ptrace.Traces) {
					s := addSpan(td, "flood", traceID(kindBatch, 100+i), spanID(kindBatch, 100+i), "flood")
					for j := 1; j <= 10; j++ {
						linkTo(s, traceID(0xc0, 10*i+j), spanID(0xc0, 10*i+j), flagsSampled)
					}
				})))
			}
			require.NoError(t, m.send(p, "B", inputOf(orders(1, 10))))
			got := backlinkCounts(sink)
			var sum int64
			for i := 1; i <= 10; i++ {
				sum += got[spanID(kindOrder, i).String()]
			}
			if m.cfg == (PartitionConfig{}) {
				assert.Zero(t, sum, "unpartitioned, A's flood evicted B's entries")
				return
			}
			assert.Equal(t, int64(10), sum, "each of B's 10 orders keeps its backlink")
		})
	}
}

// TestPartitionHoldAutoLearnsWithinTenant: under hold: auto, tenant A's
// links to tenant B's orders, which passed unheld, are not B's missed
// backlinks and teach no class; B's own batch does. Unpartitioned, A's
// links teach the class.
func TestPartitionHoldAutoLearnsWithinTenant(t *testing.T) {
	modes := withUnpartitioned()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			cfg.Backlinks.Hold = Hold{Mode: HoldAuto}
			cfg.Backlinks.Partition = m.cfg
			p := newTestProcessor(t, cfg, new(consumertest.TracesSink), &fakeClock{t: start})
			require.NoError(t, m.send(p, "B", inputOf(orders(1, 2))))
			require.NoError(t, m.send(p, "A", inputOf(func(td ptrace.Traces) { batchSpan(td, 1, 1, 2) })))
			if m.cfg == (PartitionConfig{}) {
				assert.Len(t, p.learn.HeldClasses(), 1, "unpartitioned, A's links teach B's class")
				return
			}
			assert.Empty(t, p.learn.HeldClasses(), "A's links taught a class")
			require.NoError(t, m.send(p, "B", inputOf(func(td ptrace.Traces) { batchSpan(td, 2, 1, 2) })))
			assert.Len(t, p.learn.HeldClasses(), 1, "B's own batch teaches B's class")
		})
	}
}
