#!/usr/bin/env bash
# make bench: glbpd against DPDK l3fwd-LPM and testpmd, same traffic, same run.
# Installs what it needs (Debian 12, as root), reserves hugepages when it can,
# builds glbpd, the pcap generator and l3fwd, then runs bench/run.py.
# Arguments are passed to bench/run.py (--reps, --duration, --quick, ...).
#
# --generator pktgen: pktgen-dpdk instead of pcap replay, over memif, as an
# external generator (bench/run_pktgen.py; pktgen from $PKTGEN, the PATH or
# built by bench/build-pktgen.sh). --generator pcap is the default.
set -euo pipefail
cd "$(dirname "$0")/.."
generator=pcap
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --generator) generator=${2:?"--generator needs pcap or pktgen"}; shift 2 ;;
        --generator=*) generator=${1#*=}; shift ;;
        *) args+=("$1"); shift ;;
    esac
done
case "$generator" in
    pcap) pages=512 ;;
    # pktgen's mempools alone take ~2.5 GiB.
    pktgen) pages=2048 ;;
    *) echo "error: --generator $generator: pcap or pktgen" >&2; exit 2 ;;
esac
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
# The packages and programs are listed once, in .ci/install-deps.
./.ci/install-deps --bench
./.ci/install-deps --check --bench
# Hugepages (2 MiB): about 2x faster mempools than --no-huge. Best effort:
# without them run.py falls back to --no-huge and says so.
if [ "${BENCH_HUGEPAGES:-1}" = 1 ]; then
    if [ "$(cat /proc/sys/vm/nr_hugepages)" -lt "$pages" ]; then
        echo "$pages" | $sudo tee /proc/sys/vm/nr_hugepages >/dev/null || true
    fi
    if ! mountpoint -q /dev/hugepages; then
        $sudo mkdir -p /dev/hugepages && $sudo mount -t hugetlbfs nodev /dev/hugepages || true
    fi
fi
if [ "$generator" = pktgen ]; then
    cargo build --release --bin glbpd
    bench/build-l3fwd.sh >/dev/null
    pktgen=$(bench/build-pktgen.sh)
    # -B: importing run.py must not leave bench/__pycache__ in the tree.
    /usr/bin/python3 -B bench/run_pktgen.py --pktgen "$pktgen" "${args[@]}"
    exit 0
fi
cargo build --release --bin glbpd --example bench-pcap --example bench-latency
bench/build-l3fwd.sh >/dev/null
/usr/bin/python3 bench/run.py "${args[@]}" | tee target/bench/results.md
/usr/bin/python3 bench/plot.py target/bench/results.json target/bench/results.png
echo "table: target/bench/results.md, plot: target/bench/results.png"
