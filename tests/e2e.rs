//! End to end: glbpd routers and kernel hosts in network namespaces
//! (`tests/lab`, the crate `glbpd-lab`), real failures, outages measured from the hosts'
//! continuous pings. Needs root. Scenarios run one at a time (a mutex) so
//! that a 2-core machine keeps its timing; each prints its outages and
//! appends them to `target/e2e-outages.txt`.
//!
//! Timing bounds are the protocol's (hold + hello after a crash, one hello
//! for a graceful stop or a hand-back) plus `ALLOWANCE`.

use glbpd_lab::*;
use nix::sys::signal::Signal;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

/// Added to every protocol bound: one ping interval (20 ms), the adaptive
/// idle sleeps of the workers and the control loop (about 1 ms each), and
/// scheduling delays of four processes per router on a shared 2-vCPU VM.
const ALLOWANCE: f64 = 0.15;
const HELLO: f64 = 0.1;
const HOLD: f64 = 0.4;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn glbpd() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_glbpd"))
}

/// Prints a scenario's measurement and appends it to the outages file.
fn record(scenario: &str, what: &str) {
    glbpd_lab::record(Path::new(env!("CARGO_TARGET_TMPDIR")), scenario, what);
}

/// Every GLBP frame captured on the LAN decodes cleanly.
fn assert_capture_clean(lab: &mut Lab, scenario: &str) {
    let (n, bad) = lab.check_capture();
    assert!(n > 10, "{scenario}: only {n} GLBP frames captured");
    assert!(
        bad.is_empty(),
        "{scenario}: tshark flags GLBP frames (number, expert, malformed):\n{}\npcap: {}",
        bad.join("\n"),
        lab.pcap.display()
    );
    record(
        scenario,
        &format!("capture: {n} GLBP frames, all decode cleanly"),
    );
}

/// Hosts resolve the VIP one after the other (so the AVG sees their ARP
/// requests in order) and reach the server; returns each host's VMAC.
fn resolve_all(lab: &mut Lab, hosts: std::ops::Range<usize>) -> Vec<String> {
    hosts
        .map(|h| {
            assert!(
                lab.host_ping(h, TRIES),
                "host {} cannot reach the server\n{}",
                h + 1,
                lab.describe()
            );
            lab.host_vmac(h)
                .unwrap_or_else(|| panic!("host {} has no ARP entry for the VIP", h + 1))
        })
        .collect()
}

fn count(vmacs: &[String], v: &str) -> usize {
    vmacs.iter().filter(|x| *x == v).count()
}

/// Converges a lab, has every host resolve and reach the server, checks a
/// UDP stream, and returns the hosts' VMACs.
fn converge(lab: &mut Lab, scenario: &str) -> Vec<String> {
    lab.wait_converged(Duration::from_secs(15));
    assert_eq!(
        lab.avgs(),
        vec![0],
        "the highest priority is AVG\n{}",
        lab.describe()
    );
    let hosts = lab.spec.hosts;
    let vmacs = resolve_all(lab, 0..hosts);
    for h in 0..hosts {
        let got = lab.host_udp(h, 50);
        assert_eq!(got, 50, "host {}: UDP echoes from the server", h + 1);
    }
    record(
        scenario,
        &format!("hosts' VMACs {vmacs:?}; ping and 50/50 UDP echoes per host"),
    );
    vmacs
}

/// Each VMAC is in as many hosts' caches as `want(router holding it)`.
fn assert_spread(lab: &mut Lab, vmacs: &[String], policy: &str, want: impl Fn(usize) -> usize) {
    let h = lab.holders();
    for (v, rs) in &h {
        assert_eq!(
            count(vmacs, v),
            want(rs[0]),
            "{policy} spread {vmacs:?} over {h:?}; ARP for the VIP:\n{}",
            lab.arp_log()
        );
    }
}

#[test]
fn convergence_round_robin() {
    let _g = serial();
    let mut lab = Lab::start(glbpd(), LabSpec::new("e2e", "rr", 3, 6));
    let vmacs = converge(&mut lab, "convergence round-robin");
    assert_eq!(lab.with_state("Standby"), vec![1], "{}", lab.describe());
    assert_eq!(lab.with_state("Listen"), vec![2], "{}", lab.describe());
    // Three forwarders, six hosts asking in turn: two hosts each.
    let h = lab.holders();
    assert_eq!(h.len(), 3, "{h:?}");
    assert_spread(&mut lab, &vmacs, "round-robin", |_| 2);
    assert_capture_clean(&mut lab, "convergence round-robin");
}

#[test]
fn convergence_weighted() {
    let _g = serial();
    let mut spec = LabSpec::new("e2e", "wt", 3, 8);
    spec.load_balancing = "weighted".into();
    spec.routers[1].weight = 50;
    spec.routers[2].weight = 50;
    let mut lab = Lab::start(glbpd(), spec);
    let vmacs = converge(&mut lab, "convergence weighted");
    // Weights 100:50:50 over 8 hosts (two full cycles): 4, 2, 2.
    assert_spread(&mut lab, &vmacs, "weighted", |r| if r == 0 { 4 } else { 2 });
    assert_capture_clean(&mut lab, "convergence weighted");
}

