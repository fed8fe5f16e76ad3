package e2e

import (
	"bytes"
	encbin "encoding/binary"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// fleetWindow is backlinks.window in the fleet tests.
const fleetWindow = 2 * time.Second

// redisIndex returns the backlinks.index section for a Redis at addrs.
func redisIndex(cluster bool, addrs ...string) string {
	return fmt.Sprintf(`      index:
        backend: redis
        redis:
          endpoints: [%s]
          cluster: %v
          key_prefix: "e2e:"
          timeout: 1s
`, strings.Join(addrs, ", "), cluster)
}

func id16(kind byte, n int) pcommon.TraceID {
	var id pcommon.TraceID
	id[0] = kind
	encbin.BigEndian.PutUint32(id[12:], uint32(n))
	return id
}

func id8(kind byte, n int) pcommon.SpanID {
	var id pcommon.SpanID
	id[0] = kind
	encbin.BigEndian.PutUint32(id[4:], uint32(n))
	return id
}

// serviceSpans returns an empty batch of service's spans, and the span
// list to append them to.
func serviceSpans(service string) (ptrace.Traces, ptrace.SpanSlice) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", service)
	return td, rs.ScopeSpans().AppendEmpty().Spans()
}

// appendSpan appends span n of the given kind byte (its IDs' first byte),
// named name, ending a millisecond after it starts now.
func appendSpan(spans ptrace.SpanSlice, kind byte, n int, name string, sk ptrace.SpanKind) ptrace.Span {
	s := spans.AppendEmpty()
	s.SetTraceID(id16(kind, n))
	s.SetSpanID(id8(kind, n))
	s.SetName(name)
	s.SetKind(sk)
	now := time.Now()
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Millisecond)))
	return s
}

// ordersTraces returns the order spans first..last, each its own trace.
func ordersTraces(first, last int) ptrace.Traces {
	td, spans := serviceSpans("order-api")
	for n := first; n <= last; n++ {
		appendSpan(spans, 0xa0, n, "receive-order", ptrace.SpanKindServer)
	}
	return td
}

// batchesTraces returns batch spans first..last, batch b linking orders
// per*(b-1)+1 .. per*b; every third batch failed.
func batchesTraces(first, last, per int) ptrace.Traces {
	td, spans := serviceSpans("order-batcher")
	for b := first; b <= last; b++ {
		s := appendSpan(spans, 0xb0, b, "process-batch", ptrace.SpanKindConsumer)
		if b%3 == 0 {
			s.Status().SetCode(ptrace.StatusCodeError)
		}
		for o := per*(b-1) + 1; o <= per*b; o++ {
			l := s.Links().AppendEmpty()
			l.SetTraceID(id16(0xa0, o))
			l.SetSpanID(id8(0xa0, o))
			l.SetFlags(0x301)
		}
	}
	return td
}

// post sends td to the collector over OTLP/HTTP (protobuf).
func post(t *testing.T, c *collector, td ptrace.Traces) {
	t.Helper()
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post("http://"+c.httpAddr+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("posting spans to %s: %v", c.httpAddr, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("posting spans to %s: %s", c.httpAddr, resp.Status)
	}
}

// spanlinksAttrs returns, for every span received, its spanlinks.*
// attributes as one sorted string, by span.
func spanlinksAttrs(spans []ptrace.Span) map[spanRef]string {
	out := map[spanRef]string{}
	for _, s := range spans {
		var kv []string
		for k, v := range s.Attributes().All() {
			if strings.HasPrefix(k, "spanlinks.") {
				kv = append(kv, k+"="+v.AsString())
			}
		}
		sort.Strings(kv)
		out[refOf(s)] = strings.Join(kv, " ")
	}
	return out
}

// wantRefs returns the refs of every span of tds.
func wantRefs(tds ...ptrace.Traces) map[spanRef]bool {
	want := map[spanRef]bool{}
	for _, td := range tds {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					want[refOf(s)] = true
				}
			}
		}
	}
	return want
}

// runPairs sends 20 orders and 4 batches of 5 links, in the given order of
// arrival, orders to toOrders and batches to toBatches, and returns the
// spanlinks.* attributes of every span received by sink.
func runPairs(t *testing.T, s *sink, toOrders, toBatches *collector, batchesFirst bool) map[spanRef]string {
	t.Helper()
	orders, batches := ordersTraces(1, 20), batchesTraces(1, 4, 5)
	want := wantRefs(orders, batches)
	if batchesFirst {
		post(t, toBatches, batches)
		post(t, toOrders, orders)
	} else {
		post(t, toOrders, orders)
		post(t, toBatches, batches)
	}
	if !s.waitFor(30*time.Second, func(got []ptrace.Span) bool { return len(got) >= len(want) }) {
		t.Fatalf("%d of %d spans arrived within 30s", len(s.received()), len(want))
	}
	got := s.received()
	checkExactlyOnce(t, want, got)
	return spanlinksAttrs(got)
}

