package redisindex_test

import (
	"context"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"github.com/spanlinks/spanlinksprocessor/internal/linkindex/linkindextest"
	"github.com/spanlinks/spanlinksprocessor/internal/redisindex"
	"github.com/spanlinks/spanlinksprocessor/internal/redistest"
)

// TestSlots adds a linker a second to one target until its entries are in
// two slots' keys, then checks that a lookup lists those within the
// lifetime, oldest first,
// that a linker held in the older slot is not added again in the newer
// one, and the keys' names: key_prefix, the bucket tag in braces, and the
// position's digit.
func TestSlots(t *testing.T) {
	srv := redistest.Start(t)
	c, f := &clock{t: linkindextest.T0}, &failures{}
	ix := newIndex(t, srv.Addr, c, f, redisindex.Options{}) // lifetime 10s: slots of 11s
	ctx := context.Background()
	rdb := srv.Client()
	prefix := t.Name() + ":"
	r := linkindextest.Ref(1)
	ids := string(r.TraceID[:]) + string(r.SpanID[:])
	type entry struct {
		at time.Time
		l  linkindex.Linker
	}
	var added []entry
	var keys []string
	n := uint64(9)
	for len(keys) < 2 {
		n++
		if n > 21 {
			t.Fatalf("12 adds a second apart are in %d key(s), want them in two slots of 11s", len(keys))
		}
		c.Add(time.Second)
		if err := ix.Add(ctx, links(1, n), c.Now()); err != nil {
			t.Fatal(err)
		}
		added = append(added, entry{c.Now(), linkindextest.LinkerOf(n, false)})
		all, err := rdb.Keys(ctx, prefix+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		keys = keys[:0]
		for _, k := range all {
			if ok, err := rdb.HExists(ctx, k, ids).Result(); err != nil {
				t.Fatal(err)
			} else if ok {
				keys = append(keys, k)
			}
		}
	}
	name := regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `\{[0-9a-f]{1,4}\}[0-2]$`)
	for _, k := range keys {
		if !name.MatchString(k) {
			t.Errorf("key %q: want key_prefix, {bucket in hex}, position 0 to 2", k)
		}
	}
	if strings.TrimSuffix(keys[0], keys[0][len(keys[0])-1:]) != strings.TrimSuffix(keys[1], keys[1][len(keys[1])-1:]) {
		t.Errorf("keys %q: one target's slots must be positions of one bucket", keys)
	}

	lookup := func() linkindex.Backlinks {
		var q linkindex.Targets
		q.Add(linkindex.KeyOf(r.TraceID, r.SpanID))
		if err := ix.Lookup(ctx, &q, linkindextest.T0, 32); err != nil {
			t.Fatal(err)
		}
		return q.Result(0)
	}
	// The entries within the lifetime (10s): the one added a second before
	// the last, in the older slot, at least.
	var want []linkindex.Linker
	for _, e := range added {
		if c.Now().Sub(e.at) < 10*time.Second {
			want = append(want, e.l)
		}
	}
	if got := lookup(); got.Count != len(want) || !reflect.DeepEqual(got.Linkers, want) {
		t.Fatalf("lookup across two slots: count %d, linkers %v; want %d, %v, oldest first", got.Count, got.Linkers, len(want), want)
	}
	// The linker before the last, held in the older slot, again: not added.
	before := ix.Stats().Entries
	if err := ix.Add(ctx, links(1, n-1), c.Now()); err != nil {
		t.Fatal(err)
	}
	if got := lookup(); got.Count != len(want) || ix.Stats().Entries != before {
		t.Errorf("a linker held in the older slot, added again: count %d, entries %d; want %d, %d",
			got.Count, ix.Stats().Entries, len(want), before)
	}
}

// TestEmptyHashTagPrefix: on a Cluster, a key_prefix whose first hash tag
// is empty would spread one bucket's keys over nodes: refused.
func TestEmptyHashTagPrefix(t *testing.T) {
	_, err := redisindex.New(redisindex.Options{
		Endpoints: []string{"127.0.0.1:1"}, Cluster: true, KeyPrefix: "a{}b:", Lifetime: time.Second,
	})
	if err == nil || !strings.Contains(err.Error(), `key_prefix "a{}b:"`) {
		t.Errorf("New with key_prefix a{}b: on a Cluster: %v, want an error naming key_prefix", err)
	}
	for _, p := range []string{"{one}:", "a{", "spanlinks:"} {
		ix, err := redisindex.New(redisindex.Options{Endpoints: []string{"127.0.0.1:1"}, Cluster: true, KeyPrefix: p, Lifetime: time.Second})
		if err != nil {
			t.Errorf("New with key_prefix %q: %v", p, err)
			continue
		}
		ix.Close()
	}
}
