#!/usr/bin/env bash
# bench/e2e.sh: the CPU the built collector spends per 100k spans, with and
# without spanlinks in its pipeline, under the same telemetrygen load with
# span links. Run by `make bench-e2e`.
#
#   bench/e2e.sh OTELCOL_BIN TELEMETRYGEN_BIN
#
# Environment: TRACES (per worker and phase, default 50000), WORKERS (2),
# RATE (spans per second per worker, default 20000; telemetrygen reaches
# about 4000; 0: unthrottled, but then the telemetrygen SDK drops spans),
# LINKS (span links per span, 5), REPEAT (rounds, 3), PIPELINES (default
# "none hold-none hold-all"), MIX_RATE and MIX_LINKS (the mixed load, below).
# Each round runs the pipelines in turn:
#
#   none       otlp -> debug
#   hold-none  otlp -> spanlinks (hold: none) -> debug
#   hold-all   otlp -> spanlinks (hold: all) -> debug
#   redis-hold-none  otlp -> spanlinks (hold: none, index on Redis) -> debug
#   redis-hold-all   otlp -> spanlinks (hold: all, index on Redis) -> debug
#   spans      otlp -> spanlinks (deliver: spans: a backlink span per kept link) -> debug
#   mixed-none otlp -> debug, under the mixed load
#   mixed-auto otlp -> spanlinks (hold: auto) -> debug, under the mixed load
#   mixed-all  otlp -> spanlinks (hold: all) -> debug, under the mixed load
#
# Every pipeline with spanlinks sets hold: explicitly, so that a change of
# its default changes no pipeline; but spans, where hold means nothing (and
# a value other than the default is refused).
#
# The mixed load (issue 23, part 3): a tenth of the spans are link targets,
# the rest never linked. Two telemetrygen processes at once, each with
# WORKERS workers and 2 spans a trace: service "mixed-plain" sends 9/10 of
# the TRACES, no links, at 9/10 of MIX_RATE (spans per second per worker,
# default 3000, under what telemetrygen reaches, so that both keep their
# share the whole phase); service "mixed-linked" sends the other tenth, at
# a tenth of MIX_RATE, with MIX_LINKS links a span (default 3), each to one
# of the 1000 spans of its own worker before it. hold: auto thus learns
# mixed-linked's classes and lets mixed-plain's spans pass at once. The
# ratios of the mixed pipelines are to mixed-none.
#
# The redis pipelines start a redis-server on a free loopback port (emptied
# before each run) and also print the server's CPU per 100k spans, per span
# and per link (its CPU over the measured phase divided by the spans, and by
# the spans times LINKS: telemetrygen gives every span LINKS links, but the
# first of a worker's spans, which has nothing to link to yet).
#
# The collector listens on free loopback ports only. Each run has two
# phases of the same load: a warm-up, which fills the link index (200k spans
# with 5 links each fill its 1M entries) and the hold as a collector that
# has run for a while has them, then the measured phase. CPU is utime+stime of the collector process, from /proc/<pid>/stat,
# over the measured phase: from just before telemetrygen starts until every
# span received is either exported or held (held spans leave as later ones
# push them out, as in a steady state). The table gives the median over the
# rounds of each pipeline's CPU and their ratio, and, with "none" among the
# pipelines, the median of each round's own ratios: a round runs its
# pipelines back to back, so a slow spell of the shared machine weighs on
# both sides of its ratios more often than on the medians'.
set -euo pipefail

otelcol=${1:?usage: bench/e2e.sh OTELCOL_BIN TELEMETRYGEN_BIN}
telemetrygen=${2:?usage: bench/e2e.sh OTELCOL_BIN TELEMETRYGEN_BIN}
traces=${TRACES:-50000}
workers=${WORKERS:-2}
rate=${RATE:-20000}
links=${LINKS:-5}
repeat=${REPEAT:-3}
pipelines=${PIPELINES:-none hold-none hold-all}
mix_rate=${MIX_RATE:-3000}
mix_links=${MIX_LINKS:-3}

