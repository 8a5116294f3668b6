#!/usr/bin/python3
"""glbpd against DPDK l3fwd-LPM and testpmd (io) on the same traffic, in the
same run. See bench/README.md. Started by bench/run.sh (make bench).

Every configuration replays a pcap with net_pcap (infinite_rx=1) into one
forwarding lcore and sends to net_null. Rates come from the ports' counters
read through DPDK telemetry (/ethdev/stats) at the start and the end of a
measurement window, after a warm-up. Each repetition runs every
configuration once, one after another; ratios are taken within a
repetition, then the median over repetitions is reported.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "target", "bench")
GLBPD = os.path.join(ROOT, "target", "release", "glbpd")
GEN = os.path.join(ROOT, "target", "release", "examples", "bench-pcap")
PROBE = os.path.join(ROOT, "target", "release", "examples", "bench-latency")
PORT_MAC = "02:00:00:00:00:01"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- telemetry


def telemetry(prefix, cmd, timeout=2.0):
    """One telemetry command against the process with this file prefix."""
    path = f"/var/run/dpdk/{prefix}/dpdk_telemetry.v2"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.recv(65536)  # the greeting
        s.send(cmd.encode())
        return json.loads(s.recv(1 << 20).decode())
    finally:
        s.close()


def port_stats(prefix, nports):
    out = []
    for p in range(nports):
        r = telemetry(prefix, f"/ethdev/stats,{p}")
        out.append(r["/ethdev/stats"])
    return out


def wait_telemetry(prefix, proc, deadline_s=30.0):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"{prefix}: exited with {proc.returncode} during start-up")
        try:
            port_stats(prefix, 1)
            return
        except (OSError, ValueError, KeyError):
            time.sleep(0.1)
    raise RuntimeError(f"{prefix}: no telemetry after {deadline_s} s")


def busiest_thread(pid):
    """(tid, CPU ns) of the thread of `pid` that has run the most: the
    forwarding lcore of every program measured here."""
    best = (None, -1)
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            ns = thread_cpu_ns(pid, tid)
            if ns > best[1]:
                best = (tid, ns)
    except OSError:
        pass
    return best


def thread_cpu_ns(pid, tid):
    try:
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def mem_kb(pid):
    """(VmRSS, HugetlbPages) of a process, in KiB."""
    rss = huge = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("HugetlbPages:"):
                    huge = int(line.split()[1])
    except OSError:
        pass
    return rss, huge


# ---------------------------------------------------------------- processes


class Run:
    """One measured process: start, warm up, sample, stop, clean up."""

    def __init__(self, name, argv, prefix, env=None, logfile=None):
        self.name, self.argv, self.prefix = name, argv, prefix
        self.env = dict(os.environ, **(env or {}))
        self.logfile = logfile

    def measure(self, warmup, duration, nports=2):
        rundir = f"/var/run/dpdk/{self.prefix}"
        shutil.rmtree(rundir, ignore_errors=True)
        logf = open(self.logfile, "w") if self.logfile else subprocess.DEVNULL
        proc = subprocess.Popen(
            self.argv,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=logf,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_telemetry(self.prefix, proc)
            time.sleep(warmup)
            tid, _ = busiest_thread(proc.pid)
            t0 = time.monotonic()
            c0 = thread_cpu_ns(proc.pid, tid)
            s0 = port_stats(self.prefix, nports)
            time.sleep(duration)
            t1 = time.monotonic()
            c1 = thread_cpu_ns(proc.pid, tid)
            s1 = port_stats(self.prefix, nports)
            rss, huge = mem_kb(proc.pid)
        finally:
            stop(proc)
            if self.logfile:
                logf.close()
            shutil.rmtree(rundir, ignore_errors=True)
        dt = t1 - t0

        def rate(key):
            return [(b[key] - a[key]) / dt / 1e6 for a, b in zip(s0, s1)]

        return {
            "rx_mpps": rate("ipackets"),
            "tx_mpps": rate("opackets"),
            "rx_missed_mpps": rate("imissed"),
            "tx_err_mpps": rate("oerrors"),
            "mpps": sum(rate("opackets")),
            # Packets per CPU-second of the forwarding thread: robust to
            # other processes taking the core away for a while.
            "cpu_share": (c1 - c0) / 1e9 / dt,
            "mpps_cpu": sum(rate("opackets")) * dt / max((c1 - c0) / 1e9, 1e-9),
            "rss_kb": rss,
            "hugetlb_kb": huge,
            "seconds": dt,
            "exit": proc.returncode,
        }


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------- configs


def eal_mem(huge):
    if huge:
        return ["--no-pci"]
    return ["--no-pci", "--no-huge", "-m", "1024", "--no-shconf"]


def vip(k):
    n = (10 << 24) + (64 << 16) + k + 1
    return f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def glbpd_config(path, prefix, pcap, frames, groups, huge, republish_hz=0, devices=None,
                 vlan=None, v6=False):
    args = ", ".join(f'"{a}"' for a in eal_mem(huge))
    lan, up = devices or (f"net_pcap0,rx_pcap={pcap},infinite_rx=1", "net_null0,no-rx=1")
    mbufs = max(8191, frames + 8192)
    # Tagged: the LAN is VLAN `vlan` (or each of a list of VLANs, groups
    # 0..groups on each) of a trunk that carries nothing else.
    vlans = ([vlan] if isinstance(vlan, int) else list(vlan)) if vlan else []
    lan_addr = "" if vlans else 'address = "10.0.0.2/8"\n'
    lan_ifs = [f"lan0.{v}" for v in vlans] or ["lan0"]
    cfg = f"""# generated by bench/run.py
