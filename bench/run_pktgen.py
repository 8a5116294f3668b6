#!/usr/bin/python3
"""glbpd against DPDK l3fwd-LPM (and testpmd io) with pktgen-dpdk as the
external generator. See bench/README.md. Started by
`bench/run.sh --generator pktgen`.

pktgen is the memif client on two ports: port 0 sends 64-byte UDP to the
device under test (DUT), port 1 receives what the DUT forwards. Each DUT is
the memif server on both ports, with one forwarding lcore. Every DUT of a
run gets the same pktgen command file (derived from bench/pktgen/fwd.pkt).
Rates come from pktgen's own ethdev counters, read through its telemetry
socket at one-second steps over a window after a warm-up, and are checked
against the DUT's counters. Each repetition runs every DUT once, one after
another; ratios are taken within a repetition, then the median is reported.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import time

from run import (
    GLBPD,
    OUT,
    PORT_MAC,
    busiest_thread,
    eal_mem,
    glbpd_config,
    glbpd_final,
    log,
    port_stats,
    stop,
    thread_cpu_ns,
    wait_telemetry,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKT = os.path.join(ROOT, "bench", "pktgen", "fwd.pkt")
VMAC = "00:07:b4:00:00:01"  # group 0, forwarder 1
NEXT_HOP_MAC = "02:00:00:00:00:fe"  # glbpd's static neighbour on up0; l3fwd --eth-dest
DST = {"vmac": VMAC, "port": PORT_MAC}
# pktgen's pools (5 per port and queue, 24576 mbufs each) take ~2.5 GB.
PKTGEN_HUGEPAGES = 1400
# CPU placement on a 2-vCPU machine: pktgen's main lcore and its one worker
# lcore share CPU 0 (the main lcore sleeps in the command file's `delay`);
# each DUT's forwarding lcore is CPU 1, glbpd's control lcore CPU 0.
PKTGEN_LCORES = "0@0,1@0"
PKTGEN_MAP = "1.[0-1]"


# ---------------------------------------------------------------- helpers


def command_file(base, dst, send_ms, path):
    """The base command file with its destination MAC and its sending time
    (the first `delay` after `start`) replaced; everything else kept."""
    with open(base) as f:
        text = f.read()
    text, n = re.subn(r"(?m)^set 0 dst mac \S+$", f"set 0 dst mac {dst}", text)
    if n != 1:
        raise SystemExit(f"{base}: expected one 'set 0 dst mac' line")
    text, n = re.subn(r"(?ms)(^start 0\s*\n.*?^delay )\d+", rf"\g<1>{send_ms}", text, count=1)
    if n != 1 or not re.search(r"(?m)^quit\s*$", text):
        raise SystemExit(f"{base}: expected 'start 0', then 'delay N', and a final 'quit'")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(f"# derived from {os.path.relpath(base, ROOT)} by bench/run_pktgen.py\n" + text)
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def threads(pid):
    """{tid: comm} of a process."""
    out = {}
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/comm") as f:
                    out[int(tid)] = f.read().strip()
            except OSError:
                pass
    except OSError:
        pass
    return out


def set_policy(pid, policy):
    """pktgen's own threads (its main lcore and the display/statistics
    thread it starts, both named like the process) under `policy`. The
    statistics thread spins on the main lcore's CPU, which is the sending
    lcore's CPU here: SCHED_IDLE leaves that CPU to the sender. DPDK's
    service threads (telemetry, ...) and the lcore workers are left alone.
    Returns the threads changed."""
    changed = []
    main_comm = threads(pid).get(pid)
    for tid, comm in threads(pid).items():
        if comm != main_comm:
            continue
        try:
            os.sched_setscheduler(tid, policy, os.sched_param(0))
            changed.append(comm)
        except OSError:
            pass
    return changed


def cpu_of(pid, names):
    """CPU ns of the threads of `pid` whose name starts with one of `names`."""
    return sum(thread_cpu_ns(pid, tid) for tid, comm in threads(pid).items()
               if comm.startswith(names))


def clean_prefix(prefix):
    shutil.rmtree(f"/var/run/dpdk/{prefix}", ignore_errors=True)
    try:
        for f in os.listdir("/dev/hugepages"):
            if f.startswith(prefix + "map_"):
                os.unlink(os.path.join("/dev/hugepages", f))
    except OSError:
        pass


def unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def free_hugepages():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("HugePages_Free:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def wait_for(cond, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


# ---------------------------------------------------------------- DUTs


def dut_argv(kind, tag, lan, up, huge, a):
    """(argv, prefix, env) of one DUT, memif server on both ports."""
    pid = os.getpid()
    if kind == "glbpd":
        prefix = f"bench-pg-glbpd-{pid}"
        cfgp = os.path.join(OUT, "cfg", f"pktgen-{tag}.toml")
        os.makedirs(os.path.dirname(cfgp), exist_ok=True)
        glbpd_config(cfgp, prefix, None, 0, 1, huge, devices=(lan, up))
        return [a.glbpd, "run", "-c", cfgp], prefix, {"RUST_LOG": "info"}
    if kind == "l3fwd":
        prefix = f"bench-pg-l3fwd-{pid}"
        return ([a.l3fwd, "-l", "1", "--file-prefix", prefix, *eal_mem(huge),
                 "--vdev", lan, "--vdev", up, "--",
                 "-p", "0x3", "--config", "(0,0,1),(1,0,1)", "--parse-ptype",
                 "--lookup", "lpm", "-P", f"--eth-dest=1,{NEXT_HOP_MAC}"], prefix, {})
    prefix = f"bench-pg-testpmd-{pid}"
    return (["dpdk-testpmd", "-l", "0-1", "--file-prefix", prefix, *eal_mem(huge),
             "--vdev", lan, "--vdev", up, "--",
             "--forward-mode=io", "--nb-cores=1", "--burst=32", "--stats-period=0"],
            prefix, {})


def sending(prefix):
    """True once pktgen's port 0 has sent a packet."""
    try:
        return port_stats(prefix, 1)[0]["opackets"] > 0
    except (OSError, ValueError, KeyError):
        return False


