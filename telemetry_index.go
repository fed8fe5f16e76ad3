package spanlinksprocessor

import (
	"context"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// metricIndexFailures counts the link index's failed operations (a Redis
// that is down, slow or refuses the credentials), by op.
const metricIndexFailures = "otelcol_processor_spanlinks_index_failures"

// The index operations that can fail, the op attribute of index_failures.
const (
	opAdd    = "add"
	opCursor = "cursor"
	opLookup = "lookup"
	opClock  = "clock"
)

// indexFailures counts and logs the index's failures: the spans pass with
// the backlinks known so far. The log is sampled, so that a Redis that is
// down does not flood it: per 10 seconds, the first of each message, then
// one in 100.
type indexFailures struct {
	counter metric.Int64Counter
	ops     map[string]metric.AddOption
	log     *zap.Logger
}

func newIndexFailures(set component.TelemetrySettings) (*indexFailures, error) {
	c, err := set.MeterProvider.Meter(scopeName).Int64Counter(metricIndexFailures,
		metric.WithDescription("Link index operations that failed, by op: add, cursor, lookup, clock; spans pass with the backlinks known so far."),
		metric.WithUnit("{operation}"))
	if err != nil {
		return nil, err
	}
	f := &indexFailures{counter: c, ops: map[string]metric.AddOption{}}
	for _, op := range []string{opAdd, opCursor, opLookup, opClock} {
		f.ops[op] = metric.WithAttributeSet(attribute.NewSet(attribute.String("op", op)))
	}
	f.log = set.Logger.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, 10*time.Second, 1, 100)
	}))
	return f, nil
}

// failed counts and logs that the index failed to op.
func (f *indexFailures) failed(op string, err error) {
	f.counter.Add(context.Background(), 1, f.ops[op])
	msg := "The link index failed; spans pass with the backlinks known so far"
	if strings.Contains(err.Error(), "authentication") {
		f.log.Error("The link index failed: Redis authentication; spans pass with the backlinks known so far",
			zap.String("op", op), zap.Error(err))
		return
	}
	f.log.Warn(msg, zap.String("op", op), zap.Error(err))
}