[eal]
args = [{args}]
file_prefix = "{prefix}"
lcores = "0-1"

[dataplane]
workers = 1
burst = 32
idle = "poll"
mbufs = {mbufs}
republish_hz = {republish_hz}

[[port]]
name = "lan0"
device = "{lan}"
{lan_addr}mac = "{PORT_MAC}"

[[port]]
name = "up0"
device = "{up}"
address = "192.0.2.2/24"
mac = "02:00:00:00:00:02"

[[route]]
prefix = "198.18.0.0/16"
via = "192.0.2.1"

[[neighbor]]
port = "up0"
ip = "192.0.2.1"
mac = "02:00:00:00:00:fe"
"""
    for j, v in enumerate(vlans):
        # VLAN 10 has 10.0.0.2/8 (the hosts' subnet); others their own.
        addr = "10.0.0.2/8" if j == 0 else f"172.{16 + j}.0.2/16"
        cfg += f"""
[[vlan]]
port = "lan0"
id = {v}
address = "{addr}"
"""
    if v6:
        # IPv6 groups 512 + k beside the IPv4 ones (bench-pcap's udp6 and
        # ns), the LAN's and the uplink's prefixes, a route to l3fwd's
        # IPv6 destinations through a static neighbour.
        cfg = cfg.replace('mac = "02:00:00:00:00:02"\n',
                          'mac = "02:00:00:00:00:02"\naddress6 = ["2001:db8:ff::2/64"]\n', 1)
        cfg = cfg.replace(f'mac = "{PORT_MAC}"\n',
                          f'mac = "{PORT_MAC}"\naddress6 = ["2001:db8:10::ffff/64"]\n', 1)
        cfg += """
[[route]]
prefix = "2001:200::/32"
via = "2001:db8:ff::1"

[[neighbor]]
port = "up0"
ip = "2001:db8:ff::1"
mac = "02:00:00:00:00:fe"
"""
        for k in range(groups):
            cfg += f"""
[[group]]
port = "lan0"
id = {512 + k}
vip = "autoconfig"
priority = 110
hello_ms = 100
hold_ms = 400
"""
    for j, lan_if in enumerate(lan_ifs):
        for k in range(groups):
            gvip = vip(k) if j == 0 else f"172.{16 + j}.{k >> 8}.{(k & 255) + 1}"
            cfg += f"""
