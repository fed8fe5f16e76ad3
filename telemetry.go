package spanlinksprocessor

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/spanlinks/spanlinksprocessor/internal/hold"
	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"github.com/spanlinks/spanlinksprocessor/internal/metadata"
)

// Reasons index entries leave, the reason attribute of index_evictions
// (eviction_reason in metadata.yaml).
const (
	evictExpired  = "expired"
	evictCapacity = "capacity"
)

// reasonKey is the attribute that tells why a link, span or entry went.
const reasonKey = "reason"

// telemetry holds the processor's own metrics: the instruments the
// TelemetryBuilder generated from metadata.yaml made, and the attribute
// sets the processor records them with.
type telemetry struct {
	tb *metadata.TelemetryBuilder

	// The counters the processor adds to outside record.
	releasedSpans metric.Int64Counter
	releaseErrors metric.Int64Counter

	// indexFailures counts and logs the index's failed operations.
	indexFailures *failures

	// backlinks.storage: spans stored, loaded again at start, records
	// skipped, and the failed operations, counted and logged.
	storedSpans    metric.Int64Counter
	replayedSpans  metric.Int64Counter
	storageCorrupt metric.Int64Counter
	storage        *failures

	// Attribute sets made once, so that recording allocates nothing.
	// dropReason's option lists are passed whole (opts...), so that no
	// variadic slice is made per call either.
	dropReason    map[string][]metric.AddOption
	skipReason    map[string][]metric.AddOption
	releaseReason map[string]metric.AddOption
}

// reasons returns the options that record reason=r, for each r of rs.
func reasons(rs ...string) map[string][]metric.AddOption {
	m := make(map[string][]metric.AddOption, len(rs))
	for _, r := range rs {
		m[r] = []metric.AddOption{reasonOption(r)}
	}
	return m
}

// reasonOption returns the option that records reason=r.
func reasonOption(r string) metric.MeasurementOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String(reasonKey, r)))
}

// newTelemetry creates the metrics on set's MeterProvider; held and index,
// either of which may be nil, feed the gauges when they are read.
func newTelemetry(set component.TelemetrySettings, held *hold.Hold, index linkindex.Index) (*telemetry, error) {
	tb, err := metadata.NewTelemetryBuilder(set)
	if err != nil {
		return nil, err
	}
	t := &telemetry{
		tb:            tb,
		releasedSpans: tb.ProcessorSpanlinksReleasedSpans,
		releaseErrors: tb.ProcessorSpanlinksReleaseErrors,
		dropReason:    reasons(dropInvalid, dropDuplicate, dropSelf, dropLimit),
		skipReason:    reasons(skipUnsampled),
		releaseReason: make(map[string]metric.AddOption, 4),
		indexFailures: newFailures(tb.ProcessorSpanlinksIndexFailures, set.Logger, indexOps),

		storedSpans:    tb.ProcessorSpanlinksStoredSpans,
		replayedSpans:  tb.ProcessorSpanlinksReplayedSpans,
		storageCorrupt: tb.ProcessorSpanlinksStorageCorruptRecords,
		storage:        newFailures(tb.ProcessorSpanlinksStorageFailures, set.Logger, storageOps),
	}
	for _, r := range hold.Reasons {
		t.releaseReason[r] = reasonOption(r)
	}
	var errs []error
	if held != nil {
		errs = append(errs, tb.RegisterProcessorSpanlinksHeldSpansCallback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(held.Len()))
			return nil
		}))
	}
	if index != nil {
		expired, evicted := reasonOption(evictExpired), reasonOption(evictCapacity)
		errs = append(errs,
			tb.RegisterProcessorSpanlinksIndexEntriesCallback(func(_ context.Context, o metric.Int64Observer) error {
				o.Observe(int64(index.Stats().Entries))
				return nil
			}),
			tb.RegisterProcessorSpanlinksIndexEvictionsCallback(func(_ context.Context, o metric.Int64Observer) error {
				st := index.Stats()
				o.Observe(int64(st.Expired), expired)
				o.Observe(int64(st.Evicted), evicted)
				return nil
			}))
	}
	if err := errors.Join(errs...); err != nil {
		tb.Shutdown()
		return nil, err
	}
	return t, nil
}

// shutdown stops the gauges' callbacks. It returns nil: the generated
// builder's Shutdown drops the errors of unregistering them.
func (t *telemetry) shutdown() error {
	t.tb.Shutdown()
	return nil
}