work=$(mktemp -d)
collector_pid=
load_pid=
cleanup() {
	for pid in $load_pid $collector_pid $redis_pid; do
		if kill -0 "$pid" 2>/dev/null; then
			kill "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
	rm -rf "$work"
}
redis_pid=
redis_port=
trap cleanup EXIT
trap 'exit 1' INT TERM
# A copy, so that a `make build` running meanwhile cannot swap the binary.
cp "$otelcol" "$work/otelcol"

# free_port NAME...: free loopback ports (scripts/free-port.sh).
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/free-port.sh"

# config NAME OTLP_PORT METRICS_PORT: the collector config of pipeline NAME.
config() {
	local processors spanlinks=""
	case $1 in
	none) processors="[]" ;;
	hold-none)
		processors="[spanlinks]"
		spanlinks=$'  spanlinks:\n    backlinks:\n      hold: none'
		;;
	hold-all)
		processors="[spanlinks]"
		spanlinks=$'  spanlinks:\n    backlinks:\n      hold: all'
		;;
	spans) # deliver: spans: a backlink span per kept link, exported too; per span received
		processors="[spanlinks]"
		spanlinks=$'  spanlinks:\n    backlinks:\n      deliver: spans'
		;;
	mixed-none) processors="[]" ;;
	mixed-auto | mixed-all)
		processors="[spanlinks]"
		spanlinks=$'  spanlinks:\n    backlinks:\n      hold: '"${1#mixed-}"
		;;
	redis-hold-none | redis-hold-all)
		processors="[spanlinks]"
		spanlinks=$'  spanlinks:\n    backlinks:\n      hold: '"${1#redis-hold-}"$'\n      index:\n        backend: redis\n        redis:\n          endpoints: [127.0.0.1:'"$redis_port"$']\n          timeout: 1s'
		;;
	*)
		echo "unknown pipeline $1" >&2
		return 1
		;;
	esac
	cat <<YAML
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$2
processors:
$spanlinks
exporters:
  debug:
    verbosity: basic
    sampling_initial: 1
    sampling_thereafter: 100000
service:
  telemetry:
    logs:
      level: warn
    metrics:
      level: normal
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: $3
  pipelines:
    traces:
      receivers: [otlp]
      processors: $processors
      exporters: [debug]
YAML
}

# cpu_ticks PID: utime+stime of PID, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# metric PORT NAME: the sum of the collector's own metric NAME (0 if absent).
metric() {
	curl -sf "http://127.0.0.1:$1/metrics" |
		awk -v name="$2" '$1 ~ "^"name"(_total)?({|$)" {sum += $NF} END {printf "%d\n", sum}'
}

# wait_for SECONDS CMD...: runs CMD every 0.2s until it succeeds; fails after SECONDS.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}

ready() { curl -sf "http://127.0.0.1:$1/metrics" >/dev/null; }

# settled PORT: every span the collector received is exported or held, and
# no span arrived since the last call; sets accepted.
accepted=0
settled() {
	local a
	a=$(metric "$1" otelcol_receiver_accepted_spans)
	if ((a != accepted)); then
		accepted=$a
		return 1
	fi
	(($(metric "$1" otelcol_exporter_sent_spans) + $(metric "$1" otelcol_processor_spanlinks_held_spans) >= a))
}

# load PORT NAME: one phase of telemetrygen load for pipeline NAME, in the
# background so that the EXIT trap can stop it: the mixed load (two
# processes) for a mixed-* pipeline.
load() {
	if [[ $2 == mixed-* ]]; then
		telemetrygen_run "$1" $((traces * 9 / 10)) "$(awk -v r="$mix_rate" 'BEGIN {print r * 0.9}')" 0 mixed-plain
		telemetrygen_run "$1" $((traces / 10)) "$(awk -v r="$mix_rate" 'BEGIN {print r * 0.1}')" "$mix_links" mixed-linked
	else
		telemetrygen_run "$1" "$traces" "$rate" "$links" telemetrygen
	fi
	local lp
	for lp in $load_pid; do
		wait "$lp"
	done
	load_pid=
}

