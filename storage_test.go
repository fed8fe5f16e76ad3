package spanlinksprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/spanlinks/spanlinksprocessor/internal/hold"
)

// Metrics of backlinks.storage.
const (
	metricStoredSpans    = "otelcol_processor_spanlinks_stored_spans"
	metricReplayedSpans  = "otelcol_processor_spanlinks_replayed_spans"
	metricStorageCorrupt = "otelcol_processor_spanlinks_storage_corrupt_records"
	metricStorageFails   = "otelcol_processor_spanlinks_storage_failures"
)

var fileStorageID = component.MustNewID("file_storage")

// extHost is a host with the given extensions.
type extHost struct {
	component.Host
	exts map[component.ID]component.Component
}

func (h extHost) GetExtensions() map[component.ID]component.Component { return h.exts }

// startFileStorage starts contrib's file_storage on dir (a real bbolt
// file) and returns a host that has it as file_storage; stop shuts it down,
// which a test calls before opening dir again, as a restarted collector
// would.
func startFileStorage(t *testing.T, dir string) (host component.Host, stop func()) {
	t.Helper()
	ctx := context.Background()
	f := filestorage.NewFactory()
	cfg := f.CreateDefaultConfig().(*filestorage.Config)
	cfg.Directory = dir
	ext, err := f.Create(ctx, extensiontest.NewNopSettings(f.Type()), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(ctx, componenttest.NewNopHost()))
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			require.NoError(t, ext.Shutdown(ctx))
		}
	}
	t.Cleanup(stop)
	return extHost{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{fileStorageID: ext}}, stop
}

// storageRun is one run of a collector: a processor with storage on dir,
// its sink, metrics and logs.
type storageRun struct {
	p    *spanLinksProcessor
	sink *consumertest.TracesSink
	tel  *componenttest.Telemetry
	logs *observer.ObservedLogs
	stop func() // stops file_storage
}

// startRun starts a processor with cfg on the file_storage of dir, at the
// clock's time.
func startRun(t *testing.T, cfg *Config, dir string, clock *fakeClock) *storageRun {
	t.Helper()
	core, logs := observer.New(zap.InfoLevel)
	set, tel := telemetrySettings(t)
	set.Logger = zap.New(core)
	host, stop := startFileStorage(t, dir)
	r := &storageRun{sink: new(consumertest.TracesSink), tel: tel, logs: logs, stop: stop}
	r.p = newTestProcessorWith(t, set, cfg, r.sink, clock)
	require.NoError(t, r.p.Start(context.Background(), host))
	return r
}

// crash ends the run as a SIGKILL would: nothing is released or deleted;
// only the file is closed, so that the next run can open it.
func (r *storageRun) crash(t *testing.T) {
	t.Helper()
	require.NoError(t, r.p.store.Close(context.Background()))
	r.stop()
}

func storageConfig() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Backlinks.Storage = "file_storage"
	return cfg
}

