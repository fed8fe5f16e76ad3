package spanlinksprocessor

import (
	"context"
	"fmt"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/redisindex"
)

var _ linkIndex = (*redisindex.Index)(nil)

// newRedisIndex returns the link index on the Redis that cfg names. It does
// not connect: a Redis that is down at start-up costs failed operations
// (counted, logged, backed off), not a collector that fails to start.
func newRedisIndex(cfg RedisConfig, lifetime time.Duration, failed func(op string, err error), now func() time.Time) (linkIndex, error) {
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
	return ix, nil
}
