package spanlinksprocessor

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/confmap"
)

// designIndexDefaults is the backlinks.index block of DESIGN.md, written out.
func designIndexDefaults() IndexConfig {
	tls := configtls.NewDefaultClientConfig()
	tls.Insecure = true
	return IndexConfig{
		Backend: "memory",
		Redis: RedisConfig{
			Endpoints: []string{"localhost:6379"},
			Cluster:   false,
			Username:  "",
			Password:  "",
			DB:        0,
			TLS:       tls,
			KeyPrefix: "spanlinks:",
			Timeout:   250 * time.Millisecond,
		},
	}
}

func TestConfigIndexLoadValid(t *testing.T) {
	redis := func() IndexConfig {
		c := designIndexDefaults()
		c.Backend = IndexRedis
		c.Redis.Endpoints = []string{"redis.internal:6380"}
		c.Redis.Username = "collector"
		c.Redis.Password = "hunter2"
		c.Redis.DB = 3
		c.Redis.TLS.Insecure = false
		c.Redis.TLS.InsecureSkipVerify = true
		c.Redis.TLS.ServerName = "redis.internal"
		c.Redis.KeyPrefix = "prod:spanlinks:"
		c.Redis.Timeout = 100 * time.Millisecond
		return c
	}
	cluster := func() IndexConfig {
		c := designIndexDefaults()
		c.Backend = IndexRedis
		c.Redis.Endpoints = []string{"10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000"}
		c.Redis.Cluster = true
		return c
	}
	memory := func() IndexConfig {
		c := designIndexDefaults()
		c.Redis.Endpoints = []string{}
		return c
	}
	for name, want := range map[string]func() IndexConfig{"redis": redis, "redis_cluster": cluster, "redis_memory_unchecked": memory} {
		t.Run(name, func(t *testing.T) {
			cfg, err := loadConfig(t, "testdata/config_index.yaml", "spanlinks/"+name)
			require.NoError(t, err)
			assert.Equal(t, want(), cfg.Backlinks.Index)
			assert.NoError(t, cfg.Validate())
		})
	}
}

func TestConfigIndexRefused(t *testing.T) {
	tests := []struct {
		name string
		want []string // each a line of the error
	}{
		{name: "bad_backend", want: []string{`backlinks.index.backend: "etcd" is not "memory" or "redis"`}},
		{name: "bad_redis", want: []string{
			`backlinks.index.redis.endpoints: 4 addresses need cluster: true`,
			`backlinks.index.redis.endpoints[1]: "nohost" is not host:port`,
			`backlinks.index.redis.endpoints[2]: "b:0": port "0" is not a number from 1 to 65535`,
			`backlinks.index.redis.endpoints[3]: ":6379" is not host:port`,
			`backlinks.index.redis.db: must be 0 or more, got -1`,
			`backlinks.index.redis.username: "someone" is set without a password`,
			`backlinks.index.redis.key_prefix: must not be empty`,
			`backlinks.index.redis.timeout: must be greater than 0, got 0s`,
			`backlinks.index.redis.tls: `,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig(t, "testdata/config_index.yaml", "spanlinks/"+tt.name)
			require.NoError(t, err)
			err = cfg.Validate()
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Len(t, strings.Split(err.Error(), "\n"), len(tt.want))
		})
	}
}

func TestConfigIndexRefusedEach(t *testing.T) {
	tests := []struct {
		name string
		set  func(r *RedisConfig)
		want string
	}{
		{"no endpoints", func(r *RedisConfig) { r.Endpoints = nil }, "backlinks.index.redis.endpoints: must list at least one host:port"},
		{"cluster db", func(r *RedisConfig) { r.Cluster, r.DB = true, 1 }, "backlinks.index.redis.db: must be 0 with cluster: true"},
		{"long prefix", func(r *RedisConfig) { r.KeyPrefix = strings.Repeat("p", 129) }, "backlinks.index.redis.key_prefix: is 129 bytes long; at most 128"},
		{"negative timeout", func(r *RedisConfig) { r.Timeout = -time.Second }, "backlinks.index.redis.timeout: must be greater than 0, got -1s"},
		{"tls version", func(r *RedisConfig) { r.TLS.MinVersion = "1.9" }, "backlinks.index.redis.tls: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := designDefaults()
			cfg.Backlinks.Index.Backend = IndexRedis
			tt.set(&cfg.Backlinks.Index.Redis)
			err := cfg.Validate()
			require.Error(t, err)
			assert.Equal(t, 1, len(strings.Split(err.Error(), "\n")), err.Error())
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	cfg := designDefaults()
	cfg.Backlinks.Index.Backend = IndexRedis
	assert.NoError(t, cfg.Validate(), "the defaults with backend: redis")
}

// TestConfigIndexPasswordMasked: the config as print-config writes it holds
// no password.
func TestConfigIndexPasswordMasked(t *testing.T) {
	cfg, err := loadConfig(t, "testdata/config_index.yaml", "spanlinks/redis")
	require.NoError(t, err)
	conf := confmap.New()
	require.NoError(t, conf.Marshal(cfg))
	out := conf.ToStringMap()
	redis := out["backlinks"].(map[string]any)["index"].(map[string]any)["redis"].(map[string]any)
	assert.Equal(t, "[REDACTED]", redis["password"])
	assert.NotContains(t, strings.Join(flatten(out), " "), "hunter2")
}

// flatten returns every string value of m, recursively.
func flatten(v any) []string {
	switch v := v.(type) {
	case map[string]any:
		var s []string
		for _, x := range v {
			s = append(s, flatten(x)...)
		}
		return s
	case []any:
		var s []string
		for _, x := range v {
			s = append(s, flatten(x)...)
		}
		return s
	case string:
		return []string{v}
	default:
		return nil
	}
}
