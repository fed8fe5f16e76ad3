package spanlinksprocessor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/hold"
	"github.com/spanlinks/spanlinksprocessor/internal/learner"
	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.uber.org/zap"
)

// spanLinksProcessor applies the six steps of docs/contract.md to every
// span: validate, truncate, annotate, index, backlink, hold.
type spanLinksProcessor struct {
	cfg    *Config
	id     component.ID // the processor's ID: its storage client's name
	next   consumer.Traces
	logger *zap.Logger
	now    func() time.Time // the clock; tests inject their own

	index  linkindex.Index  // nil when backlinks are disabled
	hold   *hold.Hold       // nil when no span is held
	holdIf hold.Chooser     // nil when every span is held
	learn  *learner.Learner // the spans that passed unheld, hold: auto's classes; nil when backlinks are disabled
	tick   time.Duration    // how often the release loop checks for due spans; 0: only when woken
	reach  time.Duration    // how long before a span arrived its linkers count: the window and a tick
	manual bool             // tests: Start starts no release loop; the test calls releaseDue
	spans  bool             // backlinks.deliver: spans: backlink spans; no index, hold or learner

	warming     bool        // hold: auto's warm-up began at Start and the release loop has not seen it end
	store       *hold.Store // backlinks.storage, from Start; nil: the hold is in memory only
	storeClosed bool        // Shutdown closed store

	// hold: auto's learnt classes as last stored: the learner's version
	// then, and when; only the release loop, Start and Shutdown use them.
	classesVersion uint64
	classesAt      time.Time

	tel     *telemetry
	dropLog *zap.Logger // nil unless debug logging is on

	wake chan struct{} // wakes the release loop: spans became due early
	stop chan struct{}
	wg   sync.WaitGroup
}

func newProcessor(set processor.Settings, cfg *Config, next consumer.Traces) (*spanLinksProcessor, error) {
	p := &spanLinksProcessor{
		cfg:     cfg,
		id:      set.ID,
		next:    next,
		logger:  set.Logger,
		now:     time.Now,
		dropLog: dropLogger(set.Logger),
	}
	p.spans = cfg.Backlinks.Enabled && cfg.Backlinks.Deliver == DeliverSpans
	if b := cfg.Backlinks; b.Enabled && !p.spans {
		// The release loop runs every tick, so a span held for the window
		// leaves up to a tick late; linkers count for a tick longer than
		// the window, so that a span still sees a linker that came right
		// after it.
		p.tick = min(b.Window/10, time.Second)
		p.reach = b.Window + p.tick
		lifetime := p.reach
		if b.Hold.Mode != HoldNone {
			p.hold = hold.New(b.Window, b.MaxHeldSpans, b.MaxHeldBytes)
			// A held span is looked up once, on release, up to a reach
			// after it arrived, for the linkers of up to a reach before:
			// index entries live for both.
			lifetime = 2 * p.reach
		}
		var err error
		if p.index, err = newLinkIndex(&cfg.Backlinks, lifetime, p.indexFailed, func() time.Time { return p.now() }, set.Logger); err != nil {
			return nil, err
		}
		p.learn = learner.New(learner.Options{
			Auto: b.Hold.Mode == HoldAuto, Window: b.Window, Limit: b.MaxIndexEntries,
			Log: p.dropLog, Marker: attrBacklinksCount,
			Warmup: p.reach, MaxHeld: b.MaxHeldSpans,
		})
		if b.Hold.Mode == HoldAuto {
			p.holdIf = p.learn
		}
		if b.Hold.Mode == "" {
			m, err := hold.NewMatcher(b.Hold.Conditions, set.TelemetrySettings)
			if err != nil {
				return nil, err
			}
			p.holdIf = m
		}
	}
	var err error
	if p.tel, err = newTelemetry(set.TelemetrySettings, p.hold, p.index); err != nil {
		return nil, fmt.Errorf("creating the spanlinks metrics: %w", err)
	}
	if p.learn != nil {
		// Exported from the start, at 0, so that a dashboard or an alert on
		// missed backlinks has its series before the first miss.
		p.tel.tb.ProcessorSpanlinksMissedBacklinks.Add(context.Background(), 0)
	}
	if p.index != nil && cfg.Backlinks.Index.Backend == IndexRedis {
		p.tel.indexFailures.log = p.tel.indexFailures.log.With(redisFields(cfg.Backlinks.Index.Redis)...)
	}
	return p, nil
}

