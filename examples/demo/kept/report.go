package kept

import (
	"fmt"
	"io"
	"strings"
)

// Report prints every trace: the kept ones one a line with the policy that
// kept them, the dropped ones grouped by what they are and why no policy
// kept them.
func (ts *Traces) Report(w io.Writer) {
	traces := ts.snapshot()
	var kept, dropped []*Trace
	for _, tr := range traces {
		if tr.Kept {
			kept = append(kept, tr)
		} else {
			dropped = append(dropped, tr)
		}
	}
	fmt.Fprintf(w, "==> kept %d of %d traces\n", len(kept), len(traces))
	for _, tr := range kept {
		policy := tr.Policy
		if policy == "" {
			policy = "(not recorded: run the tail-sampling tier with --feature-gates=processor.tailsamplingprocessor.recordpolicy)"
		}
		fmt.Fprintf(w, "kept    %s %s: policy %s\n", tr.ID, describe(tr), policy)
	}
	fmt.Fprintf(w, "==> dropped %d of %d traces\n", len(dropped), len(traces))
	type group struct {
		what, why string
		labels    []string
		example   string
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, tr := range dropped {
		r := tr.root()
		what := fmt.Sprintf("%s (%d spans)", r.Name, len(tr.Spans))
		if len(tr.Spans) == 1 {
			what = r.Name
		}
		why := whyDropped(r)
		key := what + "\x00" + why
		g := byKey[key]
		if g == nil {
			g = &group{what: what, why: why, example: tr.ID}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.labels = append(g.labels, label(r))
	}
	for _, g := range groups {
		fmt.Fprintf(w, "dropped %3d %s %s (e.g. trace %s): %s\n", len(g.labels), g.what, abbreviate(g.labels), g.example, g.why)
	}
}

// describe names a kept trace by its demo span and what the policies look at.
func describe(tr *Trace) string {
	r := tr.root()
	more := ""
	switch n := len(tr.Spans); {
	case n == 2:
		more = " (+1 span)"
	case n > 2:
		more = fmt.Sprintf(" (+%d spans)", n-1)
	}
	switch {
	case r.Name == processBatch && r.Error:
		return fmt.Sprintf("%s %s%s, status Error", r.Name, label(r), more)
	case r.HasBacklinks:
		return fmt.Sprintf("%s %s%s, %s=%d", r.Name, label(r), more, AttrBacklinkErrors, r.BacklinkErrors)
	}
	return fmt.Sprintf("%s %s%s", r.Name, label(r), more)
}

// whyDropped says why no policy of the recipe kept a trace whose main span
// is r.
func whyDropped(r *Span) string {
	switch {
	case r.Error:
		return "DROPPED although its status is Error: came after the decision?"
	case r.BacklinkErrors > 0:
		return fmt.Sprintf("DROPPED although %s=%d: it reached the tail-sampling tier after the decision (decision_wait too short for backlinks.window?)", AttrBacklinkErrors, r.BacklinkErrors)
	case r.HasBacklinks:
		return fmt.Sprintf("linked from %d batch(es), none failed (%s=0), and not in the probabilistic share", r.Backlinks, AttrBacklinkErrors)
	case r.Name == receiveOrder:
		return "no backlink (no batch linked to it within backlinks.window, or the SDK cut that link), no error, not in the probabilistic share"
	}
	return "no error, not in the probabilistic share"
}

// label is the demo's name for the span: order ID or batch number.
func label(r *Span) string {
	switch {
	case r.OrderID != "":
		return r.OrderID
	case r.Name == processBatch:
		return fmt.Sprintf("batch %d", r.Batch)
	}
	return ""
}

// abbreviate lists up to 4 labels, then the last one.
func abbreviate(labels []string) string {
	if len(labels) <= 5 {
		return strings.Join(labels, ", ")
	}
	return strings.Join(labels[:4], ", ") + ", ..., " + labels[len(labels)-1]
}
