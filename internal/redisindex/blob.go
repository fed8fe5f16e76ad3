package redisindex

import (
	"encoding/binary"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
)

// A script call takes its batch as one argument, a blob, rather than as
// arguments of a few bytes each: Redis then parses one bulk string and
// makes one object of it instead of four per target, and the collector
// builds one byte slice instead of a string and an interface value per
// argument. The scripts cut the blob back into targets (scripts.go).
//
// A target in a blob:
//
//	tag length   1 byte
//	tag          its bucket's tag (bucketTag)
//	field length 1 byte
//	field        its field (keyOf): 24 bytes, or 32 when partitioned
//
// followed, in an add's blob, by its links:
//
//	count        4 bytes, big-endian
//	records      count records (appendRecord), one after another

// appendTarget appends a target's tag and field to blob.
func appendTarget(blob []byte, bucket int, field []byte) []byte {
	tag := bucketTag(bucket)
	blob = append(blob, byte(len(tag)))
	blob = append(blob, tag...)
	blob = append(blob, byte(len(field)))
	return append(blob, field...)
}

// addBlobs returns, for each node of t, the blob of the targets of b's
// links whose buckets it holds (nil when none), each target once, with the
// records of all its links in their order; targets in the order first
// linked.
func addBlobs(b *linkindex.Links, t *topology) [][]byte {
	n := b.Len()
	// The links by target: group of each target, and each link's next
	// link to the same target (-1 for its last).
	group := make(map[linkindex.Key]int32, n)
	next := make([]int32, n)
	heads, tails, counts := make([]int32, 0, n), make([]int32, 0, n), make([]int32, 0, n)
	for i := range n {
		next[i] = -1
		k := b.TargetAt(i)
		g, ok := group[k]
		if !ok {
			group[k] = int32(len(heads))
			heads, tails, counts = append(heads, int32(i)), append(tails, int32(i)), append(counts, 1)
			continue
		}
		next[tails[g]], tails[g] = int32(i), int32(i)
		counts[g]++
	}
	blobs := make([][]byte, len(t.nodes))
	var field [8 + refLen]byte
	for g, h := range heads {
		target, _ := b.At(int(h))
		f := appendKey(field[:0], b.PartitionAt(int(h)), target)
		bucket := bucketOf(f)
		node := t.nodeOf(bucket)
		if blobs[node] == nil {
			blobs[node] = make([]byte, 0, 72*n/len(t.nodes))
		}
		blob := binary.BigEndian.AppendUint32(appendTarget(blobs[node], bucket, f), uint32(counts[g]))
		for i := h; i >= 0; i = next[i] {
			_, from := b.At(int(i))
			blob = appendRecord(blob, from)
		}
		blobs[node] = blob
	}
	return blobs
}

// lookupBlobs returns, for each node of t, the blob of the spans of q
// whose buckets it holds (nil when none), and the places in q of its
// spans, in the blob's order.
func lookupBlobs(q *linkindex.Targets, t *topology) (blobs [][]byte, places [][]int) {
	blobs, places = make([][]byte, len(t.nodes)), make([][]int, len(t.nodes))
	var field [8 + refLen]byte
	for i := range q.Len() {
		f := appendKey(field[:0], q.PartitionAt(i), q.At(i))
		bucket := bucketOf(f)
		node := t.nodeOf(bucket)
		if blobs[node] == nil {
			blobs[node] = make([]byte, 0, 40*q.Len()/len(t.nodes))
			places[node] = make([]int, 0, q.Len()/len(t.nodes)+1)
		}
		blobs[node] = appendTarget(blobs[node], bucket, f)
		places[node] = append(places[node], i)
	}
	return blobs, places
}