def glbpd_ready(logfile):
    """True once glbpd logs that it forwards for group 0 (AVG and AVF)."""
    try:
        with open(logfile) as f:
            return "Grp 0 Fwd 1 state Listen -> Active" in f.read()
    except OSError:
        return False


def one_run(kind, pkt, tag, huge, zero_copy, a):
    """Starts the DUT, then pktgen with command file `pkt`; samples both
    every second over the window; stops and cleans up. Returns a sample."""
    pid = os.getpid()
    sock_lan = f"/run/glbpd-bench-{pid}-lan.sock"
    sock_up = f"/run/glbpd-bench-{pid}-up.sock"
    lan = f"net_memif0,role=server,socket={sock_lan},id=0"
    up = f"net_memif1,role=server,socket={sock_up},id=0"
    argv, dprefix, env = dut_argv(kind, tag, lan, up, huge, a)
    gprefix = f"bench-pg-pktgen-{pid}"
    zc = ",zero-copy=yes" if zero_copy else ""
    gmem = (["--single-file-segments"] if zero_copy else []) if huge else \
        ["--no-huge", "-m", "3072", "--no-shconf"]
    gargv = [a.pktgen, "--lcores", PKTGEN_LCORES, "--no-pci", "--file-prefix", gprefix, *gmem,
             "--vdev", f"net_memif0,role=client,socket={sock_lan},id=0{zc}",
             "--vdev", f"net_memif1,role=client,socket={sock_up},id=0{zc}",
             "--", "-P", "-m", PKTGEN_MAP, "-f", pkt]
    logs = os.path.join(OUT, "logs")
    os.makedirs(logs, exist_ok=True)
    dlog = os.path.join(logs, f"pktgen-{tag}-dut.log")
    glog = os.path.join(logs, f"pktgen-{tag}-pktgen.log")
    for p in (dprefix, gprefix):
        clean_prefix(p)
    dut = gen = None
    with open(dlog, "w") as df, open(glog, "w") as gf:
        try:
            # Own sessions: a ^C on the terminal reaches only this script,
            # which then stops pktgen and the DUT in order (pktgen's SIGINT
            # handler dumps a backtrace and exits without stopping its ports;
            # its `dbg break` command signals its whole process group).
            dut = subprocess.Popen(argv, env=dict(os.environ, **env), stdin=subprocess.PIPE,
                                   stdout=df, stderr=subprocess.STDOUT, start_new_session=True)
            wait_telemetry(dprefix, dut)
            if kind == "glbpd":
                wait_for(lambda: glbpd_ready(dlog), 15, "glbpd to become AVG/AVF of group 0")
            gen = subprocess.Popen(gargv, stdin=subprocess.DEVNULL, stdout=gf,
                                   stderr=subprocess.STDOUT, start_new_session=True)
            wait_telemetry(gprefix, gen, deadline_s=60)
            wait_for(lambda: sending(gprefix), 30, "pktgen to send")
            time.sleep(0.5)
            idled = set_policy(gen.pid, os.SCHED_IDLE)
            time.sleep(a.warmup)
            dtid, _ = busiest_thread(dut.pid)
            samples = []
            for step in range(int(a.duration) + 1):
                if step:
                    time.sleep(max(0.0, t0 + step - time.monotonic()))
                else:
                    t0 = time.monotonic()
                samples.append({
                    "t": time.monotonic(),
                    "gen": port_stats(gprefix, 2),
                    "dut": port_stats(dprefix, 2),
                    "dut_cpu": thread_cpu_ns(dut.pid, dtid),
                    "dut_ctl_cpu": thread_cpu_ns(dut.pid, dut.pid),
                    "gen_cpu": cpu_of(gen.pid, ("rte-worker",)),
                    "gen_other_cpu": cpu_of(gen.pid, ("",)) - cpu_of(gen.pid, ("rte-worker",)),
                })
            set_policy(gen.pid, os.SCHED_OTHER)
            try:
                gen.wait(timeout=a.send_slack + 20)
            except subprocess.TimeoutExpired:
                log(f"{tag}: pktgen did not quit by itself; stopping it")
        except RuntimeError as e:
            raise RuntimeError(f"{tag}: {e} (logs: {dlog}, {glog})") from e
        finally:
            if gen is not None and gen.poll() is None:
                gen.terminate()
                try:
                    gen.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    gen.kill()
                    gen.wait()
            if dut is not None:
                stop(dut)
            for p in (dprefix, gprefix):
                clean_prefix(p)
            unlink(sock_lan)
            unlink(sock_up)
    return summarise(samples, kind, dlog, idled, gen.returncode)


