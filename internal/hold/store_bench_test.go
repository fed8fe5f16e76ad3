package hold

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// benchSpansPerBatch is the size of a held batch in the storage
// benchmarks: one OTLP request.
const benchSpansPerBatch = 100

// benchBatch returns a batch of benchSpansPerBatch order spans, each with
// a few attributes, as an instrumented HTTP server makes them.
func benchBatch(n int) Batch {
	td := spans("receive-order", byte(n), benchSpansPerBatch)
	ss := td.ResourceSpans().At(0).ScopeSpans().At(0)
	for i := 0; i < ss.Spans().Len(); i++ {
		s := ss.Spans().At(i)
		s.SetKind(ptrace.SpanKindServer)
		a := s.Attributes()
		a.PutStr("http.request.method", "POST")
		a.PutStr("url.path", "/orders")
		a.PutInt("http.response.status_code", 201)
		a.PutStr("order.id", "ord-0000000000")
		a.PutStr("customer.tier", "gold")
	}
	return Batch{Traces: td, Spans: benchSpansPerBatch, Arrived: start}
}

// BenchmarkStoreHeldBatch is what backlinks.storage adds to one held batch
// on file_storage (bbolt, fsync off, its default): encode and put it when
// it is held, delete it once forwarded. ns/span is per held span. The
// fsync case is file_storage with fsync: true, which survives a power or
// node failure too, not only a process crash.
func BenchmarkStoreHeldBatch(b *testing.B) {
	for _, fsync := range []bool{false, true} {
		name := "fsync=false"
		if fsync {
			name = "fsync=true"
		}
		b.Run(name, func(b *testing.B) { benchHeldBatch(b, fsync) })
	}
}

// benchHeldBatch is BenchmarkStoreHeldBatch on file_storage with fsync.
func benchHeldBatch(b *testing.B, fsync bool) {
	c, _ := fileClientSync(b, b.TempDir(), fsync)
	s, err := NewStore(c, start)
	require.NoError(b, err)
	ctx := context.Background()
	batch := benchBatch(1)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := s.Encode(&batch); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchSpansPerBatch), "ns/span")
	})
	b.Run("encode+put+delete", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			r, err := s.Encode(&batch)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Put(ctx, r); err != nil {
				b.Fatal(err)
			}
			if err := s.Delete(ctx, r.Key); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchSpansPerBatch), "ns/span")
	})
}

// BenchmarkStoreDisk holds 100000 spans (1000 batches) in file_storage,
// none forwarded, and reports the size of the bbolt file per held span
// (disk-B/span), the protobuf size per span the hold counts
// (proto-B/span), and the file's size per span once every batch was
// deleted (disk-after-delete-B/span: bbolt reuses freed pages but does not
// shrink its file).
func BenchmarkStoreDisk(b *testing.B) {
	const batches = 1000
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		c, closeIt := fileClient(b, dir)
		s, err := NewStore(c, start)
		require.NoError(b, err)
		ctx := context.Background()
		proto := 0
		var keys []string
		for n := 0; n < batches; n++ {
			batch := benchBatch(n)
			r, err := s.Encode(&batch)
			require.NoError(b, err)
			proto += r.Bytes
			require.NoError(b, s.Put(ctx, r))
			keys = append(keys, r.Key)
		}
		held := fileSize(b, dir)
		for _, k := range keys {
			require.NoError(b, s.Delete(ctx, k))
		}
		closeIt()
		spans := float64(batches * benchSpansPerBatch)
		b.ReportMetric(float64(held)/spans, "disk-B/span")
		b.ReportMetric(float64(proto)/spans, "proto-B/span")
		b.ReportMetric(float64(fileSize(b, dir))/spans, "disk-after-delete-B/span")
	}
}

// fileSize is the size of file_storage's file under dir.
func fileSize(b *testing.B, dir string) int64 {
	fi, err := os.Stat(dbFile(b, dir))
	require.NoError(b, err)
	return fi.Size()
}