#[test]
fn convergence_host_dependent() {
    let _g = serial();
    let mut spec = LabSpec::new("e2e", "hd", 3, 6);
    spec.load_balancing = "host-dependent".into();
    let mut lab = Lab::start(glbpd(), spec);
    let vmacs = converge(&mut lab, "convergence host-dependent");
    // The AVG's choice is the highest-random-weight forwarder for the
    // host's MAC; the same host gets the same VMAC again.
    let numbers: Vec<u8> = lab
        .holders()
        .keys()
        .map(|v| u8::from_str_radix(&v[15..], 16).unwrap())
        .collect();
    for (h, got) in vmacs.iter().enumerate() {
        let mac: glbpd::wire::MacAddr = Lab::host_mac(h).parse().expect("mac");
        let want = numbers
            .iter()
            .max_by_key(|&&n| glbpd::protocol::lb::hrw_score(mac, n))
            .copied()
            .unwrap();
        assert_eq!(*got, vmac(want), "host {}", h + 1);
        lab.host_forget(h);
        assert!(lab.host_ping(h, TRIES));
        assert_eq!(lab.host_vmac(h).as_ref(), Some(got), "host {} again", h + 1);
    }
    assert_capture_clean(&mut lab, "convergence host-dependent");
}

/// Starts a continuous ping on every host and waits until it flows.
fn pingers(lab: &Lab, hosts: std::ops::Range<usize>) -> Vec<Pinger> {
    let p: Vec<Pinger> = hosts.map(|h| lab.pinger(h)).collect();
    lab.wait_flowing(&p, 1.0, Duration::from_secs(10));
    p
}

/// Records and bounds each pinger's outage in `[from, to]`.
/// `event` is the failure's time: gap starts are printed relative to it.
fn outages(
    scenario: &str,
    ps: &[Pinger],
    vmacs: &[String],
    (event, from, to): (f64, f64, f64),
    bound: f64,
) {
    let mut worst = 0.0f64;
    let mut parts = Vec::new();
    for p in ps {
        let (at, o) = p.worst_gap(from, to);
        worst = worst.max(o);
        parts.push(format!(
            "h{} ({}) {:.0} ms at {:+.0}",
            p.host + 1,
            &vmacs[p.host][15..],
            o * 1000.0,
            (at - event) * 1000.0
        ));
    }
    record(
        scenario,
        &format!(
            "outage per host: {}; worst {:.0} ms, bound {:.0} ms",
            parts.join(", "),
            worst * 1000.0,
            bound * 1000.0
        ),
    );
    for p in ps {
        let o = p.outage(from, to);
        assert!(
            o <= bound,
            "{scenario}: host {} lost {:.0} ms > {:.0} ms",
            p.host + 1,
            o * 1000.0,
            bound * 1000.0
        );
    }
}

/// A forwarder taken over after its owner was killed.
struct Takeover {
    /// When the owner was killed.
    killed: f64,
    /// When the new holder started forwarding.
    took: f64,
    vmac: String,
    /// The router that forwards it now.
    by: usize,
}

/// Kills router `victim` with SIGKILL and waits until exactly one other
/// router forwards its VMAC.
fn kill_and_takeover(lab: &mut Lab, victim: usize) -> Takeover {
    let vmac = lab.routers[victim].forwarding()[0].clone();
    let killed = lab.signal_router(victim, Signal::SIGKILL);
    // When two survivors' takeover timers fire together, both forward for
    // a moment and the lower address yields (GLBP's collision rule): the
    // holder is the one that still holds it two hellos later.
    let (mut seen, mut since) = (None, now());
    let ok = wait_for(Duration::from_secs(5), || {
        let one = lab
            .holders()
            .get(&vmac)
            .and_then(|v| (v.len() == 1).then(|| v[0]));
        if one != seen {
            (seen, since) = (one, now());
        }
        seen.is_some() && now() - since >= 2.0 * HELLO
    });
    assert!(ok, "nobody took {vmac} over\n{}", lab.describe());
    let by = seen.expect("a holder");
    let took = lab.routers[by]
        .logged_at(&format!("forwarding for {vmac}"), killed)
        .expect("takeover logged");
    Takeover {
        killed,
        took,
        vmac,
        by,
    }
}

/// Three routers, r3 a plain AVF (neither AVG nor standby) that is killed:
/// a survivor takes its VMAC over; two survivors, so nobody is a lone
/// survivor sending a gratuitous ARP that would move the hosts.
#[test]
fn avf_crash() {
    let _g = serial();
    let s = "AVF crash (kill -9)";
    let mut lab = Lab::start(glbpd(), LabSpec::new("e2e", "avf", 3, 6));
    let vmacs = converge(&mut lab, s);
    lab.return_via(0);
    let dead = lab.routers[2].forwarding()[0].clone();
    let victims: Vec<usize> = (0..6).filter(|&h| vmacs[h] == dead).collect();
    assert_eq!(victims.len(), 2, "two hosts use r3: {vmacs:?}");
    let ps = pingers(&lab, 0..6);
    let Takeover {
        killed: t0,
        took,
        by: new,
        ..
    } = kill_and_takeover(&mut lab, 2);
    lab.wait_flowing(&ps, 1.0, Duration::from_secs(5));
    let t1 = now();
    record(
        s,
        &format!(
            "r{} took {dead} over {:.0} ms after the kill",
            new + 1,
            (took - t0) * 1000.0
        ),
    );
    outages(s, &ps, &vmacs, (t0, t0 - 0.2, t1), HOLD + HELLO + ALLOWANCE);
    // The hosts did not re-ARP: they still send to the dead router's VMAC.
    for &h in &victims {
        assert_eq!(lab.host_vmac(h).as_ref(), Some(&dead), "host {}", h + 1);
    }
    drop(ps);
    // The new holder announces the VMAC as Ethernet source, owner ID its own.
    let owner = lab.routers[new].mac.clone();
    lab.check_capture();
    let from_vmac = lab
        .glbp_frames()
        .iter()
        .filter(|f| f.time > t0 && f.eth_src == dead && f.owner == owner && f.hello)
        .count();
    assert!(
        from_vmac >= 3,
        "r{} sent {from_vmac} hellos from {dead} after the kill",
        new + 1
    );
    record(
        s,
        &format!(
            "{from_vmac} hellos from {dead} by r{} after the kill",
            new + 1
        ),
    );
    assert_capture_clean(&mut lab, s);
}