// Capabilities reports that the processor changes the spans it is given.
func (p *spanLinksProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: true}
}

// Start opens backlinks.storage, if set, holding again what it stored,
// and starts the release loop: every tick, and whenever spans become due
// early, it forwards the held spans that are due and expires the index.
// It is the only goroutine that forwards held spans, so that a slow next
// consumer delays only it, never a sender's ConsumeTraces; stored batches
// whose window is over leave on its first round.
func (p *spanLinksProcessor) Start(ctx context.Context, host component.Host) error {
	if p.index == nil {
		return nil
	}
	loaded, err := p.openStore(ctx, host)
	if err != nil {
		return err
	}
	if p.learn.Start(p.now()) {
		p.warming = true
		p.logger.Info("hold: auto knows no class of span to hold yet: every span is held for the first window, and the classes links target are learnt",
			zap.Duration("for", p.reach))
	}
	if p.manual {
		return nil
	}
	p.wake = make(chan struct{}, 1)
	if loaded {
		p.wake <- struct{}{}
	}
	p.stop = make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		var tick <-chan time.Time // nil, never ready, without a ticker
		if p.tick > 0 {
			t := time.NewTicker(p.tick)
			defer t.Stop()
			tick = t.C
		}
		for {
			select {
			case <-p.stop:
				return
			case <-tick:
			case <-p.wake:
			}
			p.releaseDue(p.stop)
		}
	}()
	return nil
}

// kick wakes the release loop, if it runs, without waiting for it.
func (p *spanLinksProcessor) kick() {
	select {
	case p.wake <- struct{}{}:
	default: // already woken, or no loop
	}
}

// Shutdown stops the release loop, after the batch it is forwarding, and
// releases every span still held or due, with the backlinks known so far,
// before it returns.
func (p *spanLinksProcessor) Shutdown(ctx context.Context) error {
	if p.stop != nil {
		close(p.stop)
		p.wg.Wait()
		p.stop = nil
	}
	if p.hold != nil {
		p.release(p.hold.Close(), p.now())
	}
	var err, serr error
	if p.index != nil {
		err = p.index.Close()
	}
	p.storeClasses(p.now(), true)
	if p.store != nil && !p.storeClosed {
		// p.store stays set: a call after Shutdown passes unheld, and a
		// put on the closed client fails and is counted, nothing more.
		serr = p.store.Close(ctx)
		p.storeClosed = true
	}
	return errors.Join(err, serr, p.tel.shutdown())
}

// ConsumeTraces applies the contract's steps to every span of td, in
// order: 1-3 repair and annotate links, 4 index them, 5 write the
// backlinks known so far on the spans that pass now, 6 hold the others;
// then it forwards what passes.
func (p *spanLinksProcessor) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	now := p.now()
	var c counts
	defer p.tel.record(ctx, &c)
	stripOwned(td) // the spanlinks. namespace is the processor's
	parts := newPartitions(p.cfg.Backlinks.Partition)
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	eachLinkingSpan(td, func(rs ptrace.ResourceSpans, span ptrace.Span) {
		st := repairLinks(span, p.cfg, sc, p.dropLog) // 1. validate, 2. truncate
		c.addLinks(st)
		if annotateBatch(span, st, &p.cfg.Batch) { // 3. annotate
			c.batchSpans++
		}
		if p.index != nil {
			gatherLinks(&sc.links, span, parts.of(ctx, rs)) // 4. index: gathered here
		}
	})
	if p.spans { // after steps 1 to 3; appended, so the caller gets the next consumer's error
		d := appendBacklinkSpans(td)
		c.backlinkSpans, c.backlinkSpansUnsampled = d.emitted, d.unsampled
	}
	if p.index == nil {
		return p.next.ConsumeTraces(ctx, td)
	}
	p.addLinks(ctx, &sc.links, now, &c)                         // 4. and added for the whole batch
	held, n := p.takeHeld(ctx, td, now, &parts)                 // the spans step 6 holds get backlinks on release
	c.backlinkedSpans += p.backlink(ctx, td, now.Add(-p.reach)) // 5. backlink
	c.backlinkedSpans += p.holdSpans(ctx, held, n, td, now)     // 6. hold
	if td.ResourceSpans().Len() == 0 {
		return nil
	}
	// Remembered for a window: links to them, in their partition, are missed.
	p.learn.Passed(td, now, func(rs ptrace.ResourceSpans) linkindex.Partition { return parts.of(ctx, rs) })
	return p.next.ConsumeTraces(ctx, td)
}