// testFleetPairs checks that two collectors sharing the Redis index give
// every span the same spanlinks.* attributes as one collector given all the
// traffic, in both orders of arrival.
func testFleetPairs(t *testing.T, index string) {
	for _, batchesFirst := range []bool{false, true} {
		name := "orders first"
		if batchesFirst {
			name = "batches first"
		}
		t.Run(name, func(t *testing.T) {
			one := newSink(t)
			c := startCollector(t, collectorConfig{window: fleetWindow, exportTo: one.endpoint()})
			want := runPairs(t, one, c, c, batchesFirst)
			c.stop(t)

			fleet := newSink(t)
			a := startCollector(t, collectorConfig{window: fleetWindow, exportTo: fleet.endpoint(), index: index})
			b := startCollector(t, collectorConfig{window: fleetWindow, exportTo: fleet.endpoint(), index: index})
			got := runPairs(t, fleet, a, b, batchesFirst)
			a.stop(t)
			b.stop(t)

			paired := 0
			for ref, w := range want {
				if strings.Contains(w, "spanlinks.backlinks.count=") {
					paired++
				}
				if got[ref] != w {
					t.Errorf("span %s:\n one collector: %s\n two on Redis:  %s", ref, w, got[ref])
				}
			}
			if paired != 20 && !withoutSpanlinks() {
				t.Errorf("one collector gave %d orders backlinks, want 20: the comparison checks too little", paired)
			}
			t.Logf("%d spans, %d orders with backlinks: the same spanlinks.* attributes from two collectors on Redis as from one", len(want), paired)
		})
	}
}

// TestFleetTwoCollectorsOneRedis: orders to one collector, batches to the
// other, one redis-server.
func TestFleetTwoCollectorsOneRedis(t *testing.T) {
	r := startRedis(t)
	testFleetPairs(t, redisIndex(false, r.addr))
}

// TestFleetRedisCluster: the same on a local three-master Redis Cluster.
func TestFleetRedisCluster(t *testing.T) {
	nodes := startRedisCluster(t, 3)
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.addr)
	}
	testFleetPairs(t, redisIndex(true, addrs...))
}

// TestFleetRedisRestart kills redis-server while two collectors use it and
// starts it again: no span is lost, and pairs sent once it is back pair.
func TestFleetRedisRestart(t *testing.T) {
	r := startRedis(t)
	s := newSink(t)
	index := redisIndex(false, r.addr)
	a := startCollector(t, collectorConfig{window: fleetWindow, exportTo: s.endpoint(), index: index})
	b := startCollector(t, collectorConfig{window: fleetWindow, exportTo: s.endpoint(), index: index})

	var sent []ptrace.Traces
	send := func(c *collector, td ptrace.Traces) { post(t, c, td); sent = append(sent, td) }
	// Before: batches to B, then their orders 1-10 to A, held and looked up
	// once, on release. They leave before Redis is killed: a span held
	// across the restart is looked up in an emptied Redis, and finds none of
	// the linkers it had.
	send(b, batchesTraces(1, 2, 5))
	send(a, ordersTraces(1, 10))
	if n := len(wantRefs(sent...)); !s.waitFor(30*time.Second, func(got []ptrace.Span) bool { return len(got) >= n }) {
		t.Fatalf("%d of %d spans sent before the kill arrived within 30s", len(s.received()), n)
	}
	// Redis killed: orders 11-20 and their batches pass.
	r.stop()
	send(a, ordersTraces(11, 20))
	send(b, batchesTraces(3, 4, 5))
	// Redis back, empty: orders 21-30 and their batches pair again. The
	// first call on each collector meets the connection the kill broke:
	// a span with a link to nothing, sent to each, takes that failure.
	r.start()
	// Until a span with a link to nothing, sent to each, costs no failure:
	// the first calls meet the connections the kill broke, then the index
	// backs off for a moment.
	deadline := time.Now().Add(20 * time.Second)
	for warm := 100; ; warm += 2 {
		before := indexFailures(t, a) + indexFailures(t, b)
		send(a, batchesTraces(warm, warm, 1))
		send(b, batchesTraces(warm+1, warm+1, 1))
		if indexFailures(t, a)+indexFailures(t, b) == before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the collectors' index still fails 20s after Redis restarted")
		}
		<-time.After(200 * time.Millisecond)
	}
	send(a, ordersTraces(21, 30))
	send(b, batchesTraces(5, 6, 5))
	want := wantRefs(sent...)
	if !s.waitFor(30*time.Second, func(got []ptrace.Span) bool { return len(got) >= len(want) }) {
		t.Fatalf("%d of %d spans arrived within 30s", len(s.received()), len(want))
	}
	failures := indexFailures(t, a) + indexFailures(t, b)
	if failures == 0 {
		t.Error("no index failure counted while Redis was down")
	}
	a.stop(t)
	b.stop(t)
	got := checkExactlyOnce(t, want, s.received())
	for n := 1; n <= 30; n++ {
		if n > 10 && n <= 20 {
			continue // sent while Redis was down: no backlinks known
		}
		ref := spanRef{id16(0xa0, n), id8(0xa0, n)}
		if v, ok := intAttr(got[ref], "spanlinks.backlinks.count"); !ok || v != 1 {
			t.Errorf("order %d: spanlinks.backlinks.count = %d (set: %v), want 1", n, v, ok)
		}
	}
	t.Logf("%d spans, each out once; orders 1-10 and 21-30 paired, 11-20 passed while Redis was down; %g index failures counted", len(want), failures)
}

// indexFailures returns the collector's otelcol_processor_spanlinks_index_failures, all ops.
func indexFailures(t *testing.T, c *collector) float64 {
	const name = "otelcol_processor_spanlinks_index_failures"
	return c.metricSum(t, name, "") + c.metricSum(t, name+"_total", "")
}
