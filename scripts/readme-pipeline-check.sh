#!/usr/bin/env bash
# readme-pipeline-check.sh COLLECTOR ORDER_DEMO [BACKEND]: runs the README's pipeline
# example ("Where it goes in a pipeline", copied from README.md as it is)
# against a plaintext OTLP backend and checks that every span arrives.
#
# COLLECTOR must contain what the example uses (memory_limiter, spanlinks,
# batch, otlp receiver, otlp_grpc exporter): build it from the manifest of
# docs/development.md, "Adding it to your own collector". The backend is BACKEND (default
# dist/otelcol-spanlinks) with an OTLP/gRPC receiver without TLS and the
# debug exporter. Only the example's
# addresses are changed, to free loopback ports: the receivers', the
# exporter's endpoint (tempo:4317 -> the backend) and the metrics port.
# The demo sends its spans, the example collector is stopped with SIGTERM
# (releasing what spanlinks holds), and the backend's
# otelcol_receiver_accepted_spans must equal what the demo sent.
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	echo "usage: $0 COLLECTOR ORDER_DEMO [BACKEND]" >&2
	exit 2
fi
collector=$(realpath "$1") demo=$(realpath "$2")
cd "$(dirname "$0")/.."
backend_bin=$(realpath "${3:-dist/otelcol-spanlinks}")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/readme-pipeline.XXXXXX")

# free_port NAME...: free loopback ports.
source scripts/free-port.sh
free_port grpc http metrics backend backend_metrics

# The example, as the README has it: the first yaml block of its section.
awk '/^## Where it goes in a pipeline/ { in_section = 1; next }
	in_section && /^## / { exit }
	in_section && /^```yaml/ { in_block = 1; next }
	in_section && in_block && /^```/ { exit }
	in_block { print }' README.md >"$tmp/readme-example.yaml"
[ -s "$tmp/readme-example.yaml" ] || { echo "no yaml block under 'Where it goes in a pipeline' in README.md" >&2; exit 1; }

metrics_block() {
	printf '  telemetry:\n    metrics:\n      readers:\n        - pull:\n            exporter:\n              prometheus:\n                host: 127.0.0.1\n                port: %s\n' "$1"
}
awk -v grpc="$grpc" -v http="$http" -v backend="$backend" -v tel="$(metrics_block "$metrics")" '
	/^      grpc:[[:space:]]*$/ { print; print "        endpoint: 127.0.0.1:" grpc; next }
	/^      http:[[:space:]]*$/ { print; print "        endpoint: 127.0.0.1:" http; next }
	/^service:/ { print; print tel; next }
	{ sub(/tempo:4317/, "127.0.0.1:" backend); print }' "$tmp/readme-example.yaml" >"$tmp/example.yaml"

cat >"$tmp/backend.yaml" <<YAML
# A plaintext OTLP backend: the receiver has no tls block.
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$backend
exporters:
  debug:
service:
$(metrics_block "$backend_metrics")
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
YAML

echo "==> the README's example, addresses changed ($tmp/example.yaml):"
diff -u "$tmp/readme-example.yaml" "$tmp/example.yaml" || true

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

start() { # start NAME BINARY CONFIG: starts a collector, waits until it is ready
	"$2" --config "$3" >"$tmp/$1.log" 2>&1 &
	pids+=($!)
	local pid=$!
	for _ in $(seq 600); do
		grep -q 'Everything is ready' "$tmp/$1.log" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "$1 did not start:" >&2
	tail -n 20 "$tmp/$1.log" >&2
	exit 1
}

accepted() { # accepted PORT: the sum of otelcol_receiver_accepted_spans
	curl -fsS "http://127.0.0.1:$1/metrics" |
		awk '/^otelcol_receiver_accepted_spans(_total)?[{ ]/ { n += $NF } END { print n + 0 }'
}

start backend "$backend_bin" "$tmp/backend.yaml"
start example "$collector" "$tmp/example.yaml"
example_pid=${pids[1]}

echo "==> the order demo sends to the example collector (127.0.0.1:$grpc)"
"$demo" -endpoint "127.0.0.1:$grpc" | tee "$tmp/demo.log"
sent=$(awk '/^demo \| sent / { print $4 + $7 }' "$tmp/demo.log")

echo "==> SIGTERM to the example collector: spanlinks releases what it holds"
kill -TERM "$example_pid"
wait "$example_pid" || { echo "the example collector exited with $?" >&2; tail -n 20 "$tmp/example.log" >&2; exit 1; }

got=$(accepted "$backend_metrics")
failed=$(grep -c -i -E 'Exporting failed|tls|handshake|Dropping data' "$tmp/example.log" || true)
echo "demo sent $sent spans; the backend accepted $got; export errors in the example collector's log: $failed"
if [ "$got" != "$sent" ] || [ "$failed" != 0 ]; then
	grep -i -E 'Exporting failed|tls|handshake|Dropping data' "$tmp/example.log" | head -5 >&2 || true
	echo "FAIL: not every span arrived (logs in $tmp)" >&2
	exit 1
fi
echo "PASS: every span of the README's pipeline example reached the plaintext backend (logs in $tmp)"
