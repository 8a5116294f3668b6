//! Discrete-event simulator of a LAN of GLBP routers and hosts.
//!
//! Every router runs the real [`crate::protocol::Interface`] engine for group 1;
//! the LAN delivers frames within a partition after 1..=`max_delay_ms` ms
//! and may lose GLBP messages.
//!
//! Hosts model Linux's neighbour entry for the gateway (the virtual IP) and
//! send traffic all the time, so the entry never sits idle:
//! - no entry: a broadcast request every `retrans_time` (1 s) until a reply
//!   (INCOMPLETE); the reply makes it REACHABLE;
//! - REACHABLE for `base_reachable_time` × a uniform [0.5, 1.5] (30 s);
//! - then STALE, and the next packet (at once) makes it DELAY for
//!   `delay_first_probe_time` (5 s), traffic still flowing to the VMAC;
//! - PROBE: `ucast_solicit` (3) unicast requests to the cached VMAC,
//!   `retrans_time` apart, the entry still used; a reply with that VMAC
//!   makes it REACHABLE again (an answered re-validation);
//! - all unanswered: FAILED (traffic stops) and a new broadcast resolution;
//! - a gratuitous ARP overrides the address of an existing entry, whatever
//!   its state, and makes it STALE; it creates none (`arp_accept` = 0);
//! - a reply with another address within `locktime` (1 s) of the last
//!   update is ignored (the first reply wins).
//!
//! The CLI options `--host-base-reachable-s`, `--host-delay-first-probe-ms`,
//! `--host-ucast-solicit` and `--host-retrans-ms` set these.
//!
//! Time is virtual (an event queue), so an hour of a 4-router, 200-host
//! LAN runs in tens of ms (release build).
//!
//! Faults ([`Fault`]): crash, graceful stop, restart (fresh state), partition
//! of any subset of routers and hosts and heal, a GLBP loss rate for a
//! while, priority change, weight below the lower threshold and back,
//! a stall (every live router stops processing timers and frames for a
//! while, as under SIGSTOP or a CPU stall; its dataplane keeps forwarding
//! and answers ARP from the view published before the stall; GLBP frames
//! queue and arrive when it resumes; bounds count from the stall's end), a
//! forged claim (an Active/167 Request/Response for forwarder n from an
//! address that is no member, to every router), and (scripted only) a
//! deaf router. Random faults are spaced two settle times (hold + hello +
//! LAN delays) apart so each one's effect can be measured; now and then a
//! quiet spell of the forwarder deadline of (j) follows one.
//!
//! Invariants, checked continuously; each violation carries the last events
//! (state changes, forwarding changes, faults) that led to it:
//! - `a-one-avg`: once nothing changed for hold + hello (+ 2 LAN delays) and
//!   no loss is active, exactly one AVG per partition with a live router;
//! - `b-outage`: a host's outage (its VMAC forwarded by no live router of its
//!   partition, while some router there could serve it) is bounded by the
//!   fault that caused it: crash/partition/heal/priority: hold + hello;
//!   graceful stop and weight below threshold: one hello; restart:
//!   2 × (hold + hello) (a router rebooting alone into a segment must first
//!   become AVG); stall, forge: hold + hello, from the stall's end;
//!   unexplained: two LAN delays. Each bound includes 2 LAN delays + 1 ms
//!   (a hello is received, not sent, when the hold timer starts). A host
//!   that had no entry during a fault's outage adds `retrans_time` (its
//!   next broadcast). A fault during an outage checks it so far, then
//!   measures it from that fault when that deadline is the later. Outages
//!   during message loss are measured but not bounded;
//! - `b-duplicate`: once settled, no VMAC forwarded by two routers of one
//!   partition for longer than a hello;
//! - `c-redirect`: no ARP reply hands out a VMAC more than redirect after the
//!   last advert of its primary (or its assignment);
//! - `d-timeout`: nobody forwards a VMAC more than timeout after that;
//! - `e-distribution`: after the first ARP round without faults, round-robin
//!   within ±1 host per forwarder, weighted within ±5 % of the weights (with
//!   at least 1000 hosts), host-dependent: every host always got the same VMAC;
//! - `h-gateway-change` (issue 13 item 5 (a)): a host's entry takes a VMAC
//!   other than its last one only when that forwarder was deleted (no live
//!   router of its partition that could forward it knows the VMAC, or the
//!   host is stranded), or its entry failed while the forwarder was
//!   unreachable (some probe of the cycle went out while no live router of
//!   its partition forwarded it within redirect), or by a gratuitous ARP
//!   that (g) allowed;
//! - `i-vip-answered` ((b)): once settled after the last fault (the
//!   fault's bound, at least hold + hello, no loss, no stall), in every
//!   partition with a live router above its lower weight threshold, some
//!   AVG answers the virtual IP with a non-empty set of VMACs, each
//!   forwarded by a live router of the partition;
//! - `j-member-forwards` ((c)): with four or fewer members in a partition,
//!   from settled + one hello + max(forwarder preemption delay, hold) on,
//!   every live member above its lower threshold forwards a VMAC;
//! - `g-garp` ((d)): a gratuitous ARP comes only from the AVG, for a VMAC
//!   it forwards, a full hold (less 2 LAN delays + 1 ms) after its last
//!   peer aged out (hold after that peer's last hello) or resigned: alone
//!   for a full extra hold time;
//! - `k-revalidation` (beyond the issue): a host's probe cycle is not left
//!   unanswered while, at every probe, a live router of its partition
//!   forwarded the VMAC within redirect of its primary's last advert (the
//!   engine answers re-validations only then, docs/protocol.md §10.4).
//!
//! The report counts gateway changes (and per host per minute of
//! traffic), probes sent, probe cycles answered, failed entries and
//! gratuitous ARPs.
//!
//! Hosts holding a VMAC that no live router of their partition that could
//! forward it still knows (everyone who knew it died, sat on the other side
//! of a partition, or timed it out on an older view of the primary's last
//! advert) are reported as `stranded`, not as outages, until the VMAC is
//! forwarded again or they re-ARP: no protocol action can reach them (a
//! number reused for a new forwarder does not count as knowing the old one).
//!
//! `glbpd sim --seeds 1..2001` runs 2000 random seeds (4 routers, 200 hosts,
//! one simulated hour each) in about 70-90 s with `--jobs 2` on a busy
//! two-core machine (release build); `--jobs N` runs seeds in parallel.
#![forbid(unsafe_code)]

mod cli;
mod faults;
#[cfg(test)]
mod tests;
mod world;

pub use cli::{run, LbArg, SimArgs};
pub use faults::{parse_duration, parse_script, Fault, Scheduled};
pub use world::{simulate, FaultMode, Report, SimConfig, Violation};
