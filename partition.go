package spanlinksprocessor

import (
	"context"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// partitions finds the partition of spans. A missing value is a partition
// of its own, that of the tenant "". It remembers the last name it hashed,
// since a request's resources mostly share one.
type partitions struct {
	cfg  PartitionConfig
	name string
	p    linkindex.Partition
	set  bool
	rs   ptrace.ResourceSpans // whose partition p is, with a resource attribute
}

// newPartitions returns the partition finder of one request or held batch.
func newPartitions(cfg PartitionConfig) partitions { return partitions{cfg: cfg} }

// client returns the tenant named by the request's metadata: "" without a
// metadata key or a value.
func (ps *partitions) client(ctx context.Context) string {
	if ps.cfg.MetadataKey == "" {
		return ""
	}
	if v := client.FromContext(ctx).Metadata.Get(ps.cfg.MetadataKey); len(v) > 0 {
		return v[0]
	}
	return ""
}

// nameOf returns the tenant of the spans under rs sent in ctx.
func (ps *partitions) nameOf(ctx context.Context, rs ptrace.ResourceSpans) string {
	if ps.cfg.ResourceAttribute != "" {
		if v, ok := rs.Resource().Attributes().Get(ps.cfg.ResourceAttribute); ok {
			return v.AsString()
		}
		return ""
	}
	return ps.client(ctx)
}

// of returns the partition of the spans under rs sent in ctx: zero when
// spans are not partitioned, so that keys stay as they were.
func (ps *partitions) of(ctx context.Context, rs ptrace.ResourceSpans) linkindex.Partition {
	if !ps.cfg.on() {
		return 0
	}
	if ps.set && (ps.cfg.ResourceAttribute == "" || rs == ps.rs) {
		return ps.p // one per request, or per resource
	}
	name := ps.nameOf(ctx, rs)
	if !ps.set || name != ps.name {
		ps.name, ps.p, ps.set = name, linkindex.PartitionOf(name), true
	}
	ps.rs = rs
	return ps.p
}
