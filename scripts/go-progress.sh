#!/usr/bin/env bash
# go-progress.sh LABEL: reads the output of `go build -v`, `go install -v`
# or `go vet -v` on stdin (one package path a line as each is compiled) and
# prints a line every 25 packages with the time so far, and whenever 20
# seconds passed since it last printed one, so that a long first build
# shows it is moving. Any other line (go: downloading ..., compiler
# errors) is printed as it comes.
#
# go-progress.sh --all LABEL: prints every line (go test's ok and FAIL
# lines), and a "still running" line after 20 seconds of silence.
set -uo pipefail

all=false
if [ "${1:-}" = --all ]; then
	all=true
	shift
fi
label=${1:-go}
n=0
start=$SECONDS
last=$SECONDS # when a line was last printed
# progress prints where the step is: packages compiled, or time running.
progress() {
	if $all; then
		printf '  %s: still running (%ds)\n' "$label" $((SECONDS - start))
	else
		printf '  %s: %d packages compiled (%ds)%s\n' "$label" "$n" $((SECONDS - start)) "$1"
	fi
	last=$SECONDS
}
while :; do
	wait_s=$((20 - (SECONDS - last)))
	((wait_s < 1)) && wait_s=1
	if IFS= read -r -t "$wait_s" line; then
		if ! $all && [[ $line =~ ^[^[:space:]:#]+$ ]]; then
			n=$((n + 1))
			if ((n % 25 == 0 || SECONDS - last >= 20)); then
				progress ""
			fi
		else
			printf '%s\n' "$line"
			last=$SECONDS
		fi
	elif (($? > 128)); then # 20s since the last line printed
		progress ", still compiling"
	else
		break # end of input
	fi
done
if $all; then
	printf '  %s: done in %ds\n' "$label" $((SECONDS - start))
else
	printf '  %s: %d packages compiled in %ds\n' "$label" "$n" $((SECONDS - start))
fi