// TestStorageCrashRestart: orders held when the collector crashes are held
// again after the restart for the time they have left, get the backlink
// of the batch that arrives then, and leave once; what was forwarded is
// deleted, so a third run loads nothing.
func TestStorageCrashRestart(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: start}
	ctx := context.Background()
	run1 := startRun(t, storageConfig(), dir, clock)
	require.NoError(t, run1.p.ConsumeTraces(ctx, inputOf(orders(1, 3))))
	assert.Equal(t, int64(3), metricValue(t, run1.tel, metricStoredSpans, ""))
	run1.crash(t)
	assert.Zero(t, run1.sink.SpanCount(), "the orders were held")

	clock.Set(start.Add(10 * sec))
	run2 := startRun(t, storageConfig(), dir, clock)
	assert.Equal(t, int64(3), metricValue(t, run2.tel, metricReplayedSpans, ""))
	assert.Equal(t, 3, run2.p.hold.Len())
	assert.Equal(t, 1, run2.logs.FilterMessageSnippet("Loaded held spans").Len())
	run2.p.releaseDue(nil)
	assert.Zero(t, run2.sink.SpanCount(), "held again for the 20s they have left")

	clock.Set(start.Add(12 * sec))
	require.NoError(t, run2.p.ConsumeTraces(ctx, inputOf(func(td ptrace.Traces) { batchSpan(td, 1, 1, 3) })))
	clock.Set(start.Add(30*sec + run2.p.tick))
	run2.p.releaseDue(nil)
	require.Equal(t, 3, run2.sink.SpanCount(), "the orders leave after their window, counted from their first arrival")
	got := backlinkCounts(run2.sink)
	for i := 1; i <= 3; i++ {
		assert.Equal(t, int64(1), got[spanID(kindOrder, i).String()], "order %d", i)
	}
	assert.Equal(t, int64(3), metricValue(t, run2.tel, metricReleasedSpans, hold.ReasonWindow))
	require.NoError(t, run2.p.Shutdown(ctx)) // releases the batch span and deletes it
	assert.Equal(t, 4, run2.sink.SpanCount())
	run2.stop()

	run3 := startRun(t, storageConfig(), dir, clock)
	assert.Zero(t, run3.p.hold.Len(), "every forwarded batch was deleted")
	require.NoError(t, run3.p.Shutdown(ctx))
	assert.Zero(t, run3.sink.SpanCount())
}

// TestStorageWindowOverAtStart: a stored batch whose window passed while
// the collector was down is not forwarded inside Start, but by the
// release loop's first round, reason window.
func TestStorageWindowOverAtStart(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: start}
	ctx := context.Background()
	run1 := startRun(t, storageConfig(), dir, clock)
	require.NoError(t, run1.p.ConsumeTraces(ctx, inputOf(orders(1, 2))))
	run1.crash(t)

	clock.Set(start.Add(5 * time.Minute))
	run2 := startRun(t, storageConfig(), dir, clock)
	assert.Zero(t, run2.sink.SpanCount(), "Start forwards nothing")
	run2.p.releaseDue(nil)
	assert.Equal(t, 2, run2.sink.SpanCount())
	assert.Equal(t, int64(2), metricValue(t, run2.tel, metricReleasedSpans, hold.ReasonWindow))
	require.NoError(t, run2.p.Shutdown(ctx))
	assert.Equal(t, 2, run2.sink.SpanCount())
}

// TestStorageCorruptRecordSkipped: a record written over with garbage is
// skipped at start, counted and logged with its key; the other loads.
func TestStorageCorruptRecordSkipped(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: start}
	ctx := context.Background()
	run1 := startRun(t, storageConfig(), dir, clock)
	require.NoError(t, run1.p.ConsumeTraces(ctx, inputOf(orders(1, 2))))
	require.NoError(t, run1.p.ConsumeTraces(ctx, inputOf(orders(3, 3))))
	run1.crash(t)

	// Garbage over the first record, written through file_storage.
	host, stop := startFileStorage(t, dir)
	c, err := host.GetExtensions()[fileStorageID].(storage.Extension).GetClient(ctx, component.KindProcessor, component.NewID(typeStr), "")
	require.NoError(t, err)
	var first string
	require.NoError(t, c.(storage.Walker).Walk(ctx, func(k string, _ []byte) ([]*storage.Operation, error) {
		if first == "" {
			first = k
		}
		return nil, nil
	}))
	require.NoError(t, c.Set(ctx, first, []byte("garbage")))
	require.NoError(t, c.Close(ctx))
	stop()

	run2 := startRun(t, storageConfig(), dir, clock)
	assert.Equal(t, int64(1), metricValue(t, run2.tel, metricStorageCorrupt, ""))
	assert.Equal(t, int64(1), metricValue(t, run2.tel, metricReplayedSpans, ""))
	logged := run2.logs.FilterMessageSnippet("Skipped a corrupt record").All()
	require.Len(t, logged, 1)
	assert.Equal(t, first, logged[0].ContextMap()["key"])
	require.NoError(t, run2.p.Shutdown(ctx))
	assert.Equal(t, []string{spanKeys(inputOf(orders(3, 3)))[0]}, spanKeys(run2.sink.AllTraces()[0]))
}