#[test]
fn avg_crash() {
    let _g = serial();
    let s = "AVG crash (kill -9)";
    let mut lab = Lab::start(glbpd(), LabSpec::new("e2e", "avg", 3, 4));
    // Hosts 1..3 resolve now; host 4 is new after the crash.
    lab.wait_converged(Duration::from_secs(15));
    let vmacs = resolve_all(&mut lab, 0..3);
    lab.return_via(2);
    let ps = pingers(&lab, 0..3);
    let t0 = lab.signal_router(0, Signal::SIGKILL);
    let ok = wait_for(Duration::from_secs(5), || {
        lab.avgs() == vec![1] && lab.holders().len() == 3 && lab.with_state("Standby") == vec![2]
    });
    assert!(
        ok,
        "r2 did not become AVG with r3 standby\n{}",
        lab.describe()
    );
    let avg_at = lab.routers[1]
        .logged_at("state Standby -> Active", t0)
        .unwrap();
    lab.wait_flowing(&ps, 1.0, Duration::from_secs(5));
    let t1 = now();
    record(
        s,
        &format!("r2 AVG {:.0} ms after the kill", (avg_at - t0) * 1000.0),
    );
    outages(s, &ps, &vmacs, (t0, t0 - 0.2, t1), HOLD + HELLO + ALLOWANCE);
    // A new host gets an answer from the new AVG and reaches the server.
    assert_eq!(lab.host_vmac(3), None);
    assert!(
        lab.host_ping(3, TRIES),
        "new host cannot reach the server\n{}",
        lab.describe()
    );
    let got = lab.host_vmac(3).expect("new host resolved the VIP");
    assert!(lab.holders().contains_key(&got), "new host got {got}");
    record(
        s,
        &format!("new host resolved the VIP to {got} from the new AVG"),
    );
    drop(ps);
    assert_capture_clean(&mut lab, s);
}

#[test]
fn graceful_stop() {
    let _g = serial();
    let s = "graceful stop (SIGTERM of the AVG)";
    let mut lab = Lab::start(glbpd(), LabSpec::new("e2e", "term", 2, 4));
    let vmacs = converge(&mut lab, s);
    lab.return_via(1);
    let ps = pingers(&lab, 0..4);
    let own = lab.routers[0].forwarding()[0].clone();
    let t0 = lab.signal_router(0, Signal::SIGTERM);
    let ok = wait_for(Duration::from_secs(5), || {
        lab.avgs() == vec![1] && lab.routers[1].forwarding().contains(&own)
    });
    assert!(ok, "r2 did not take over\n{}", lab.describe());
    let took = lab.routers[1]
        .logged_at(&format!("forwarding for {own}"), t0)
        .unwrap();
    // A resignation hands over at once, not after hold.
    assert!(
        took - t0 < HOLD,
        "r2 took {own} {:.0} ms after SIGTERM: waited for hold",
        (took - t0) * 1000.0
    );
    lab.wait_flowing(&ps, 1.0, Duration::from_secs(5));
    let t1 = now();
    record(
        s,
        &format!("r2 took {own} {:.0} ms after SIGTERM", (took - t0) * 1000.0),
    );
    outages(s, &ps, &vmacs, (t0, t0 - 0.2, t1), HELLO + ALLOWANCE);
    drop(ps);
    assert_capture_clean(&mut lab, s);
}

#[test]
fn restart_within_redirect() {
    let _g = serial();
    let s = "restart within redirect";
    let mut spec = LabSpec::new("e2e", "rst", 2, 4);
    spec.redirect_s = 20;
    spec.timeout_s = 40;
    let mut lab = Lab::start(glbpd(), spec);
    let vmacs = converge(&mut lab, s);
    lab.return_via(0);
    let ps = pingers(&lab, 0..4);
    let Takeover { vmac: own, by, .. } = kill_and_takeover(&mut lab, 1);
    assert_eq!(by, 0);
    lab.wait_flowing(&ps, 0.5, Duration::from_secs(5));
    // r2 comes back and reclaims its VMAC after the preempt delay (2 s).
    let t0 = now();
    lab.start_router(1);
    let ok = wait_for(Duration::from_secs(10), || {
        lab.routers[1].forwarding() == vec![own.clone()]
            && !lab.routers[0].forwarding().contains(&own)
    });
    assert!(ok, "r2 did not get {own} back\n{}", lab.describe());
    let back = lab.routers[1]
        .logged_at(&format!("forwarding for {own}"), t0)
        .unwrap();
    let delay = back - t0;
    assert!(
        (2.0..=2.0 + HOLD + 1.0).contains(&delay),
        "r2 reclaimed {own} {delay:.2} s after restart (preempt delay 2 s)"
    );
    assert_eq!(
        lab.avgs(),
        vec![0],
        "the AVG did not change\n{}",
        lab.describe()
    );
    lab.wait_flowing(&ps, 1.0, Duration::from_secs(5));
    let t1 = now();
    record(
        s,
        &format!("r2 reclaimed {own} {:.2} s after restarting", delay),
    );
    outages(
        &format!("{s}, hand-back"),
        &ps,
        &vmacs,
        (back, t0, t1),
        HELLO + ALLOWANCE,
    );
    drop(ps);
    assert_capture_clean(&mut lab, s);
}

