#!/usr/bin/env bash
# go-progress.sh LABEL: reads the output of `go build -v`, `go install -v`
# or `go vet -v` on stdin (one package path a line as each is compiled) and
# prints a line every 25 packages with the time so far, and one after 20
# seconds without a new line, so that a long first build shows it is
# moving. Any other line (go: downloading ..., compiler errors) is printed
# as it comes.
#
# go-progress.sh --all LABEL: prints every line (go test's ok and FAIL
# lines), and the same line after 20 seconds of silence.
set -uo pipefail

all=false
if [ "${1:-}" = --all ]; then
	all=true
	shift
fi
label=${1:-go}
n=0
start=$SECONDS
while :; do
	if IFS= read -r -t 20 line; then
		if ! $all && [[ $line =~ ^[^[:space:]:#]+$ ]]; then
			n=$((n + 1))
			if ((n % 25 == 0)); then
				printf '  %s: %d packages compiled (%ds)\n' "$label" "$n" $((SECONDS - start))
			fi
		else
			printf '%s\n' "$line"
		fi
	elif (($? > 128)); then # 20s without a line
		if $all; then
			printf '  %s: still running (%ds)\n' "$label" $((SECONDS - start))
		else
			printf '  %s: %d packages compiled (%ds), still compiling\n' "$label" "$n" $((SECONDS - start))
		fi
	else
		break # end of input
	fi
done
if $all; then
	printf '  %s: done in %ds\n' "$label" $((SECONDS - start))
else
	printf '  %s: %d packages compiled in %ds\n' "$label" "$n" $((SECONDS - start))
fi
