#!/usr/bin/env bash
# Prints the path of a pktgen-dpdk binary for `bench/run.sh --generator pktgen`,
# building one if needed. In this order:
#   1. $PKTGEN, if set (must be executable);
#   2. `pktgen` on the PATH;
#   3. target/bench/pktgen-dpdk-23.03.0/build/app/pktgen, built here from the
#      release tarball ($PKTGEN_TARBALL, default ../shared/tools/ next to the
#      repository) with meson and ninja, Lua off, and bench/pktgen/memif-mtu.patch
#      applied (pktgen 23.03 otherwise panics at start on net_memif).
# pktgen-dpdk is not packaged in Debian; 23.03.0 is the newest release that
# builds against Debian 12's DPDK 22.11 (libdpdk-dev). Build dependencies:
# meson, ninja-build, libnuma-dev, libpcap-dev (.ci/install-deps --bench).
# PKTGEN_JOBS limits ninja's parallel jobs (default: ninja's own choice).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=23.03.0

if [ -n "${PKTGEN:-}" ]; then
    if [ ! -x "$PKTGEN" ]; then
        echo "error: PKTGEN=$PKTGEN is not an executable file" >&2
        exit 1
    fi
    echo "$PKTGEN"
    exit 0
fi
if command -v pktgen >/dev/null; then
    command -v pktgen
    exit 0
fi

patch_file=$root/bench/pktgen/memif-mtu.patch
out=$root/target/bench/pktgen-dpdk-$version
bin=$out/build/app/pktgen
if [ -x "$bin" ] && [ "$bin" -nt "$0" ] && [ "$bin" -nt "$patch_file" ]; then
    echo "$bin"
    exit 0
fi
tarball=${PKTGEN_TARBALL:-$root/../shared/tools/pktgen-dpdk-$version.tar.gz}
if [ ! -f "$tarball" ]; then
    cat >&2 <<EOF
error: no pktgen found: set PKTGEN=/path/to/pktgen, put pktgen on the PATH, or
point PKTGEN_TARBALL at the pktgen-dpdk $version source tarball (release
pktgen-$version of https://github.com/pktgen/Pktgen-DPDK; not found at $tarball).
EOF
    exit 1
fi
for prog in meson ninja; do
    command -v "$prog" >/dev/null || {
        echo "error: building pktgen needs $prog: .ci/install-deps --bench" >&2
        exit 1
    }
done

rm -rf "$out"
mkdir -p "$root/target/bench"
tar -xzf "$tarball" -C "$root/target/bench"
if [ ! -f "$out/meson.build" ]; then
    echo "error: $tarball did not unpack to $out" >&2
    exit 1
fi
patch -s -p1 -d "$out" <"$patch_file"
jobs=()
[ -n "${PKTGEN_JOBS:-}" ] && jobs=(-j "$PKTGEN_JOBS")
{
    meson setup "$out/build" "$out" -Denable_lua=false &&
        nice -n 10 ninja -C "$out/build" "${jobs[@]}"
} >"$out/build.log" 2>&1 || {
    tail -n 40 "$out/build.log" >&2
    echo "error: pktgen build failed, log: $out/build.log" >&2
    exit 1
}
echo "$bin"