// failingStorage is a storage extension whose clients fail every write.
type failingStorage struct {
	component.StartFunc
	component.ShutdownFunc
	real storage.Extension
}

func (f failingStorage) GetClient(ctx context.Context, k component.Kind, id component.ID, name string) (storage.Client, error) {
	c, err := f.real.GetClient(ctx, k, id, name)
	return failingClient{c}, err
}

type failingClient struct{ storage.Client }

func (failingClient) Set(context.Context, string, []byte) error { return storage.ErrStorageFull }

func (c failingClient) Walk(ctx context.Context, fn storage.WalkFunc) error {
	return c.Client.(storage.Walker).Walk(ctx, fn)
}

// TestStorageFailureHoldsInMemory: when the storage refuses a batch, the
// batch is held in memory as without storage, never dropped; the failure
// is counted each time and logged once per interval.
func TestStorageFailureHoldsInMemory(t *testing.T) {
	host, _ := startFileStorage(t, t.TempDir())
	real := host.GetExtensions()[fileStorageID].(storage.Extension)
	host = extHost{Host: host, exts: map[component.ID]component.Component{fileStorageID: failingStorage{real: real}}}
	core, logs := observer.New(zap.InfoLevel)
	set, tel := telemetrySettings(t)
	set.Logger = zap.New(core)
	sink := new(consumertest.TracesSink)
	clock := &fakeClock{t: start}
	p := newTestProcessorWith(t, set, storageConfig(), sink, clock)
	ctx := context.Background()
	require.NoError(t, p.Start(ctx, host))
	require.NoError(t, p.ConsumeTraces(ctx, inputOf(orders(1, 2))))
	require.NoError(t, p.ConsumeTraces(ctx, inputOf(orders(3, 3))))
	assert.Equal(t, 3, p.hold.Len(), "held in memory")
	assert.Zero(t, sink.SpanCount())
	assert.Equal(t, int64(2), metricValue(t, tel, metricStorageFails, ""))
	assert.Zero(t, metricValue(t, tel, metricStoredSpans, ""))
	assert.Equal(t, 1, logs.FilterMessageSnippet("failed to store a held batch").Len(), "sampled")
	clock.Set(start.Add(31 * sec))
	p.releaseDue(nil)
	assert.Equal(t, 3, sink.SpanCount())
	require.NoError(t, p.Shutdown(ctx))
}

// TestStorageStartErrors: a storage that is not configured, or not a
// storage extension, fails Start, naming backlinks.storage and the ID.
func TestStorageStartErrors(t *testing.T) {
	notStorage := struct {
		component.StartFunc
		component.ShutdownFunc
	}{}
	var _ extension.Extension = notStorage
	for name, host := range map[string]component.Host{
		"no extension file_storage": componenttest.NewNopHost(),
		`"file_storage" is not a storage extension`: extHost{Host: componenttest.NewNopHost(),
			exts: map[component.ID]component.Component{fileStorageID: notStorage}},
	} {
		t.Run(name, func(t *testing.T) {
			p := newTestProcessor(t, storageConfig(), new(consumertest.TracesSink), &fakeClock{t: start})
			err := p.Start(context.Background(), host)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "backlinks.storage")
			assert.Contains(t, err.Error(), "file_storage")
			require.NoError(t, p.Shutdown(context.Background()))
		})
	}
}

