package spanlinksprocessor

import (
	"context"
	"fmt"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"github.com/spanlinks/spanlinksprocessor/internal/redisindex"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
)

// The index seam (docs/contract.md, "Index" and "Beyond one collector"):
// the processor talks to the index only through linkindex.Index, in
// memory or on Redis, as backlinks.index configures.
var (
	_ linkindex.Index = (*linkindex.Memory)(nil)
	_ linkindex.Index = (*redisindex.Index)(nil)
)

// newLinkIndex returns the index that cfg configures, whose entries live
// for lifetime; failed hears of the failures no method returns, and now is
// the clock of the times the processor gives the index.
func newLinkIndex(cfg *BacklinksConfig, lifetime time.Duration, failed func(op string, err error), now func() time.Time, log *zap.Logger) (linkindex.Index, error) {
	if cfg.Index.Backend == IndexRedis {
		return newRedisIndex(cfg.Index.Redis, lifetime, failed, now, log)
	}
	return linkindex.NewMemory(lifetime, cfg.MaxIndexEntries), nil
}

// newRedisIndex returns the link index on the Redis that cfg names, and
// logs where it is. It does not connect: a Redis that is down at start-up
// costs failed operations (counted, logged, backed off), not a collector
// that fails to start.
func newRedisIndex(cfg RedisConfig, lifetime time.Duration, failed func(op string, err error), now func() time.Time, log *zap.Logger) (linkindex.Index, error) {
	tls, err := cfg.TLS.LoadTLSConfig(context.Background())
	if err != nil {
		return nil, fmt.Errorf("backlinks.index.redis.tls: %w", err)
	}
	ix, err := redisindex.New(redisindex.Options{
		Endpoints: cfg.Endpoints,
		Cluster:   cfg.Cluster,
		Username:  cfg.Username,
		Password:  string(cfg.Password),
		DB:        cfg.DB,
		TLS:       tls,
		KeyPrefix: cfg.KeyPrefix,
		Timeout:   cfg.Timeout,
		Lifetime:  lifetime,
		Clock:     now,
		// Only Expire's clock resync reports through Failed; Add and
		// Lookup return their errors.
		Failed: func(_ string, err error) { failed(opClock, err) },
	})
	if err != nil {
		return nil, fmt.Errorf("backlinks.index.redis: %w", err)
	}
	log.Info("Link index on Redis", redisFields(cfg)...)
	return ix, nil
}

// redisFields names the Redis an index is on, for its logs: never the
// credentials.
func redisFields(cfg RedisConfig) []zap.Field {
	return []zap.Field{
		zap.Strings("endpoints", cfg.Endpoints),
		zap.Bool("cluster", cfg.Cluster),
		zap.String("key_prefix", cfg.KeyPrefix),
	}
}

// gatherLinks adds to b the links of span that the index records (step 4):
// the kept, valid ones that this processor did not add, in partition part:
// links pair only within the linker's partition.
func gatherLinks(b *linkindex.Links, span ptrace.Span, part linkindex.Partition) {
	links := span.Links()
	n := 0
	for i := 0; i < links.Len(); i++ {
		l := links.At(i)
		if to := linkindex.KeyOf(l.TraceID(), l.SpanID()).In(part); to.Valid() && !isBacklink(l) {
			b.Link(to)
			n++
		}
	}
	if n > 0 {
		b.Linker(linkindex.KeyOf(span.TraceID(), span.SpanID()).In(part), span.Name(),
			span.Status().Code() == ptrace.StatusCodeError)
	}
}