/// Three routers; r3 (a plain AVF) dies and stays dead. Redirect 4 s,
/// timeout 14 s; the hosts re-validate their gateway every ~2-3 s (Linux's
/// mechanism with `HostTimers::FAST`). Within redirect the secondary
/// answers the victim's unicast probes with the dead VMAC, so it stays;
/// past redirect it stays silent, so the victim's entry fails while its
/// traffic still flows through the secondary, and the victim re-resolves
/// to a surviving VMAC before the timeout deletes the dead one.
#[test]
fn redirect_and_timeout_expiry() {
    let _g = serial();
    let s = "redirect and timeout expiry";
    let mut spec = LabSpec::new("e2e", "rto", 3, 5);
    spec.redirect_s = 4;
    spec.timeout_s = 14;
    spec.host_timers = HostTimers::FAST;
    let mut lab = Lab::start(glbpd(), spec);
    // Hosts 1..3 resolve (one per VMAC); hosts 4, 5 are new hosts later.
    lab.wait_converged(Duration::from_secs(15));
    let vmacs = resolve_all(&mut lab, 0..3);
    lab.return_via(0);
    let dead = lab.routers[2].forwarding()[0].clone();
    let victim = vmacs
        .iter()
        .position(|v| *v == dead)
        .expect("a host uses r3");
    let ps = pingers(&lab, 0..3);
    let Takeover {
        killed: t0,
        by: new,
        ..
    } = kill_and_takeover(&mut lab, 2);
    // Within redirect the AVG still hands the dead VMAC out (round-robin
    // over all three), so new hosts get it too.
    let early: Vec<String> = (0..3).filter_map(|_| lab.host_resolve(3)).collect();
    assert!(now() - t0 < 4.0, "too slow to sample within redirect");
    assert!(early.contains(&dead), "within redirect: {early:?}");
    assert_eq!(
        lab.host_vmac(victim).as_ref(),
        Some(&dead),
        "the victim left the dead VMAC within redirect"
    );
    // After redirect: nobody new gets it.
    let redirect_end = t0 + 4.0 + HOLD + ALLOWANCE;
    std::thread::sleep(Duration::from_secs_f64((redirect_end - now()).max(0.0)));
    let late: Vec<String> = (0..4).filter_map(|_| lab.host_resolve(4)).collect();
    assert!(now() < t0 + 8.0, "too slow to sample well before timeout");
    assert_eq!(late.len(), 4, "after redirect: {late:?}");
    assert!(!late.contains(&dead), "after redirect: {late:?}");
    record(
        s,
        &format!("within redirect new hosts got {early:?}; after it {late:?}"),
    );
    // The victim's next re-validation goes unanswered; it re-resolves to
    // a surviving VMAC while the secondary still forwards the dead one.
    let ok = wait_for(Duration::from_secs_f64(t0 + 14.0 - now()), || {
        lab.host_vmac(victim)
            .is_some_and(|v| v != dead && lab.holders().contains_key(&v))
    });
    let moved = now();
    assert!(
        ok,
        "the victim kept {:?} until the timeout\n{}",
        lab.host_vmac(victim),
        lab.describe()
    );
    let ok = wait_for(Duration::from_secs(12), || {
        !lab.holders().contains_key(&dead)
    });
    assert!(ok, "{dead} never timed out\n{}", lab.describe());
    let gone = lab.routers[new]
        .logged_at(&format!("no longer forwarding for {dead}"), t0)
        .unwrap();
    assert!(
        (14.0 - HOLD - 0.5..=14.0 + 1.0).contains(&(gone - t0)),
        "{dead} removed {:.2} s after the kill (timeout 14 s)",
        gone - t0
    );
    assert!(moved < gone, "the victim moved only after the deletion");
    lab.wait_flowing(&ps, 0.5, Duration::from_secs(5));
    let t1 = now();
    // From the takeover on, the victim loses nothing: not while the
    // secondary forwards, not while it re-resolves, not at the deletion.
    let lost = ps[victim].outage(t0 + HOLD + HELLO + ALLOWANCE + 0.1, t1);
    assert!(
        lost <= ALLOWANCE,
        "victim lost {lost:.3} s after the takeover"
    );
    record(
        s,
        &format!(
            "the victim moved to {} {:.2} s after the kill, {dead} deleted {:.2} s after it; \
             the victim lost {:.0} ms after the takeover",
            lab.host_vmac(victim).unwrap_or_default(),
            moved - t0,
            gone - t0,
            lost * 1000.0
        ),
    );
    drop(ps);
    // Gone everywhere: no GLBP frame advertises or is sourced from it.
    lab.check_capture();
    let late_frames = lab
        .glbp_frames()
        .into_iter()
        .filter(|f| f.time > gone + HOLD && (f.eth_src == dead || f.vmacs.contains(&dead)))
        .count();
    assert_eq!(late_frames, 0, "{dead} still on the wire after timeout");
    assert_capture_clean(&mut lab, s);
}

