// Command order-demo sends the traces of a small order pipeline to an
// OpenTelemetry Collector over OTLP, with the OpenTelemetry Go SDK: an API
// handler traces each order (receive-order) and queues it with its W3C trace
// context; a batch job processes the pending orders every few seconds in one
// process-batch span linking to all of them. One batch fails; one batch is
// larger than the SDK's 128-link limit.
//
// Run it against otelcol-spanlinks with `make run` from the repository root,
// or by hand:
//
//	dist/otelcol-spanlinks --config examples/config.yaml &
//	cd examples/demo && go run . -endpoint 127.0.0.1:4317
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/spanlinks/spanlinksprocessor/examples/demo/orders"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "order-demo:", err)
		os.Exit(1)
	}
}

func run() error {
	def := orders.DefaultScenario()
	endpoint := flag.String("endpoint", "127.0.0.1:4317", "collector OTLP endpoint, host:port")
	protocol := flag.String("protocol", "grpc", "OTLP protocol: grpc or http")
	waves := flag.String("orders", joinInts(def.Waves), "orders placed before each batch run, comma-separated")
	failBatch := flag.Int("fail-batch", def.FailBatch, "number (from 1) of the batch that fails; 0: none")
	interval := flag.Duration("interval", def.Interval, "how often the batch job runs")
	redeliver := flag.Int("redeliver", def.Redeliver, "number (from 1) of an order the queue delivers twice; 0: none")
	service := flag.String("service", "order-demo", "service.name of the traces")
	endpoint2 := flag.String("endpoint2", "", "a second collector: each trace goes to -endpoint or -endpoint2 by its trace ID, as a trace-ID load balancer would send it")
	checkStock := flag.Bool("check-stock", false, "give each order's trace a check-stock child span, ended before receive-order")
	flag.Parse()

	sc := orders.Scenario{FailBatch: *failBatch, Interval: *interval, Redeliver: *redeliver, CheckStock: *checkStock}
	var err error
	if sc.Waves, err = parseInts(*waves); err != nil {
		return fmt.Errorf("-orders: %w", err)
	}
	if sc.Interval <= 0 {
		return fmt.Errorf("-interval: must be greater than 0, got %s", sc.Interval)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	endpoints := []string{*endpoint}
	if *endpoint2 != "" {
		endpoints = append(endpoints, *endpoint2)
	}
	tp, split, err := newTracerProvider(ctx, *protocol, endpoints, *service)
	if err != nil {
		return err
	}
	fmt.Printf("demo | API handler on loopback: receive-order span per order, queued with its traceparent; batch job every %s\n", sc.Interval)
	onBatch := printBatch
	if split != nil {
		fmt.Printf("demo | two collectors: A at %s, B at %s; each trace goes to one of them by its trace ID\n", endpoints[0], endpoints[1])
		onBatch = func(b orders.Batch) {
			printBatch(b)
			at := collectorOf(b.Span.TraceID(), 2)
			other := 0
			for _, o := range b.Orders {
				if i := split.collectorOfOrder(o); i >= 0 && i != at {
					other++
				}
			}
			fmt.Printf("demo |   batch %d went to collector %c; %d of its %d orders went to collector %c\n",
				b.Number, 'A'+at, other, len(b.Orders), 'A'+1-at)
		}
	}
	batches, runErr := orders.Run(ctx, tp, sc, onBatch)

	// Shutdown flushes every span still in the SDK's batch processor.
	flushCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	flushErr := tp.Shutdown(flushCtx)

	nOrders := 0
	for _, b := range batches {
		nOrders += len(b.Orders)
	}
	if err := errors.Join(runErr, flushErr); err != nil {
		return err
	}
	checks := ""
	if sc.CheckStock {
		checks = fmt.Sprintf(", %d %s", nOrders, orders.SpanCheckStock)
	}
	fmt.Printf("demo | sent %d %s%s and %d %s spans to %s (OTLP/%s)\n",
		nOrders, orders.SpanReceiveOrder, checks, len(batches), orders.SpanProcessBatch, strings.Join(endpoints, " and "), *protocol)
	return nil
}

// newTracerProvider sets up the SDK: an OTLP exporter per endpoint, a
// batching span processor each, the default span limits (at most 128 links
// per span). With two endpoints the traces are split between them by trace
// ID, and split is not nil.
func newTracerProvider(ctx context.Context, protocol string, endpoints []string, service string) (tp *sdktrace.TracerProvider, split *splitProcessor, err error) {
	var procs []sdktrace.SpanProcessor
	for _, endpoint := range endpoints {
		var exp sdktrace.SpanExporter
		switch protocol {
		case "grpc":
			exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(endpoint), otlptracegrpc.WithInsecure())
		case "http":
			exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(endpoint), otlptracehttp.WithInsecure())
		default:
			return nil, nil, fmt.Errorf("-protocol: must be grpc or http, got %q", protocol)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("creating the OTLP exporter: %w", err)
		}
		// Export every half second rather than every 5s, so that spans
		// reach the collector while the demo runs.
		procs = append(procs, sdktrace.NewBatchSpanProcessor(exp, sdktrace.WithBatchTimeout(500*time.Millisecond)))
	}
	res := resource.NewSchemaless(attribute.String("service.name", service))
	proc := procs[0]
	if len(procs) > 1 {
		split = &splitProcessor{to: procs}
		proc = split
	}
	return sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSpanProcessor(proc)), split, nil
}

func printBatch(b orders.Batch) {
	outcome := "ok"
	if b.Err != nil {
		outcome = "FAILED: " + b.Err.Error()
	}
	// What the SDK did with the links, as its ended span reports it.
	extra := ""
	if b.LinksDropped > 0 {
		extra = fmt.Sprintf("; the SDK kept %d links and counted %d as dropped (its link limit, OTEL_SPAN_LINK_COUNT_LIMIT)",
			b.Messages-b.LinksDropped, b.LinksDropped)
	}
	fmt.Printf("demo | batch %d: %s (trace %s) links %d orders %s..%s: %s%s\n",
		b.Number, orders.SpanProcessBatch, b.Span.TraceID(), len(b.Orders),
		b.Orders[0], b.Orders[len(b.Orders)-1], outcome, extra)
}

func parseInts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("want positive integers separated by commas, got %q", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}