[[group]]
port = "{lan_if}"
id = {k}
vip = "{gvip}"
priority = 110
hello_ms = 100
hold_ms = 400
"""
    with open(path, "w") as f:
        f.write(cfg)


def pcap(kind, hosts, groups, frames=None, dst="vmac", arp_share=0.2, vlan=None):
    vlan = ",".join(map(str, vlan)) if isinstance(vlan, (list, tuple)) else vlan
    # No comma in the file name: it ends up in a --vdev argument.
    name = f"{kind}-h{hosts}-g{groups}-{dst}" + (f"-v{vlan}".replace(",", "+") if vlan else "")
    if kind == "mix":
        name += f"-a{arp_share}"
    if frames:
        name += f"-f{frames}"
    path = os.path.join(OUT, "pcap", name + ".pcap")
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        argv = [GEN, "--out", path, "--kind", kind, "--hosts", str(hosts),
                "--groups", str(groups), "--dst", dst, "--port-mac", PORT_MAC,
                "--arp-share", str(arp_share)] + (["--vlan", str(vlan)] if vlan else [])
        if frames:
            argv += ["--frames", str(frames)]
        subprocess.run(argv, check=True, stdout=sys.stderr)
    n = frames or (1024 if kind in ("udp", "udp6") else hosts)
    return path, n


def l3fwd_run(l3fwd, pcap_path, frames, huge, tag):
    prefix = f"bench-l3fwd-{os.getpid()}"
    # One lcore: l3fwd wants a TX queue per lcore, an rx-only net_pcap has one.
    argv = [l3fwd, "-l", "1", "--file-prefix", prefix, *eal_mem(huge),
            "--vdev", f"net_pcap0,rx_pcap={pcap_path},infinite_rx=1",
            "--vdev", "net_null0,no-rx=1",
            "--", "-p", "0x3", "--config", "(0,0,1),(1,0,1)", "--parse-ptype",
            "--lookup", "lpm", "-P"]
    return Run("l3fwd", argv, prefix, logfile=os.path.join(OUT, "logs", f"{tag}.log"))


# By row kind: the testpmd row that runs the devices alone on the same
# frames.
SAME_FRAMES = {"arp": "testpmd io (ARP frames)", "fwd6": "testpmd io (IPv6 frames)",
               "nd": "testpmd io (NS frames)", "fwd": "testpmd io"}


def testpmd_run(pcap_path, frames, huge, tag):
    prefix = f"bench-testpmd-{os.getpid()}"
    argv = ["dpdk-testpmd", "-l", "0-1", "--file-prefix", prefix, *eal_mem(huge),
            "--vdev", f"net_pcap0,rx_pcap={pcap_path},infinite_rx=1",
            "--vdev", "net_null0,no-rx=1",
            "--", "--forward-mode=io", "--nb-cores=1", "--burst=32",
            f"--total-num-mbufs={max(16384, frames + 16384)}", "--stats-period=0"]
    return Run("testpmd", argv, prefix, logfile=os.path.join(OUT, "logs", f"{tag}.log"))


def glbpd_run(pcap_path, frames, groups, huge, tag, republish_hz=0, binary=GLBPD, vlan=None,
              v6=False):
    prefix = f"bench-glbpd-{os.getpid()}"
    cfgp = os.path.join(OUT, "cfg", f"{tag}.toml")
    os.makedirs(os.path.dirname(cfgp), exist_ok=True)
    glbpd_config(cfgp, prefix, pcap_path, frames, groups, huge, republish_hz, vlan=vlan, v6=v6)
    return Run("glbpd", [binary, "run", "-c", cfgp], prefix,
               env={"RUST_LOG": "info,glbpd::runtime=debug"},
               logfile=os.path.join(OUT, "logs", f"{tag}.log"))


def memif_pair(tag):
    a = f"/run/bench-{os.getpid()}-{tag}-in.sock"
    b = f"/run/bench-{os.getpid()}-{tag}-out.sock"
    return a, b, (f"net_memif0,role=server,socket={a},id=0",
                  f"net_memif1,role=server,socket={b},id=0")


def latency_run(kind, huge, tag, rate, seconds, l3fwd=None):
    """Starts `kind` between two memif server ports and runs the probe
    (memif clients) through it on lcore 0. Returns the probe's JSON."""
    sock_in, sock_out, (dev_in, dev_out) = memif_pair(tag)
    logf = os.path.join(OUT, "logs", f"{tag}.log")
    if kind == "glbpd":
        prefix = f"bench-glbpd-{os.getpid()}"
        cfgp = os.path.join(OUT, "cfg", f"{tag}.toml")
        glbpd_config(cfgp, prefix, None, 0, 1, huge, devices=(dev_in, dev_out))
        argv, env = [GLBPD, "run", "-c", cfgp], {"RUST_LOG": "info,glbpd::runtime=debug"}
    elif kind == "testpmd":
        prefix = f"bench-testpmd-{os.getpid()}"
        argv = ["dpdk-testpmd", "-l", "0-1", "--file-prefix", prefix, *eal_mem(huge),
                "--vdev", dev_in, "--vdev", dev_out, "--",
                "--forward-mode=io", "--nb-cores=1", "--stats-period=0"]
        env = {}
    else:
        prefix = f"bench-l3fwd-{os.getpid()}"
        argv = [l3fwd, "-l", "1", "--file-prefix", prefix, *eal_mem(huge),
                "--vdev", dev_in, "--vdev", dev_out, "--", "-p", "0x3",
                "--config", "(0,0,1),(1,0,1)", "--parse-ptype", "--lookup", "lpm", "-P"]
        env = {}
    rundir = f"/var/run/dpdk/{prefix}"
    shutil.rmtree(rundir, ignore_errors=True)
    with open(logf, "w") as lf:
        proc = subprocess.Popen(argv, env=dict(os.environ, **env), stdin=subprocess.PIPE,
                                stdout=lf, stderr=subprocess.STDOUT)
        pprefix = f"bench-probe-{os.getpid()}"
        try:
            wait_telemetry(prefix, proc)
            time.sleep(0.5)
            pargv = [PROBE, "--in", sock_in, "--out", sock_out, "--rate", str(rate),
                     "--seconds", str(seconds), "--warmup", "1", "--prefix", pprefix,
                     "--lcore", "0", "--dst-mac", PORT_MAC]
            if not huge:
                pargv.append("--no-huge")
            r = subprocess.run(pargv, capture_output=True, text=True, timeout=seconds + 60)
            lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
            if r.returncode != 0 or not lines:
                raise RuntimeError(f"probe failed: {r.stderr[-2000:]}")
            return json.loads(lines[-1])
        finally:
            stop(proc)
            shutil.rmtree(rundir, ignore_errors=True)
            shutil.rmtree(f"/var/run/dpdk/{pprefix}", ignore_errors=True)
            for sck in (sock_in, sock_out):
                try:
                    os.unlink(sck)
                except OSError:
                    pass