// addLinks adds the links gathered in b to the index, at now (step 4),
// and resets b. Links to spans that passed unheld are missed backlinks,
// which teach hold: auto.
func (p *spanLinksProcessor) addLinks(ctx context.Context, b *linkindex.Links, now time.Time, c *counts) {
	if b.Len() == 0 {
		return
	}
	c.missedBacklinks += p.learn.Links(b, now)
	if err := p.index.Add(ctx, b, now); err != nil {
		p.indexFailed(opAdd, err)
	}
	b.Reset()
}

// releaseDue drops the index entries older than the window, makes due the
// spans held for the whole window, and forwards every due batch, one at a
// time, oldest first, until none is left or stop is closed. The release
// loop runs it; tests call it instead, with a nil stop.
func (p *spanLinksProcessor) releaseDue(stop <-chan struct{}) {
	now := p.now()
	p.index.Expire(now)
	p.learn.Expire(now)
	if p.warming && !p.learn.Warming(now) {
		p.warming = false
		classes, _ := p.learn.Learnt()
		var names []string // the first 10, as service, name and kind
		for _, c := range classes[:min(len(classes), 10)] {
			names = append(names, c.Service+" "+c.Name+" "+c.Kind.String())
		}
		p.logger.Info("hold: auto's first window is over: only the classes learnt are held now",
			zap.Int("classes", len(classes)), zap.Strings("first", names))
	}
	p.storeClasses(now, false)
	if p.hold == nil {
		return
	}
	p.hold.Expire(now)
	for {
		select {
		case <-stop:
			return // Shutdown releases the rest
		default:
		}
		b, ok := p.hold.Next()
		if !ok {
			return
		}
		p.release([]hold.Batch{b}, now)
		p.hold.Done(b)
	}
}

// release writes on held spans the backlinks that arrived while they were
// held, and forwards them under the client information they arrived with.
// A downstream error is logged and counted: the caller that handed the
// spans over has long returned.
func (p *spanLinksProcessor) release(batches []hold.Batch, now time.Time) {
	if len(batches) == 0 {
		return
	}
	var c counts
	for _, b := range batches {
		ctx := client.NewContext(context.Background(), b.Client)
		c.backlinkedSpans += p.backlink(ctx, b.Traces, b.Arrived.Add(-p.reach))
		p.learn.Released(b.Traces, now)
		p.tel.releasedSpans.Add(ctx, int64(b.Spans), p.tel.releaseReason[b.Reason])
		if err := p.next.ConsumeTraces(ctx, b.Traces); err != nil {
			p.tel.releaseErrors.Add(ctx, int64(b.Spans))
			p.logger.Error("Failed to forward released spans",
				zap.String("reason", b.Reason), zap.Int("spans", b.Spans),
				zap.Duration("held", now.Sub(b.Arrived)), zap.Error(err))
		}
		p.deleteHeld(b) // forwarded, or refused and counted: not again
	}
	p.tel.record(context.Background(), &c)
}

// indexFailed counts and logs (sampled) that the index failed to op: the
// spans pass with the backlinks known so far. The index reports failures
// only once the processor runs, after p.tel is made.
func (p *spanLinksProcessor) indexFailed(op string, err error) {
	p.tel.indexFailures.indexFailed(op, err)
}
