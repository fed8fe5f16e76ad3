# spanlinks processor: build, test and run the otelcol-spanlinks distribution.
# `make help` lists the targets. Needs Go (go.mod's version), make, bash,
# and a C compiler for make test (go test -race); scripts/prereqs.sh checks.
#
# Variables: CONFIG (the collector config of make run and run-collector,
# default examples/config.yaml); for make run also DEMO_ENDPOINT,
# DEMO_METRICS_URL, DEMO_HOLD_WAIT, DEMO_ARGS (see examples/run-demo.sh).

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

# Jaeger (all-in-one, in-memory storage) for e2e's TestJaegerBacklinkSpans:
# built in a scratch module, since `go install` refuses the replace
# directives of its go.mod; versioned like ocb. Its cmd/jaeger is Jaeger v2.
JAEGER_VERSION := v1.76.0
JAEGER         := $(TOOLS_BIN)/jaeger-$(JAEGER_VERSION)

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

.PHONY: build build-tail-sampling test prereqs vet fmt fmt-check generate bench bench-e2e bench-redis run run-fleet run-collector run-tail-sampling demo e2e clean distclean help tools

build: $(DIST_BIN) ## build dist/otelcol-spanlinks with ocb

tools: $(OCB) $(TS_OCB) $(TELEMETRYGEN) $(MDATAGEN) $(JAEGER) ## install ocb (both versions), telemetrygen, mdatagen and jaeger into .tools/bin

# go-progress.sh prints a line every 25 packages compiled (go -v), so that
# a first build on an empty cache shows it is moving.
PROGRESS := scripts/go-progress.sh

prereqs: ## check Go (go.mod's version) and, for make test, a C compiler; say what to install
	@scripts/prereqs.sh race

$(OCB):
	@scripts/prereqs.sh
	@mkdir -p $(TOOLS_BIN)
	@echo "==> installing ocb $(OCB_VERSION) into .tools/bin (once)"
	GOBIN=$(TOOLS_BIN) $(GO) install -v go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION) 2>&1 | $(PROGRESS) ocb
	mv $(TOOLS_BIN)/builder $@

$(TS_OCB):
	@mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) $(GO) install go.opentelemetry.io/collector/cmd/builder@$(TS_OCB_VERSION)
	mv $(TOOLS_BIN)/builder $@

$(TELEMETRYGEN):
	@scripts/prereqs.sh
	@mkdir -p $(TOOLS_BIN)
	@echo "==> installing telemetrygen $(TELEMETRYGEN_VERSION) into .tools/bin (once)"
	GOBIN=$(TOOLS_BIN) $(GO) install -v github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@$(TELEMETRYGEN_VERSION) 2>&1 | $(PROGRESS) telemetrygen
	mv $(TOOLS_BIN)/telemetrygen $@

# ocb generates dist/ (main.go, components.go, go.mod with a replace to ..);
# go build -v compiles it as ocb would (CGO_ENABLED=0, -trimpath, -s -w),
# showing progress: ocb's own compile step prints nothing for minutes.
# Rebuilt only when the processor, go.mod/go.sum, the manifest or the ocb
# version changed. go build may leave an unchanged binary untouched, hence
# the touch.
$(DIST_BIN): $(GO_SRC_FILES) go.mod $(wildcard go.sum) builder-config.yaml $(OCB)
	@scripts/prereqs.sh
	@echo "==> generating dist/ with ocb (downloads modules on a first build)"
	$(OCB) --config builder-config.yaml --skip-compilation
	@echo "==> compiling $@ (on an empty build cache: hundreds of packages, a line every 25)"
	cd $(@D) && CGO_ENABLED=0 $(GO) build -v -trimpath -ldflags='-s -w' -o $(@F) . 2>&1 | $(abspath $(PROGRESS)) otelcol-spanlinks
	@touch $@

# Without redis-server the Redis tests skip (SPANLINKS_REQUIRE_REDIS=1 makes
# them fail instead, as .ci/run does); make test says so, and how to install it.
REDIS_MISSING = command -v redis-server >/dev/null 2>&1 || \
	echo "NOTE: redis-server is not installed: the Redis index tests (internal/redisindex, TestFleet*, TestRedis*, the redis cases of TestScenarios) were SKIPPED; install it with: apt-get install -y redis-server"

# Jaeger: see JAEGER_VERSION above.
$(JAEGER):
	@mkdir -p $(TOOLS_BIN)
	@echo "==> building jaeger $(JAEGER_VERSION) into .tools/bin (once; minutes)"
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; cd "$$tmp"; \
	$(GO) mod init jaeger-build; \
	$(GO) get github.com/jaegertracing/jaeger/cmd/jaeger@$(JAEGER_VERSION); \
	CGO_ENABLED=0 $(GO) build -o $@ github.com/jaegertracing/jaeger/cmd/jaeger

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
	@echo "==> building $@ (the tail-sampling tier) with ocb $(TS_OCB_VERSION); a first build compiles for about a minute on idle cores, several under load"
	$(TS_OCB) --config $(TS_DIR)/builder-config.yaml
	@touch $@

# On an empty build cache each step compiles for minutes: go build -race -v
# compiles what go test -race then reuses, with a progress line every 25
# packages; go test's output gets a line after 20s of silence.
test: prereqs vet fmt-check ## go vet, gofmt check, go test -race (the processor and examples/demo)
	@$(REDIS_MISSING)
	$(GO) build -race -v ./... 2>&1 | $(PROGRESS) 'go build -race'
	$(GO) test -race ./... 2>&1 | $(PROGRESS) --all 'go test -race'
	cd $(DEMO_DIR) && $(GO) build -race -v ./... 2>&1 | $(abspath $(PROGRESS)) 'go build -race (examples/demo)'
	cd $(DEMO_DIR) && $(GO) test -race ./... 2>&1 | $(abspath $(PROGRESS)) --all 'go test -race (examples/demo)'
	@$(REDIS_MISSING)

