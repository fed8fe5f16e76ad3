package redisindex

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"github.com/spanlinks/spanlinksprocessor/internal/redistest"
)

// way is one way of adding a batch's links and looking its spans up.
type way struct {
	name        string
	add, lookup func(t *testing.T, spans []redistest.Span, now time.Time)
}

// TestMeasureAlternatives measures, on one redis-server, Redis's CPU per
// link and per span of the telemetrygen load (batches of 512 spans, each
// batch's links added and its spans looked up, as with hold: none) through
// the index and through a layout of plain pipelined commands, and the cost
// of single commands by listpack size and of the same commands run by a
// script instead of pipelined. It runs only with SPANLINKS_MEASURE=1.
func TestMeasureAlternatives(t *testing.T) {
	redistest.MeasureOnly(t, "./internal/redisindex")
	srv := redistest.Start(t)
	rc := srv.Client()
	ix, err := New(Options{Endpoints: []string{srv.Addr}, KeyPrefix: "spanlinks:", Timeout: 10 * time.Second, Lifetime: 30 * time.Second, Resync: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	load := redistest.TelemetrygenLoad(1, 400*512, 3)
	for _, w := range []way{indexWay(ix), plainWay(rc), indexWay(ix), plainWay(rc)} {
		measureWay(t, rc, load, w)
	}
	measureCommands(t, rc)
}

// measureWay runs load through w, 512 spans a batch, and logs Redis's CPU
// per link and per span over the second half, the first filling Redis.
func measureWay(t *testing.T, rc *redis.Client, load []redistest.Span, w way) {
	const batch = 512
	t0 := time.Now()
	var cpu0 float64
	links, spans := 0, 0
	for b := 0; (b+1)*batch <= len(load); b++ {
		if b == len(load)/batch/2 {
			cpu0, links, spans = redistest.ServerCPU(t, rc), 0, 0
		}
		ss := load[b*batch : (b+1)*batch]
		now := t0.Add(time.Duration(b) * 128 * time.Millisecond) // 4000 spans/s
		w.add(t, ss, now)
		w.lookup(t, ss, now)
		for _, s := range ss {
			links += len(s.Links)
		}
		spans += len(ss)
	}
	cpu := redistest.ServerCPU(t, rc) - cpu0
	t.Logf("%-62s Redis CPU %5.2f µs/link, %5.1f µs/span; used_memory %d", w.name, cpu*1e6/float64(links), cpu*1e6/float64(spans), redistest.UsedMemory(t, rc))
	if err := rc.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}

// indexWay adds and looks up through ix.
func indexWay(ix *Index) way {
	ctx := context.Background()
	return way{
		name: "index (one script call per batch and operation)",
		add: func(t *testing.T, ss []redistest.Span, now time.Time) {
			var b linkindex.Links
			redistest.Batch(ss, &b, new(linkindex.Targets))
			if err := ix.Add(ctx, &b, now); err != nil {
				t.Fatal(err)
			}
		},
		lookup: func(t *testing.T, ss []redistest.Span, now time.Time) {
			var q linkindex.Targets
			redistest.Batch(ss, new(linkindex.Links), &q)
			if err := ix.Lookup(ctx, &q, now.Add(-30*time.Second), 8); err != nil {
				t.Fatal(err)
			}
		},
	}
}

// plainWay adds and looks up with plain pipelined commands, one field per
// entry (target and linker IDs) in 16384 buckets of 3 positions: an add
// is HGET of the field at the previous position (is the linker held
// there?) and HSETNX at now's (held there?), a key's PEXPIRE once; a lookup
// HSCAN with MATCH of the target's fields at both positions. It counts the
// commands' cost, not a complete index: a linker found held at the
// previous position after HSETNX wrote it would need a second round trip,
// and HSCAN of a hash table a cursor.
func plainWay(rc *redis.Client) way {
	ctx := context.Background()
	key := func(f string, pos int) string {
		return "plain:{" + bucketTag(bucketOf(f)) + "}" + strconv.Itoa(pos)
	}
	expired := map[string]bool{}
	pipe := func(t *testing.T, f func(p redis.Pipeliner)) {
		if _, err := rc.Pipelined(ctx, func(p redis.Pipeliner) error { f(p); return nil }); err != nil && !errors.Is(err, redis.Nil) {
			t.Fatal(err)
		}
	}
	return way{
		name: "plain pipelined commands, a field per entry, HSCAN lookups",
		add: func(t *testing.T, ss []redistest.Span, now time.Time) {
			pipe(t, func(p redis.Pipeliner) {
				for _, s := range ss {
					linker := refOf(s.ID.Ref())
					for _, l := range s.Links {
						target := refOf(l.Ref())
						p.HGet(ctx, key(target, 0), target+linker)
						k := key(target, 1)
						p.HSetNX(ctx, k, target+linker, "12345678\x00"+s.Name)
						if !expired[k] {
							expired[k] = true
							p.PExpire(ctx, k, time.Minute)
						}
					}
				}
			})
		},
		lookup: func(t *testing.T, ss []redistest.Span, now time.Time) {
			pipe(t, func(p redis.Pipeliner) {
				for _, s := range ss {
					target := refOf(s.ID.Ref())
					for pos := range 2 {
						p.HScan(ctx, key(target, pos), 0, globEscape(target)+"*", 1000)
					}
				}
			})
		},
	}
}

// globEscape escapes the bytes of s that a Redis glob pattern treats as
// special.
func globEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(`*?[]\`, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// measureCommands fills hashes of 1M fields (24-byte fields, 49-byte
// values) over 1024 to 131072 buckets, one count at a time, and logs their
// memory per field, their encodings, and Redis's CPU per pipelined command:
// EXISTS of a bucket's key, HGET of a missing field (a scan of the
// bucket's listpack, or a hash table's lookup over 512 fields); then, at
// 16384 buckets, HGET and HSETNX pipelined against the same two run by a
// script.
func measureCommands(t *testing.T, rc *redis.Client) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	field := func() string {
		var b [24]byte
		for i := range 3 {
			binary.LittleEndian.PutUint64(b[8*i:], r.Uint64())
		}
		return string(b[:])
	}
	value := strings.Repeat("v", 49)
	for _, n := range []uint64{1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 17} {
		key := func(f string, pos int) string {
			return fmt.Sprintf("c%d:{%x}%d", n, binary.LittleEndian.Uint64([]byte(f))%n, pos)
		}
		m0 := redistest.UsedMemory(t, rc)
		perCommand(t, rc, 1000, 1000, func(p redis.Pipeliner) { f := field(); p.HSet(ctx, key(f, 0), f, value) })
		enc := rc.ObjectEncoding(ctx, key(field(), 0)).Val()
		t.Logf("%6d buckets, %5.1f fields each (%s): %.1f bytes/field", n, 1e6/float64(n), enc, float64(redistest.UsedMemory(t, rc)-m0)/1e6)
		t.Logf("  EXISTS: %.2f µs", perCommand(t, rc, 200, 1000, func(p redis.Pipeliner) { p.Exists(ctx, key(field(), 0)) }))
		t.Logf("  HGET, missing field: %.2f µs", perCommand(t, rc, 200, 1000, func(p redis.Pipeliner) { f := field(); p.HGet(ctx, key(f, 0), f) }))
		if n != 1<<14 {
			if err := rc.FlushAll(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Logf("  HGET previous + HSETNX now's, pipelined: %.2f µs per pair", perCommand(t, rc, 200, 1000, func(p redis.Pipeliner) {
			f := field()
			p.HGet(ctx, key(f, 0), f)
			p.HSetNX(ctx, key(f, 1), f, value)
		}))
		both := redis.NewScript("for i = 1, #ARGV, 4 do redis.call('HGET', ARGV[i], ARGV[i + 2]); redis.call('HSETNX', ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]) end")
		if err := both.Load(ctx, rc).Err(); err != nil {
			t.Fatal(err)
		}
		t.Logf("  HGET previous + HSETNX now's, in a script: %.2f µs per pair", perCommand(t, rc, 200, 1, func(p redis.Pipeliner) {
			var args []any
			for range 1000 {
				f := field()
				args = append(args, key(f, 0), key(f, 1), f, value)
			}
			both.EvalSha(ctx, p, nil, args...)
		}))
	}
	if err := rc.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
}

// perCommand runs batches pipelines of per calls of f, each pipeline 1000
// units of work (1000 calls of one unit each, or one call of 1000 units),
// and returns Redis's CPU per unit, in µs.
func perCommand(t *testing.T, rc *redis.Client, batches, per int, f func(p redis.Pipeliner)) float64 {
	ctx := context.Background()
	cpu0 := redistest.ServerCPU(t, rc)
	for range batches {
		_, err := rc.Pipelined(ctx, func(p redis.Pipeliner) error {
			for range per {
				f(p)
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatal(err)
		}
	}
	return (redistest.ServerCPU(t, rc) - cpu0) * 1e6 / float64(batches*1000)
}
