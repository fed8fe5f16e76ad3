package redisindex

import (
	"strconv"
	"strings"
)

// buckets is how many hashes a time slot's targets are spread over. Every
// collector that shares a key_prefix must use the same count (it decides
// which key holds a target), so it is fixed here, not configured.
//
// It keeps the hashes in Redis's compact listpack encoding (at most
// hash-max-listpack-entries fields, 512 by default on Redis 7.0, of at most
// hash-max-listpack-value bytes, 64 by default) at realistic volumes: a
// slot holds the entries of about one lifetime, and 16384 buckets hold 61
// targets each at 1M entries (98 in the fullest bucket of the tests' IDs),
// so a slot stays in listpacks up to about 7M entries (a bucket that passes
// 512 becomes a hash table, which costs it memory, not answers). Measured
// at 1M entries, one linker per target, the default key_prefix: 86.0
// bytes/entry with 4096 buckets (244 targets each, listpacks, but hash
// tables from about 1.8M entries a slot), 87.6 with 16384, 94.2 with 65536
// (15 targets each: a key's own overhead, about 100 bytes, over fewer
// entries). See BENCHMARKS.md, "Redis memory per entry".
const buckets = 16384

// bucketOf returns the bucket of field (a target's key bytes, see keyOf):
// FNV-1a (64 bits) of field, mixed by MurmurHash3's finalizer so that
// every bit of the field reaches the low bits the modulo keeps (FNV's low
// bits alone depend on too little: IDs that repeat a counter, as the tests'
// do, fell into a quarter of the buckets), modulo buckets.
func bucketOf[F string | []byte](field F) int {
	h := uint64(14695981039346656037)
	for i := 0; i < len(field); i++ {
		h = (h ^ uint64(field[i])) * 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return int(h % buckets)
}

// bucketTag returns what the keys of bucket b hold between braces: b in
// hexadecimal.
func bucketTag(b int) string { return bucketTags[b] }

// bucketTags holds bucketTag of every bucket, made once.
var bucketTags = func() []string {
	tags := make([]string, buckets)
	for b := range tags {
		tags[b] = strconv.FormatUint(uint64(b), 16)
	}
	return tags
}()

// emptyHashTag reports whether a key that starts with prefix has an empty
// hash tag first ("{}"), which makes Redis Cluster hash the whole key, so
// that a bucket's positions would land on different nodes.
func emptyHashTag(prefix string) bool {
	i := strings.IndexByte(prefix, '{')
	return i >= 0 && i+1 < len(prefix) && prefix[i+1] == '}'
}
