# glbpd: the two commands of the README, and helpers.
#   make run    build and run the demo on virtual devices (Ctrl-C stops it)
#   make test   install what the tests need, build, and run every test
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: all build release run test lint deps sim-sweep clean bench

all: build

# System packages (Debian 12), installed only when missing.
deps:
	@./.ci/install-deps

build: deps
	$(CARGO) build --release

release: build

run: build
	RUST_LOG=$${RUST_LOG:-info,glbpd::runtime=debug} ./target/release/glbpd run -c config/virtual.toml

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

test: deps
	$(CARGO) build --release
	$(CARGO) test
	$(MAKE) --no-print-directory lint

# Benchmarks against l3fwd and testpmd (bench/README.md); BENCH_ARGS="--quick".
bench: deps
	bench/run.sh $(BENCH_ARGS)

clean:
	$(CARGO) clean
