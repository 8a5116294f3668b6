# glbpd: the two commands of the README, and helpers.
#   make run    build and run the demo LAN in network namespaces (Ctrl-C stops it)
#   make test   install what the tests need, build, and run every test
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: all build release run run-virtual test e2e lint deps sim-sweep clean

all: build

# System packages (Debian 12), installed only when missing.
deps:
	@./.ci/install-deps

build: deps
	$(CARGO) build --release

release: build

# The demo LAN: 3 glbpd routers, 6 kernel hosts and a server in network
# namespaces (root), with a live view; Ctrl-C tears it down.
run: deps
	$(CARGO) build --release --bins --example demo
	./target/release/examples/demo

# One glbpd on DPDK virtual devices replaying config/sample-lan.pcap.
run-virtual: build
	RUST_LOG=$${RUST_LOG:-info,glbpd::runtime=debug} ./target/release/glbpd run -c config/virtual.toml

# Only the end-to-end scenarios (root); outages in target/e2e-outages.txt.
e2e: deps
	$(CARGO) test --test e2e

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

test: deps
	$(CARGO) build --release
	$(CARGO) test
	$(MAKE) --no-print-directory lint

clean:
	$(CARGO) clean
