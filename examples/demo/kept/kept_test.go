package kept

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

func kv(key string, v any) *commonpb.KeyValue {
	switch v := v.(type) {
	case string:
		return &commonpb.KeyValue{Key: key, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	case int:
		return &commonpb.KeyValue{Key: key, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: int64(v)}}}
	}
	panic(v)
}

func span(trace, id byte, name string, attrs ...*commonpb.KeyValue) *tracepb.Span {
	return &tracepb.Span{TraceId: bytes.Repeat([]byte{trace}, 16), SpanId: bytes.Repeat([]byte{id}, 8), Name: name, Attributes: attrs}
}

func request(policy string, spans ...*tracepb.Span) []*tracepb.ResourceSpans {
	ss := &tracepb.ScopeSpans{Spans: spans}
	if policy != "" {
		ss.Scope = &commonpb.InstrumentationScope{Attributes: []*commonpb.KeyValue{kv(AttrPolicy, policy)}}
	}
	return []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{ss}}}
}

// TestReport: kept traces are named one a line with their policy; dropped
// ones are grouped by why no policy kept them.
func TestReport(t *testing.T) {
	failed := span(1, 1, processBatch, kv(AttrBatchNumber, 2))
	failed.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR}
	orderOfFailed := span(2, 2, receiveOrder, kv(AttrOrderID, "ord-0004"), kv(AttrBacklinks, 1), kv(AttrBacklinkErrors, 1))
	check := span(2, 3, "check-stock")
	ok := span(3, 4, processBatch, kv(AttrBatchNumber, 1))
	orderOfOK := span(4, 5, receiveOrder, kv(AttrOrderID, "ord-0001"), kv(AttrBacklinks, 1), kv(AttrBacklinkErrors, 0))
	cut := span(5, 6, receiveOrder, kv(AttrOrderID, "ord-0030"))
	late := span(6, 7, receiveOrder, kv(AttrOrderID, "ord-0005"), kv(AttrBacklinks, 1), kv(AttrBacklinkErrors, 1))

	ts := NewTraces()
	ts.Add(Sent, request("", failed, check, orderOfFailed, ok, orderOfOK, cut, late))
	ts.Add(Kept, request("errors", failed))
	ts.Add(Kept, request("orders-of-failed-batch", check, orderOfFailed))

	var out strings.Builder
	ts.Report(&out)
	got := out.String()
	for _, want := range []string{
		"==> kept 2 of 6 traces\n",
		"kept    01010101010101010101010101010101 process-batch batch 2, status Error: policy errors\n",
		"kept    02020202020202020202020202020202 receive-order ord-0004 (+1 span), spanlinks.backlinks.error_count=1: policy orders-of-failed-batch\n",
		"==> dropped 4 of 6 traces\n",
		"dropped   1 process-batch batch 1 (e.g. trace 03030303030303030303030303030303): no error",
		"dropped   1 receive-order ord-0001 (e.g. trace 04040404040404040404040404040404): linked from 1 batch(es), none failed",
		"dropped   1 receive-order ord-0030 (e.g. trace 05050505050505050505050505050505): no backlink",
		"dropped   1 receive-order ord-0005 (e.g. trace 06060606060606060606060606060606): DROPPED although spanlinks.backlinks.error_count=1",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the report lacks %q:\n%s", want, got)
		}
	}
	if sent, kept := ts.Counts(); sent != 7 || kept != 3 {
		t.Errorf("Counts() = %d, %d; want 7, 3", sent, kept)
	}
}

// TestHandler: the collector's otlp_http exporter sends gzip protobuf.
func TestHandler(t *testing.T) {
	ts := NewTraces()
	srv := httptest.NewServer(ts.Handler(Kept))
	defer srv.Close()

	data, err := proto.Marshal(&collectorpb.ExportTraceServiceRequest{ResourceSpans: request("errors", span(9, 9, processBatch))})
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	zw := gzip.NewWriter(&body)
	zw.Write(data)
	zw.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/traces", &body)
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s", resp.Status)
	}
	if _, kept := ts.Counts(); kept != 1 {
		t.Errorf("%d spans kept, want 1", kept)
	}

	resp, err = http.Post(srv.URL+"/v1/traces", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("JSON: status %s, want 415", resp.Status)
	}
}
