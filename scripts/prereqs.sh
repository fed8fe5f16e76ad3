#!/usr/bin/env bash
# prereqs.sh [race]: checks, before anything is built, what the Makefile
# needs, and says what to install when something is missing:
#   - Go at least the version in go.mod's go line;
#   - with "race" (make test: go test -race): cgo enabled and a C compiler.
# make and bash are needed to get here at all; the README says so.
set -euo pipefail

cd "$(dirname "$0")/.."
missing=0
need() { printf 'prerequisite missing: %s\n' "$*" >&2; missing=1; }

want=$(awk '$1 == "go" { print $2; exit }' go.mod)
if ! command -v go >/dev/null 2>&1; then
	need "Go ${want} or newer (go.mod): install it from https://go.dev/dl/ and put its bin directory on PATH"
else
	# Run in the module: with GOTOOLCHAIN=auto this is the toolchain go
	# would switch to.
	# With GOTOOLCHAIN=local and an older go, go refuses to run in the
	# module: ask it outside.
	have=$(go env GOVERSION 2>/dev/null) || have=$(cd / && go env GOVERSION)
	have=${have#go}
	if [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n 1)" != "$want" ]; then
		need "Go ${want} or newer (go.mod's go line); found go${have} ($(command -v go)): install a newer Go from https://go.dev/dl/"
	fi
fi

if [ "${1:-}" = race ] && command -v go >/dev/null 2>&1; then
	cc=$(go env CC)
	cc=${cc%% *}
	if ! command -v "${cc:-gcc}" >/dev/null 2>&1; then
		need "a C compiler (${cc:-gcc}): make test runs go test -race, which needs cgo; install gcc (Debian/Ubuntu: apt-get install gcc libc6-dev; Fedora: dnf install gcc; macOS: xcode-select --install)"
	elif [ "$(go env CGO_ENABLED)" != 1 ]; then
		need "cgo: make test runs go test -race, which needs CGO_ENABLED=1 (go env CGO_ENABLED says $(go env CGO_ENABLED)); unset CGO_ENABLED or set it to 1"
	fi
fi

exit "$missing"
