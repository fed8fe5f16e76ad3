// Command kept-traces shows what the tail-sampling recipe
// (examples/tail-sampling) kept and dropped, and why. It receives OTLP/HTTP
// twice: on -sent, a copy of everything the spanlinks tier sends to the
// tail-sampling tier; on -kept, what the tail-sampling tier exports. On
// SIGTERM or Ctrl-C it prints every trace, kept or dropped, with the
// policy that kept it or the reason none did, and exits. `make
// run-tail-sampling` runs it.
//
//	kept-traces -sent 127.0.0.1:14321 -kept 127.0.0.1:14320
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spanlinks/spanlinksprocessor/examples/demo/kept"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kept-traces:", err)
		os.Exit(1)
	}
}

func run() error {
	sentAddr := flag.String("sent", "127.0.0.1:14321", "listen here for a copy of what the spanlinks tier sends on (OTLP/HTTP)")
	keptAddr := flag.String("kept", "127.0.0.1:14320", "listen here for what the tail-sampling tier exports (OTLP/HTTP)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ts := kept.NewTraces()
	var servers []*http.Server
	errc := make(chan error, 2)
	for _, l := range []struct {
		flag, addr string
		stream     kept.Stream
	}{{"-sent", *sentAddr, kept.Sent}, {"-kept", *keptAddr, kept.Kept}} {
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return fmt.Errorf("%s: listening on %s: %w", l.flag, l.addr, err)
		}
		srv := &http.Server{Handler: ts.Handler(l.stream), ReadHeaderTimeout: 5 * time.Second}
		servers = append(servers, srv)
		go func() { errc <- srv.Serve(ln) }()
	}
	fmt.Printf("kept-traces | listening on %s (what the spanlinks tier sends on) and %s (what the tail-sampling tier keeps)\n", *sentAddr, *keptAddr)

	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	sent, keptSpans := ts.Counts()
	fmt.Printf("kept-traces | received %d spans sent on by the spanlinks tier, %d kept by the tail-sampling tier\n", sent, keptSpans)
	ts.Report(os.Stdout)
	return nil
}
