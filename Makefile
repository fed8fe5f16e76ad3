# spanlinks processor: build, test and run the otelcol-spanlinks distribution.
#
#   make build   install ocb into .tools/bin (once), build dist/otelcol-spanlinks
#   make test    go vet, gofmt check, go test -race
#   make bench   run the benchmarks
#   make run     build if needed, run the collector with examples/config.yaml
#   make clean   remove dist/, test binaries and profiles (distclean: also .tools/)
#   make help    this list

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build
.DELETE_ON_ERROR:

GO          ?= go
OCB_VERSION := v0.162.0
TOOLS_BIN   := $(abspath .tools/bin)
# The version is in the file name, so bumping OCB_VERSION installs the new ocb.
OCB         := $(TOOLS_BIN)/ocb-$(OCB_VERSION)
DIST_BIN    := dist/otelcol-spanlinks
CONFIG      ?= examples/config.yaml

# Go sources of this module, outside the generated distribution and the tools.
# (go's ./... already skips dist/: it has its own go.mod; and .tools/: dot dirs.)
GO_FILES     := $(shell find . \( -path ./dist -o -path ./.tools -o -path ./.git \) -prune -o -type f -name '*.go' -print)
GO_SRC_FILES := $(filter-out %_test.go,$(GO_FILES))

.PHONY: build test vet fmt fmt-check bench run clean distclean help tools

build: $(DIST_BIN) ## build dist/otelcol-spanlinks with ocb

tools: $(OCB) ## install ocb into .tools/bin

$(OCB):
	@mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) $(GO) install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION)
	mv $(TOOLS_BIN)/builder $@

# ocb generates dist/ (main.go, components.go, go.mod with a replace to ..)
# and compiles it. Rebuilt only when the processor, go.mod/go.sum, the
# manifest or the ocb version changed. go build may leave an unchanged binary
# untouched, hence the touch.
$(DIST_BIN): $(GO_SRC_FILES) go.mod $(wildcard go.sum) builder-config.yaml $(OCB)
	$(OCB) --config builder-config.yaml
	@touch $@

test: vet fmt-check ## go vet, gofmt check, go test -race
	$(GO) test -race ./...

vet:
	$(GO) vet ./...

fmt-check: ## fail listing the files gofmt would change
	@unformatted="$$($(if $(GO_FILES),gofmt -l $(GO_FILES)))"; \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt: these files are not formatted (run 'make fmt'):"; \
		echo "$$unformatted"; \
		exit 1; \
	fi

fmt: ## gofmt -w the Go files
	$(if $(GO_FILES),gofmt -w $(GO_FILES))

bench: ## run the benchmarks
	$(GO) test -run '^$$' -bench . -benchmem ./...

run: $(DIST_BIN) ## run the collector in the foreground with $(CONFIG)
	./$(DIST_BIN) --config $(CONFIG)

clean: ## remove dist/, test binaries and profiles
	rm -rf dist
	rm -f *.test *.prof *.pprof cpu.out mem.out

distclean: clean ## also remove the tools in .tools/
	rm -rf .tools

help:
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  make \1\t/' | expand -t 20
