package watch

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Attribute prefixes the spanlinks processor writes.
const (
	prefixLinks     = "spanlinks.links."
	prefixBacklinks = "spanlinks.backlinks."
	attrSpanIDs     = "spanlinks.backlinks.span_ids"
	attrErrorCount  = "spanlinks.backlinks.error_count"
)

// Printer prints spans compactly as they come and a summary at the end.
// Batch spans (those with spanlinks.links.*) are always printed; of the
// spans backlinked to one same span, and of the spans without spanlinks.*
// attributes, only the first PerGroup are, the others are counted.
type Printer struct {
	W io.Writer
	// Labels are attributes printed next to a span's name when it has them.
	Labels []string
	// PerGroup is how many spans of a group are printed.
	PerGroup int

	spans    int
	batches  []Span
	shown    map[string]int // group -> spans seen
	listed   map[string]int // linking span ID -> spans that list it
	failed   map[string]int // linking span ID -> of those, spans with error_count > 0
	backlink int            // spans with spanlinks.backlinks.*
	plain    map[string]int // span name -> spans with no spanlinks.* attribute
	nPlain   int
}

func (p *Printer) init() {
	if p.shown == nil {
		p.shown = map[string]int{}
		p.listed = map[string]int{}
		p.failed = map[string]int{}
		p.plain = map[string]int{}
	}
}

// Span prints s, or counts it.
func (p *Printer) Span(s Span) {
	p.init()
	p.spans++
	if hasPrefix(s, prefixLinks) {
		p.batches = append(p.batches, s)
		p.print(s)
		return
	}
	group, more := "", "spans without spanlinks.* attributes"
	if hasPrefix(s, prefixBacklinks) {
		p.backlink++
		ids := stringList(attr(s, attrSpanIDs))
		errs, _ := strconv.Atoi(attr(s, attrErrorCount))
		for _, id := range ids {
			p.listed[id]++
			if errs > 0 {
				p.failed[id]++
			}
		}
		group, more = "backlinks", "spans with backlinks"
		if len(ids) > 0 {
			group, more = ids[0], "spans backlinked to "+ids[0]
		}
	} else {
		p.plain[s.Name]++
		p.nPlain++
	}
	n := p.shown[group]
	p.shown[group]++
	switch {
	case n < p.PerGroup:
		p.print(s)
	case n == p.PerGroup:
		fmt.Fprintf(p.W, "collector |   ... more %s: not printed, counted in the summary\n", more)
	}
}

// Log prints the collector's warnings and errors.
func (p *Printer) Log(level, msg string) {
	switch strings.ToLower(level) {
	case "warn", "error", "dpanic", "panic", "fatal":
		if i := strings.Index(msg, "\t{"); i >= 0 {
			msg = msg[:i]
		}
		fmt.Fprintf(p.W, "collector | %s %s\n", strings.ToUpper(level), msg)
	}
}

func (p *Printer) print(s Span) {
	var b strings.Builder
	fmt.Fprintf(&b, "collector | %s  span %s  trace %s", s.Name, s.SpanID, s.TraceID)
	p.labels(&b, s)
	if s.Status == "Error" {
		fmt.Fprintf(&b, "  status Error %q", s.StatusMessage)
	}
	if s.Links > 0 || s.DroppedLinksCount > 0 {
		fmt.Fprintf(&b, "  links %d, DroppedLinksCount %d", s.Links, s.DroppedLinksCount)
	}
	b.WriteByte('\n')
	n := 0
	for _, a := range s.Attrs {
		if strings.HasPrefix(a.Key, "spanlinks.") {
			fmt.Fprintf(&b, "collector |     %s=%s\n", a.Key, a.Value)
			n++
		}
	}
	if n == 0 {
		b.WriteString("collector |     (no spanlinks.* attributes)\n")
	}
	io.WriteString(p.W, b.String())
}

func (p *Printer) labels(b *strings.Builder, s Span) {
	for _, l := range p.Labels {
		if v, ok := s.Attr(l); ok {
			fmt.Fprintf(b, "  %s=%s", l, v)
		}
	}
}

// Summary prints what the spans read so far add up to.
func (p *Printer) Summary() {
	p.init()
	w := p.W
	fmt.Fprintf(w, "summary | the collector exported %d spans: %d batch spans with spanlinks.links.*, %d spans with spanlinks.backlinks.*, %d with neither\n",
		p.spans, len(p.batches), p.backlink, p.nPlain)
	for _, s := range p.batches {
		var b strings.Builder
		fmt.Fprintf(&b, "summary | %s %s", s.Name, s.SpanID)
		p.labels(&b, s)
		status := s.Status
		if s.Status == "Error" {
			status = fmt.Sprintf("Error %q", s.StatusMessage)
		}
		fmt.Fprintf(&b, ": status %s; spanlinks.links.total=%s kept=%s invalid=%s sampled_ratio=%s; DroppedLinksCount=%d",
			status, attr(s, prefixLinks+"total"), attr(s, prefixLinks+"kept"), attr(s, prefixLinks+"invalid"),
			short(attr(s, prefixLinks+"sampled_ratio")), s.DroppedLinksCount)
		fmt.Fprintf(&b, "\nsummary |     -> listed in spanlinks.backlinks.* of %d spans", p.listed[s.SpanID])
		if f := p.failed[s.SpanID]; f > 0 {
			fmt.Fprintf(&b, ", %d of them with spanlinks.backlinks.error_count >= 1", f)
			if s.Status == "Error" {
				b.WriteString(": the failed batch is visible on its orders")
			}
		}
		b.WriteByte('\n')
		io.WriteString(w, b.String())
	}
	if p.nPlain > 0 {
		var names []string
		for name, n := range p.plain {
			names = append(names, fmt.Sprintf("%s: %d", name, n))
		}
		slices.Sort(names)
		fmt.Fprintf(w, "summary | %d spans (%s) have no spanlinks.* attributes: no kept link targets them within backlinks.window",
			p.nPlain, strings.Join(names, ", "))
		dropped := 0
		for _, s := range p.batches {
			dropped += s.DroppedLinksCount
		}
		if dropped > 0 {
			fmt.Fprintf(w, "; the batch spans above dropped %d links in all (DroppedLinksCount), cut by the SDK before export or by spanlinks (otelcol_processor_spanlinks_links_dropped{reason} counts those)", dropped)
		}
		fmt.Fprintln(w)
	}
}

func hasPrefix(s Span, prefix string) bool {
	for _, a := range s.Attrs {
		if strings.HasPrefix(a.Key, prefix) {
			return true
		}
	}
	return false
}

func attr(s Span, key string) string {
	v, _ := s.Attr(key)
	return v
}

// stringList reads a printed string slice, `["a","b"]`.
func stringList(v string) []string {
	v = strings.TrimSuffix(strings.TrimPrefix(v, "["), "]")
	if v == "" {
		return nil
	}
	var out []string
	for f := range strings.SplitSeq(v, ",") {
		if u, err := strconv.Unquote(strings.TrimSpace(f)); err == nil {
			out = append(out, u)
		}
	}
	return out
}

// short prints a ratio with at most 3 decimals.
func short(v string) string {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return v
	}
	return strconv.FormatFloat(math.Round(f*1000)/1000, 'f', -1, 64)
}
