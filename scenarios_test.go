package spanlinksprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

const sec = time.Second

// scenarioNamed returns the scenario called name, failing t if there is
// none or it has no steps.
func scenarioNamed(t *testing.T, name string) scenario {
	t.Helper()
	for _, s := range scenarios() {
		if s.name == name {
			require.NotEmpty(t, s.steps, "scenario %q", name)
			return s
		}
	}
	t.Fatalf("no scenario %q", name)
	return scenario{}
}

// scenarios lists the user stories pinned by golden files under testdata/.
func scenarios() []scenario {
	return []scenario{
		{
			// A batch job processes 5 orders in one span linking each order
			// request; order 3's trace was not sampled.
			name: "order-batch",
			steps: at0(inputOf(func(td ptrace.Traces) {
				s := addSpan(td, "order-batcher", traceID(kindBatch, 1), spanID(kindBatch, 1), "process-batch")
				for i := 1; i <= 5; i++ {
					flags := uint32(flagsSampled)
					if i == 3 {
						flags = flagsUnsampled
					}
					linkTo(s, traceID(kindOrder, i), spanID(kindOrder, i), flags)
				}
				c := addSpan(td, "order-batcher", traceID(kindBatch, 1), spanID(kindBatch, 2), "charge-card")
				c.SetParentSpanID(s.SpanID())
			})),
		},
		{
			// 300 orders in one batch: sample keeps a deterministic 128.
			name: "truncate-sample",
			steps: at0(inputOf(func(td ptrace.Traces) {
				s := addSpan(td, "order-batcher", traceID(kindBatch, 1), spanID(kindBatch, 1), "process-batch")
				linkMany(s, kindOrder, 300)
			})),
		},
		{
			// The same 300-link batch: first keeps the earliest 128.
			name: "truncate-first",
			steps: at0(inputOf(func(td ptrace.Traces) {
				s := addSpan(td, "order-batcher", traceID(kindBatch, 1), spanID(kindBatch, 1), "process-batch")
				linkMany(s, kindOrder, 300)
			})),
		},
		{
			// The SDK kept 128 of 300 links and says so in DroppedLinksCount.
			name: "sdk-dropped-links",
			steps: at0(inputOf(func(td ptrace.Traces) {
				s := addSpan(td, "order-batcher", traceID(kindBatch, 1), spanID(kindBatch, 1), "process-batch")
				linkMany(s, kindOrder, 128)
				s.SetDroppedLinksCount(172)
			})),
		},
		{
			// The application linked 100 messages of a 10000-message batch.
			name: "app-sampled-batch",
			steps: at0(inputOf(func(td ptrace.Traces) {
				s := addSpan(td, "order-batcher", traceID(kindBatch, 1), spanID(kindBatch, 1), "process-batch")
				linkMany(s, kindOrder, 100)
				s.Attributes().PutInt("batch.size", 10000)
			})),
		},
		{
			// Lost contexts: a zero trace ID and a zero span ID are dropped;
			// a zero link carrying attributes is kept, as the spec asks.
			name: "invalid-links",
			steps: at0(inputOf(func(td ptrace.Traces) {
				s := addSpan(td, "order-batcher", traceID(kindBatch, 1), spanID(kindBatch, 1), "process-batch")
				linkTo(s, traceID(kindOrder, 1), spanID(kindOrder, 1), flagsSampled)
				linkTo(s, [16]byte{}, spanID(kindOrder, 2), flagsSampled)
				linkTo(s, traceID(kindOrder, 3), [8]byte{}, flagsSampled)
				lost := linkTo(s, [16]byte{}, [8]byte{}, 0)
				lost.Attributes().PutStr("messaging.message.id", "msg-4")
				linkTo(s, traceID(kindOrder, 5), spanID(kindOrder, 5), flagsSampled)
			})),
		},
		{
			// target_sampled_ratio counts kept valid links only: a link
			// kept for its attributes though its IDs are zero (the
			// JavaScript SDK gives it flags 0x100) is not a sampled or
			// unsampled target. 2 of the 3 valid links are sampled.
			name: "invalid-link-flags",
			steps: at0(inputOf(func(td ptrace.Traces) {
				s := addSpan(td, "order-batcher", traceID(kindBatch, 1), spanID(kindBatch, 1), "process-batch")
				linkTo(s, traceID(kindOrder, 1), spanID(kindOrder, 1), flagsSampled)
				linkTo(s, traceID(kindOrder, 2), spanID(kindOrder, 2), flagsUnsampled)
				lost := linkTo(s, [16]byte{}, [8]byte{}, 0x100)
				lost.Attributes().PutStr("messaging.message.id", "msg-3")
				linkTo(s, traceID(kindOrder, 4), spanID(kindOrder, 4), flagsSampled)
			})),
		},
		{
			// A retried message delivered twice links its producer twice.
			name: "duplicate-links",
			steps: at0(inputOf(func(td ptrace.Traces) {
				s := addSpan(td, "order-batcher", traceID(kindBatch, 1), spanID(kindBatch, 1), "process-batch")
				for _, n := range []int{1, 2, 1, 3, 2} {
					linkTo(s, traceID(kindOrder, n), spanID(kindOrder, n), flagsSampled)
				}
			})),
		},
		{
			// A span linking to itself: with another link it is a batch span
			// that lost one; alone it is annotated because a link was dropped.
			name: "self-link",
			steps: at0(inputOf(func(td ptrace.Traces) {
				s := addSpan(td, "order-batcher", traceID(kindBatch, 1), spanID(kindBatch, 1), "process-batch")
				linkTo(s, s.TraceID(), s.SpanID(), flagsSampled)
				linkTo(s, traceID(kindOrder, 1), spanID(kindOrder, 1), flagsSampled)
				r := addSpan(td, "order-batcher", traceID(kindBatch, 2), spanID(kindBatch, 2), "reschedule")
				linkTo(r, r.TraceID(), r.SpanID(), flagsSampled)
			})),
		},
		{
			// A link carrying 7 attributes (1 already dropped by the SDK)
			// under max_attributes_per_link: 4.
			name: "link-attribute-limit",
			steps: at0(inputOf(func(td ptrace.Traces) {
				s := addSpan(td, "order-batcher", traceID(kindBatch, 1), spanID(kindBatch, 1), "process-order")
				l := linkTo(s, traceID(kindOrder, 1), spanID(kindOrder, 1), flagsSampled)
				for _, k := range []string{"a", "b", "c", "d", "e", "f", "g"} {
					l.Attributes().PutStr("link."+k, k)
				}
				l.SetDroppedAttributesCount(1)
			})),
		},
		{
			// A queue consumer receives 4 messages; one arrived without trace
			// context, so it links 3 producers.
			name: "queue-consumer",
			steps: at0(inputOf(func(td ptrace.Traces) {
				for i := 1; i <= 3; i++ {
					p := addSpan(td, "order-api", traceID(kindProducer, i), spanID(kindProducer, i), "orders publish")
					p.SetKind(ptrace.SpanKindProducer)
				}
				c := addSpan(td, "order-worker", traceID(kindBatch, 1), spanID(kindBatch, 1), "orders receive")
				c.SetKind(ptrace.SpanKindConsumer)
				c.Attributes().PutInt("messaging.batch.message_count", 4)
				for i := 1; i <= 3; i++ {
					linkTo(c, traceID(kindProducer, i), spanID(kindProducer, i), flagsSampled)
				}
			})),
		},
		{
			// Spans with no links, and one with a single valid link below
			// batch.min_links, pass through untouched.
			name: "no-links",
			steps: at0(inputOf(func(td ptrace.Traces) {
				orderSpan(td, 1)
				orderSpan(td, 2).Attributes().PutStr("order.id", "2")
				s := addSpan(td, "order-worker", traceID(kindBatch, 1), spanID(kindBatch, 1), "process-order")
				linkTo(s, traceID(kindTarget, 1), spanID(kindTarget, 1), flagsSampled)
			})),
		},
		{
			// Origin first: 5 order requests end; 20s later the batch that
			// processed them arrives. The orders, held, leave at 30s with a
			// backlink to the batch; the batch leaves at 50s.
			name: "order-batch-backlinks",
			steps: []step{
				feed(0, orders(1, 5)),
				feed(20*sec, func(td ptrace.Traces) { batchSpan(td, 1, 1, 5) }),
				tick(30 * sec),
				tick(50 * sec),
			},
		},
		{
			// The same, but the batch failed: every order shows error_count 1.
			name: "order-batch-failed",
			steps: []step{
				feed(0, orders(1, 5)),
				feed(20*sec, func(td ptrace.Traces) { failed(batchSpan(td, 1, 1, 5)) }),
				tick(30 * sec),
				tick(50 * sec),
			},
		},
		{
			// Linker first: 3 workers end before the span that fanned out to
			// them; it gets its backlinks as it arrives.
			name: "fan-out",
			steps: []step{
				feed(0, func(td ptrace.Traces) {
					for i := 1; i <= 3; i++ {
						w := addSpan(td, "image-worker", traceID(kindWorker, i), spanID(kindWorker, i), "resize-image")
						linkTo(w, traceID(kindJob, 1), spanID(kindJob, 1), flagsSampled)
					}
				}),
				feed(5*sec, func(td ptrace.Traces) {
					addSpan(td, "upload-api", traceID(kindJob, 1), spanID(kindJob, 1), "fan-out-resize")
				}),
				tick(30 * sec),
				tick(35 * sec),
			},
		},
		{
			// A job retried twice: each attempt, a new trace, links the
			// attempt before it, which learns who retried it.
			name: "retry-chain",
			steps: []step{
				feed(0, func(td ptrace.Traces) {
					failed(addSpan(td, "mailer", traceID(kindJob, 1), spanID(kindJob, 1), "send-invoice"))
				}),
				feed(10*sec, func(td ptrace.Traces) {
					s := addSpan(td, "mailer", traceID(kindJob, 2), spanID(kindJob, 2), "send-invoice")
					failed(s)
					linkTo(s, traceID(kindJob, 1), spanID(kindJob, 1), flagsSampled)
				}),
				feed(20*sec, func(td ptrace.Traces) {
					s := addSpan(td, "mailer", traceID(kindJob, 3), spanID(kindJob, 3), "send-invoice")
					linkTo(s, traceID(kindJob, 2), spanID(kindJob, 2), flagsSampled)
				}),
				tick(30 * sec),
				tick(40 * sec),
				tick(50 * sec),
			},
		},
		{
			// A nightly job links an order 31s after it ended: past the 30s
			// window, the order has left without a backlink.
			name: "linker-after-window",
			steps: []step{
				feed(0, orders(1, 1)),
				tick(30 * sec),
				feed(31*sec, func(td ptrace.Traces) {
					s := addSpan(td, "reports", traceID(kindJob, 1), spanID(kindJob, 1), "nightly-report")
					linkTo(s, traceID(kindOrder, 1), spanID(kindOrder, 1), flagsSampled)
				}),
				tick(61 * sec),
			},
		},
		{
			// One order linked by 40 batches, every tenth failed: the count
			// is 40 and error_count 4, the lists stop at 32.
			name: "origin-linked-by-40",
			steps: []step{
				feed(0, orders(1, 1)),
				feed(10*sec, func(td ptrace.Traces) {
					for i := 1; i <= 40; i++ {
						s := addSpan(td, "order-batcher", traceID(kindBatch, i), spanID(kindBatch, i), "process-batch")
						linkTo(s, traceID(kindOrder, 1), spanID(kindOrder, 1), flagsSampled)
						if i%10 == 0 {
							failed(s)
						}
					}
				}),
				tick(30 * sec),
				tick(40 * sec),
			},
		},
		{
			// emit_links: the orders also get a real reverse link to the
			// batch. A reverse link arriving from an upstream collector is
			// never indexed: its target gets no backlink from it.
			name: "emit-links",
			steps: []step{
				feed(0, func(td ptrace.Traces) {
					orders(1, 2)(td)
					o := orderSpan(td, 3)
					l := linkTo(o, traceID(kindBatch, 9), spanID(kindBatch, 9), 0)
					l.Attributes().PutBool("spanlinks.backlink", true)
				}),
				feed(20*sec, func(td ptrace.Traces) {
					batchSpan(td, 1, 1, 2)
					addSpan(td, "order-batcher", traceID(kindBatch, 9), spanID(kindBatch, 9), "process-batch")
				}),
				tick(30 * sec),
				tick(50 * sec),
			},
		},
		{
			// hold: none: nothing waits. Orders that end before their batch
			// get no backlink; a trigger span after its workers does.
			name: "hold-none",
			steps: []step{
				feed(0, orders(1, 2)),
				feed(20*sec, func(td ptrace.Traces) {
					batchSpan(td, 1, 1, 2)
					w := addSpan(td, "image-worker", traceID(kindWorker, 1), spanID(kindWorker, 1), "resize-image")
					linkTo(w, traceID(kindJob, 1), spanID(kindJob, 1), flagsSampled)
				}),
				feed(21*sec, func(td ptrace.Traces) {
					addSpan(td, "upload-api", traceID(kindJob, 1), spanID(kindJob, 1), "fan-out-resize")
				}),
			},
		},
		{
			// hold as OTTL conditions: only order requests wait. A health
			// check in the same resource and scope passes at once; the
			// orders leave later under a copy of their resource and scope.
			name: "hold-conditions",
			steps: []step{
				feed(0, func(td ptrace.Traces) {
					orderSpan(td, 1)
					addSpan(td, "order-api", traceID(kindTarget, 1), spanID(kindTarget, 1), "GET /healthz")
					orderSpan(td, 2)
				}),
				feed(20*sec, func(td ptrace.Traces) { batchSpan(td, 1, 1, 2) }),
				tick(30 * sec),
			},
		},
		{
			// max_held_spans: 5. The second batch of orders pushes the hold
			// to 6: the oldest batch leaves at once, without backlinks; the
			// rest wait and get theirs. Nothing is lost.
			name: "hold-overflow",
			steps: []step{
				feed(0, orders(1, 3)),
				feed(1*sec, orders(4, 6)),
				feed(2*sec, func(td ptrace.Traces) { batchSpan(td, 1, 1, 6) }),
				tick(31 * sec),
				tick(32 * sec),
			},
		},
		{
			// Senders forge spanlinks.* attributes of every type. They never
			// leave: order 1, linked by a batch before it arrives and by one
			// while it is held, counts those 2 (not 1000 more); order 2's
			// 40 int trace IDs and order 3's short int arrays give way to
			// the one real linker; order 4, which nothing links to, keeps
			// no forged count; the batch spans' forged links.* give way to
			// the processor's, or go when it writes none.
			name: "forged-attributes",
			steps: []step{
				feed(0, func(td ptrace.Traces) {
					b := batchSpan(td, 1, 1, 1)
					b.Attributes().PutStr(attrLinksTargetSampledRatio, "1.0")
					b.Attributes().PutInt(attrLinksTotal, 999)
				}),
				feed(5*sec, func(td ptrace.Traces) {
					o1 := orderSpan(td, 1).Attributes()
					o1.PutInt(attrBacklinksCount, 1000)
					o1.PutInt(attrBacklinksErrorCount, 7)
					o2 := orderSpan(td, 2).Attributes()
					o2.PutInt(attrBacklinksCount, 40)
					ids := o2.PutEmptySlice(attrBacklinksTraceIDs)
					for i := 0; i < 40; i++ {
						ids.AppendEmpty().SetInt(int64(i))
					}
					o3 := orderSpan(td, 3).Attributes()
					o3.PutEmptySlice(attrBacklinksSpanIDs).FromRaw([]any{int64(1), int64(2)})
					o3.PutEmptySlice(attrBacklinksSpanNames).FromRaw([]any{int64(3)})
					o3.PutInt(attrBacklinksCount, 2)
					o3.PutStr(attrBacklinksErrorCount, "12")
					o4 := orderSpan(td, 4).Attributes()
					o4.PutInt(attrBacklinksCount, 5)
					o4.PutStr(attrBacklink, "yes")
					o4.PutStr("order.id", "4")
				}),
				feed(20*sec, func(td ptrace.Traces) {
					b := batchSpan(td, 2, 1, 3)
					b.Attributes().PutDouble(attrLinksSampledRatio, 0.01)
					w := addSpan(td, "order-worker", traceID(kindWorker, 1), spanID(kindWorker, 1), "check-stock")
					w.Attributes().PutInt(attrLinksKept, 64)
				}),
				tick(35 * sec),
				tick(50 * sec),
			},
		},
		{
			// max_held_bytes: 400. Each batch of 2 orders is 188 bytes:
			// the third pushes the hold to 564, so the first leaves at
			// once, without backlinks. The batch span that links all 6,
			// over 400 bytes alone once annotated, passes at once, unheld;
			// the other orders leave at their window with its backlink.
			name: "hold-bytes",
			steps: []step{
				feed(0, orders(1, 2)),
				feed(1*sec, orders(3, 4)),
				feed(2*sec, orders(5, 6)),
				feed(3*sec, func(td ptrace.Traces) { batchSpan(td, 1, 1, 6) }),
				tick(33 * sec),
			},
		},
		{
			// The collector stops 10s in: every held span leaves before
			// Shutdown returns, with the backlinks known by then.
			name: "shutdown-held",
			steps: []step{
				feed(0, orders(1, 3)),
				feed(5*sec, func(td ptrace.Traces) { batchSpan(td, 1, 1, 3) }),
				tick(10 * sec),
			},
		},
		{
			// Two tenants (resource attribute tenant.id) send orders with
			// the same IDs; acme's batch links orders 1-3, globex's order 2,
			// an untagged batch order 3: each order gets its own tenant's
			// backlinks only.
			name: "tenants",
			steps: []step{
				feed(0, func(td ptrace.Traces) {
					ofTenant("acme", orders(1, 3))(td)
					ofTenant("globex", orders(1, 3))(td)
				}),
				feed(1*sec, func(td ptrace.Traces) {
					ofTenant("acme", func(td ptrace.Traces) { batchSpan(td, 1, 1, 3) })(td)
					ofTenant("globex", func(td ptrace.Traces) { batchSpan(td, 2, 2, 2) })(td)
					batchSpan(td, 3, 3, 3)
				}),
				tick(40 * sec),
			},
		},
		{
			// hold: auto, origin first. Orders 1-2 and a health check pass
			// at once; batch 1 links the orders, gone: 2 missed backlinks,
			// and order-api's receive-order (server) is learnt. Orders 3-4
			// are then held (the health check beside them passes) and leave
			// at 50s with batch 2's backlink.
			name: "hold-auto-origin-first",
			steps: []step{
				feed(0, both(orders(1, 2), orderAPIHealth(1, 1))),
				feed(10*sec, func(td ptrace.Traces) { batchSpan(td, 1, 1, 2) }),
				feed(20*sec, both(orders(3, 4), orderAPIHealth(2, 2))),
				feed(25*sec, func(td ptrace.Traces) { batchSpan(td, 2, 3, 4) }),
				tick(50 * sec),
			},
		},
		{
			// hold: auto, linker first. Workers link job 1 before it ends;
			// job 1 passes at once with their backlinks, which teaches the
			// class upload-api fan-out-resize. Job 2, of that class, is then
			// held, and its worker, coming after it, pairs: job 2 leaves at
			// 40s with its backlink.
			name: "hold-auto-linker-first",
			steps: []step{
				feed(0, func(td ptrace.Traces) { resizeWorker(td, 1, 1) }),
				feed(5*sec, func(td ptrace.Traces) { fanOutJob(td, 1) }),
				feed(10*sec, func(td ptrace.Traces) { fanOutJob(td, 2) }),
				feed(15*sec, func(td ptrace.Traces) { resizeWorker(td, 2, 2) }),
				tick(40 * sec),
			},
		},
		{
			// hold: auto forgets a class 10 windows (300s) after a link
			// last targeted it. Learnt at 10s from a miss; order 2, held,
			// gets its backlink at 50s, the class's last link. Order 3, at
			// 340s, is still held (it leaves at 370s, after the health
			// check of 345s); by 360s the class is forgotten: order 4
			// passes at once, before the health check of 361s.
			name: "hold-auto-forget",
			steps: []step{
				feed(0, orders(1, 1)),
				feed(10*sec, func(td ptrace.Traces) { batchSpan(td, 1, 1, 1) }),
				feed(20*sec, orders(2, 2)),
				feed(25*sec, func(td ptrace.Traces) { batchSpan(td, 2, 2, 2) }),
				tick(50 * sec),
				feed(340*sec, orders(3, 3)),
				feed(345*sec, orderAPIHealth(1, 1)),
				feed(360*sec, orders(4, 4)),
				feed(361*sec, orderAPIHealth(2, 2)),
				tick(370 * sec),
			},
		},
		{
			// hold: auto keeps classes of the same name in two services
			// apart: a link to order-api's receive-order holds that class
			// only; refund-api's receive-order spans still pass at once.
			name: "hold-auto-two-services",
			steps: []step{
				feed(0, both(orders(1, 1), refunds(1, 1))),
				feed(10*sec, func(td ptrace.Traces) { batchSpan(td, 1, 1, 1) }),
				feed(20*sec, both(orders(2, 2), refunds(2, 2))),
				feed(25*sec, func(td ptrace.Traces) { batchSpan(td, 2, 2, 2) }),
				tick(50 * sec),
			},
		},
		{
			// hold: auto with nothing linked: every span passes at once,
			// in the call it arrives in (TestHoldAutoNeverLinked checks the
			// call), untouched.
			name: "hold-auto-never-linked",
			steps: []step{
				feed(0, both(orders(1, 2), orderAPIHealth(1, 2))),
				feed(5*sec, orderAPIHealth(3, 3)),
			},
		},
	}
}