#[test]
fn partition_and_heal() {
    let _g = serial();
    let s = "partition and heal";
    let mut lab = Lab::start(glbpd(), LabSpec::new("e2e", "part", 2, 2));
    converge(&mut lab, s);
    lab.lan_link(1, false);
    let ok = wait_for(Duration::from_secs(5), || {
        lab.avgs() == vec![0, 1] && lab.holders().values().all(|v| v.len() == 2)
    });
    assert!(
        ok,
        "partitioned routers did not both go active\n{}",
        lab.describe()
    );
    let t0 = now();
    lab.lan_link(1, true);
    // Within hold + hello (plus allowance) of the heal: one AVG, and no
    // VMAC forwarded twice; and it stays so.
    let ok = wait_for(Duration::from_secs_f64(HOLD + HELLO + ALLOWANCE), || {
        lab.avgs().len() == 1 && lab.holders().values().all(|v| v.len() == 1)
    });
    let healed = now() - t0;
    assert!(ok, "not healed within hold + hello\n{}", lab.describe());
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            lab.avgs().len() == 1 && lab.holders().values().all(|v| v.len() == 1),
            "flapped after heal\n{}",
            lab.describe()
        );
    }
    assert_eq!(lab.holders().len(), 2, "{}", lab.describe());
    record(
        s,
        &format!(
            "single AVG and single forwarder per VMAC {:.0} ms after the heal",
            healed * 1000.0
        ),
    );
    for h in 0..2 {
        assert!(lab.host_ping(h, TRIES), "host {} after heal", h + 1);
    }
    assert_capture_clean(&mut lab, s);
}

#[test]
fn authentication_mismatch() {
    let _g = serial();
    let s = "authentication mismatch";
    let mut spec = LabSpec::new("e2e", "auth", 3, 2);
    for r in &mut spec.routers {
        r.md5 = Some("right-key".into());
    }
    spec.routers[2].md5 = Some("wrong-key".into());
    spec.start = vec![0, 1];
    let mut lab = Lab::start(glbpd(), spec);
    let vmacs = converge(&mut lab, s);
    lab.return_via(0);
    let ps = pingers(&lab, 0..2);
    let before: Vec<usize> = lab.routers.iter().map(|r| r.lines().len()).collect();
    let t0 = now();
    lab.start_router(2);
    let ok = wait_for(Duration::from_secs(10), || {
        lab.routers[..2].iter().all(|r| {
            r.control()
                .and_then(|c| c["glbp_auth_failed"].as_u64())
                .is_some_and(|n| n >= 10)
        })
    });
    assert!(ok, "r1 and r2 do not count r3's bad hellos");
    assert!(lab.routers[0].logged_at("%GLBP-4-BADAUTH", t0).is_some());
    lab.wait_flowing(&ps, 1.0, Duration::from_secs(5));
    let t1 = now();
    // The group did not move. (r3 itself, hearing no valid hello, makes
    // itself AVG and claims forwarder 1, the same VMAC as r1's, as IOS
    // does; the record shows it. Hosts still reach the server since r3
    // routes too.)
    for (i, (r, &from)) in lab.routers.iter().zip(&before).take(2).enumerate() {
        let changes: Vec<String> = r.lines()[from..]
            .iter()
            .filter(|(_, l)| l.contains("STATECHANGE"))
            .map(|(_, l)| l.clone())
            .collect();
        assert!(changes.is_empty(), "r{} changed state: {changes:?}", i + 1);
    }
    assert_eq!(lab.avgs().iter().filter(|&&i| i < 2).count(), 1);
    let n: Vec<u64> = lab.routers[..2]
        .iter()
        .map(|r| r.control().unwrap()["glbp_auth_failed"].as_u64().unwrap())
        .collect();
    record(
        s,
        &format!(
            "r3 (wrong key) counted as glbp_auth_failed {n:?} by r1, r2; r3 itself: \
             gateway {}, forwarders {:?}; VMAC holders {:?}",
            lab.routers[2].vg_state(),
            lab.routers[2].vf_states(),
            lab.holders()
        ),
    );
    outages(s, &ps, &vmacs, (t0, t0, t1), HOLD + HELLO + ALLOWANCE);
    drop(ps);
    assert_capture_clean(&mut lab, s);
}

/// Every router tracks its uplink's link and the upstream server's
/// reachability (ARP, every 100 ms, down after 3 misses), each worth 60 of
/// a weight of 100 with thresholds 50/90.
fn tracking_spec(tag: &str, probe: &str) -> LabSpec {
    let mut spec = LabSpec::new("e2e", tag, 3, 6);
    spec.thresholds = Some((50, 90));
    spec.lan_group_extra = format!(
        "[[group.track]]\nport = \"up0\"\ndecrement = 60\n\
         [[group.track]]\nneighbor = \"{SERVER}\"\nprobe = \"{probe}\"\ninterval_ms = 100\ndown_after = 3\nup_after = 3\ndecrement = 60\n"
    );
    spec
}

