package spanlinksprocessor

import (
	"context"
	"fmt"
	"time"

	"github.com/spanlinks/spanlinksprocessor/internal/hold"
	"github.com/spanlinks/spanlinksprocessor/internal/learner"
	"github.com/spanlinks/spanlinksprocessor/internal/linkindex"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
)

// takeHeld moves out of td the spans to hold at now (step 6): none under
// hold: none, those holdIf chooses, or every span when holdIf is nil
// (hold: all) or during hold: auto's warm-up, which remembers them so that
// a link to one teaches its class. They are looked up once, when they are
// released.
func (p *spanLinksProcessor) takeHeld(ctx context.Context, td ptrace.Traces, now time.Time, parts *partitions) (ptrace.Traces, int) {
	if p.hold == nil {
		return ptrace.Traces{}, 0
	}
	if !p.learn.Warming(now) {
		return hold.Take(ctx, td, p.holdIf)
	}
	held, n := hold.Take(ctx, td, nil)
	if n > 0 {
		p.learn.Held(held, now, func(rs ptrace.ResourceSpans) linkindex.Partition { return parts.of(ctx, rs) })
	}
	return held, n
}

// holdSpans holds held, n spans sent in ctx at now, one batch per
// partition (step 6). A batch the hold cannot take (it is full and the
// release loop behind, or the batch's partition holds the most) passes
// now, not held, rather than wait or grow the hold: it gets its backlinks
// and joins td, and it is counted. With backlinks.storage each batch is
// stored before it is held, and its record deleted if it passes. It
// returns how many of those spans got their first backlinks.
func (p *spanLinksProcessor) holdSpans(ctx context.Context, held ptrace.Traces, n int, td ptrace.Traces, now time.Time) int {
	if n == 0 {
		return 0
	}
	parts := newPartitions(p.cfg.Backlinks.Partition)
	partOf := func(rs ptrace.ResourceSpans) linkindex.Partition { return parts.of(ctx, rs) }
	from := client.FromContext(ctx)
	backlinked := 0
	hold.Split(held, n, p.cfg.Backlinks.Partition.ResourceAttribute != "", partOf, func(pt hold.Part) {
		b := hold.Batch{Traces: pt.Traces, Spans: pt.Spans, Client: from, Part: pt.Part, Arrived: now}
		// Stored before it is held, so that the release loop never
		// deletes a record before it is written.
		p.putHeld(ctx, &b)
		switch p.hold.Add(b) {
		case hold.Waits:
			p.countStored(ctx, b)
		case hold.WaitsMadeDue:
			p.countStored(ctx, b)
			p.kick()
		case hold.Passes:
			p.deleteHeld(b)
			p.kick() // what became due before it gave way
			p.tel.releasedSpans.Add(ctx, int64(pt.Spans), p.tel.releaseReason[hold.ReasonFull])
			backlinked += p.backlink(ctx, pt.Traces, now.Add(-p.reach))
			pt.Traces.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
		}
	})
	return backlinked
}

// The storage operations that can fail, the op attribute of
// storage_failures (storage_op in metadata.yaml).
const (
	storagePut    = "put"
	storageDelete = "delete"
	storageLoad   = "load"
)

// storageOps lists every storage op the code records.
var storageOps = []string{storagePut, storageDelete, storageLoad}

// openStore gets a client of the storage extension backlinks.storage
// names from host, as exporterhelper's persistent queue does, and holds
// again every batch stored by an earlier run (docs/contract.md, step 6, "A
// crash-safe hold"). It reports whether batches were loaded: the release
// loop then has work, those whose window is over. Nothing is forwarded
// here, so that Start never waits on the next consumer.
func (p *spanLinksProcessor) openStore(ctx context.Context, host component.Host) (bool, error) {
	name := p.cfg.Backlinks.Storage
	if name == "" || p.hold == nil {
		return false, nil
	}
	var id component.ID
	if err := id.UnmarshalText([]byte(name)); err != nil {
		return false, fmt.Errorf("backlinks.storage: %q is not a storage extension ID: %w", name, err)
	}
	ext, ok := host.GetExtensions()[id]
	if !ok {
		return false, fmt.Errorf("backlinks.storage: no extension %q is configured; add it under extensions and service::extensions", id)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return false, fmt.Errorf("backlinks.storage: extension %q is not a storage extension", id)
	}
	c, err := se.GetClient(ctx, component.KindProcessor, p.id, "")
	if err != nil {
		return false, fmt.Errorf("backlinks.storage: getting a client of extension %q: %w", id, err)
	}
	if p.store, err = hold.NewStore(c, p.now()); err != nil {
		_ = c.Close(ctx)
		return false, fmt.Errorf("backlinks.storage: extension %q: %w", id, err)
	}
	p.loadClasses(ctx)
	return p.loadStored(ctx), nil
}

