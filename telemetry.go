package spanlinksprocessor

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// scopeName is the instrumentation scope of the processor's own telemetry.
const scopeName = "github.com/spanlinks/spanlinksprocessor"

// Names of the processor's metrics, as metadata.yaml and documentation.md
// list them; the collector exports them with these names (counters get
// Prometheus' _total suffix).
const (
	metricLinksDropped          = "otelcol_processor_spanlinks_links_dropped"
	metricLinkAttributesDropped = "otelcol_processor_spanlinks_link_attributes_dropped"
	metricBatchSpans            = "otelcol_processor_spanlinks_batch_spans"
	metricBacklinkedSpans       = "otelcol_processor_spanlinks_backlinked_spans"
	metricHeldSpans             = "otelcol_processor_spanlinks_held_spans"
	metricReleasedSpans         = "otelcol_processor_spanlinks_released_spans"
	metricReleaseErrors         = "otelcol_processor_spanlinks_release_errors"
	metricIndexEntries          = "otelcol_processor_spanlinks_index_entries"
	metricIndexEvictions        = "otelcol_processor_spanlinks_index_evictions"
)

// Reasons held spans are released, the reason attribute of released_spans.
const (
	releaseWindow   = "window"
	releaseCapacity = "capacity"
	releaseShutdown = "shutdown"
	// releaseFull: spans that were never held, because the hold and the
	// spans due for release were full, or the batch alone is over the
	// hold's limits; they passed in their sender's call.
	releaseFull = "full"
)

// Reasons index entries leave, the reason attribute of index_evictions.
const (
	evictExpired  = "expired"
	evictCapacity = "capacity"
)

// reasonKey is the attribute that tells why a link, span or entry went.
const reasonKey = "reason"

// telemetry holds the processor's own metrics.
type telemetry struct {
	linksDropped    metric.Int64Counter
	attrsDropped    metric.Int64Counter
	batchSpans      metric.Int64Counter
	backlinkedSpans metric.Int64Counter
	releasedSpans   metric.Int64Counter
	releaseErrors   metric.Int64Counter
	reg             metric.Registration // the gauges' callback

	// Attribute sets made once, so that recording allocates nothing.
	dropReason    map[string]metric.AddOption
	releaseReason map[string]metric.AddOption
}

// reasons returns an AddOption with reason=r for each of rs.
func reasons(rs ...string) map[string]metric.AddOption {
	m := make(map[string]metric.AddOption, len(rs))
	for _, r := range rs {
		m[r] = metric.WithAttributeSet(attribute.NewSet(attribute.String(reasonKey, r)))
	}
	return m
}

// newTelemetry creates the metrics on set's MeterProvider; held and index,
// either of which may be nil, feed the gauges when they are read.
func newTelemetry(set component.TelemetrySettings, held *hold, index linkIndex) (*telemetry, error) {
	m := set.MeterProvider.Meter(scopeName)
	t := &telemetry{
		dropReason:    reasons(dropInvalid, dropDuplicate, dropSelf, dropLimit),
		releaseReason: reasons(releaseWindow, releaseCapacity, releaseShutdown, releaseFull),
	}
	var errs []error
	counter := func(name, desc, unit string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit(unit))
		errs = append(errs, err)
		return c
	}
	t.linksDropped = counter(metricLinksDropped, "Span links dropped by the processor, by reason: invalid, duplicate, self, limit.", "{link}")
	t.attrsDropped = counter(metricLinkAttributesDropped, "Link attributes dropped over max_attributes_per_link.", "{attribute}")
	t.batchSpans = counter(metricBatchSpans, "Batch spans annotated with spanlinks.links.* attributes.", "{span}")
	t.backlinkedSpans = counter(metricBacklinkedSpans, "Origin spans given spanlinks.backlinks.* attributes.", "{span}")
	t.releasedSpans = counter(metricReleasedSpans, "Held spans released, by reason: window, capacity, shutdown; full: spans passed unheld, the hold being full.", "{span}")
	t.releaseErrors = counter(metricReleaseErrors, "Released spans that the next consumer refused; they are logged.", "{span}")

	heldSpans, err := m.Int64ObservableGauge(metricHeldSpans, metric.WithDescription("Spans held waiting for their linkers."), metric.WithUnit("{span}"))
	errs = append(errs, err)
	entries, err := m.Int64ObservableGauge(metricIndexEntries, metric.WithDescription("Entries in the link index, one per indexed link."), metric.WithUnit("{entry}"))
	errs = append(errs, err)
	evictions, err := m.Int64ObservableCounter(metricIndexEvictions, metric.WithDescription("Index entries removed, by reason: expired (older than the window), capacity (over max_index_entries)."), metric.WithUnit("{entry}"))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	expired := metric.WithAttributeSet(attribute.NewSet(attribute.String(reasonKey, evictExpired)))
	evicted := metric.WithAttributeSet(attribute.NewSet(attribute.String(reasonKey, evictCapacity)))
	t.reg, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		if held != nil {
			o.ObserveInt64(heldSpans, int64(held.len()))
		}
		if index != nil {
			st := index.Stats()
			o.ObserveInt64(entries, int64(st.Entries))
			o.ObserveInt64(evictions, int64(st.Expired), expired)
			o.ObserveInt64(evictions, int64(st.Evicted), evicted)
		}
		return nil
	}, heldSpans, entries, evictions)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// shutdown stops the gauges' callback.
func (t *telemetry) shutdown() error { return t.reg.Unregister() }

// counts is what one ConsumeTraces call did, recorded once at its end.
type counts struct {
	invalid, duplicate, self, limit int
	attrsDropped                    int
	batchSpans, backlinkedSpans     int
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
	// Options are passed only when there is something to add: a variadic
	// argument list would be allocated on every call.
	add := func(m metric.Int64Counter, n int, opt metric.AddOption) {
		switch {
		case n <= 0:
		case opt == nil:
			m.Add(ctx, int64(n))
		default:
			m.Add(ctx, int64(n), opt)
		}
	}
	add(t.linksDropped, c.invalid, t.dropReason[dropInvalid])
	add(t.linksDropped, c.duplicate, t.dropReason[dropDuplicate])
	add(t.linksDropped, c.self, t.dropReason[dropSelf])
	add(t.linksDropped, c.limit, t.dropReason[dropLimit])
	add(t.attrsDropped, c.attrsDropped, nil)
	add(t.batchSpans, c.batchSpans, nil)
	add(t.backlinkedSpans, c.backlinkedSpans, nil)
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