def summarise(samples, kind, dlog, idled, gen_exit):
    a, b = samples[0], samples[-1]
    dt = b["t"] - a["t"]

    def rate(side, port, key, x=a, y=b):
        return (y[side][port][key] - x[side][port][key]) / (y["t"] - x["t"]) / 1e6

    tx = rate("gen", 0, "opackets")
    rx = rate("gen", 1, "ipackets")
    dut_cpu = (b["dut_cpu"] - a["dut_cpu"]) / 1e9 / dt
    r = {
        "tx_mpps": tx,
        "rx_mpps": rx,
        "loss": 1 - rx / tx if tx > 0 else None,
        "dut_rx_mpps": rate("dut", 0, "ipackets"),
        "dut_tx_mpps": rate("dut", 1, "opackets"),
        "dut_missed_mpps": rate("dut", 0, "imissed") + rate("dut", 0, "rx_nombuf"),
        "gen_rx_missed_mpps": rate("gen", 1, "imissed") + rate("gen", 1, "rx_nombuf"),
        "dut_cpu": dut_cpu,
        "rx_mpps_cpu": rx / max(dut_cpu, 1e-9),
        "dut_control_cpu": (b["dut_ctl_cpu"] - a["dut_ctl_cpu"]) / 1e9 / dt if kind == "glbpd"
        else None,
        "gen_cpu": (b["gen_cpu"] - a["gen_cpu"]) / 1e9 / dt,
        "gen_other_cpu": (b["gen_other_cpu"] - a["gen_other_cpu"]) / 1e9 / dt,
        "tx_mpps_per_s": [rate("gen", 0, "opackets", x, y) for x, y in zip(samples, samples[1:])],
        "rx_mpps_per_s": [rate("gen", 1, "ipackets", x, y) for x, y in zip(samples, samples[1:])],
        "seconds": dt,
        "pktgen_threads_idled": idled,
        "pktgen_exit": gen_exit,
    }
    if kind == "glbpd":
        r["glbpd_final"], _ = glbpd_final(dlog)
    return r