// counts is what one ConsumeTraces call did, recorded once at its end.
type counts struct {
	invalid, duplicate, self, limit int
	attrsDropped                    int
	batchSpans, backlinkedSpans     int
	missedBacklinks                 int // links to spans that passed unheld
	backlinkSpans                   int // backlink spans emitted (deliver: spans)
	backlinkSpansUnsampled          int // kept valid links with no backlink span: target not sampled
}

// addLinks adds what repairLinks did to one span.
func (c *counts) addLinks(st linkStats) {
	c.invalid += st.invalid
	c.duplicate += st.duplicate
	c.self += st.self
	c.limit += st.truncated
	c.attrsDropped += st.attrsDropped
}

// record adds c to the metrics, skipping zeros.
func (t *telemetry) record(ctx context.Context, c *counts) {
	add := func(m metric.Int64Counter, n int, opts []metric.AddOption) {
		if n > 0 {
			m.Add(ctx, int64(n), opts...)
		}
	}
	tb := t.tb
	add(tb.ProcessorSpanlinksLinksDropped, c.invalid, t.dropReason[dropInvalid])
	add(tb.ProcessorSpanlinksLinksDropped, c.duplicate, t.dropReason[dropDuplicate])
	add(tb.ProcessorSpanlinksLinksDropped, c.self, t.dropReason[dropSelf])
	add(tb.ProcessorSpanlinksLinksDropped, c.limit, t.dropReason[dropLimit])
	add(tb.ProcessorSpanlinksLinkAttributesDropped, c.attrsDropped, nil)
	add(tb.ProcessorSpanlinksBatchSpans, c.batchSpans, nil)
	add(tb.ProcessorSpanlinksBacklinkedSpans, c.backlinkedSpans, nil)
	add(tb.ProcessorSpanlinksMissedBacklinks, c.missedBacklinks, nil)
	add(tb.ProcessorSpanlinksBacklinkSpans, c.backlinkSpans, nil)
	add(tb.ProcessorSpanlinksBacklinkSpansSkipped, c.backlinkSpansUnsampled, t.skipReason[skipUnsampled])
}

// dropLogger returns the logger told of every dropped link, sampled so that
// a flood of bad links cannot flood the log: per second, the first 10
// messages of each kind, then one in 1000. It is nil unless debug logging is
// on, so that the hot path pays nothing for it.
func dropLogger(log *zap.Logger) *zap.Logger {
	if !log.Core().Enabled(zapcore.DebugLevel) {
		return nil
	}
	return log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, time.Second, 10, 1000)
	}))
}

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

// failures counts, by op, and logs an engine's failed operations: the
// index's (spans pass with the backlinks known so far) and the storage's
// (no span is dropped). The log is sampled, so that a Redis that is down or
// a full disk does not flood it: per 10 seconds, the first of each
// message, then one in 100.
type failures struct {
	counter metric.Int64Counter
	ops     map[string]metric.AddOption
	log     *zap.Logger
}

// newFailures counts the failures of ops on counter, a metric of the
// TelemetryBuilder with an op attribute, and logs them on logger.
func newFailures(counter metric.Int64Counter, logger *zap.Logger, ops []string) *failures {
	f := &failures{counter: counter, ops: make(map[string]metric.AddOption, len(ops))}
	for _, op := range ops {
		f.ops[op] = metric.WithAttributeSet(attribute.NewSet(attribute.String(opKey, op)))
	}
	f.log = logger.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, 10*time.Second, 1, 100)
	}))
	return f
}

// count counts one failure of op.
func (f *failures) count(op string) { f.counter.Add(context.Background(), 1, f.ops[op]) }

// indexFailed counts and logs that the index failed to op.
func (f *failures) indexFailed(op string, err error) {
	f.count(op)
	if strings.Contains(err.Error(), "authentication") {
		f.log.Error("The link index failed: Redis authentication (backlinks.index.redis); spans pass with the backlinks known so far",
			zap.String("op", op), zap.Error(err))
		return
	}
	f.log.Warn("The link index failed; spans pass with the backlinks known so far", zap.String("op", op), zap.Error(err))
}

// storageFailMessages is what each failed storage op means for the spans.
var storageFailMessages = map[string]string{
	storagePut:    "backlinks.storage failed to store a held batch; it is held in memory only",
	storageDelete: "backlinks.storage failed to delete a forwarded batch; it will be sent again after a restart",
	storageLoad:   "backlinks.storage failed to list the stored batches; they stay stored",
}

// storageFailed counts and logs that the store failed to op on key.
func (f *failures) storageFailed(op, key string, err error) {
	f.count(op)
	f.log.Warn(storageFailMessages[op], zap.String("op", op), zap.String("key", key), zap.Error(err))
}
