package spanlinksprocessor

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configtls"
)

// IndexBackend is the backlinks.index.backend setting: where the link index
// lives.
type IndexBackend string

const (
	// IndexMemory keeps the index in the collector's memory.
	IndexMemory IndexBackend = "memory"
	// IndexRedis keeps the index on Redis, shared by a fleet of collectors.
	IndexRedis IndexBackend = "redis"
)

// IndexConfig is the backlinks.index section.
type IndexConfig struct {
	// Backend is IndexMemory or IndexRedis.
	Backend IndexBackend `mapstructure:"backend"`
	// Redis configures the index on Redis, used when Backend is IndexRedis.
	Redis RedisConfig `mapstructure:"redis"`
}

// RedisConfig is the backlinks.index.redis section.
type RedisConfig struct {
	// Endpoints are one host:port, or several nodes' with Cluster.
	Endpoints []string `mapstructure:"endpoints"`
	// Cluster says the endpoints are Redis Cluster nodes.
	Cluster bool `mapstructure:"cluster"`
	// Username is the Redis ACL user; empty for the default user.
	Username string `mapstructure:"username"`
	// Password is the Redis password: a secret, never logged or printed.
	Password configopaque.String `mapstructure:"password,omitempty"`
	// DB is the database of a standalone server.
	DB int `mapstructure:"db"`
	// TLS holds the collector's usual client TLS settings.
	TLS configtls.ClientConfig `mapstructure:"tls"`
	// KeyPrefix starts every key the index writes; collectors that share
	// the prefix share the index.
	KeyPrefix string `mapstructure:"key_prefix"`
	// Timeout bounds each round trip to Redis.
	Timeout time.Duration `mapstructure:"timeout"`
}

// defaultIndexConfig returns the index section's defaults.
func defaultIndexConfig() IndexConfig {
	tls := configtls.NewDefaultClientConfig()
	tls.Insecure = true
	return IndexConfig{
		Backend: IndexMemory,
		Redis: RedisConfig{
			Endpoints: []string{"localhost:6379"},
			TLS:       tls,
			KeyPrefix: "spanlinks:",
			Timeout:   250 * time.Millisecond,
		},
	}
}

// maxKeyPrefix bounds key_prefix, which every key of the index repeats.
const maxKeyPrefix = 128

// validate refuses every bad value of the index section, naming its key.
func (c IndexConfig) validate() []error {
	switch c.Backend {
	case IndexMemory:
		return nil
	case IndexRedis:
		return c.Redis.validate()
	default:
		return []error{fmt.Errorf("backlinks.index.backend: %q is not %q or %q", c.Backend, IndexMemory, IndexRedis)}
	}
}

func (r RedisConfig) validate() []error {
	const key = "backlinks.index.redis."
	var errs []error
	bad := func(k, format string, args ...any) {
		errs = append(errs, fmt.Errorf(key+k+": "+format, args...))
	}
	if len(r.Endpoints) == 0 {
		bad("endpoints", "must list at least one host:port")
	}
	if len(r.Endpoints) > 1 && !r.Cluster {
		bad("endpoints", "%d addresses need cluster: true; a standalone Redis has one", len(r.Endpoints))
	}
	for i, e := range r.Endpoints {
		host, port, err := net.SplitHostPort(e)
		if err != nil || host == "" {
			bad(fmt.Sprintf("endpoints[%d]", i), "%q is not host:port", e)
			continue
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			bad(fmt.Sprintf("endpoints[%d]", i), "%q: port %q is not a number from 1 to 65535", e, port)
		}
	}
	if r.DB < 0 {
		bad("db", "must be 0 or more, got %d", r.DB)
	}
	if r.Cluster && r.DB != 0 {
		bad("db", "must be 0 with cluster: true (Redis Cluster has only database 0), got %d", r.DB)
	}
	if r.Username != "" && r.Password == "" {
		bad("username", "%q is set without a password", r.Username)
	}
	if r.KeyPrefix == "" {
		bad("key_prefix", "must not be empty: the index's keys would mix with the database's other keys")
	}
	if len(r.KeyPrefix) > maxKeyPrefix {
		bad("key_prefix", "is %d bytes long; at most %d", len(r.KeyPrefix), maxKeyPrefix)
	}
	if r.Timeout <= 0 {
		bad("timeout", "must be greater than 0, got %s", r.Timeout)
	}
	if err := r.TLS.Validate(); err != nil {
		bad("tls", "%v", err)
	} else if _, err := r.TLS.LoadTLSConfig(context.Background()); err != nil {
		bad("tls", "%v", err)
	}
	return errs
}