# ---------------------------------------------------------------- main


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pktgen", required=True, help="pktgen binary (bench/build-pktgen.sh)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5, help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=2.0,
                    help="seconds between pktgen's first packet and the window")
    ap.add_argument("--pkt", default=PKT, help="base pktgen command file")
    ap.add_argument("--huge", choices=["auto", "yes", "no"], default="auto")
    ap.add_argument("--zero-copy", choices=["auto", "yes", "no"], default="auto",
                    help="pktgen's memif ports in zero-copy mode (needs hugepages)")
    ap.add_argument("--no-testpmd", action="store_true", help="skip the testpmd io row")
    ap.add_argument("--no-port-mac", action="store_true", help="skip glbpd to its port MAC")
    ap.add_argument("--glbpd", default=GLBPD)
    ap.add_argument("--l3fwd", default=os.path.join(
        OUT, "dpdk-examples", "l3fwd", "build", "l3fwd-shared"))
    ap.add_argument("--json", default=os.path.join(OUT, "pktgen-results.json"))
    ap.add_argument("--md", default=os.path.join(OUT, "pktgen-results.md"))
    a = ap.parse_args()

    if a.huge == "auto":
        huge = os.path.ismount("/dev/hugepages") and free_hugepages() >= PKTGEN_HUGEPAGES
    else:
        huge = a.huge == "yes"
    zero_copy = huge if a.zero_copy == "auto" else a.zero_copy == "yes"
    if zero_copy and not huge:
        raise SystemExit("--zero-copy yes needs hugepages")
    # pktgen sends from `start 0` for the length of the following delay:
    # long enough for the warm-up, the window and the sampling overhead.
    a.send_slack = 4
    send_ms = int((a.warmup + a.duration + a.send_slack + 1) * 1000)
    pkts = {}
    for variant, dst in DST.items():
        path = os.path.join(OUT, "pktgen", f"fwd-{variant}.pkt")
        pkts[variant] = {"path": path, "dst_mac": dst,
                         "sha256": command_file(a.pkt, dst, send_ms, path)}

    configs = [("l3fwd-LPM", "l3fwd", "vmac")]
    if not a.no_testpmd:
        configs.append(("testpmd io", "testpmd", "vmac"))
    configs.append(("glbpd, to the VMAC", "glbpd", "vmac"))
    if not a.no_port_mac:
        configs.append(("glbpd, to the port MAC", "glbpd", "port"))
    log(f"pktgen: {a.pktgen}; hugepages: {'yes' if huge else 'no'}; memif zero-copy on the "
        f"pktgen side: {'yes' if zero_copy else 'no'}; {a.reps} repetitions of {len(configs)} "
        f"runs, {a.warmup} s warm-up + {a.duration} s each")
    results = {name: [] for name, _, _ in configs}
    for rep in range(a.reps):
        for name, kind, variant in configs:
            tag = f"r{rep}-{kind}-{variant}"
            r = one_run(kind, pkts[variant]["path"], tag, huge, zero_copy, a)
            results[name].append(r)
            extra = ""
            if r.get("glbpd_final"):
                fin = r["glbpd_final"]
                extra = f"  glbpd forwarded {fin['forwarded']} drops {fin['drops']}"
            log(f"rep {rep + 1} {name:24s} tx {r['tx_mpps']:6.2f}  rx {r['rx_mpps']:6.2f} Mpps  "
                f"loss {100 * (r['loss'] or 0):5.2f} %  DUT cpu {r['dut_cpu']:.2f}  "
                f"gen cpu {r['gen_cpu']:.2f}{extra}")

    base = results["l3fwd-LPM"]
    rows = []
    for name, kind, variant in configs:
        rs = results[name]
        row = {"name": name, "kind": kind, "dst": DST[variant]}
        for key in ("tx_mpps", "rx_mpps", "loss", "dut_cpu", "rx_mpps_cpu", "gen_cpu",
                    "dut_tx_mpps", "dut_control_cpu"):
            row[key] = [r[key] for r in rs]
            row[key + "_median"] = med(row[key])
        for key in ("rx_mpps", "rx_mpps_cpu"):
            rat = [r[key] / b[key] for r, b in zip(rs, base) if b[key] > 0]
            row[key + "_vs_l3fwd"] = rat
            row[key + "_vs_l3fwd_median"] = med(rat)
        # testpmd io does no lookup: its rate is the ceiling of this
        # generator and memif path; a DUT near it is not the bottleneck.
        ceiling = results.get("testpmd io")
        if ceiling:
            row["rx_mpps_vs_testpmd"] = [r["rx_mpps"] / c["rx_mpps"]
                                         for r, c in zip(rs, ceiling) if c["rx_mpps"] > 0]
        row["rx_mpps_vs_testpmd_median"] = med(row.get("rx_mpps_vs_testpmd", []))
        rows.append(row)

    def f(x, d=2):
        return "" if x is None else f"{x:.{d}f}"

    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        f"{date}: pktgen-dpdk over net_memif ({'zero-copy' if zero_copy else 'copy'} on the pktgen "
        f"side), hugepages: {'yes' if huge else 'no'}; {a.reps} reps x {a.duration} s after "
        f"{a.warmup} s warm-up; 64-byte UDP, one forwarding core per DUT. tx: pktgen port 0 "
        "sent, rx: pktgen port 1 received (medians; min-max); loss = 1 - rx/tx; DUT CPU: "
        "share of a CPU the forwarding thread got; ratios per repetition, median (all); "
        "vs testpmd near 1: the DUT kept up with the generator (not saturated).",
        "",
        "| DUT | tx Mpps | rx Mpps (min-max) | loss % | DUT fwd Mpps | DUT CPU | rx Mpps/CPU-s "
        "| vs l3fwd, rx (all) | vs l3fwd, CPU | vs testpmd | pktgen CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        rat = " ".join(f"{x:.2f}" for x in r["rx_mpps_vs_l3fwd"])
        loss = r["loss_median"]
        lines.append(
            f"| {r['name']} | {f(r['tx_mpps_median'])} | {f(r['rx_mpps_median'])} "
            f"({f(min(r['rx_mpps']))}-{f(max(r['rx_mpps']))}) "
            f"| {f(None if loss is None else 100 * loss, 2)} | {f(r['dut_tx_mpps_median'])} "
            f"| {f(r['dut_cpu_median'])} | {f(r['rx_mpps_cpu_median'])} "
            f"| {f(r['rx_mpps_vs_l3fwd_median'])} ({rat}) "
            f"| {f(r['rx_mpps_cpu_vs_l3fwd_median'])} | {f(r['rx_mpps_vs_testpmd_median'])} "
            f"| {f(r['gen_cpu_median'])} |")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    with open(a.md, "w") as fh:
        fh.write(text)
    with open(a.json, "w") as fh:
        json.dump({"date": date,
                   "pktgen": a.pktgen, "huge": huge, "zero_copy": zero_copy,
                   "reps": a.reps, "duration": a.duration, "warmup": a.warmup,
                   "pktgen_lcores": PKTGEN_LCORES, "pktgen_map": PKTGEN_MAP,
                   "command_files": pkts, "rows": rows, "raw": results}, fh, indent=1)
    log(f"results: {a.md}, {a.json}")


def interrupted(signum, _frame):
    # A SIGTERM unwinds like ^C, so every `finally` stops its processes.
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, interrupted)
    main()
