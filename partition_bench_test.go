package spanlinksprocessor

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// BenchmarkConsumePartitioned measures ConsumeTraces (hold: none) on a
// request of 50 orders and a batch span linking them, unpartitioned and
// partitioned either way: the cost of finding and hashing the tenant.
func BenchmarkConsumePartitioned(b *testing.B) {
	for _, m := range []struct {
		name string
		cfg  PartitionConfig
	}{
		{name: "none"},
		{name: "metadata_key", cfg: PartitionConfig{MetadataKey: "tenant"}},
		{name: "resource_attribute", cfg: PartitionConfig{ResourceAttribute: "tenant"}},
	} {
		b.Run(m.name, func(b *testing.B) {
			cfg := createDefaultConfig().(*Config)
			cfg.Backlinks.Hold = Hold{Mode: HoldNone}
			cfg.Backlinks.Partition = m.cfg
			p := newTestProcessor(b, cfg, consumertest.NewNop(), &fakeClock{t: start})
			in := inputOf(func(td ptrace.Traces) {
				orders(1, 50)(td)
				batchSpan(td, 1, 1, 50)
			})
			setTenant(in, "acme")
			ctx := withTenant("acme")
			td := ptrace.NewTraces()
			b.ReportAllocs()
			for b.Loop() {
				in.CopyTo(td)
				require.NoError(b, p.ConsumeTraces(ctx, td))
			}
		})
	}
}