def glbpd_final(logfile):
    """glbpd's own counters and control stats from its log (cross-check)."""
    final = control = None
    try:
        with open(logfile) as f:
            for line in f:
                if "final counters: " in line:
                    final = json.loads(line.split("final counters: ", 1)[1])
                elif "control: " in line and "{" in line:
                    control = json.loads(line.split("control: ", 1)[1])
    except (OSError, ValueError):
        pass
    return final, control


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5.0, help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=2.0,
                    help="seconds after start-up before measuring (glbpd needs ~1 s to become AVG)")
    ap.add_argument("--hosts", type=int, default=1024, help="hosts in the ARP and mix pcaps")
    ap.add_argument("--arp-share", type=float, default=0.2, help="share of ARP in the mix")
    ap.add_argument("--huge", choices=["auto", "yes", "no"], default="auto")
    ap.add_argument("--only", default="", help="comma-separated config names to run")
    ap.add_argument("--quick", action="store_true", help="skip the scaling rows")
    ap.add_argument("--l3fwd", default=os.path.join(
        OUT, "dpdk-examples", "l3fwd", "build", "l3fwd-shared"))
    ap.add_argument("--alt", action="append", default=[], metavar="NAME=PATH",
                    help="also run forwarding and ARP with another glbpd binary (A/B)")
    ap.add_argument("--alt-groups", type=int, action="append", default=[],
                    help="with --alt: also run this many groups (repeatable)")
    ap.add_argument("--latency-rate", type=int, default=20000,
                    help="probe frames per second for the latency runs (0: skip latency)")
    ap.add_argument("--json", default=os.path.join(OUT, "results.json"))
    a = ap.parse_args()

    if a.huge == "auto":
        huge = os.path.ismount("/dev/hugepages") and int(
            open("/proc/sys/vm/nr_hugepages").read()) >= 256
    else:
        huge = a.huge == "yes"
    os.makedirs(os.path.join(OUT, "logs"), exist_ok=True)

    udp, n_udp = pcap("udp", 1024, 1)
    udp_port, _ = pcap("udp", 1024, 1, dst="port")
    arp, n_arp = pcap("arp", a.hosts, 1)
    mix, n_mix = pcap("mix", a.hosts, 1, arp_share=a.arp_share)
    udp_tagged, _ = pcap("udp", 1024, 1, vlan=10)
    arp_tagged, _ = pcap("arp", a.hosts, 1, vlan=10)
    udp_mixed, _ = pcap("udp", 1024, 1, vlan=[10, 20])
    udp6, n_udp6 = pcap("udp6", 1024, 1)
    ns, n_ns = pcap("ns", a.hosts, 1)

    # (name, kind, builder) — kind says which baseline the ratio is against.
    configs = [
        ("l3fwd fwd", "base", lambda t: l3fwd_run(a.l3fwd, udp, n_udp, huge, t)),
        ("testpmd io", "base", lambda t: testpmd_run(udp, n_udp, huge, t)),
        # The devices alone on the frames of the ARP, IPv6 and ND rows (86-
        # and 82-byte frames cost the devices more than 60-byte ones): those
        # rows' "vs testpmd" is against these, and their time per packet
        # beyond the devices is tabled.
        ("testpmd io (ARP frames)", "base",
         lambda t: testpmd_run(arp, n_arp, huge, t)),
        ("testpmd io (IPv6 frames)", "base6",
         lambda t: testpmd_run(udp6, n_udp6, huge, t)),
        ("testpmd io (NS frames)", "base6",
         lambda t: testpmd_run(ns, n_ns, huge, t)),
        ("glbpd fwd (VMAC)", "fwd", lambda t: glbpd_run(udp, n_udp, 1, huge, t)),
        ("glbpd fwd (port MAC)", "fwd", lambda t: glbpd_run(udp_port, n_udp, 1, huge, t)),
        (f"glbpd ARP ({a.hosts} hosts)", "arp", lambda t: glbpd_run(arp, n_arp, 1, huge, t)),
        (f"glbpd mix ({int(a.arp_share * 100)}% ARP)", "mix",
         lambda t: glbpd_run(mix, n_mix, 1, huge, t)),
        # The LAN as VLAN 10 of a trunk: tags stripped, the uplink untagged.
        ("glbpd fwd (VMAC, VLAN 10)", "fwd",
         lambda t: glbpd_run(udp_tagged, n_udp, 1, huge, t, vlan=10)),
        (f"glbpd ARP ({a.hosts} hosts, VLAN 10)", "arp",
         lambda t: glbpd_run(arp_tagged, n_arp, 1, huge, t, vlan=10)),
        # Every burst mixes two VLANs (one interface per frame).
        ("glbpd fwd (VMAC, VLANs 10+20)", "fwd",
         lambda t: glbpd_run(udp_mixed, n_udp, 1, huge, t, vlan=[10, 20])),
        ("glbpd fwd, republish 1000/s", "fwd",
         lambda t: glbpd_run(udp, n_udp, 1, huge, t, republish_hz=1000)),
        # IPv6: l3fwd's LPM path on the same IPv6 frames is the baseline.
        ("l3fwd fwd IPv6", "base6", lambda t: l3fwd_run(a.l3fwd, udp6, n_udp6, huge, t)),
        ("glbpd fwd IPv6 (VMAC)", "fwd6",
         lambda t: glbpd_run(udp6, n_udp6, 1, huge, t, v6=True)),
        (f"glbpd ND ({a.hosts} hosts)", "nd",
         lambda t: glbpd_run(ns, n_ns, 1, huge, t, v6=True)),
    ]
    for alt in a.alt:
        an, ap_ = alt.split("=", 1)
        configs.append((f"glbpd fwd (VMAC) [{an}]", "fwd",
                        lambda t, b=ap_: glbpd_run(udp, n_udp, 1, huge, t, binary=b)))
        configs.append((f"glbpd ARP ({a.hosts} hosts) [{an}]", "arp",
                        lambda t, b=ap_: glbpd_run(arp, n_arp, 1, huge, t, binary=b)))
        for g in a.alt_groups:
            p, n = pcap("udp", 1024, g)
            configs.append((f"glbpd fwd, {g} groups [{an}]", "fwd",
                            lambda t, p=p, n=n, g=g, b=ap_: glbpd_run(p, n, g, huge, t, binary=b)))
            p, n = pcap("arp", max(a.hosts, g), g)
            configs.append((f"glbpd ARP, {g} groups [{an}]", "arp",
                            lambda t, p=p, n=n, g=g, b=ap_: glbpd_run(p, n, g, huge, t, binary=b)))
    if not a.quick:
        for g in (64, 1024):
            p, n = pcap("udp", 1024, g)
            configs.append((f"glbpd fwd, {g} groups", "fwd",
                            lambda t, p=p, n=n, g=g: glbpd_run(p, n, g, huge, t)))
            p, n = pcap("arp", max(a.hosts, g), g)
            configs.append((f"glbpd ARP, {g} groups", "arp",
                            lambda t, p=p, n=n, g=g: glbpd_run(p, n, g, huge, t)))
        for h in (10_000, 100_000):
            p, n = pcap("arp", h, 1)
            configs.append((f"glbpd ARP, {h // 1000}k hosts", "arp",
                            lambda t, p=p, n=n: glbpd_run(p, n, 1, huge, t)))
    if a.only:
        keep = [s.strip() for s in a.only.split(",")]
        configs = [c for c in configs if c[1] in ("base", "base6") or any(k in c[0] for k in keep)]

    log(f"hugepages: {'yes' if huge else 'no (--no-huge)'}; {a.reps} repetitions of "
        f"{len(configs)} runs, {a.warmup} s warm-up + {a.duration} s each")
    results = {c[0]: [] for c in configs}
    for rep in range(a.reps):
        for name, _kind, build in configs:
            tag = f"r{rep}-" + "".join(ch if ch.isalnum() else "_" for ch in name)
            run = build(tag)
            r = run.measure(a.warmup, a.duration)
            if run.name == "glbpd":
                r["glbpd_final"], r["glbpd_control"] = glbpd_final(run.logfile)
            results[name].append(r)
            log(f"rep {rep + 1} {name:34s} {r['mpps']:7.2f} Mpps  {r['mpps_cpu']:7.2f} Mpps/CPU-s  "
                f"cpu {r['cpu_share']:.2f}  rx {sum(r['rx_mpps']):6.2f}  "
                f"rss {r['rss_kb'] // 1024} MiB + hugetlb {r['hugetlb_kb'] // 1024} MiB")

    # Ratios within each repetition, then medians.
    rows = []
    for name, kind, _ in configs:
        rs = results[name]
        row = {"name": name, "kind": kind,
               "mpps": [r["mpps"] for r in rs],
               "mpps_cpu": [r["mpps_cpu"] for r in rs],
               "cpu_share": [r["cpu_share"] for r in rs],
               "rss_mib": statistics.median(r["rss_kb"] for r in rs) / 1024,
               "hugetlb_mib": statistics.median(r["hugetlb_kb"] for r in rs) / 1024}
        for key in ("mpps", "mpps_cpu"):
            row[key + "_median"] = statistics.median(row[key])
            bases = ("l3fwd fwd IPv6", SAME_FRAMES.get(kind, "testpmd io")) \
                if kind in ("fwd6", "nd") \
                else ("l3fwd fwd", SAME_FRAMES.get(kind, "testpmd io"))
            if "VLAN" in name:
                # Tagged frames: no baseline of the same frames.
                bases = (bases[0], "testpmd io")
            for base in bases:
                if base in results and name != base:
                    rat = [r[key] / b[key] for r, b in zip(rs, results[base]) if b[key] > 0]
                    short = base.split()[0]
                    row[f"{key}_vs_{short}"] = statistics.median(rat) if rat else None
                    row[f"{key}_vs_{short}_all"] = rat
        dev = SAME_FRAMES.get(kind)
        if dev in results and "VLAN" not in name and name != dev:
            # ns per packet beyond the devices: 1000 / (Mpps per CPU-second)
            # is ns of CPU per packet; the devices' share is testpmd's.
            own = [1000 / r["mpps_cpu"] - 1000 / b["mpps_cpu"]
                   for r, b in zip(rs, results[dev]) if r["mpps_cpu"] > 0 and b["mpps_cpu"] > 0]
            row["ns_beyond_devices"] = statistics.median(own) if own else None
            row["devices"] = dev
        if rs and rs[-1].get("glbpd_control"):
            row["publications_last"] = rs[-1]["glbpd_control"].get("publications")
        rows.append(row)

    def f(x):
        return "" if x is None else f"{x:.2f}"

    print()
    print(f"hugepages: {'yes' if huge else 'no'}; {a.reps} reps x {a.duration} s; one forwarding "
          "core each. Mpps: wall-clock rate from port counters (median, min-max). Mpps/CPU-s: "
          "the same packets per second of CPU the forwarding thread got. Ratios: per-rep, median.")
    print("| configuration | Mpps | min-max | Mpps/CPU-s | vs l3fwd | vs l3fwd (CPU) "
          "| vs testpmd | vs testpmd (CPU) | RSS MiB | hugetlb MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['mpps_median']:.2f} | {min(r['mpps']):.2f}-{max(r['mpps']):.2f} "
              f"| {r['mpps_cpu_median']:.2f} | {f(r.get('mpps_vs_l3fwd'))} "
              f"| {f(r.get('mpps_cpu_vs_l3fwd'))} | {f(r.get('mpps_vs_testpmd'))} "
              f"| {f(r.get('mpps_cpu_vs_testpmd'))} | {r['rss_mib']:.0f} | {r['hugetlb_mib']:.0f} |")
    beyond = [r for r in rows if r.get("ns_beyond_devices") is not None]
    if beyond:
        print()
        print("CPU time per packet beyond the devices: ns of CPU per packet (1000 / Mpps/CPU-s) "
              "less testpmd io's on the same frames (the pcap replay and the null sink), median "
              "over reps")
        print("| configuration | devices (same frames) | ns/packet, devices | "
              "ns/packet beyond them |")
        print("|---|---|---|---|")
        for r in beyond:
            d = statistics.median(x["mpps_cpu"] for x in results[r["devices"]])
            print(f"| {r['name']} | {r['devices']} | {1000 / d:.1f} | "
                  f"{r['ns_beyond_devices']:.1f} |")
    latency = {}
    if a.latency_rate > 0:
        for rep in range(a.reps):
            for kind in ("testpmd", "l3fwd", "glbpd"):
                try:
                    r = latency_run(kind, huge, f"r{rep}-latency-{kind}", a.latency_rate,
                                    a.duration, l3fwd=a.l3fwd)
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    log(f"latency {kind}: {e}")
                    continue
                latency.setdefault(kind, []).append(r)
                ns = r["ns"]
                log(f"rep {rep + 1} latency {kind:8s} p50 {ns['p50'] / 1000:8.1f} us  p99 "
                    f"{ns['p99'] / 1000:8.1f} us  p99.9 {ns['p99.9'] / 1000:8.1f} us  "
                    f"min {ns['min'] / 1000:6.1f} us  lost {r['lost']}/{r['sent']}")
        print()
        print(f"latency through one forwarding core, memif in -> memif out, {a.latency_rate} "
              "probes/s, 64-byte frames; median over reps of each percentile, in us")
        print("| forwarder | min | p50 | p90 | p99 | p99.9 | max | lost |")
        print("|---|---|---|---|---|---|---|---|")
        for kind, rs in latency.items():
            med = {k: statistics.median(r["ns"][k] for r in rs) / 1000
                   for k in ("min", "p50", "p90", "p99", "p99.9", "max")}
            lost = sum(r["lost"] for r in rs)
            sent = sum(r["sent"] for r in rs)
            print(f"| {kind} | {med['min']:.1f} | {med['p50']:.1f} | {med['p90']:.1f} | "
                  f"{med['p99']:.1f} | {med['p99.9']:.1f} | {med['max']:.1f} | {lost}/{sent} |")
    with open(a.json, "w") as f:
        json.dump({"huge": huge, "reps": a.reps, "duration": a.duration,
                   "warmup": a.warmup, "rows": rows, "raw": results,
                   "latency": latency}, f, indent=1)
    log(f"results: {a.json}")


if __name__ == "__main__":
    main()
