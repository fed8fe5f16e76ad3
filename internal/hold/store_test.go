package hold

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
)

// fileClient starts contrib's file_storage on dir, a real bbolt file, and
// returns a processor's client of it; close stops the extension, as a
// collector's shutdown (or, unflushed, a crash) would.
func fileClient(t testing.TB, dir string) (c storage.Client, close func()) {
	t.Helper()
	return fileClientSync(t, dir, false)
}

// fileClientSync is fileClient with file_storage's fsync option.
func fileClientSync(t testing.TB, dir string, fsync bool) (c storage.Client, close func()) {
	t.Helper()
	ctx := context.Background()
	f := filestorage.NewFactory()
	cfg := f.CreateDefaultConfig().(*filestorage.Config)
	cfg.Directory = dir
	cfg.FSync = fsync
	ext, err := f.Create(ctx, extensiontest.NewNopSettings(f.Type()), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(ctx, componenttest.NewNopHost()))
	c, err = ext.(storage.Extension).GetClient(ctx, component.KindProcessor, component.MustNewID("spanlinks"), "")
	require.NoError(t, err)
	closed := false
	close = func() {
		if !closed {
			closed = true
			require.NoError(t, c.Close(ctx))
			require.NoError(t, ext.Shutdown(ctx))
		}
	}
	t.Cleanup(close)
	return c, close
}

// spans returns a batch of n spans named name, in trace tid.
func spans(name string, tid byte, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "orders")
	ss := rs.ScopeSpans().AppendEmpty()
	for i := range n {
		s := ss.Spans().AppendEmpty()
		s.SetName(name)
		s.SetTraceID([16]byte{tid})
		s.SetSpanID([8]byte{tid, byte(i + 1)})
	}
	return td
}

// putAll encodes and puts each batch, returning their keys.
func putAll(t *testing.T, s *Store, bs ...Batch) []string {
	t.Helper()
	var keys []string
	for i := range bs {
		r, err := s.Encode(&bs[i])
		require.NoError(t, err)
		assert.Equal(t, Size(bs[i].Traces), r.Bytes)
		require.NoError(t, s.Put(context.Background(), r))
		keys = append(keys, r.Key)
	}
	return keys
}

func loadAll(t *testing.T, s *Store) ([]Batch, []Corrupt) {
	t.Helper()
	var got []Batch
	corrupt, err := s.Load(context.Background(), func(b Batch) { got = append(got, b) })
	require.NoError(t, err)
	return got, corrupt
}

// TestStoreRoundTrip: what is put comes back after a restart on the same
// file, oldest first, with its spans, arrival, partition and sender's
// metadata; what was deleted does not.
func TestStoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	c, closeFirst := fileClient(t, dir)
	s, err := NewStore(c, start)
	require.NoError(t, err)
	md := client.NewMetadata(map[string][]string{"x-tenant": {"acme"}, "x-more": {"a", ""}})
	in := []Batch{
		{Traces: spans("order", 1, 3), Spans: 3, Arrived: start.Add(time.Second), Part: linkindex.PartitionOf("acme"), Client: client.Info{Metadata: md}},
		{Traces: spans("order", 2, 1), Spans: 1, Arrived: start.Add(2 * time.Second)},
		{Traces: spans("order", 3, 2), Spans: 2, Arrived: start.Add(3 * time.Second)},
	}
	keys := putAll(t, s, in...)
	require.NoError(t, s.Delete(context.Background(), keys[1]))
	closeFirst() // the first run stops

	c2, _ := fileClient(t, dir)
	s2, err := NewStore(c2, start.Add(time.Minute))
	require.NoError(t, err)
	got, corrupt := loadAll(t, s2)
	require.Empty(t, corrupt)
	require.Len(t, got, 2)
	for i, want := range []Batch{in[0], in[2]} {
		b := got[i]
		assert.Equal(t, []string{keys[0], keys[2]}[i], b.Key)
		assert.Equal(t, want.Spans, b.Spans)
		assert.Equal(t, Size(want.Traces), b.Bytes)
		assert.True(t, want.Arrived.Equal(b.Arrived), "arrived %v, want %v", b.Arrived, want.Arrived)
		assert.Equal(t, want.Part, b.Part)
		assert.Equal(t, want.Traces, b.Traces)
		for k := range want.Client.Metadata.Keys() {
			assert.Equal(t, want.Client.Metadata.Get(k), b.Client.Metadata.Get(k), k)
		}
	}
	// A new run's keys come after the old ones'.
	more := putAll(t, s2, Batch{Traces: spans("order", 4, 1), Spans: 1, Arrived: start.Add(time.Minute)})
	assert.Greater(t, more[0], keys[2])
}

