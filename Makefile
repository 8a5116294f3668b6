# glbpd: the two commands of the README, and helpers.
#   make run    build and run the demo LAN in network namespaces (Ctrl-C stops it)
#   make test   install what the tests need, build, and run every test
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: all build release run run-vlan run-ipv6 run-virtual test e2e lint deps check-deps sim-sweep clean bench

all: build

# System packages (Debian 12), installed only when missing.
deps:
	@./.ci/install-deps

# Every program the tests start is there (the list is in .ci/install-deps).
check-deps: deps
	@./.ci/install-deps --check

build: deps
	$(CARGO) build --release

release: build

# The demo LAN: 3 glbpd routers, 6 kernel hosts and a server in network
# namespaces (root), with a live view; Ctrl-C tears it down.
run: check-deps
	$(CARGO) build --release --bins --example demo
	./target/release/examples/demo

# The same LAN as an 802.1Q trunk: VLANs 10 and 20, a group on each.
run-vlan: check-deps
	$(CARGO) build --release --bins --example demo
	./target/release/examples/demo --vlans

# The same LAN dual-stack: IPv6 group 46 beside IPv4 group 1.
run-ipv6: check-deps
	$(CARGO) build --release --bins --example demo
	./target/release/examples/demo --ipv6

# One glbpd on DPDK virtual devices replaying config/sample-lan.pcap.
run-virtual: build
	RUST_LOG=$${RUST_LOG:-info,glbpd::runtime=debug} ./target/release/glbpd run -c config/virtual.toml

# Only the end-to-end scenarios (root); outages in target/e2e-outages.txt.
e2e: check-deps
	$(CARGO) test --test e2e

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy -p glbpd-lab -p dpdk -- -D warnings

test: check-deps
	$(CARGO) build --release
	$(CARGO) test
	$(MAKE) --no-print-directory sim-sweep
	$(MAKE) --no-print-directory lint

# Thousands of random seeds of the simulator (4 routers, 200 hosts, one
# simulated hour each, random faults), with IOS's default timers and with
# millisecond timers: exit status 1 on any violation.
SIM := ./target/release/glbpd sim --routers 4 --hosts 200 --duration 1h --faults random
sim-sweep:
	$(SIM) --seeds 1..2001
	$(SIM) --seeds 1..101 --hello-ms 50 --hold-ms 150 --redirect-s 60 --timeout-s 600

# Benchmarks against l3fwd and testpmd (bench/README.md); BENCH_ARGS="--quick".
bench: deps
	bench/run.sh $(BENCH_ARGS)

clean:
	$(CARGO) clean
