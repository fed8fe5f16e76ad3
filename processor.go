package spanlinksprocessor

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.uber.org/zap"
)

// spanLinksProcessor applies the six steps of DESIGN.md to every span.
type spanLinksProcessor struct {
	cfg    *Config
	next   consumer.Traces
	logger *zap.Logger
	now    func() time.Time // the clock; tests inject their own

	index  LinkIndex     // nil when backlinks are disabled
	hold   *hold         // nil when no span is held
	holdIf *holdMatcher  // nil when every span is held
	tick   time.Duration // how often held spans are checked without traffic; 0: never

	stop          chan struct{}
	wg            sync.WaitGroup
	releaseErrors atomic.Int64
}

func newProcessor(set processor.Settings, cfg *Config, next consumer.Traces) (*spanLinksProcessor, error) {
	p := &spanLinksProcessor{
		cfg:    cfg,
		next:   next,
		logger: set.Logger,
		now:    time.Now,
	}
	b := cfg.Backlinks
	if !b.Enabled {
		return p, nil
	}
	p.index = newMemoryIndex(b.Window, b.MaxIndexEntries)
	p.tick = min(b.Window/10, time.Second)
	switch b.Hold.Mode {
	case HoldNone:
		return p, nil
	case HoldAll:
	default:
		m, err := newHoldMatcher(b.Hold.Conditions, set.TelemetrySettings)
		if err != nil {
			return nil, err
		}
		p.holdIf = m
	}
	p.hold = newHold(b.Window, b.MaxHeldSpans)
	return p, nil
}

// Capabilities reports that the processor changes the spans it is given.
func (p *spanLinksProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: true}
}

// Start starts the loop that releases held spans whose window has passed
// and expires the index, even when no spans arrive.
func (p *spanLinksProcessor) Start(context.Context, component.Host) error {
	if p.index == nil || p.tick <= 0 {
		return nil
	}
	p.stop = make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(p.tick)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.releaseExpired(context.Background())
			}
		}
	}()
	return nil
}

// Shutdown stops the release loop and releases every held span, with the
// backlinks known so far, before it returns.
func (p *spanLinksProcessor) Shutdown(ctx context.Context) error {
	if p.stop != nil {
		close(p.stop)
		p.wg.Wait()
		p.stop = nil
	}
	if p.hold != nil {
		p.release(ctx, p.hold.close(), p.now())
	}
	return nil
}

// ConsumeTraces repairs, annotates and indexes the links of every span in
// td, writes the backlinks known so far, and holds or forwards the spans.
func (p *spanLinksProcessor) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	now := p.now()
	if p.hold != nil {
		// Spans held earlier whose window has passed leave first, before
		// this batch's links can reach them.
		p.release(context.WithoutCancel(ctx), p.hold.expired(now), now)
	}
	sc := scratchPool.Get().(*scratch)
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				span := spans.At(k)
				st := repairLinks(span, p.cfg, sc)    // 1. validate, 2. truncate
				annotateBatch(span, st, &p.cfg.Batch) // 3. annotate
				if p.index != nil {
					indexLinks(p.index, span, now) // 4. index
				}
			}
		}
	}
	scratchPool.Put(sc)
	if p.index == nil {
		return p.next.ConsumeTraces(ctx, td)
	}
	// 5. Backlink, in a second pass so that the order of spans within td
	// does not matter. Held spans get the rest, after seen, on release.
	seen := p.index.Cursor()
	p.backlink(td, 0, seen, now)
	if p.hold == nil {
		return p.next.ConsumeTraces(ctx, td)
	}
	// 6. Hold.
	held, n := p.takeHeld(ctx, td)
	if n > 0 {
		p.release(context.WithoutCancel(ctx), p.hold.add(held, n, now, seen), now)
	}
	if td.ResourceSpans().Len() == 0 {
		return nil
	}
	return p.next.ConsumeTraces(ctx, td)
}

// backlink writes on every span of td the backlinks whose index entries
// lie in (from, to].
func (p *spanLinksProcessor) backlink(td ptrace.Traces, from, to Cursor, now time.Time) {
	b := p.cfg.Backlinks
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				span := spans.At(k)
				bl := lookupBacklinks(p.index, span, from, to, now, b.MaxBacklinksPerSpan)
				writeBacklinks(span, bl, b.MaxBacklinksPerSpan, b.EmitLinks)
			}
		}
	}
}

// releaseExpired releases the spans held for the whole window and drops
// the index entries older than it.
func (p *spanLinksProcessor) releaseExpired(ctx context.Context) {
	now := p.now()
	p.index.Expire(now)
	if p.hold != nil {
		p.release(context.WithoutCancel(ctx), p.hold.expired(now), now)
	}
}

// release writes on held spans the backlinks that arrived while they were
// held, and forwards them. A downstream error is logged and counted: the
// caller that handed the spans over has long returned.
func (p *spanLinksProcessor) release(ctx context.Context, batches []heldBatch, now time.Time) {
	for _, b := range batches {
		p.backlink(b.td, b.seen, CursorEnd, now)
		if err := p.next.ConsumeTraces(ctx, b.td); err != nil {
			p.releaseErrors.Add(1)
			p.logger.Error("Failed to forward released spans",
				zap.Int("spans", b.spans), zap.Duration("held", now.Sub(b.arrived)), zap.Error(err))
		}
	}
}
