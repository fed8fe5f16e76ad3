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

// PrintMetrics copies the spanlinks processor's samples from a Prometheus
// text exposition to w, one a line, keeping only their reason label.
func PrintMetrics(w io.Writer, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
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
		}
		fmt.Fprintf(w, "metrics | %s %s\n", name, value)
	}
	return sc.Err()
}
