#!/usr/bin/python3
"""Bar chart of bench/run.py results: Mpps per configuration (median over the
repetitions, whiskers min-max), wall-clock and per CPU-second of the
forwarding thread. Usage: plot.py RESULTS.json OUT.png"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    src, out = sys.argv[1], sys.argv[2]
    d = json.load(open(src))
    rows = d["rows"]
    names = [r["name"] for r in rows]
    fig, ax = plt.subplots(figsize=(11, 0.42 * len(rows) + 1.6))
    y = range(len(rows))
    h = 0.38
    for off, key, label, color in ((-h / 2, "mpps", "Mpps (wall clock)", "#4c72b0"),
                                   (h / 2, "mpps_cpu", "Mpps per CPU-second", "#dd8452")):
        med = [sorted(r[key])[len(r[key]) // 2] for r in rows]
        lo = [m - min(r[key]) for m, r in zip(med, rows)]
        hi = [max(r[key]) - m for m, r in zip(med, rows)]
        ax.barh([i + off for i in y], med, height=h, xerr=[lo, hi], label=label,
                color=color, capsize=2)
    base = {r["name"]: sorted(r["mpps_cpu"])[len(r["mpps_cpu"]) // 2] for r in rows}
    if "l3fwd fwd" in base:
        ax.axvline(base["l3fwd fwd"], color="gray", ls="--", lw=1, label="l3fwd-LPM (CPU)")
        ax.axvline(0.8 * base["l3fwd fwd"], color="gray", ls=":", lw=1, label="0.8 x l3fwd")
    ax.set_yticks(list(y))
    ax.set_yticklabels(names)
    ax.invert_yaxis()
    ax.set_xlabel("Mpps, one forwarding core, 64-byte frames (median of "
                  f"{d['reps']} runs, whiskers min-max)")
    ax.set_title("glbpd vs DPDK l3fwd-LPM and testpmd io: net_pcap replay -> net_null, "
                 + ("hugepages" if d["huge"] else "no hugepages"))
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=90)


if __name__ == "__main__":
    main()