vet: ## go vet the three modules (the processor, examples/demo, e2e)
	$(GO) vet -v ./... 2>&1 | $(PROGRESS) 'go vet'
	cd $(DEMO_DIR) && $(GO) vet -v ./... 2>&1 | $(abspath $(PROGRESS)) 'go vet (examples/demo)'
	cd $(E2E_DIR) && $(GO) vet -v ./... 2>&1 | $(abspath $(PROGRESS)) 'go vet (e2e)'

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

# make bench-e2e runs bench/e2e.sh's pipelines: by default these eight, the
# two on Redis (they need redis-server) with redis-server's CPU per span and
# per link, the three mixed-* under the mixed load of issue 23 (a tenth of
# the spans linked); PIPELINES, REPEAT, LINKS, TRACES, WORKERS, RATE,
# MIX_RATE and MIX_LINKS from the environment pass through.
BENCH_E2E_PIPELINES ?= none hold-none hold-all redis-hold-none redis-hold-all mixed-none mixed-auto mixed-all

bench-e2e: $(DIST_BIN) $(TELEMETRYGEN) ## CPU per 100k spans of the collector with and without spanlinks, and of redis-server with the Redis index (bench/e2e.sh)
	PIPELINES="$${PIPELINES:-$(BENCH_E2E_PIPELINES)}" bench/e2e.sh $(DIST_BIN) $(TELEMETRYGEN)

bench-redis: ## Redis memory per index entry at 1M entries, and Redis CPU per span on one redis-server and a 3-master Cluster (needs redis-server)
	SPANLINKS_MEASURE=1 $(GO) test -count=1 ./internal/redisindex -run 'TestMeasureMemory|TestMeasureCluster' -v -timeout 30m

demo: $(DEMO_BIN) $(WATCH_BIN) $(KEPT_BIN) ## build the order demo, spanlinks-watch and kept-traces into dist/

$(DEMO_BIN): $(DEMO_FILES)
	@scripts/prereqs.sh
	@mkdir -p $(@D)
	@echo "==> compiling $@ (the OpenTelemetry Go SDK)"
	cd $(DEMO_DIR) && $(GO) build -v -o $(abspath $@) . 2>&1 | $(abspath $(PROGRESS)) order-demo

$(WATCH_BIN): $(DEMO_FILES)
	@mkdir -p $(@D)
	cd $(DEMO_DIR) && $(GO) build -o $(abspath $@) ./cmd/spanlinks-watch

$(KEPT_BIN): $(DEMO_FILES)
	@mkdir -p $(@D)
	cd $(DEMO_DIR) && $(GO) build -o $(abspath $@) ./cmd/kept-traces

run: $(DIST_BIN) $(DEMO_BIN) $(WATCH_BIN) ## run the collector with $(CONFIG) and the order demo against it, then stop
	examples/run-demo.sh $(DIST_BIN) $(CONFIG) $(DEMO_BIN) $(WATCH_BIN)

run-fleet: $(DIST_BIN) $(DEMO_BIN) $(WATCH_BIN) ## the order demo against two collectors sharing one redis-server (free ports)
	examples/run-fleet.sh $(DIST_BIN) $(DEMO_BIN) $(WATCH_BIN)

run-collector: $(DIST_BIN) ## run the collector in the foreground with $(CONFIG) (Ctrl-C stops it)
	./$(DIST_BIN) --config $(CONFIG)

run-tail-sampling: $(DIST_BIN) $(TS_BIN) $(DEMO_BIN) $(KEPT_BIN) ## the order demo through spanlinks and a tail-sampling tier: kept traces and why
	$(TS_DIR)/run.sh $(DIST_BIN) $(TS_BIN) $(DEMO_BIN) $(KEPT_BIN)

# E2E_FLAGS: extra go test flags, e.g. E2E_FLAGS='-run Telemetrygen'.
# E2E_WITHOUT_SPANLINKS=1 runs the collector without the processor: the
# tests must then fail.
e2e: $(DIST_BIN) $(TS_BIN) $(TELEMETRYGEN) $(JAEGER) ## end-to-end tests: dist/otelcol-spanlinks with real OTLP clients, the tail-sampling recipe, Jaeger
	cd $(E2E_DIR) && OTELCOL_BIN=$(abspath $(DIST_BIN)) TELEMETRYGEN_BIN=$(TELEMETRYGEN) \
		TAILSAMPLING_BIN=$(abspath $(TS_BIN)) JAEGER_BIN=$(JAEGER) \
		$(GO) test -count=1 -timeout 10m -v $(E2E_FLAGS) ./...

clean: ## remove dist/, test binaries and profiles
	rm -rf dist
	rm -f *.test *.prof *.pprof cpu.out mem.out

distclean: clean ## also remove the tools in .tools/
	rm -rf .tools

help: ## this list
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E -e 's/^([a-z0-9-]+):.*## /\1\t/' -e 's|\$$\(CONFIG\)|$(CONFIG)|g' | awk -F '\t' '{ printf "  make %-20s %s\n", $$1, $$2 }'
	@echo
	@echo "Variables: CONFIG (now $(CONFIG)); make run also reads DEMO_ENDPOINT, DEMO_METRICS_URL,"
	@echo "DEMO_HOLD_WAIT and DEMO_ARGS (README, \"Ports and overrides\")."
