package redisindex

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// node is one Redis server that holds part of the index (all of it when
// standalone), and its route key, which lies in a slot the node serves so
// that a script called with it runs there; nothing is written to it.
type node struct {
	addr  string
	route string
}

// topology says which node holds each key.
type topology struct {
	nodes   []node
	slots   []uint16 // node of each hash slot; nil when standalone
	buckets []uint16 // node of each bucket; nil when standalone
}

// nodeOf returns the index in t.nodes of the node that holds the keys of
// bucket b.
func (t *topology) nodeOf(b int) int {
	if t.buckets == nil {
		return 0
	}
	return int(t.buckets[b])
}

// standalone returns the topology of one server.
func standalone(addr, prefix string) *topology {
	return &topology{nodes: []node{{addr: addr, route: prefix + "seq"}}}
}

// clusterTopology reads the masters and their slots from a Cluster and
// picks each master's route key.
func clusterTopology(ctx context.Context, c *redis.ClusterClient, prefix string) (*topology, error) {
	ranges, err := c.ClusterSlots(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("reading the cluster's slots: %w", err)
	}
	slices.SortFunc(ranges, func(a, b redis.ClusterSlot) int { return a.Start - b.Start })
	t := &topology{slots: make([]uint16, clusterSlots)}
	owner := make(map[string]int)
	covered := 0
	for _, r := range ranges {
		if len(r.Nodes) == 0 {
			continue
		}
		addr := r.Nodes[0].Addr
		i, ok := owner[addr]
		if !ok {
			i = len(t.nodes)
			owner[addr] = i
			t.nodes = append(t.nodes, node{addr: addr})
		}
		for s := r.Start; s <= r.End && s < clusterSlots; s++ {
			t.slots[s] = uint16(i)
			covered++
		}
	}
	if covered != clusterSlots {
		return nil, fmt.Errorf("the cluster serves %d of %d hash slots", covered, clusterSlots)
	}
	// Each master's route key: the first key prefix+"seq{n}" in its slots.
	// A prefix with a hash tag puts every key in one slot: the masters that
	// do not serve it hold no keys and need no route key.
	need := len(t.nodes)
	for n := 0; need > 0 && n < 1_000_000; n++ {
		k := prefix + "seq{" + strconv.Itoa(n) + "}"
		if nd := &t.nodes[t.slots[keySlot(k)]]; nd.route == "" {
			nd.route = k
			need--
		}
	}
	// Every position of a bucket is in the slot of prefix{tag}, whether
	// that hash tag decides or one in the prefix does (New refuses a
	// prefix whose first hash tag is empty, which would hash whole keys).
	t.buckets = make([]uint16, buckets)
	for b := range t.buckets {
		t.buckets[b] = t.slots[keySlot(prefix+"{"+bucketTag(b)+"}")]
	}
	return t, nil
}
