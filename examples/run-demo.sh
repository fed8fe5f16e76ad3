#!/usr/bin/env bash
# make run: starts otelcol-spanlinks with examples/config.yaml, sends it the
# traces of the order demo (examples/demo), shows what the spanlinks
# processor wrote on them, and stops the collector. Exits by itself.
#
#   examples/run-demo.sh COLLECTOR CONFIG ORDER_DEMO SPANLINKS_WATCH
#
# The collector's full output (the debug exporter at detailed verbosity) goes
# to a log file; the terminal shows it through spanlinks-watch, which prints
# the spanlinks.* attributes compactly and a summary when the collector stops.
#
# Environment:
#   DEMO_ENDPOINT    OTLP/gRPC endpoint of the collector (127.0.0.1:4317, as
#                    in examples/config.yaml)
#   DEMO_HOLD_WAIT   seconds to wait after the demo for the held spans to
#                    leave the collector (12: backlinks.window is 10s in
#                    examples/config.yaml, plus the release tick and margin).
#                    Whatever is still held leaves on shutdown anyway.
#   DEMO_METRICS_URL the collector's own metrics (http://localhost:8888/metrics)
#   DEMO_ARGS        extra flags for order-demo (see order-demo -h)
set -euo pipefail

if [ $# -ne 4 ]; then
	echo "usage: $0 COLLECTOR CONFIG ORDER_DEMO SPANLINKS_WATCH" >&2
	exit 2
fi
collector=$1 config=$2 demo=$3 watch=$4
endpoint=${DEMO_ENDPOINT:-127.0.0.1:4317}
hold_wait=${DEMO_HOLD_WAIT:-12}
metrics_url=${DEMO_METRICS_URL:-http://localhost:8888/metrics}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/spanlinks-demo.XXXXXX")
log=$tmp/collector.log
fifo=$tmp/collector.out
mkfifo "$fifo"

say() { printf '\n==> %s\n' "$*"; }

collector_pid=
watch_pid=
# stop_collector sends SIGTERM (the collector's Shutdown releases every span
# still held, with the backlinks known by then) and waits up to 30s.
stop_collector() {
	[ -n "$collector_pid" ] || return 0
	if kill -0 "$collector_pid" 2>/dev/null; then
		kill -TERM "$collector_pid" 2>/dev/null || true
		for _ in $(seq 300); do
			kill -0 "$collector_pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$collector_pid" 2>/dev/null; then
			echo "the collector did not stop within 30s after SIGTERM; killing it" >&2
			kill -KILL "$collector_pid" 2>/dev/null || true
		fi
	fi
	wait "$collector_pid" 2>/dev/null || true
	collector_pid=
}
cleanup() {
	local status=$?
	stop_collector
	# The watcher ends when the collector's output does, then prints its summary.
	if [ -n "$watch_pid" ]; then wait "$watch_pid" 2>/dev/null || true; fi
	rm -f "$fifo"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "starting $collector --config $config (full output: $log)"
tee "$log" <"$fifo" | "$watch" &
watch_pid=$!
"$collector" --config "$config" >"$fifo" 2>&1 &
collector_pid=$!

# Wait until the collector says it is ready, or gives up.
for i in $(seq 300); do
	if grep -q 'Everything is ready' "$log" 2>/dev/null; then
		break
	fi
	if ! kill -0 "$collector_pid" 2>/dev/null || [ "$i" = 300 ]; then
		wait "$collector_pid" 2>/dev/null || true
		collector_pid=
		echo "the collector did not start; its output ($log):" >&2
		tail -n 20 "$log" >&2
		echo "is another collector already listening on ${endpoint}, 127.0.0.1:4318 or localhost:8888?" >&2
		exit 1
	fi
	sleep 0.1
done

say "running the order demo against $endpoint: orders are traced and queued; a batch job links each batch to its orders"
# shellcheck disable=SC2086 # DEMO_ARGS is a list of flags
"$demo" -endpoint "$endpoint" ${DEMO_ARGS:-}

say "the collector holds the spans up to backlinks.window (10s) to pair them with their batch; waiting ${hold_wait}s"
sleep "$hold_wait"

say "the spanlinks processor's own metrics ($metrics_url)"
"$watch" -metrics "$metrics_url" || echo "(metrics not available)"

say "stopping the collector (SIGTERM): anything still held leaves now"
stop_collector
wait "$watch_pid" 2>/dev/null || true
watch_pid=
say "done; the collector's full output is in $log"
