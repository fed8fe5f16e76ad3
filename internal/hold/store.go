package hold

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Store keeps held batches in a storage extension's client
// (backlinks.storage), so that a crash loses none of them: a batch is put
// before its sender's call returns, deleted once the next consumer took
// it, and loaded again at start (docs/contract.md, step 6, "A crash-safe
// hold").
//
// Each batch is one record under its own key, keyPrefix and 32 hex digits:
// the nanosecond the Store was made, then a sequence number, so that keys
// of one run never meet another run's and sort in the order they were put.
// A record (recordVersion 1) is, in order: the version byte; the arrival
// time, Unix nanoseconds, 8 bytes big-endian; the partition, 8 bytes; the
// sender's client metadata, a uvarint count of keys, each a uvarint-length
// key then a uvarint count of uvarint-length values; the spans, a
// uvarint-length OTLP protobuf ExportTraceServiceRequest; and a CRC-32C of
// everything before it, 4 bytes. A record that does not read back whole is
// corrupt.
//
// The client must list its keys (storage.Walker, as file_storage does).
type Store struct {
	client storage.Client
	run    uint64
	seq    atomic.Uint64
}

// keyPrefix starts the key of every batch record; other keys are left alone.
const keyPrefix = "spanlinks/held/"

// recordVersion is the first byte of every record this code writes.
const recordVersion = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrNoWalk is returned by NewStore for a client that cannot list its keys.
var ErrNoWalk = errors.New("the storage client cannot list its records (it is no storage.Walker); file_storage can")

// NewStore keeps batches in client, a run started at now. The client must
// be a storage.Walker.
func NewStore(client storage.Client, now time.Time) (*Store, error) {
	if _, ok := client.(storage.Walker); !ok {
		return nil, ErrNoWalk
	}
	return &Store{client: client, run: uint64(now.UnixNano())}, nil
}

// Record is a batch encoded for the store, and the key it goes under. Its
// Bytes is the size of the spans' protobuf, the size the hold bounds.
type Record struct {
	Key   string
	Value []byte
	Bytes int
}

// Encode encodes b, its Traces, Client, Part and Arrived set, under a new
// key.
func (s *Store) Encode(b *Batch) (Record, error) {
	var m ptrace.ProtoMarshaler
	spans, err := m.MarshalTraces(b.Traces)
	if err != nil {
		return Record{}, fmt.Errorf("encoding a held batch of %d spans: %w", b.Spans, err)
	}
	v := make([]byte, 0, len(spans)+64)
	v = append(v, recordVersion)
	v = binary.BigEndian.AppendUint64(v, uint64(b.Arrived.UnixNano()))
	v = binary.BigEndian.AppendUint64(v, uint64(b.Part))
	v = appendMetadata(v, b.Client.Metadata)
	v = binary.AppendUvarint(v, uint64(len(spans)))
	v = append(v, spans...)
	v = binary.BigEndian.AppendUint32(v, crc32.Checksum(v, castagnoli))
	key := fmt.Sprintf("%s%016x%016x", keyPrefix, s.run, s.seq.Add(1))
	return Record{Key: key, Value: v, Bytes: len(spans)}, nil
}

// appendMetadata appends md, its keys sorted, to v.
func appendMetadata(v []byte, md client.Metadata) []byte {
	var ks []string
	for k := range md.Keys() {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	v = binary.AppendUvarint(v, uint64(len(ks)))
	for _, k := range ks {
		v = appendString(v, k)
		vals := md.Get(k)
		v = binary.AppendUvarint(v, uint64(len(vals)))
		for _, x := range vals {
			v = appendString(v, x)
		}
	}
	return v
}

func appendString(v []byte, s string) []byte {
	v = binary.AppendUvarint(v, uint64(len(s)))
	return append(v, s...)
}

// classesKey is the key of hold: auto's learnt classes, outside keyPrefix:
// one value, replaced whole (its encoding is the learner's).
const classesKey = "spanlinks/classes"

// PutClasses stores v, hold: auto's learnt classes, in place of the last.
func (s *Store) PutClasses(ctx context.Context, v []byte) error {
	return s.client.Set(ctx, classesKey, v)
}

// Classes returns the learnt classes PutClasses stored last, or nil when
// none are stored, with the key they are under.
func (s *Store) Classes(ctx context.Context) (v []byte, key string, err error) {
	v, err = s.client.Get(ctx, classesKey)
	return v, classesKey, err
}

// Put writes r.
func (s *Store) Put(ctx context.Context, r Record) error {
	return s.client.Set(ctx, r.Key, r.Value)
}

// Delete removes the record under key.
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.client.Delete(ctx, key)
}

