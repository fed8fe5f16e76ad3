#!/usr/bin/env bash
# make run-tail-sampling: the order demo through both tiers of the
# tail-sampling recipe, then which traces the tail-sampling tier kept and
# why. Starts kept-traces, otelcol-tailsampling (tailsampling.yaml),
# otelcol-spanlinks (spanlinks.yaml, plus spanlinks-copy.yaml so that
# kept-traces sees what tier 2 was sent), runs the demo with a check-stock
# span per order, waits for tier 2's decisions, stops everything. Exits by
# itself.
#
#   examples/tail-sampling/run.sh SPANLINKS_COLLECTOR TAILSAMPLING_COLLECTOR ORDER_DEMO KEPT_TRACES
#
# Environment (defaults in brackets; none of them is 4317, 4318 or 8888, so
# that make run can run beside it):
#   SPANLINKS_OTLP_GRPC, SPANLINKS_OTLP_HTTP   tier 1's OTLP receiver [127.0.0.1:14317, :14318]
#   TAILSAMPLING_OTLP_GRPC                     tier 2's OTLP receiver [127.0.0.1:14319]
#   KEPT_TRACES_KEPT                           kept-traces, receiving what tier 2 keeps [127.0.0.1:14320]
#   KEPT_TRACES_SENT                           kept-traces, receiving a copy of what tier 1 sends [127.0.0.1:14321]
#   SPANLINKS_METRICS_PORT, TAILSAMPLING_METRICS_PORT  the tiers' own metrics on 127.0.0.1 [18888, 18889]
#   SPANLINKS_WINDOW            backlinks.window [5s: the demo's batches come every 2s]
#   TAILSAMPLING_DECISION_WAIT  decision_wait [8s: > 5s window + 0.5s tick + 0.2s batch + 0.5s SDK batch]
#   TAILSAMPLING_PERCENTAGE     the probabilistic share of the rest [0]
#   RUN_WAIT                    seconds to wait after the demo for tier 2's decisions [11:
#                               decision_wait 8s, tier 2 deciding up to 1s later, margin]
#   DEMO_ARGS                   extra flags for order-demo, e.g. -fail-batch 3
set -euo pipefail

if [ $# -ne 4 ]; then
	echo "usage: $0 SPANLINKS_COLLECTOR TAILSAMPLING_COLLECTOR ORDER_DEMO KEPT_TRACES" >&2
	exit 2
fi
tier1=$1 tier2=$2 demo=$3 kept=$4
here=$(dirname "$0")

export SPANLINKS_OTLP_GRPC=${SPANLINKS_OTLP_GRPC:-127.0.0.1:14317}
export SPANLINKS_OTLP_HTTP=${SPANLINKS_OTLP_HTTP:-127.0.0.1:14318}
export TAILSAMPLING_OTLP_GRPC=${TAILSAMPLING_OTLP_GRPC:-127.0.0.1:14319}
KEPT_TRACES_KEPT=${KEPT_TRACES_KEPT:-127.0.0.1:14320}
export TAILSAMPLING_EXPORT_TO=http://$KEPT_TRACES_KEPT
export KEPT_TRACES_SENT=${KEPT_TRACES_SENT:-127.0.0.1:14321}
export SPANLINKS_METRICS_PORT=${SPANLINKS_METRICS_PORT:-18888}
export TAILSAMPLING_METRICS_PORT=${TAILSAMPLING_METRICS_PORT:-18889}
export SPANLINKS_WINDOW=${SPANLINKS_WINDOW:-5s}
export TAILSAMPLING_DECISION_WAIT=${TAILSAMPLING_DECISION_WAIT:-8s}
export TAILSAMPLING_PERCENTAGE=${TAILSAMPLING_PERCENTAGE:-0}
run_wait=${RUN_WAIT:-11}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/spanlinks-tail-sampling.XXXXXX")
say() { printf '\n==> %s\n' "$*"; }

pids=()
# stop PID NAME: SIGTERM, then wait up to 30s.
stop() {
	local pid=$1 name=$2
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 300); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "$name did not stop within 30s after SIGTERM; killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}
cleanup() {
	local status=$?
	local i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop "${pids[i]}" "process ${pids[i]}"; done
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_collector NAME LOG CMD...: starts a collector, waits until it is ready.
start_collector() {
	local name=$1 log=$2
	shift 2
	"$@" >"$log" 2>&1 &
	local pid=$!
	pids+=("$pid")
	for i in $(seq 300); do
		grep -q 'Everything is ready' "$log" 2>/dev/null && return 0
		if ! kill -0 "$pid" 2>/dev/null || [ "$i" = 300 ]; then
			echo "$name did not start; its output ($log):" >&2
			tail -n 20 "$log" >&2
			echo "are its ports taken? set the variables listed in $0" >&2
			exit 1
		fi
		sleep 0.1
	done
}

say "kept-traces on $KEPT_TRACES_KEPT (what tier 2 keeps) and $KEPT_TRACES_SENT (a copy of what tier 1 sends)"
"$kept" -kept "$KEPT_TRACES_KEPT" -sent "$KEPT_TRACES_SENT" &
kept_pid=$!
pids+=("$kept_pid")

say "tier 2: $tier2 on $TAILSAMPLING_OTLP_GRPC, decision_wait $TAILSAMPLING_DECISION_WAIT, probabilistic share ${TAILSAMPLING_PERCENTAGE}% (log: $tmp/tailsampling.log)"
start_collector "$tier2" "$tmp/tailsampling.log" \
	"$tier2" --config "$here/tailsampling.yaml" --feature-gates=processor.tailsamplingprocessor.recordpolicy
tier2_pid=${pids[-1]}

say "tier 1: $tier1 on $SPANLINKS_OTLP_GRPC, backlinks.window $SPANLINKS_WINDOW, holding receive-order spans (log: $tmp/spanlinks.log)"
start_collector "$tier1" "$tmp/spanlinks.log" \
	"$tier1" --config "$here/spanlinks.yaml" --config "$here/spanlinks-copy.yaml"
tier1_pid=${pids[-1]}

say "the order demo against tier 1; each order's trace: receive-order (held by tier 1) and check-stock (not held)"
# shellcheck disable=SC2086 # DEMO_ARGS is a list of flags
"$demo" -endpoint "$SPANLINKS_OTLP_GRPC" -check-stock ${DEMO_ARGS:-}

say "waiting ${run_wait}s: tier 1 holds receive-order up to $SPANLINKS_WINDOW, tier 2 decides $TAILSAMPLING_DECISION_WAIT after a trace's first span"
sleep "$run_wait"

say "stopping tier 1, then tier 2 (each sends on what it still has), then kept-traces"
stop "$tier1_pid" "$tier1"
stop "$tier2_pid" "$tier2"
stop "$kept_pid" kept-traces
pids=()
say "done; the collectors' logs are in $tmp"