// loadClasses holds again, under hold: auto, the classes an earlier run
// learnt and stored, so that a restart does not learn them anew. A value
// that does not decode is skipped, counted as a corrupt record and logged
// with its key: hold: auto then learns the classes anew.
func (p *spanLinksProcessor) loadClasses(ctx context.Context) {
	if p.cfg.Backlinks.Hold.Mode != HoldAuto {
		return
	}
	v, key, err := p.store.Classes(ctx)
	if err != nil {
		p.tel.storage.storageFailed(storageLoad, key, err)
		return
	}
	if v == nil {
		return
	}
	cs, err := learner.DecodeLearnt(v)
	if err != nil {
		p.tel.storageCorrupt.Add(ctx, 1)
		p.logger.Error("Skipped the corrupt learnt classes of backlinks.storage; hold: auto learns them anew",
			zap.String("key", key), zap.Error(err))
		return
	}
	now := p.now()
	p.learn.Restore(cs, now)
	held, version := p.learn.Learnt()
	p.classesVersion, p.classesAt = version, now
	p.logger.Info("Loaded hold: auto's learnt classes from backlinks.storage",
		zap.Int("stored", len(cs)), zap.Int("held", len(held)))
}

// storeClasses stores hold: auto's learnt classes when they changed since
// last stored, or when a window has passed since (their linked times move
// on), or, with force, whenever some are held; a failed put is counted and
// logged (sampled), and tried again at the next call.
func (p *spanLinksProcessor) storeClasses(now time.Time, force bool) {
	if p.store == nil || p.storeClosed || p.cfg.Backlinks.Hold.Mode != HoldAuto {
		return
	}
	fresh := now.Sub(p.classesAt) < p.cfg.Backlinks.Window
	if p.learn.Version() == p.classesVersion && fresh && !force {
		return // most ticks: nothing changed, and stored recently
	}
	held, version := p.learn.Learnt()
	if version == p.classesVersion && len(held) == 0 {
		return
	}
	if err := p.store.PutClasses(context.Background(), learner.EncodeLearnt(held)); err != nil {
		p.tel.storage.storageFailed(storagePut, "", err)
		return
	}
	p.classesVersion, p.classesAt = version, now
}

// loadStored holds again every stored batch, with the time it has left,
// oldest first; over the limits the oldest become due early, as in Add.
// Corrupt records are skipped, counted and logged with their keys. It
// reports whether any batch was loaded.
func (p *spanLinksProcessor) loadStored(ctx context.Context) bool {
	batches, spans := 0, 0
	corrupt, err := p.store.Load(ctx, func(b hold.Batch) {
		batches++
		spans += b.Spans
		p.hold.Restore(b)
	})
	if err != nil {
		p.tel.storage.storageFailed(storageLoad, "", err)
	}
	for _, c := range corrupt {
		p.tel.storageCorrupt.Add(ctx, 1)
		p.logger.Error("Skipped a corrupt record of backlinks.storage; the other records load",
			zap.String("key", c.Key), zap.Error(c.Err))
	}
	if batches == 0 {
		return false
	}
	p.tel.replayedSpans.Add(ctx, int64(spans))
	p.logger.Info("Loaded held spans from backlinks.storage; those forwarded before a stop without their record deleted are sent again",
		zap.Int("batches", batches), zap.Int("spans", spans), zap.Int("corrupt", len(corrupt)))
	return true
}

// putHeld writes b to the store, if there is one, before it is held, and
// sets b.Key; it sets b.Bytes either way. A write that fails is counted
// and logged (sampled), and b is held in memory only, never dropped.
func (p *spanLinksProcessor) putHeld(ctx context.Context, b *hold.Batch) {
	if p.store == nil {
		b.Bytes = hold.Size(b.Traces)
		return
	}
	r, err := p.store.Encode(b)
	if err != nil {
		b.Bytes = hold.Size(b.Traces)
		p.tel.storage.storageFailed(storagePut, "", err)
		return
	}
	b.Bytes = r.Bytes
	if err := p.store.Put(ctx, r); err != nil {
		p.tel.storage.storageFailed(storagePut, r.Key, err)
		return
	}
	b.Key = r.Key
}

// deleteHeld deletes b's record, if it has one: b was forwarded, or passes
// unheld. A delete that fails is counted and logged (sampled): the batch
// is sent again after a restart.
func (p *spanLinksProcessor) deleteHeld(b hold.Batch) {
	if b.Key == "" {
		return
	}
	if err := p.store.Delete(context.Background(), b.Key); err != nil {
		p.tel.storage.storageFailed(storageDelete, b.Key, err)
	}
}

// countStored counts b's spans as stored, if b was.
func (p *spanLinksProcessor) countStored(ctx context.Context, b hold.Batch) {
	if b.Key != "" {
		p.tel.storedSpans.Add(ctx, int64(b.Spans))
	}
}