/// The last `n` lines of `text` that are not debug counters.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.contains(" DEBUG ")).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The weight `show` reports for router `r`.
fn weight(lab: &Lab, r: usize) -> u64 {
    let out = Command::new(glbpd())
        .args(["show", "--json", "--prefix", &lab.routers[r].ns])
        .output()
        .expect("glbpd show");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v["groups"][0]["weight"].as_u64().unwrap_or(u64::MAX)
}

/// A failure of router `victim`'s way out (`fail`), then its repair
/// (`repair`): while it lasts, the hosts on its VMAC lose at most
/// `bound` and keep their VMAC, which another router forwards; after the
/// repair the owner reclaims its VMAC after the forwarder preempt delay,
/// with no loss beyond one hello.
fn uplink_failure(
    s: &str,
    spec: LabSpec,
    victim: usize,
    bound: f64,
    fail: impl Fn(&Lab),
    repair: impl Fn(&Lab),
) {
    let mut lab = Lab::start(glbpd(), spec);
    let vmacs = converge(&mut lab, s);
    // Replies come back through a router whose uplink stays.
    lab.return_via(2);
    let own = lab.routers[victim].forwarding()[0].clone();
    let victims: Vec<usize> = (0..6).filter(|&h| vmacs[h] == own).collect();
    assert!(!victims.is_empty(), "hosts on r{}: {vmacs:?}", victim + 1);
    assert_eq!(weight(&lab, victim), 100);
    let ps = pingers(&lab, 0..6);
    let t0 = now();
    fail(&lab);
    // The others take the VMAC over and the hosts' traffic flows again.
    assert!(
        wait_for(Duration::from_secs(5), || {
            let h = lab.holders();
            h.get(&own)
                .is_some_and(|rs| rs.len() == 1 && rs[0] != victim)
        }),
        "{own} taken over after r{}'s uplink failed\n{}\nr{} log:\n{}",
        victim + 1,
        lab.describe(),
        victim + 1,
        tail(&lab.routers[victim].log_text(), 40)
    );
    let took = now();
    lab.wait_flowing(&ps, 1.0, Duration::from_secs(5));
    let t1 = now();
    record(
        s,
        &format!(
            "{own} handed over {:.0} ms after the failure; r{} weight {}",
            (took - t0) * 1000.0,
            victim + 1,
            weight(&lab, victim)
        ),
    );
    assert!(weight(&lab, victim) < 50, "below the lower threshold");
    let text = Command::new(glbpd())
        .args(["show", "--prefix", &lab.routers[victim].ns])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("Track object")
                && l.contains("state Down decrement 60")),
        "show lists the tracked object that is down:\n{text}"
    );
    assert!(
        lab.routers[victim].log_text().contains("%TRACK-6-STATE"),
        "the tracked object's change is logged"
    );
    outages(s, &ps, &vmacs, (t0, t0 - 0.2, t1), bound);
    for &h in &victims {
        assert_eq!(lab.host_vmac(h).as_ref(), Some(&own), "host {}", h + 1);
    }
    drop(ps);

    // Repaired: the weight comes back above upper and the owner reclaims
    // its VMAC after the 2 s forwarder preempt delay.
    let ps = pingers(&lab, 0..6);
    let t2 = now();
    repair(&lab);
    assert!(
        wait_for(Duration::from_secs(10), || {
            lab.holders().get(&own) == Some(&vec![victim])
        }),
        "r{} reclaims {own}\n{}",
        victim + 1,
        lab.describe()
    );
    let back = now();
    assert!(
        back - t2 >= 2.0,
        "not before the preempt delay ({:.2} s)",
        back - t2
    );
    lab.wait_flowing(&ps, 1.0, Duration::from_secs(5));
    record(
        s,
        &format!(
            "r{} reclaimed {own} {:.2} s after the repair",
            victim + 1,
            back - t2
        ),
    );
    outages(
        &format!("{s}, repair"),
        &ps,
        &vmacs,
        (t2, t2, now()),
        HELLO + ALLOWANCE,
    );
    drop(ps);
    assert_capture_clean(&mut lab, s);
}

#[test]
fn tracked_uplink_link_down() {
    let _g = serial();
    // Detection: the 100 ms link poll; then an immediate hand-over.
    uplink_failure(
        "uplink link down (tracked)",
        tracking_spec("trk-link", "arp"),
        0,
        0.1 + HELLO + ALLOWANCE,
        |lab| lab.uplink_carrier(0, false),
        |lab| lab.uplink_carrier(0, true),
    );
}

#[test]
fn tracked_next_hop_unreachable() {
    let _g = serial();
    // Detection: three unanswered probes 100 ms apart, plus up to one
    // interval for the first of them.
    uplink_failure(
        "next hop unreachable (tracked)",
        tracking_spec("trk-nh", "arp"),
        1,
        0.4 + HELLO + ALLOWANCE,
        |lab| lab.uplink_attached(1, false),
        |lab| lab.uplink_attached(1, true),
    );
}

