package watch

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// metricPrefix starts the names of the spanlinks processor's metrics.
const metricPrefix = "otelcol_processor_spanlinks_"

// reasonLabel is the one label of those metrics worth printing.
var reasonLabel = regexp.MustCompile(`reason="[^"]*"`)

// droppedReasons explain the reasons of links_dropped.
var droppedReasons = map[string]string{
	"invalid":   "with a zero trace or span ID",
	"duplicate": "repeating an earlier link of their span",
	"self":      "to their own span",
	"limit":     "over max_links_per_span",
}

// PrintMetrics copies the spanlinks processor's samples from a Prometheus
// text exposition to w, one a line, keeping only their reason label, then
// says in words which links spanlinks dropped and why.
func PrintMetrics(w io.Writer, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	dropped := map[string]string{}
	var reasons []string
	defer func() {
		for _, reason := range reasons {
			v := dropped[reason]
			if v == "0" {
				continue
			}
			links := "links"
			if v == "1" {
				links = "link"
			}
			fmt.Fprintf(w, "metrics | -> spanlinks dropped %s %s %s (reason=%q)\n", v, links, droppedReasons[reason], reason)
		}
	}()
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metricPrefix) {
			continue
		}
		name, rest, _ := strings.Cut(line, "{")
		value := line[strings.LastIndexByte(line, ' ')+1:]
		if rest == "" {
			name = strings.Fields(line)[0]
		}
		if m := reasonLabel.FindString(rest); m != "" {
			name += "{" + m + "}"
			reason := strings.TrimSuffix(strings.TrimPrefix(m, `reason="`), `"`)
			if name == metricPrefix+"links_dropped{"+m+"}" && droppedReasons[reason] != "" {
				if _, seen := dropped[reason]; !seen {
					reasons = append(reasons, reason)
				}
				dropped[reason] = value
			}
		}
		fmt.Fprintf(w, "metrics | %s %s\n", name, value)
	}
	return sc.Err()
}