# telemetrygen_run PORT TRACES RATE LINKS SERVICE: starts one telemetrygen
# process in the background, its pid added to load_pid.
telemetrygen_run() {
	timeout 300 "$telemetrygen" traces --otlp-endpoint "127.0.0.1:$1" --otlp-insecure \
		--traces "$2" --workers "$workers" --rate "$3" --child-spans 1 \
		--span-links "$4" --service "$5" >>"$work/telemetrygen.log" 2>&1 &
	load_pid+=" $!"
}

# run NAME: one run of pipeline NAME; prints the CPU seconds, the wall
# seconds and the spans of its measured phase, and the spans of its warm-up.
run() {
	local otlp metrics cfg pid t0 t1 c0 c1 a0
	free_port otlp metrics
	cfg="$work/$1.yaml"
	config "$1" "$otlp" "$metrics" >"$cfg"
	timeout 900 "$work/otelcol" --config "$cfg" >"$work/$1.log" 2>&1 &
	collector_pid=$!
	if ! wait_for 30 ready "$metrics"; then
		echo "collector ($1) did not start:" >&2
		cat "$work/$1.log" >&2
		return 1
	fi
	pid=$(pgrep -P "$collector_pid") # the collector, under timeout
	accepted=0
	load "$otlp" "$1"
	if ! wait_for 120 settled "$metrics"; then
		echo "collector ($1) did not settle after the warm-up" >&2
		return 1
	fi
	a0=$accepted
	r0=0
	[ -z "$redis_port" ] || r0=$(redis_cpu)
	c0=$(cpu_ticks "$pid")
	t0=$EPOCHREALTIME
	load "$otlp" "$1"
	if ! wait_for 120 settled "$metrics"; then
		echo "collector ($1) did not settle: $accepted spans accepted, $(metric "$metrics" otelcol_exporter_sent_spans) sent" >&2
		return 1
	fi
	c1=$(cpu_ticks "$pid")
	t1=$EPOCHREALTIME
	r1=0
	[ -z "$redis_port" ] || r1=$(redis_cpu)
	kill "$collector_pid"
	wait "$collector_pid" || true
	collector_pid=
	[ -z "$redis_port" ] || redis-cli -p "$redis_port" flushall >/dev/null
	awk -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" -v t0="$t0" -v t1="$t1" -v n="$((accepted - a0))" -v w="$a0" -v r="$(awk -v a="$r0" -v b="$r1" 'BEGIN {print b - a}')" \
		'BEGIN {printf "%.3f %.1f %d %d %.3f\n", c / hz, t1 - t0, n, w, r}'
}

# redis_cpu: the redis-server's used CPU, user plus system, in seconds.
redis_cpu() {
	redis-cli -p "$redis_port" info cpu | tr -d '\r' |
		awk -F: '$1 == "used_cpu_user" || $1 == "used_cpu_sys" {s += $2} END {printf "%.3f\n", s}'
}

if [[ " $pipelines " == *" redis-"* ]]; then
	command -v redis-server >/dev/null || { echo "redis-server is not installed: apt-get install -y redis-server" >&2; exit 1; }
	free_port redis_port
	redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" --logfile "$work/redis.log" &
	redis_pid=$!
	wait_for 10 redis-cli -p "$redis_port" ping >/dev/null 2>&1
fi

# base NAME: the pipeline without spanlinks that NAME's ratios are to.
base() { if [[ $1 == mixed-* ]]; then echo mixed-none; else echo none; fi; }

median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

