package redisindex

import (
	"crypto/tls"
	"time"
)

// Options configures an Index.
type Options struct {
	// Endpoints are the addresses (host:port) of the Redis server, or of
	// some nodes of the Redis Cluster when Cluster is set.
	Endpoints []string
	// Cluster says the endpoints are Redis Cluster nodes.
	Cluster bool
	// Username and Password authenticate to Redis (ACL user, or password
	// only for requirepass).
	Username, Password string
	// DB is the database of a standalone server.
	DB int
	// TLS, when not nil, connects with TLS.
	TLS *tls.Config
	// KeyPrefix starts every key the index writes: collectors that share
	// the prefix share the index.
	KeyPrefix string
	// Timeout bounds each operation's round trips.
	Timeout time.Duration
	// Lifetime is how long an entry lives: the processor's reach (the
	// window plus its release tick), twice that when spans are held. Keys
	// live a second longer after their last write, and a time slot lasts
	// the lifetime and a second: collectors sharing a KeyPrefix should share
	// it (they pair exactly either way; see scripts.go).
	Lifetime time.Duration
	// Clock is the local clock that the Redis clock's offset is measured
	// against, and that times the back-off; time.Now when nil. The times
	// given to Add, Lookup and Expire are on this clock.
	Clock func() time.Time
	// Resync is how often the offset is measured again, from Expire;
	// one minute when zero, never when negative.
	Resync time.Duration
	// Failed, when not nil, is told of the failures that no method returns:
	// those of Expire's clock resync (op "clock").
	Failed func(op string, err error)
}

// withDefaults returns o with its zero values filled in.
func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = 250 * time.Millisecond
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Resync == 0 {
		o.Resync = time.Minute
	}
	if o.Failed == nil {
		o.Failed = func(string, error) {}
	}
	return o
}
