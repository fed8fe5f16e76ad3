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
// it is held, delete it once forwarded. ns/span and B/span are per held
// span.
func BenchmarkStoreHeldBatch(b *testing.B) {
	c, _ := fileClient(b, b.TempDir())
	s, err := NewStore(c, start)
	require.NoError(b, err)
	ctx := context.Background()
	batch := benchBatch(1)
	b.ReportAllocs()
	b.ResetTimer()
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
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchSpansPerBatch), "ns/span")
}

// BenchmarkStoreDisk holds 100000 spans (1000 batches) in file_storage,
// none forwarded, and reports the size of the bbolt file per held span
// (disk-B/span) and the protobuf size per span the hold counts
// (proto-B/span), after each run.
func BenchmarkStoreDisk(b *testing.B) {
	const batches = 1000
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		c, closeIt := fileClient(b, dir)
		s, err := NewStore(c, start)
		require.NoError(b, err)
		ctx := context.Background()
		proto := 0
		for n := 0; n < batches; n++ {
			batch := benchBatch(n)
			r, err := s.Encode(&batch)
			require.NoError(b, err)
			proto += r.Bytes
			require.NoError(b, s.Put(ctx, r))
		}
		closeIt()
		fi, err := os.Stat(dbFile(b, dir))
		require.NoError(b, err)
		b.ReportMetric(float64(fi.Size())/float64(batches*benchSpansPerBatch), "disk-B/span")
		b.ReportMetric(float64(proto)/float64(batches*benchSpansPerBatch), "proto-B/span")
	}
}
