// Package watch reads what a collector prints with the debug exporter at
// detailed verbosity and shows, compactly, what the spanlinks processor did:
// the spanlinks.* attributes of every span, grouped so that a batch of 150
// orders does not scroll the batch spans away.
//
// It parses the debug exporter's text format (go.opentelemetry.io/collector/
// exporter/debugexporter, internal/otlptext) as printed through the
// collector's console logger. That format is meant for people, not
// programs: this is a demo aid, not an API.
package watch

import (
	"regexp"
	"strconv"
	"strings"
)

// Span is one span of the debug exporter's output.
type Span struct {
	TraceID, SpanID, Name string
	Status, StatusMessage string
	DroppedLinksCount     int
	Links                 int    // links printed under the span
	Attrs                 []Attr // in printed order, values unwrapped
}

// Attr is a span attribute; Value is the printed value without its type,
// "Int(3)" as "3", `Slice(["a"])` as `["a"]`.
type Attr struct{ Key, Value string }

// Attr returns the value of key and whether the span has it.
func (s *Span) Attr(key string) (string, bool) {
	for _, a := range s.Attrs {
		if a.Key == key {
			return a.Value, true
		}
	}
	return "", false
}

// Parser turns the collector's output, line by line, into spans and log
// lines.
type Parser struct {
	// OnSpan is called with every span, once its last line was read.
	OnSpan func(Span)
	// OnLog is called with every log line of the collector that is not the
	// debug exporter's span output: its level and the rest of the line.
	OnLog func(level, msg string)

	cur     *Span
	inDump  bool   // inside a debug exporter ResourceSpans dump
	section string // "attrs", "events", "links" or ""
}

// logLine matches the start of a console log line: time, level, message.
var logLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\S+\t([a-zA-Z]+)\t(.*)$`)

// Line parses one line of output, without its newline.
func (p *Parser) Line(line string) {
	// The logger appends the log fields, "\t{...}", after the message; for
	// the multi-line span dump they end up alone on the last line.
	fieldsOnly := strings.HasPrefix(line, "\t{")
	if m := logLine.FindStringSubmatch(line); m != nil {
		p.Flush()
		p.inDump = false
		if msg := m[2]; strings.HasPrefix(msg, "ResourceSpans #") {
			p.inDump = true
			return
		}
		if p.OnLog != nil {
			p.OnLog(m[1], m[2])
		}
		return
	}
	if fieldsOnly {
		p.Flush()
		p.inDump = false
		return
	}
	if !p.inDump {
		return
	}
	switch {
	case strings.HasPrefix(line, "Span #"):
		p.Flush()
		p.cur = &Span{}
		return
	case strings.HasPrefix(line, "ResourceSpans #"), strings.HasPrefix(line, "ScopeSpans #"),
		strings.HasPrefix(line, "Resource "), strings.HasPrefix(line, "InstrumentationScope"):
		p.Flush()
		return
	}
	if p.cur == nil {
		return
	}
	switch {
	case line == "Attributes:":
		p.section = "attrs"
	case line == "Events:":
		p.section = "events"
	case line == "Links:":
		p.section = "links"
	case strings.HasPrefix(line, "SpanLink #"):
		p.cur.Links++
	case strings.HasPrefix(line, "    ") && !strings.HasPrefix(line, "     ->"):
		p.field(line)
	case p.section == "attrs" && strings.HasPrefix(line, "     -> "):
		kv := strings.TrimPrefix(line, "     -> ")
		if i := strings.Index(kv, ": "); i > 0 {
			p.cur.Attrs = append(p.cur.Attrs, Attr{Key: kv[:i], Value: unwrap(kv[i+2:])})
		}
	}
}

// field reads a "    Name           : value" line of the span header.
func (p *Parser) field(line string) {
	i := strings.Index(line, ":")
	if i < 0 {
		return
	}
	key := strings.TrimSpace(line[:i])
	val := strings.TrimPrefix(line[i+1:], " ")
	switch key {
	case "Trace ID":
		p.cur.TraceID = val
	case "ID":
		p.cur.SpanID = val
	case "Name":
		p.cur.Name = val
	case "Status code":
		p.cur.Status = val
	case "Status message":
		p.cur.StatusMessage = val
	case "DroppedLinksCount":
		p.cur.DroppedLinksCount, _ = strconv.Atoi(val)
	}
}

// Flush hands over the span being read, if any.
func (p *Parser) Flush() {
	if p.cur != nil && p.OnSpan != nil {
		p.OnSpan(*p.cur)
	}
	p.cur = nil
	p.section = ""
}

// unwrap turns "Int(3)" into "3".
func unwrap(v string) string {
	i := strings.IndexByte(v, '(')
	if i <= 0 || !strings.HasSuffix(v, ")") {
		return v
	}
	return v[i+1 : len(v)-1]
}