// TestStoreSkipsCorruptRecords: a record of garbage, one cut short, one of
// a future version and one whose spans do not decode are each skipped and
// named by key; the others load; keys that are not batch records are left
// alone.
func TestStoreSkipsCorruptRecords(t *testing.T) {
	c, _ := fileClient(t, t.TempDir())
	s, err := NewStore(c, start)
	require.NoError(t, err)
	ok := Batch{Traces: spans("order", 1, 2), Spans: 2, Arrived: start}
	r, err := s.Encode(&ok)
	require.NoError(t, err)
	future := append([]byte{9}, r.Value[1:]...)
	ctx := context.Background()
	bad := map[string][]byte{
		keyPrefix + "0-garbage": []byte("not a record at all, not at all"),
		keyPrefix + "1-cut":     r.Value[:len(r.Value)/2],
		keyPrefix + "2-future":  future,
		keyPrefix + "3-flipped": flip(r.Value, len(r.Value)-10),
	}
	for k, v := range bad {
		require.NoError(t, c.Set(ctx, k, v))
	}
	require.NoError(t, c.Set(ctx, "someone-else", []byte("x")))
	putAll(t, s, ok)

	got, corrupt := loadAll(t, s)
	require.Len(t, got, 1)
	assert.Equal(t, 2, got[0].Spans)
	var keys []string
	for _, c := range corrupt {
		keys = append(keys, c.Key)
		assert.Error(t, c.Err)
	}
	assert.Equal(t, []string{keyPrefix + "0-garbage", keyPrefix + "1-cut", keyPrefix + "2-future", keyPrefix + "3-flipped"}, keys)
}

func flip(v []byte, at int) []byte {
	out := append([]byte(nil), v...)
	out[at] ^= 0xff
	return out
}

// TestDecodeNeverPanics: every prefix of a record, and every record with
// one byte changed, is refused or read, never a panic.
func TestDecodeNeverPanics(t *testing.T) {
	s := &Store{}
	b := Batch{Traces: spans("order", 1, 2), Spans: 2, Arrived: start,
		Client: client.Info{Metadata: client.NewMetadata(map[string][]string{"k": {"v"}})}}
	r, err := s.Encode(&b)
	require.NoError(t, err)
	for i := range r.Value {
		_, err := Decode(r.Value[:i])
		assert.Error(t, err, "prefix %d", i)
		_, _ = Decode(flip(r.Value, i))
	}
}

// TestStoreNeedsWalker: a client that cannot list its keys is refused.
func TestStoreNeedsWalker(t *testing.T) {
	_, err := NewStore(storage.NewNopClient(), start)
	require.ErrorIs(t, err, ErrNoWalk)
}

// TestRestoreBounds: loaded batches are held with the limits of Add: over
// them the oldest become due early; one that Add would pass becomes due
// at once, never dropped.
func TestRestoreBounds(t *testing.T) {
	h := New(time.Minute, 4, 1<<20)
	one := func(n int) Batch { return Batch{Traces: ptrace.NewTraces(), Spans: n, Bytes: 1, Arrived: start} }
	assert.False(t, h.Restore(one(2)))
	assert.False(t, h.Restore(one(2)))
	assert.True(t, h.Restore(one(2))) // the first made due
	assert.True(t, h.Restore(one(9))) // over the limit alone: due at once
	assert.Equal(t, 2+2+2+9, h.Len())
	var reasons []string
	for {
		b, ok := h.Next()
		if !ok {
			break
		}
		reasons = append(reasons, fmt.Sprint(b.Spans, b.Reason))
		h.Done(b)
	}
	assert.Equal(t, []string{"2capacity", "9capacity"}, reasons)
	assert.Equal(t, 2, h.Waiting())
}

// TestStorePutFullFails: a full file_storage (max_size) fails Put with an
// error, which the processor counts; nothing panics and the rest loads.
func TestStorePutFullFails(t *testing.T) {
	ctx := context.Background()
	f := filestorage.NewFactory()
	cfg := f.CreateDefaultConfig().(*filestorage.Config)
	cfg.Directory = t.TempDir()
	cfg.MaxSize = 1 << 16
	ext, err := f.Create(ctx, extensiontest.NewNopSettings(f.Type()), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(ctx, componenttest.NewNopHost()))
	defer func() { require.NoError(t, ext.Shutdown(ctx)) }()
	c, err := ext.(storage.Extension).GetClient(ctx, component.KindProcessor, component.MustNewID("spanlinks"), "")
	require.NoError(t, err)
	defer c.Close(ctx)
	s, err := NewStore(c, start)
	require.NoError(t, err)
	var putErr error
	for i := 0; i < 1000 && putErr == nil; i++ {
		b := Batch{Traces: spans("order", byte(i), 50), Spans: 50, Arrived: start}
		r, err := s.Encode(&b)
		require.NoError(t, err)
		putErr = s.Put(ctx, r)
	}
	require.Error(t, putErr)
	assert.True(t, errors.Is(putErr, storage.ErrStorageFull), "%v", putErr)
	got, corrupt := loadAll(t, s)
	assert.NotEmpty(t, got)
	assert.Empty(t, corrupt)
}

// dbFile returns the bbolt file file_storage keeps the processor's records
// in under dir.
func dbFile(t testing.TB, dir string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "processor_spanlinks*"))
	require.NoError(t, err)
	require.Len(t, m, 1, "%v", m)
	_, err = os.Stat(m[0])
	require.NoError(t, err)
	return m[0]
}
