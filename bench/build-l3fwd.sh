#!/usr/bin/env bash
# Builds DPDK's l3fwd example from the dpdk-doc package's sources into
# target/bench/dpdk-examples/ with the two edits virtual devices need: no
# RTE_ETH_RX_OFFLOAD_CHECKSUM request (net_pcap and net_null do not offer it;
# --parse-ptype is passed at run time instead). The DPDK sources are copied
# from the package, never kept in the repository.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src=/usr/share/dpdk/examples
out=$root/target/bench/dpdk-examples
bin=$out/l3fwd/build/l3fwd-shared
if [ -x "$bin" ] && [ "$bin" -nt "$0" ]; then
    echo "$bin"
    exit 0
fi
if [ ! -f "$src/l3fwd/main.c" ]; then
    echo "error: $src/l3fwd missing: apt-get install dpdk-doc" >&2
    exit 1
fi
rm -rf "$out"
mkdir -p "$out"
cp -r "$src/l3fwd" "$src/common" "$out/"
# Edit 1: do not ask the device for RX checksum offload.
sed -i 's/\.offloads = RTE_ETH_RX_OFFLOAD_CHECKSUM,/.offloads = 0,/' "$out/l3fwd/main.c"
grep -q 'RTE_ETH_RX_OFFLOAD_CHECKSUM,' "$out/l3fwd/main.c" && {
    echo "error: could not remove the checksum offload request from l3fwd/main.c" >&2
    exit 1
}
# Edit 2 (--parse-ptype) is a run-time flag; the harness passes it.
make -s -C "$out/l3fwd" shared >"$out/build.log" 2>&1 || {
    cat "$out/build.log" >&2
    exit 1
}
echo "$bin"
