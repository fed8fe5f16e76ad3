package main

import (
	"context"
	"errors"
	"hash/fnv"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// splitProcessor sends each span to one of several span processors by its
// trace ID, as a trace-ID load balancer in front of several collectors
// would: an order and the batch that links to it are different traces, so
// they often reach different collectors. It remembers which collector each
// order went to, for printBatch.
type splitProcessor struct {
	to []sdktrace.SpanProcessor

	mu      sync.Mutex
	orderAt map[string]int // order.id -> index in to
}

// collectorOf returns the index in n collectors that trace id goes to.
func collectorOf(id trace.TraceID, n int) int {
	h := fnv.New32a()
	h.Write(id[:])
	return int(h.Sum32() % uint32(n))
}

func (p *splitProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

func (p *splitProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	i := collectorOf(s.SpanContext().TraceID(), len(p.to))
	for _, kv := range s.Attributes() {
		if kv.Key == attribute.Key("order.id") {
			p.mu.Lock()
			if p.orderAt == nil {
				p.orderAt = map[string]int{}
			}
			p.orderAt[kv.Value.Emit()] = i
			p.mu.Unlock()
		}
	}
	p.to[i].OnEnd(s)
}

// collectorOfOrder returns the index of the collector order went to, or -1.
func (p *splitProcessor) collectorOfOrder(order string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i, ok := p.orderAt[order]; ok {
		return i
	}
	return -1
}

func (p *splitProcessor) Shutdown(ctx context.Context) error {
	var errs []error
	for _, sp := range p.to {
		errs = append(errs, sp.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

func (p *splitProcessor) ForceFlush(ctx context.Context) error {
	var errs []error
	for _, sp := range p.to {
		errs = append(errs, sp.ForceFlush(ctx))
	}
	return errors.Join(errs...)
}
