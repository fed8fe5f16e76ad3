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
# Environment (README, "Ports and overrides"):
#   DEMO_ENDPOINT    OTLP/gRPC endpoint the demo sends to (127.0.0.1:4317, as
#                    in examples/config.yaml); must match CONFIG's receiver
#   DEMO_HOLD_WAIT   longest wait, in seconds, after the demo for the held
#                    spans to leave the collector (default: CONFIG's
#                    backlinks.window plus 5s). The wait ends as soon as the
#                    processor's held_spans gauge reads 0; whatever is still
#                    held leaves on shutdown anyway.
#   DEMO_METRICS_URL the collector's own metrics (http://localhost:8888/metrics);
#                    must match CONFIG's service::telemetry::metrics
#   DEMO_ARGS        extra flags for order-demo (see order-demo -h)
#
# Before anything starts, the receiver endpoints in CONFIG and the metrics
# port are checked: if one is taken, it says which and exits 1.
set -euo pipefail

if [ $# -ne 4 ]; then
	echo "usage: $0 COLLECTOR CONFIG ORDER_DEMO SPANLINKS_WATCH" >&2
	exit 2
fi
collector=$1 config=$2 demo=$3 watch=$4
endpoint=${DEMO_ENDPOINT:-127.0.0.1:4317}
metrics_url=${DEMO_METRICS_URL:-http://localhost:8888/metrics}

# seconds_of DURATION prints a Go duration made of whole h, m, s, ms parts
# (10s, 1m30s, 500ms) in whole seconds, rounded up; nothing if it is not one.
seconds_of() {
	local d=$1 total=0 n
	[ -n "$d" ] || return 0
	while [[ $d =~ ^([0-9]+)(ms|h|m|s)(.*)$ ]]; do
		n=$((10#${BASH_REMATCH[1]}))
		case ${BASH_REMATCH[2]} in
		h) total=$((total + n * 3600)) ;;
		m) total=$((total + n * 60)) ;;
		s) total=$((total + n)) ;;
		ms) total=$((total + (n + 999) / 1000)) ;;
		esac
		d=${BASH_REMATCH[3]}
	done
	[ -z "$d" ] && echo "$total"
}

# The window as CONFIG sets it (the first window: key; the processor's
# default otherwise).
window=$(awk '$1 == "window:" { print $2; exit }' "$config")
window=${window:-30s}
window_s=$(seconds_of "$window")
hold_wait=${DEMO_HOLD_WAIT:-$((${window_s:-25} + 5))}

# in_use HOST:PORT succeeds when something accepts connections there.
in_use() {
	local host=${1%:*} port=${1##*:}
	host=${host#[}
	host=${host%]}
	case $host in "" | 0.0.0.0) host=127.0.0.1 ;; "::") host=::1 ;; esac
	timeout 2 bash -c ": </dev/tcp/$host/$port" 2>/dev/null
}

# The endpoints CONFIG's receivers listen on: every endpoint: in the
# top-level receivers: section. Values taken from the environment
# (${env:...}) are skipped.
receiver_endpoints() {
	awk '/^[^[:space:]#]/ { in_receivers = ($1 == "receivers:") }
		in_receivers && $1 == "endpoint:" && $2 !~ /\$/ { print $2 }' "$config"
}

busy=()
metrics_hostport=${metrics_url#*://}
metrics_hostport=${metrics_hostport%%/*}
for hp in $(receiver_endpoints) "$metrics_hostport"; do
	if in_use "$hp"; then busy+=("$hp"); fi
done
if [ ${#busy[@]} -gt 0 ]; then
	{
		echo "make run: ${busy[*]} already in use, so the collector could not listen there."
		echo "Stop what listens there (ss -ltnp shows it: another make run or run-collector?), or use other ports:"
		echo "  make run CONFIG=my-config.yaml DEMO_ENDPOINT=127.0.0.1:24317 DEMO_METRICS_URL=http://localhost:28888/metrics"
		echo "with my-config.yaml a copy of $config listening there (README, \"Ports and overrides\")."
	} >&2
	exit 1
fi

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

# held_spans prints the processor's held_spans gauge, or nothing when the
# metrics cannot be read.
held_spans() {
	"$watch" -metrics "$metrics_url" 2>/dev/null | awk '$3 == "otelcol_processor_spanlinks_held_spans" { print $4 }'
}

say "the collector holds the spans up to backlinks.window ($window, from $config) to pair them with their batch; waiting until none is held (at most ${hold_wait}s)"
waited=$SECONDS
while :; do
	held=$(held_spans)
	if [ "$held" = 0 ]; then
		echo "no span held any more after $((SECONDS - waited))s"
		break
	fi
	if [ $((SECONDS - waited)) -ge "$hold_wait" ]; then
		echo "${held:-an unknown number of} spans still held after ${hold_wait}s; they leave at shutdown"
		break
	fi
	sleep 0.5
done

say "the spanlinks processor's own metrics ($metrics_url)"
"$watch" -metrics "$metrics_url" || echo "(metrics not available)"

say "stopping the collector (SIGTERM): anything still held leaves now"
stop_collector
wait "$watch_pid" 2>/dev/null || true
watch_pid=
say "done; the collector's full output is in $log"
