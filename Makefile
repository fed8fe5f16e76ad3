# spanlinks processor: build, test and run the otelcol-spanlinks distribution.
#
#   make build   install ocb into .tools/bin (once), build dist/otelcol-spanlinks
#   make test    go vet, gofmt check, go test -race
#   make bench   run the benchmarks, print cost per span against the floor
#   make bench-e2e  CPU per 100k spans of the collector with and without spanlinks
#   make run     build if needed, run the collector with examples/config.yaml
#                and the order demo against it, show the result, stop both
#   make run-collector  only the collector with examples/config.yaml (Ctrl-C)
#   make e2e     end-to-end tests of dist/otelcol-spanlinks with real OTLP
#                clients (Go SDK demo, telemetrygen), and of the
#                tail-sampling recipe (examples/tail-sampling)
#   make build-tail-sampling  build dist/tailsampling/otelcol-tailsampling,
#                the recipe's tail-sampling tier (ocb v0.161.0)
#   make run-tail-sampling  the order demo through both tiers of the recipe,
#                then which traces were kept and why (ports 14317-14321,
#                18888-18889; see examples/tail-sampling/run.sh)
#   make generate  rebuild mdatagen and regenerate internal/metadata,
#                the generated tests and documentation.md from metadata.yaml
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

# telemetrygen (contrib) drives the end-to-end tests; versioned like ocb.
TELEMETRYGEN_VERSION := v0.161.0
TELEMETRYGEN         := $(TOOLS_BIN)/telemetrygen-$(TELEMETRYGEN_VERSION)

# mdatagen (make generate) generates code and docs from metadata.yaml.
MDATAGEN_VERSION := v0.155.0
MDATAGEN         := $(TOOLS_BIN)/mdatagen-$(MDATAGEN_VERSION)

# The tail-sampling tier of examples/tail-sampling: its own distribution,
# built by ocb v0.161.0 (contrib's tailsamplingprocessor is not served at
# v0.162.0), installed like ocb above with the version in the file name.
TS_OCB_VERSION := v0.161.0
TS_OCB         := $(TOOLS_BIN)/ocb-$(TS_OCB_VERSION)
TS_DIR         := examples/tail-sampling
TS_BIN         := dist/tailsampling/otelcol-tailsampling

# The order demo and its output viewer: their own Go module, examples/demo.
DEMO_DIR   := examples/demo
DEMO_BIN   := dist/order-demo
WATCH_BIN  := dist/spanlinks-watch
KEPT_BIN   := dist/kept-traces
DEMO_FILES := $(shell find $(DEMO_DIR) -type f \( -name '*.go' -o -name go.mod -o -name go.sum \))
# The end-to-end tests: their own Go module, e2e.
E2E_DIR    := e2e

# Go sources of this repository, outside the generated distribution and the
# tools. (go's ./... already skips dist/: it has its own go.mod; .tools/: dot
# dirs; and the nested modules examples/demo and e2e.) gofmt checks them all;
# the processor's, outside the nested modules, are what dist/ is built from.
GO_FILES     := $(shell find . \( -path ./dist -o -path ./.tools -o -path ./.git \) -prune -o -type f -name '*.go' -print)
GO_SRC_FILES := $(filter-out %_test.go ./$(DEMO_DIR)/% ./$(E2E_DIR)/%,$(GO_FILES))

.PHONY: build build-tail-sampling test vet fmt fmt-check generate bench bench-e2e run run-collector run-tail-sampling demo e2e clean distclean help tools

build: $(DIST_BIN) ## build dist/otelcol-spanlinks with ocb

tools: $(OCB) $(TS_OCB) $(TELEMETRYGEN) $(MDATAGEN) ## install ocb (both versions), telemetrygen and mdatagen into .tools/bin

$(OCB):
	@mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) $(GO) install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION)
	mv $(TOOLS_BIN)/builder $@

$(TS_OCB):
	@mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) $(GO) install go.opentelemetry.io/collector/cmd/builder@$(TS_OCB_VERSION)
	mv $(TOOLS_BIN)/builder $@

$(TELEMETRYGEN):
	@mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) $(GO) install github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@$(TELEMETRYGEN_VERSION)
	mv $(TOOLS_BIN)/telemetrygen $@

# ocb generates dist/ (main.go, components.go, go.mod with a replace to ..)
# and compiles it. Rebuilt only when the processor, go.mod/go.sum, the
# manifest or the ocb version changed. go build may leave an unchanged binary
# untouched, hence the touch.
$(DIST_BIN): $(GO_SRC_FILES) go.mod $(wildcard go.sum) builder-config.yaml $(OCB)
	$(OCB) --config builder-config.yaml
	@touch $@

# mdatagen generates, from metadata.yaml, internal/metadata (the component's
# type, stability and TelemetryBuilder), internal/metadatatest,
# generated_component_test.go, generated_package_test.go (goleak),
# documentation.md and README.md's status table; the generated files are
# committed. v0.155.0 is the newest
# the module proxy serves, and `go install ...@v0.155.0` fails (its
# deprecation look-up leaves the proxy), so it is built in a scratch module.
# mdatagen names the package after the folder metadata.yaml is in, hence the
# link named spanlinksprocessor; gofmt then sorts the imports it leaves
# unsorted.
$(MDATAGEN):
	@mkdir -p $(TOOLS_BIN)
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; cd "$$tmp"; \
	$(GO) mod init mdatagen-build; \
	$(GO) get go.opentelemetry.io/collector/cmd/mdatagen@$(MDATAGEN_VERSION); \
	$(GO) build -o $@ go.opentelemetry.io/collector/cmd/mdatagen