// Close closes the client.
func (s *Store) Close(ctx context.Context) error {
	return s.client.Close(ctx)
}

// Corrupt is a record Load skipped: its key and why.
type Corrupt struct {
	Key string
	Err error
}

// Load calls f on every stored batch, in the order they were put, its
// Key, Traces, Spans, Bytes, Client, Part and Arrived set. A record that
// does not decode is skipped and reported in corrupt; it stays stored
// until Delete. An error means the store could not be read: the batches
// f was not called on stay stored.
func (s *Store) Load(ctx context.Context, f func(Batch)) (corrupt []Corrupt, err error) {
	type kv struct {
		key   string
		value []byte
	}
	var recs []kv
	err = s.client.(storage.Walker).Walk(ctx, func(key string, value []byte) ([]*storage.Operation, error) {
		if strings.HasPrefix(key, keyPrefix) {
			recs = append(recs, kv{key, slices.Clone(value)})
		}
		return nil, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the held batches: %w", err)
	}
	slices.SortFunc(recs, func(a, b kv) int { return strings.Compare(a.key, b.key) })
	for _, r := range recs {
		b, err := Decode(r.value)
		if err != nil {
			corrupt = append(corrupt, Corrupt{Key: r.key, Err: err})
			continue
		}
		b.Key = r.key
		f(b)
	}
	return corrupt, nil
}

// errShort is a record that ends before its fields do.
var errShort = errors.New("the record is cut short")

// Decode reads a record that Encode wrote.
func Decode(v []byte) (Batch, error) {
	if len(v) < 1+8+8+1+1+4 {
		return Batch{}, errShort
	}
	if v[0] != recordVersion {
		return Batch{}, fmt.Errorf("record version %d, not %d", v[0], recordVersion)
	}
	body, sum := v[:len(v)-4], binary.BigEndian.Uint32(v[len(v)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return Batch{}, errors.New("the record's checksum does not match")
	}
	r := reader{b: body[1:]}
	arrived := int64(r.u64())
	part := linkindex.Partition(r.u64())
	md := r.metadata()
	spans := r.bytes()
	if r.err != nil {
		return Batch{}, r.err
	}
	if len(r.b) != 0 {
		return Batch{}, fmt.Errorf("%d bytes after the spans", len(r.b))
	}
	var u ptrace.ProtoUnmarshaler
	td, err := u.UnmarshalTraces(spans)
	if err != nil {
		return Batch{}, fmt.Errorf("decoding the spans: %w", err)
	}
	return Batch{
		Traces: td, Spans: td.SpanCount(), Bytes: len(spans),
		Client: client.Info{Metadata: md}, Part: part, Arrived: time.Unix(0, arrived),
	}, nil
}

// reader reads a record's fields; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) u64() uint64 {
	if r.err != nil || len(r.b) < 8 {
		r.err = errShort
		return 0
	}
	x := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return x
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	x, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errShort
		return nil
	}
	x := r.b[:n]
	r.b = r.b[n:]
	return x
}

// metadata reads client metadata; each count is checked against what is
// left, so that a corrupt count cannot make it allocate much.
func (r *reader) metadata() client.Metadata {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errShort
		return client.Metadata{}
	}
	md := make(map[string][]string, n)
	for range n {
		k := string(r.bytes())
		m := r.uvarint()
		if r.err != nil || m > uint64(len(r.b)) {
			r.err = errShort
			return client.Metadata{}
		}
		vals := make([]string, 0, m)
		for range m {
			vals = append(vals, string(r.bytes()))
		}
		md[k] = vals
	}
	if len(md) == 0 {
		return client.Metadata{}
	}
	return client.NewMetadata(md)
}
