package spanlinksprocessor

import (
	"context"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// The index operations that can fail, the op attribute of index_failures
// (metadata.yaml lists the same).
const (
	opAdd    = "add"
	opLookup = "lookup"
	opClock  = "clock"
)

// opKey is the attribute that tells which index operation failed.
const opKey = "op"

// indexOps lists every op the code records.
var indexOps = []string{opAdd, opLookup, opClock}

// indexFailures counts and logs the index's failures: the spans pass with
// the backlinks known so far. The log is sampled, so that a Redis that is
// down does not flood it: per 10 seconds, the first of each message, then
// one in 100.
type indexFailures struct {
	counter metric.Int64Counter
	ops     map[string]metric.AddOption
	log     *zap.Logger
}

// newIndexFailures counts failures on counter, the TelemetryBuilder's
// index_failures, and logs them on logger.
func newIndexFailures(counter metric.Int64Counter, logger *zap.Logger) *indexFailures {
	f := &indexFailures{counter: counter, ops: make(map[string]metric.AddOption, len(indexOps))}
	for _, op := range indexOps {
		f.ops[op] = metric.WithAttributeSet(attribute.NewSet(attribute.String(opKey, op)))
	}
	f.log = logger.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, 10*time.Second, 1, 100)
	}))
	return f
}

// failed counts and logs that the index failed to op.
func (f *indexFailures) failed(op string, err error) {
	f.counter.Add(context.Background(), 1, f.ops[op])
	if strings.Contains(err.Error(), "authentication") {
		f.log.Error("The link index failed: Redis authentication; spans pass with the backlinks known so far",
			zap.String("op", op), zap.Error(err))
		return
	}
	f.log.Warn("The link index failed; spans pass with the backlinks known so far", zap.String("op", op), zap.Error(err))
}