#[test]
fn tracked_next_hop_unreachable_by_icmp() {
    let _g = serial();
    // The same with ICMP echo probes (the server's MAC resolved by ARP).
    uplink_failure(
        "next hop unreachable, ICMP probes (tracked)",
        tracking_spec("trk-icmp", "icmp"),
        1,
        0.4 + HELLO + ALLOWANCE,
        |lab| lab.uplink_attached(1, false),
        |lab| lab.uplink_attached(1, true),
    );
}

/// Issue 13, finding 1: hosts with Linux's re-validation running every
/// ~2 s (base_reachable_time 2 s, delay_first_probe_time 1 s: the default
/// mechanism, only faster) keep their gateway for 30 s of traffic. Their
/// unicast ARP probes to the VMAC they hold are answered by its forwarder
/// with that VMAC (before: the AVG round-robined them, the others stayed
/// silent; 6 hosts changed gateway 17 times in 30 s).
#[test]
fn revalidating_hosts_keep_their_gateway() {
    let _g = serial();
    let s = "re-validation every ~2 s";
    let mut spec = LabSpec::new("e2e", "reval", 3, 6);
    spec.host_timers = HostTimers::FAST;
    let mut lab = Lab::start(glbpd(), spec);
    let vmacs = converge(&mut lab, s);
    assert_spread(&mut lab, &vmacs, "round-robin", |_| 2);
    let ps = pingers(&lab, 0..6);
    let t0 = now();
    let mut last = vmacs.clone();
    let mut changes = vec![0usize; 6];
    while now() < t0 + 30.0 {
        for (h, prev) in last.iter_mut().enumerate() {
            // An entry in PROBE or FAILED shows no lladdr for a moment.
            if let Some(v) = lab.host_vmac(h) {
                if &v != prev {
                    changes[h] += 1;
                    *prev = v;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let t1 = now();
    let total: usize = changes.iter().sum();
    record(
        s,
        &format!(
            "{total} gateway changes in {:.0} s over 6 hosts ({:.2} per host per minute); per host {changes:?}",
            t1 - t0,
            total as f64 / 6.0 / ((t1 - t0) / 60.0)
        ),
    );
    assert_eq!(total, 0, "hosts changed gateway: {changes:?}; now {last:?}");
    assert_spread(&mut lab, &last, "round-robin", |_| 2);
    // The hosts did re-validate: unicast ARP requests for the VIP to the
    // VMAC each holds, answered (every ~3 s per host: 2 s x [0.5, 1.5]
    // reachable, 1 s delay).
    let pcap = lab.pcap.to_string_lossy().into_owned();
    let probes = sh(&format!(
        "tshark -r {pcap} -Y arp.opcode==1&&arp.dst.proto_ipv4=={VIP}&&eth.dst[0]==00 \
         -T fields -e frame.time_epoch"
    ))
    .lines()
    .filter_map(|l| l.trim().parse::<f64>().ok())
    .filter(|t| *t >= t0 && *t <= t1)
    .count();
    record(
        s,
        &format!("{probes} unicast re-validation requests in the window"),
    );
    assert!(
        probes >= 6 * 5,
        "only {probes} unicast ARP probes for the VIP in 30 s: is re-validation running?"
    );
    for p in &ps {
        let (at, gap) = p.worst_gap(t0, t1);
        assert!(
            gap <= HELLO + ALLOWANCE,
            "host {} lost {:.0} ms at {at:.1} during re-validation",
            p.host + 1,
            gap * 1000.0
        );
    }
    drop(ps);
    assert_capture_clean(&mut lab, s);
}

/// Issue 13, finding 3: every router stalls at once (SIGSTOP of each
/// whole glbpd, SIGCONT after hold + 300 ms), as on a starved machine.
/// Every router then misses hellos for longer than hold, but none has been
/// alone for a further hold, so nobody sends a gratuitous ARP, and the
/// hosts keep the gateways they had (before: every router declared itself
/// a lone survivor and their gratuitous ARPs herded all hosts onto one
/// VMAC).
#[test]
fn stall_of_every_router() {
    let _g = serial();
    let s = "stall of every router (SIGSTOP, hold + 300 ms)";
    let mut lab = Lab::start(glbpd(), LabSpec::new("e2e", "stall", 3, 6));
    let vmacs = converge(&mut lab, s);
    assert_spread(&mut lab, &vmacs, "round-robin", |_| 2);
    lab.return_via(0);
    let ps = pingers(&lab, 0..6);
    let all = [0, 1, 2];
    let t0 = lab.pause_routers(&all, true);
    std::thread::sleep(Duration::from_secs_f64(HOLD + 0.3));
    let t1 = lab.pause_routers(&all, false);
    lab.wait_converged(Duration::from_secs(5));
    lab.wait_flowing(&ps, 1.0, Duration::from_secs(5));
    let t2 = now();
    // Each host's own view: an entry being re-resolved shows no MAC for a
    // moment, so poll for one.
    let mut after = Vec::new();
    for h in 0..6 {
        let mut v = None;
        assert!(
            wait_for(Duration::from_secs(5), || {
                v = lab.host_vmac(h);
                v.is_some()
            }),
            "host {} has no gateway",
            h + 1
        );
        after.push(v.unwrap_or_default());
    }
    let moved = (0..6).filter(|&h| after[h] != vmacs[h]).count();
    let transitions: usize = lab.routers.iter().map(|r| r.transitions(t0).len()).sum();
    record(
        s,
        &format!(
            "stalled {:.0} ms; {moved} of 6 hosts changed gateway; {transitions} state changes logged",
            (t1 - t0) * 1000.0
        ),
    );
    // Bounded from the resumption: the stall itself stops every dataplane.
    outages(s, &ps, &vmacs, (t1, t1, t2), HOLD + HELLO + ALLOWANCE);
    assert_eq!(after, vmacs, "hosts changed gateway after the stall");
    assert_spread(&mut lab, &after, "round-robin", |_| 2);
    drop(ps);
    for (i, r) in lab.routers.iter().enumerate() {
        assert!(
            r.logged_at("LONESURVIVOR", t0).is_none(),
            "r{} called itself a lone survivor",
            i + 1
        );
    }
    let garps: Vec<(f64, String)> = lab
        .gratuitous_arps()
        .into_iter()
        .filter(|(t, _)| *t > t0)
        .collect();
    assert!(
        garps.is_empty(),
        "gratuitous ARPs after the stall: {garps:?}"
    );
    assert_capture_clean(&mut lab, s);
}

/// Issue 13, finding 2: r1 (priority 110, 10.0.0.2) and r2 (105, 10.0.0.3)
/// start partitioned, both AVG and both holding forwarder 1. After the heal
/// r1 stays AVG and yields forwarder 1 to the higher IP; it must then ask
/// for a forwarder of its own, so that when r2 is killed and the taken-over
/// forwarder times out, the virtual IP still has a forwarder to hand out.
/// (Before: r1 never asked, and after the timeout it had 0 forwarders and
/// never answered ARP for the VIP again.) Hosts re-validate every ~2-3 s.
#[test]
fn partition_heal_then_kill_keeps_the_vip_answered() {
    let _g = serial();
    let s = "partition, heal, kill -9 of the higher-IP router";
    let mut spec = LabSpec::new("e2e", "phk", 2, 2);
    spec.redirect_s = 5;
    spec.timeout_s = 15;
    spec.host_timers = HostTimers::FAST;
    spec.start = vec![0];
    let mut lab = Lab::start(glbpd(), spec);
    let t_start = now();
    lab.lan_link(1, false);
    lab.start_router(1);
    let ok = wait_for(Duration::from_secs(10), || {
        lab.avgs() == vec![0, 1] && lab.holders().values().any(|v| v.len() == 2)
    });
    assert!(
        ok,
        "partitioned routers did not both go active with forwarder 1\n{}",
        lab.describe()
    );
    let t_heal = now();
    lab.lan_link(1, true);
    // Every live member holds a forwarder of its own within the forwarder
    // preempt delay (2 s) plus hold.
    let bound = 2.0 + HOLD + HELLO + ALLOWANCE;
    let ok = wait_for(Duration::from_secs_f64(bound), || {
        lab.avgs() == vec![0]
            && lab.holders().len() == 2
            && lab.holders().values().all(|v| v.len() == 1)
    });
    let healed = now() - t_heal;
    assert!(
        ok,
        "not one forwarder each within {bound:.2} s of the heal\n{}",
        lab.describe()
    );
    let vmacs = resolve_all(&mut lab, 0..2);
    let r2_vmac = lab.routers[1].forwarding()[0].clone();
    let r1_vmac = lab.routers[0].forwarding()[0].clone();
    assert!(vmacs.contains(&r2_vmac), "no host on r2: {vmacs:?}");
    lab.return_via(0);
    let ps = pingers(&lab, 0..2);
    let Takeover { killed: t0, by, .. } = kill_and_takeover(&mut lab, 1);
    assert_eq!(by, 0);
    // The taken-over forwarder times out; r1 keeps its own and the VIP.
    let ok = wait_for(Duration::from_secs(20), || {
        !lab.holders().contains_key(&r2_vmac)
    });
    assert!(ok, "{r2_vmac} never timed out\n{}", lab.describe());
    let gone = now();
    assert_eq!(
        lab.routers[0].forwarding(),
        vec![r1_vmac.clone()],
        "r1 lost its own forwarder\n{}",
        lab.describe()
    );
    lab.wait_flowing(&ps, 1.0, Duration::from_secs(5));
    let t1 = now();
    outages(s, &ps, &vmacs, (t0, t0 - 0.2, t1), HOLD + HELLO + ALLOWANCE);
    for h in 0..2 {
        assert_eq!(
            lab.host_vmac(h).as_ref(),
            Some(&r1_vmac),
            "host {} is not on r1's forwarder",
            h + 1
        );
    }
    // A host that resolves afresh is answered.
    assert_eq!(
        lab.host_resolve(0).as_ref(),
        Some(&r1_vmac),
        "the VIP went dark"
    );
    let seq: Vec<String> = lab.routers[0]
        .transitions(t_start)
        .into_iter()
        .map(|l| {
            l.split_once("%GLBP")
                .map_or(l.clone(), |(_, t)| format!("%GLBP{t}"))
        })
        .collect();
    record(
        s,
        &format!(
            "one forwarder each {:.0} ms after the heal; {r2_vmac} deleted {:.1} s after the kill; r1: {}",
            healed * 1000.0,
            gone - t0,
            seq.join(" | ")
        ),
    );
    drop(ps);
    assert_capture_clean(&mut lab, s);
}
