package linkindex

import (
	"context"
	"time"
)

// allTime is a time before every entry of the tests.
var allTime = time.Unix(0, 0)

// one adds and looks up one link or span at a time, reusing the memory of
// its batches.
type one struct {
	ix      *Memory
	links   Links
	targets Targets
}

// add adds the link from l to target, seen at now.
func (o *one) add(target Ref, l Linker, now time.Time) {
	o.links.Reset()
	o.links.Link(KeyOf(target.TraceID, target.SpanID))
	o.links.Linker(KeyOf(l.TraceID, l.SpanID), l.Name, l.Error)
	_ = o.ix.Add(context.Background(), &o.links, now) // the in-memory index never fails
}

// lookup returns the backlinks of target added after since; its linkers are valid until the
// next lookup.
func (o *one) lookup(target Ref, since time.Time, limit int) Backlinks {
	o.targets.Reset()
	o.targets.Add(KeyOf(target.TraceID, target.SpanID))
	_ = o.ix.Lookup(context.Background(), &o.targets, since, limit) // the in-memory index never fails
	return o.targets.Result(0)
}

// add1 adds one link to ix: a batch of one.
func add1(ix *Memory, target Ref, l Linker, now time.Time) {
	(&one{ix: ix}).add(target, l, now)
}

// lookup1 looks one target up in ix: a batch of one.
func lookup1(ix *Memory, target Ref, since time.Time, limit int) Backlinks {
	return (&one{ix: ix}).lookup(target, since, limit)
}