// TestConfigStorage: backlinks.storage takes an extension ID, and only
// where something is held.
func TestConfigStorage(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		set        func(*Config)
	}{
		{"type", "", func(c *Config) { c.Backlinks.Storage = "file_storage" }},
		{"type/name", "", func(c *Config) { c.Backlinks.Storage = "file_storage/hold" }},
		{"bad id", `backlinks.storage: "file storage!" is not a storage extension ID`, func(c *Config) { c.Backlinks.Storage = "file storage!" }},
		{"hold none", `backlinks.storage: "file_storage" is set but backlinks.hold is "none"`, func(c *Config) {
			c.Backlinks.Storage = "file_storage"
			c.Backlinks.Hold = Hold{Mode: HoldNone}
		}},
		{"disabled", `backlinks.storage: "file_storage" is set but backlinks.enabled is false`, func(c *Config) {
			c.Backlinks.Storage = "file_storage"
			c.Backlinks.Enabled = false
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			tc.set(cfg)
			err := cfg.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestStorageAfterShutdown: a call after Shutdown passes at once, as
// without storage, and a second Shutdown is harmless.
func TestStorageAfterShutdown(t *testing.T) {
	clock := &fakeClock{t: start}
	run := startRun(t, storageConfig(), t.TempDir(), clock)
	ctx := context.Background()
	require.NoError(t, run.p.Shutdown(ctx))
	require.NoError(t, run.p.ConsumeTraces(ctx, inputOf(orders(1, 2))))
	assert.Equal(t, 2, run.sink.SpanCount())
	require.NoError(t, run.p.Shutdown(ctx))
}

// TestStorageKeepsLearntClasses: under hold: auto with storage, the classes
// learnt before a crash are held again at once after the restart, not
// learnt anew; learnt classes stored corrupt are skipped, counted and
// logged with their key, and learnt anew.
func TestStorageKeepsLearntClasses(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: start}
	ctx := context.Background()
	cfg := storageConfig()
	cfg.Backlinks.Hold = Hold{Mode: HoldAuto}
	run1 := startRun(t, cfg, dir, clock)
	assert.Equal(t, 1, run1.logs.FilterMessageSnippet("every span is held for the first window").Len(), "a first start warms up")
	require.NoError(t, run1.p.ConsumeTraces(ctx, inputOf(orders(1, 1))))
	assert.Equal(t, 1, run1.p.hold.Len(), "no class learnt yet: the first window holds the order")
	clock.Set(start.Add(sec))
	require.NoError(t, run1.p.ConsumeTraces(ctx, inputOf(func(td ptrace.Traces) { batchSpan(td, 1, 1, 1) })))
	learnt := run1.p.learn.HeldClasses()
	require.Len(t, learnt, 1, "the link to the held order taught its class")
	run1.p.releaseDue(nil) // the release loop's round stores the classes
	run1.crash(t)

	clock.Set(start.Add(time.Minute))
	run2 := startRun(t, cfg, dir, clock)
	assert.Equal(t, learnt, run2.p.learn.HeldClasses(), "the class comes back with the restart")
	assert.Equal(t, 1, run2.logs.FilterMessageSnippet("Loaded hold: auto's learnt classes").Len())
	assert.Zero(t, run2.logs.FilterMessageSnippet("every span is held for the first window").Len(), "classes known: no warm-up")
	assert.Equal(t, 2, run2.p.hold.Len(), "run 1's order and batch span, stored, are held again")
	require.NoError(t, run2.p.ConsumeTraces(ctx, inputOf(orders(2, 2))))
	assert.Equal(t, 3, run2.p.hold.Len(), "an order of the learnt class is held at once")
	require.NoError(t, run2.p.ConsumeTraces(ctx, inputOf(orderAPIHealth(1, 1))))
	assert.Equal(t, 1, run2.sink.SpanCount(), "a health check, of no learnt class, passes at once")
	require.NoError(t, run2.p.store.PutClasses(ctx, []byte("not learnt classes")))
	run2.crash(t)

	run3 := startRun(t, cfg, dir, clock)
	assert.Empty(t, run3.p.learn.HeldClasses(), "corrupt classes are not restored")
	assert.Equal(t, 1, run3.logs.FilterMessageSnippet("every span is held for the first window").Len(), "no class restored: the first window is held")
	assert.Equal(t, int64(1), metricValue(t, run3.tel, metricStorageCorrupt, ""))
	bad := run3.logs.FilterMessageSnippet("Skipped the corrupt learnt classes").All()
	require.Len(t, bad, 1)
	assert.Equal(t, "spanlinks/classes", bad[0].ContextMap()["key"])
	require.NoError(t, run3.p.Shutdown(ctx))
	assert.Equal(t, 3, run3.sink.SpanCount(), "order 1, batch 1 and order 2, stored before the crashes, released on shutdown")
}
