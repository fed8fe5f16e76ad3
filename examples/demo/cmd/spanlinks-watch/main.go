// Command spanlinks-watch reads a collector's output (the debug exporter at
// detailed verbosity) on stdin and prints, compactly, the spans and the
// spanlinks.* attributes the spanlinks processor wrote, then a summary when
// the input ends. `make run` pipes otelcol-spanlinks through it.
//
//	dist/otelcol-spanlinks --config examples/config.yaml 2>&1 | spanlinks-watch
//
// With -metrics URL it instead prints the spanlinks processor's metrics from
// the collector's Prometheus endpoint (by default localhost:8888/metrics).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/spanlinks/spanlinksprocessor/examples/demo/watch"
)

func main() {
	metrics := flag.String("metrics", "", "print the spanlinks metrics from this Prometheus URL and exit")
	perGroup := flag.Int("per-group", 2, "spans printed per group of alike spans; the rest are counted")
	labels := flag.String("labels", "order.id,batch.number", "attributes printed next to span names, comma-separated")
	flag.Parse()

	if *metrics != "" {
		if err := printMetrics(os.Stdout, *metrics); err != nil {
			fmt.Fprintln(os.Stderr, "spanlinks-watch:", err)
			os.Exit(1)
		}
		return
	}
	// Ctrl-C in a terminal reaches the collector too: it stops and its
	// output ends, and only then is the summary printed.
	signal.Ignore(os.Interrupt)
	pr := &watch.Printer{W: os.Stdout, PerGroup: *perGroup}
	if *labels != "" {
		pr.Labels = strings.Split(*labels, ",")
	}
	spans := 0
	p := &watch.Parser{OnSpan: func(s watch.Span) { spans++; pr.Span(s) }, OnLog: pr.Log}
	ready := false
	r := bufio.NewReaderSize(os.Stdin, 1<<16)
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			ready = ready || strings.Contains(line, readyMessage)
			p.Line(strings.TrimSuffix(line, "\n"))
		}
		if err != nil {
			break
		}
	}
	p.Flush()
	// A collector that never started exported nothing: a summary saying
	// so would only come before the reason, which its caller prints.
	if ready || spans > 0 {
		pr.Summary()
	}
}

// readyMessage is what the collector logs once its pipelines run.
const readyMessage = "Everything is ready"

func printMetrics(w io.Writer, url string) error {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return watch.PrintMetrics(w, resp.Body)
}
