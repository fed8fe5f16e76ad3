#!/usr/bin/env bash
# make run-fleet: the order demo against two collectors that share one
# redis-server (backlinks.index.backend: redis). The demo sends each trace to
# one collector or the other by its trace ID, as a trace-ID load balancer
# would, so an order and the batch that links to it often go to different
# collectors; each collector still gives its orders their backlinks.
# Everything listens on free loopback ports; exits by itself.
#
#   examples/run-fleet.sh COLLECTOR ORDER_DEMO SPANLINKS_WATCH
#
# Environment:
#   DEMO_HOLD_WAIT  seconds to wait after the demo for the held spans (12)
#   DEMO_ARGS       extra flags for order-demo (see order-demo -h)
set -euo pipefail

if [ $# -ne 3 ]; then
	echo "usage: $0 COLLECTOR ORDER_DEMO SPANLINKS_WATCH" >&2
	exit 2
fi
collector=$1 demo=$2 watch=$3
hold_wait=${DEMO_HOLD_WAIT:-12}
command -v redis-server >/dev/null || { echo "redis-server is not installed: apt-get install -y redis-server" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/spanlinks-fleet.XXXXXX")
say() { printf '\n==> %s\n' "$*"; }

# free_port NAME...: free loopback ports (scripts/free-port.sh).
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/free-port.sh"

pids=()
cleanup() {
	local status=$?
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port redis_port
say "starting redis-server on 127.0.0.1:$redis_port"
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" --logfile "$tmp/redis.log" &
pids+=($!)
for i in $(seq 100); do
	redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break
	[ "$i" = 100 ] && { echo "redis-server did not start: $tmp/redis.log" >&2; exit 1; }
	sleep 0.1
done

# start_collector NAME: writes NAME's config on free ports and starts it.
declare -A grpc_addr metrics_url
start_collector() {
	local name=$1 grpc http mport
	free_port grpc http mport
	grpc_addr[$name]=127.0.0.1:$grpc
	metrics_url[$name]=http://127.0.0.1:$mport/metrics
	cat >"$tmp/$name.yaml" <<YAML
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$grpc
      http:
        endpoint: 127.0.0.1:$http
processors:
  spanlinks:
    backlinks:
      window: 10s
      hold: all
      index:
        backend: redis
        redis:
          endpoints: [127.0.0.1:$redis_port]
          key_prefix: "fleet-demo:"
  batch:
exporters:
  debug:
    verbosity: detailed
service:
  telemetry:
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: $mport
  pipelines:
    traces:
      receivers: [otlp]
      processors: [spanlinks, batch]
      exporters: [debug]
YAML
	"$collector" --config "$tmp/$name.yaml" >"$tmp/$name.log" 2>&1 &
	pids+=($!)
	for i in $(seq 300); do
		grep -q 'Everything is ready' "$tmp/$name.log" 2>/dev/null && break
		if [ "$i" = 300 ]; then
			echo "collector $name did not start: $tmp/$name.log" >&2
			tail -n 20 "$tmp/$name.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	say "collector $name: OTLP/gRPC ${grpc_addr[$name]}, index on redis 127.0.0.1:$redis_port (config $tmp/$name.yaml)"
}
start_collector A
collector_a_pid=${pids[-1]}
start_collector B
collector_b_pid=${pids[-1]}

say "running the order demo against both collectors: each trace goes to A or B by its trace ID"
# shellcheck disable=SC2086 # DEMO_ARGS is a list of flags
"$demo" -endpoint "${grpc_addr[A]}" -endpoint2 "${grpc_addr[B]}" ${DEMO_ARGS:-}

say "the collectors hold the spans up to backlinks.window (10s); waiting ${hold_wait}s"
sleep "$hold_wait"
declare -A backlinked
for name in A B; do
	say "collector $name: the spanlinks processor's own metrics"
	out=$("$watch" -metrics "${metrics_url[$name]}" || echo "(metrics not available)")
	printf '%s\n' "$out"
	backlinked[$name]=$(sed -n 's/.*otelcol_processor_spanlinks_backlinked_spans \([0-9]*\).*/\1/p' <<<"$out")
done

say "stopping both collectors (SIGTERM)"
kill -TERM "$collector_a_pid" "$collector_b_pid"
wait "$collector_a_pid" "$collector_b_pid" 2>/dev/null || true
for name in A B; do
	say "collector $name: what spanlinks wrote on the spans it received"
	"$watch" <"$tmp/$name.log"
done
say "spans given backlinks: ${backlinked[A]:-0} by collector A + ${backlinked[B]:-0} by collector B = $((${backlinked[A]:-0} + ${backlinked[B]:-0})), as one collector gives them all (make run: 135), although each batch went to one collector only"
say "redis-server: $(redis-cli -p "$redis_port" dbsize) key(s) left, hashes of the linked orders' buckets and time slots: held spans are looked up on release, so entries live twice the window and a tick (+1s) after their key's last write, then expire"
say "done; the collectors' full output is in $tmp"