echo "bench-e2e: per run, a warm-up then a measured phase, each of $workers telemetrygen workers x $traces traces of 2 spans with $links links each, at most $rate spans/s per worker (0: unthrottled); $repeat rounds"
[[ " $pipelines " != *" mixed-"* ]] || echo "mixed load: the same phases, $((traces * 9 / 10)) traces a worker of mixed-plain (no links) and $((traces / 10)) of mixed-linked ($mix_links links a span) at once, at most $mix_rate spans/s per worker in all"
echo "collector: $otelcol; machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
declare -A per this paired rper
for round in $(seq "$repeat"); do
	for name in $pipelines; do
		# Not in $(...): the EXIT trap must see the collector's pid.
		run "$name" >"$work/run.out"
		read -r c wall n w r <"$work/run.out"
		p=$(awk -v c="$c" -v n="$n" 'BEGIN {printf "%.3f", c * 100000 / n}')
		per[$name]+="$p "
		this[$name]=$p
		extra=""
		if [[ $name == redis-* ]]; then
			rp=$(awk -v r="$r" -v n="$n" 'BEGIN {printf "%.3f", r * 100000 / n}')
			rper[$name]+="$rp "
			extra=$(awk -v r="$rp" -v l="$links" 'BEGIN {printf "  redis-server cpu/100k spans %.3f s (%.1f µs/span, %.2f µs/link)", r, r * 10, r * 10 / l}')
		fi
		printf 'round %d  %-15s  warm-up %7d spans, measured %7d spans: cpu %7.3f s  wall %5.1f s  cpu/100k spans %s s%s\n' \
			"$round" "$name" "$w" "$n" "$c" "$wall" "$p" "$extra"
	done
	# This round's ratios: its pipelines ran one after the other, so a
	# slow spell of the machine that spans the round weighs on both sides.
	for name in $pipelines; do
		b=$(base "$name")
		[[ -n ${this[$b]:-} ]] || continue
		paired[$name]+="$(awk -v a="${this[$name]}" -v b="${this[$b]}" 'BEGIN {printf "%.3f", a / b}') "
	done
done

# label NAME: the pipeline NAME as the tables show it.
label() {
	case $1 in
	none) echo "otlp -> debug" ;;
	hold-none) echo "otlp -> spanlinks (hold: none) -> debug" ;;
	hold-all) echo "otlp -> spanlinks (hold: all) -> debug" ;;
	redis-hold-none) echo "otlp -> spanlinks (hold: none, Redis) -> debug" ;;
	redis-hold-all) echo "otlp -> spanlinks (hold: all, Redis) -> debug" ;;
	spans) echo "otlp -> spanlinks (deliver: spans) -> debug" ;;
	mixed-none) echo "mixed: otlp -> debug" ;;
	mixed-auto) echo "mixed: otlp -> spanlinks (hold: auto) -> debug" ;;
	mixed-all) echo "mixed: otlp -> spanlinks (hold: all) -> debug" ;;
	esac
}
per100k() { tr ' ' '\n' <<<"${per[$1]:-}" | { grep . || true; } | median; }
pairedRatio() { tr ' ' '\n' <<<"${paired[$1]:-}" | grep . | median; }
# redisPer100k NAME: the median of NAME's redis-server CPU per 100k spans,
# empty for a pipeline without Redis (grep's no match is no failure here).
redisPer100k() { tr ' ' '\n' <<<"${rper[$1]:-}" | { grep . || true; } | median; }
echo
echo "pipeline                                         CPU s per 100k spans (median)  ratio to no spanlinks  median of the rounds' ratios (rounds)"
for name in $pipelines; do
	v=$(per100k "$name")
	r=$(pairedRatio "$name")
	none=$(per100k "$(base "$name")")
	printf '%-48s %-30s %-22s %s\n' "$(label "$name")" "$v" "$(awk -v a="$v" -v b="${none:-0}" 'BEGIN {if (b > 0) printf "%.2fx", a / b; else print "-"}')" \
		"${r:+$(awk -v r="$r" 'BEGIN {printf "%.2fx", r}') (${paired[$name]% })}"
done
# Per span and per link, the collector's CPU and redis-server's (medians
# over the rounds): the fleet's whole cost of a span on Redis.
echo
echo "pipeline                                         collector CPU µs/span  redis-server CPU µs/span  redis-server CPU µs/link ($links links/span)"
for name in $pipelines; do
	v=$(per100k "$name")
	rv=$(redisPer100k "$name")
	printf '%-48s %-22s %-25s %s\n' "$(label "$name")" "$(awk -v a="$v" 'BEGIN {printf "%.1f", a * 10}')" \
		"$(awk -v a="$rv" 'BEGIN {if (a != "") printf "%.1f", a * 10; else print "-"}')" \
		"$(awk -v a="$rv" -v l="$links" 'BEGIN {if (a != "") printf "%.2f", a * 10 / l; else print "-"}')"
done