generate: $(MDATAGEN) ## regenerate internal/metadata, the generated tests and documentation.md from metadata.yaml
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	ln -s $(CURDIR) "$$tmp/spanlinksprocessor"; \
	$(MDATAGEN) "$$tmp/spanlinksprocessor/metadata.yaml"
	gofmt -w generated_component_test.go generated_package_test.go internal/metadata internal/metadatatest

build-tail-sampling: $(TS_BIN) ## build dist/tailsampling/otelcol-tailsampling, the recipe's tail-sampling tier

# ocb runs from the repository root (the manifest's output_path is relative
# to it) and needs dist/ to exist.
$(TS_BIN): $(TS_DIR)/builder-config.yaml $(TS_OCB)
	@mkdir -p dist
	$(TS_OCB) --config $(TS_DIR)/builder-config.yaml
	@touch $@

test: vet fmt-check ## go vet, gofmt check, go test -race (the processor and examples/demo)
	$(GO) test -race ./...
	cd $(DEMO_DIR) && $(GO) test -race ./...

vet:
	$(GO) vet ./...
	cd $(DEMO_DIR) && $(GO) vet ./...
	cd $(E2E_DIR) && $(GO) vet ./...

fmt-check: ## fail listing the files gofmt would change
	@unformatted="$$($(if $(GO_FILES),gofmt -l $(GO_FILES)))"; \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt: these files are not formatted (run 'make fmt'):"; \
		echo "$$unformatted"; \
		exit 1; \
	fi

fmt: ## gofmt -w the Go files
	$(if $(GO_FILES),gofmt -w $(GO_FILES))

# make bench runs every benchmark once, the mixes BENCH_COUNT times (each
# BENCH_MIX_TIME batches of 500 spans: they build their input outside the
# timer, so a time-based -benchtime would spend minutes building input for
# the cheap floors), then prints the mixes per span, their ratios to the
# floor and the targets (medians over the counts). See BENCHMARKS.md.
BENCH_COUNT    ?= 3
BENCH_MIX_TIME ?= 1000x

bench: ## run the benchmarks; print each mix per span, its ratio to the floor, and the targets
	@out=$$(mktemp); trap 'rm -f "$$out"' EXIT; \
	$(GO) test -run '^$$' -bench . -skip '^BenchmarkMix$$' -benchmem ./... | tee "$$out"; \
	$(GO) test -run '^$$' -bench '^BenchmarkMix$$' -benchtime $(BENCH_MIX_TIME) -count $(BENCH_COUNT) -benchmem . | tee -a "$$out"; \
	awk -f bench/table.awk "$$out"

bench-e2e: $(DIST_BIN) $(TELEMETRYGEN) ## CPU per 100k spans of the collector with and without spanlinks (bench/e2e.sh)
	bench/e2e.sh $(DIST_BIN) $(TELEMETRYGEN)

demo: $(DEMO_BIN) $(WATCH_BIN) $(KEPT_BIN) ## build the order demo, spanlinks-watch and kept-traces into dist/

$(DEMO_BIN): $(DEMO_FILES)
	@mkdir -p $(@D)
	cd $(DEMO_DIR) && $(GO) build -o $(abspath $@) .

$(WATCH_BIN): $(DEMO_FILES)
	@mkdir -p $(@D)
	cd $(DEMO_DIR) && $(GO) build -o $(abspath $@) ./cmd/spanlinks-watch

$(KEPT_BIN): $(DEMO_FILES)
	@mkdir -p $(@D)
	cd $(DEMO_DIR) && $(GO) build -o $(abspath $@) ./cmd/kept-traces

run: $(DIST_BIN) $(DEMO_BIN) $(WATCH_BIN) ## run the collector with $(CONFIG) and the order demo against it, then stop
	examples/run-demo.sh $(DIST_BIN) $(CONFIG) $(DEMO_BIN) $(WATCH_BIN)

run-collector: $(DIST_BIN) ## run the collector in the foreground with $(CONFIG)
	./$(DIST_BIN) --config $(CONFIG)

run-tail-sampling: $(DIST_BIN) $(TS_BIN) $(DEMO_BIN) $(KEPT_BIN) ## the order demo through spanlinks and a tail-sampling tier: kept traces and why
	$(TS_DIR)/run.sh $(DIST_BIN) $(TS_BIN) $(DEMO_BIN) $(KEPT_BIN)

# E2E_FLAGS: extra go test flags, e.g. E2E_FLAGS='-run Telemetrygen'.
# E2E_WITHOUT_SPANLINKS=1 runs the collector without the processor: the
# tests must then fail.
e2e: $(DIST_BIN) $(TS_BIN) $(TELEMETRYGEN) ## end-to-end tests: dist/otelcol-spanlinks with real OTLP clients, the tail-sampling recipe
	cd $(E2E_DIR) && OTELCOL_BIN=$(abspath $(DIST_BIN)) TELEMETRYGEN_BIN=$(TELEMETRYGEN) \
		TAILSAMPLING_BIN=$(abspath $(TS_BIN)) \
		$(GO) test -count=1 -timeout 10m -v $(E2E_FLAGS) ./...

clean: ## remove dist/, test binaries and profiles
	rm -rf dist
	rm -f *.test *.prof *.pprof cpu.out mem.out

distclean: clean ## also remove the tools in .tools/
	rm -rf .tools

help:
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z0-9-]+):.*## /  make \1\t/' | expand -t 24
