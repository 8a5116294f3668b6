//! GLBP on the control lcore: feeds received messages, timers and link
//! changes to the protocol engine, carries out its actions (signed frames,
//! MAC filters, gratuitous ARP, IOS-style logs), and derives the workers'
//! view (VMACs forwarded, VIPs answered as AVG) from the engine's state.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Control, GlbpView, Outcome};
use crate::config::{self, Authentication, Config};
use crate::dpdk::Mbuf;
use crate::protocol::{self, Action, Dest, InterfaceEvent, RxMessage};
use crate::runtime::dataplane::state::{Revalidate, VipBalance};
use crate::wire::arp::{ArpOperation, ArpRepr};
use crate::wire::ethernet::{self, EthernetRepr};
use crate::wire::glbp::auth::{self, AuthKey, KeyChain};
use crate::wire::glbp::frame::{FrameBuilder, ReceivedFrame};
use crate::wire::glbp::{self as wglbp, GlbpRepr};
use crate::wire::MacAddr;

/// What drives the GLBP engine of one port: the engine itself, the keys
/// that sign and verify its messages, and its log rate limits.
pub struct GlbpDriver {
    pub engine: protocol::Interface,
    /// Group id -> authentication key (signing and verification).
    pub(super) keys: BTreeMap<u16, AuthKey>,
    /// When `%GLBP-4-DUPADDR` may be logged again for this port.
    pub(super) next_dupaddr_ms: u64,
    /// The groups that speak IPv6 (their virtual address is IPv6).
    pub(super) v6: BTreeSet<u16>,
    /// IPv6 members heard (authenticated, in a group configured here):
    /// link-local address -> owner MAC, where unicast requests and
    /// responses go (IPv4 resolves them with ARP).
    pub(super) peers6: BTreeMap<Ipv6Addr, MacAddr>,
}

/// At most this many IPv6 members are remembered per interface (a flood
/// of made-up senders must not grow the table).
const MAX_PEERS6: usize = 1024;

impl GlbpDriver {
    /// The driver of interface `pidx` (`p`), its engine seeded with
    /// `seed`.
    pub fn new(pidx: usize, p: &super::ManagedPort, seed: u64) -> Self {
        GlbpDriver {
            engine: protocol::Interface::new(pidx as u16, IpAddr::V4(p.addr.addr), p.mac, seed)
                .with_link_local(p.link_local),
            keys: BTreeMap::new(),
            next_dupaddr_ms: 0,
            v6: BTreeSet::new(),
            peers6: BTreeMap::new(),
        }
    }

    /// Notes whether group `id` (virtual address `vip`) speaks IPv6.
    pub fn set_family(&mut self, id: u16, vip: Option<IpAddr>) {
        if matches!(vip, Some(IpAddr::V6(_))) {
            self.v6.insert(id);
        } else {
            self.v6.remove(&id);
        }
    }
}

/// The engine's configuration for a `[[group]]` (its tracked objects
/// resolved to object numbers) and the key that signs its messages.
pub fn group_config(cfg: &Config, g: &config::GroupEntry) -> (protocol::GroupConfig, AuthKey) {
    let key = match &g.glbp.authentication {
        Authentication::None => AuthKey::None,
        Authentication::Text(t) => AuthKey::Text(t.clone().into_bytes()),
        Authentication::Md5KeyString(k) => AuthKey::Md5String(k.clone().into_bytes()),
        Authentication::Md5KeyChain(keys) => {
            let mut chain = KeyChain::new();
            for k in keys {
                chain.insert(k.id, k.key.clone().into_bytes());
            }
            AuthKey::Md5Chain(chain)
        }
    };
    let mut pc = g.glbp.clone();
    // Object numbers as the tracker gives them (runtime::track).
    pc.tracking = g
        .track
        .iter()
        .filter_map(|t| {
            crate::runtime::control::track::object_id(cfg, t).map(|id| (id, t.decrement))
        })
        .collect();
    (pc, key)
}

impl Control {
    /// Creates the engines of every port that has groups and configures
    /// them. Errors name the group.
    pub fn glbp_configure(&mut self, cfg: &Config) -> Result<(), String> {
        let now = self.now_ms();
        self.tracker = crate::runtime::control::track::Tracker::new(
            crate::runtime::control::track::objects(cfg),
            None,
        );
        let seed = crate::dpdk::tsc() ^ u64::from(std::process::id());
        for (pidx, p) in self.ports.iter().enumerate() {
            let groups: Vec<_> = cfg.groups.iter().filter(|g| g.port == p.name).collect();
            if groups.is_empty() {
                self.glbp.push(None);
                continue;
            }
            let mut gp = GlbpDriver::new(pidx, p, seed ^ pidx as u64);
            for g in groups {
                let (pc, key) = group_config(cfg, g);
                gp.keys.insert(g.glbp.id, key);
                gp.set_family(g.glbp.id, g.glbp.vip);
                let actions = gp
                    .engine
                    .configure(now, pc)
                    .map_err(|e| format!("port {} group {}: {e:?}", p.name, g.glbp.id))?;
                self.pending.push((pidx, actions));
            }
            self.glbp.push(Some(gp));
        }
        self.glbp_apply_pending(now);
        Ok(())
    }

    /// Runs the engines' timers and link tracking; true when work was done.
    pub fn glbp_poll(&mut self, now: u64) -> bool {
        let mut busy = self.track_poll(now) | self.nd_poll(now) | self.mld_poll(now);
        for pidx in 0..self.glbp.len() {
            let Some(gp) = self.glbp[pidx].as_mut() else {
                continue;
            };
            if gp.engine.next_deadline().is_some_and(|d| d <= now) {
                // Periodic hellos due by now: how late they go out.
                let due: Vec<(u16, u64)> = gp
                    .engine
                    .groups()
                    .filter_map(|g| g.hello_due().filter(|&d| d <= now).map(|d| (g.id(), d)))
                    .collect();
                let a = gp.engine.handle(now, InterfaceEvent::Timer);
                self.pending.push((pidx, a));
                busy = true;
                self.hello_lateness(now, pidx, &due);
            }
        }
        // Redirect expiry changes the AVG's table without any action, so the
        // view of every engine that ran is re-derived.
        if busy || !self.pending.is_empty() {
            self.glbp_apply_pending(now);
        }
        busy
    }

    /// Tells every engine with a group tracking object `id` its state.
    pub(super) fn track_changed(&mut self, now: u64, id: u32, up: bool) {
        for pidx in 0..self.glbp.len() {
            let Some(gp) = self.glbp[pidx].as_mut() else {
                continue;
            };
            if gp
                .engine
                .groups()
                .any(|g| g.config().tracking.contains_key(&id))
            {
                let a = gp
                    .engine
                    .handle(now, InterfaceEvent::Track { object: id, up });
                self.pending.push((pidx, a));
            }
        }
    }

    /// Records the lateness of the periodic hellos that were `due` on port
    /// `pidx` (group, due time) and have now gone out; warns
    /// (`%GLBP-4-LATE`, at most every 10 s per port) when one is later
    /// than a quarter of the hold time, which peers would soon take for a
    /// dead router.
    fn hello_lateness(&mut self, now: u64, pidx: usize, due: &[(u16, u64)]) {
        let now_us = self.now_us();
        let Some(gp) = self.glbp[pidx].as_ref() else {
            return;
        };
        let mut worst: Option<(u16, u64, u32)> = None;
        for &(id, at) in due {
            let Some(g) = gp.engine.group(id) else {
                continue;
            };
            if g.hello_due().is_some_and(|d| d <= now) {
                continue; // not sent (not running, or no virtual IP yet)
            }
            let late_us = now_us.saturating_sub(at * 1000);
            self.timing.hello_sent(now, pidx, late_us);
            let hold = g.hold_ms();
            if late_us > u64::from(hold) * 1000 / 4 && worst.map_or(true, |(_, w, _)| late_us > w) {
                worst = Some((id, late_us, hold));
            }
        }
        if let Some((id, late_us, hold)) = worst {
            if now >= self.next_late_warn[pidx] {
                self.next_late_warn[pidx] = now + 10_000;
                log::warn!(
                    "%GLBP-4-LATE: {} Grp {id} hello sent {} ms late (hold {hold} ms)",
                    self.ports[pidx].name,
                    late_us / 1000
                );
            }
        }
    }

    /// A GLBP frame punted by a worker.
    pub(super) fn glbp_rx(&mut self, now: u64, pidx: usize, m: &Mbuf) -> Outcome {
        let own_mac = self.ports[pidx].mac;
        let own_ip = IpAddr::V4(self.ports[pidx].addr.addr);
        let own_ll = IpAddr::V6(self.ports[pidx].link_local);
        let Some(gp) = self.glbp.get_mut(pidx).and_then(Option::as_mut) else {
            return Outcome::Dropped;
        };
        let f = match ReceivedFrame::parse(m.data()) {
            Ok(f) => f,
            Err(_) => {
                self.stats.glbp_malformed += 1;
                let a = gp.engine.handle(now, InterfaceEvent::Malformed);
                self.pending.push((pidx, a));
                return Outcome::Consumed;
            }
        };
        // Our own frames looped back (some virtual devices do), or another
        // router with our address or MAC: never fed to the engine.
        if f.src_ip == own_ip || f.src_ip == own_ll || f.src_mac == own_mac {
            self.glbp_own_address(now, pidx, f.src_ip, f.src_mac);
            return Outcome::Consumed;
        }
        self.stats.glbp_received += 1;
        let repr = match wglbp::Packet::new_checked(f.payload).and_then(|p| GlbpRepr::parse(&p)) {
            Ok(r) => r,
            Err(e) => {
                self.stats.glbp_malformed += 1;
                self.warn_limited(
                    now,
                    format!(
                        "{}: malformed GLBP from {}: {e}",
                        self.ports[pidx].name, f.src_ip
                    ),
                );
                let gp = self.glbp[pidx].as_mut().expect("checked above");
                let a = gp.engine.handle(now, InterfaceEvent::Malformed);
                self.pending.push((pidx, a));
                return Outcome::Consumed;
            }
        };
        if repr.owner == own_mac {
            self.glbp_own_address(now, pidx, f.src_ip, f.src_mac);
            return Outcome::Consumed;
        }
        let now_us = self.now_us();
        let gp = self.glbp[pidx].as_mut().expect("checked above");
        let ev = match gp.keys.get(&repr.group) {
            Some(key) => match auth::verify(f.payload, key, f.src_ip) {
                Ok(()) => {
                    if let Some(h) = &repr.hello {
                        self.timing
                            .hello_received(now_us, pidx, repr.group, f.src_ip, h.hello_ms);
                    }
                    if let IpAddr::V6(ll) = f.src_ip {
                        if gp.peers6.len() < MAX_PEERS6 || gp.peers6.contains_key(&ll) {
                            gp.peers6.insert(ll, repr.owner);
                        }
                    }
                    InterfaceEvent::Rx(RxMessage {
                        src_ip: f.src_ip,
                        src_mac: f.src_mac,
                        port: pidx as u16,
                        auth_ok: true,
                        repr,
                    })
                }
                Err(e) => {
                    self.stats.glbp_auth_failed += 1;
                    let (group, src) = (repr.group, f.src_ip);
                    self.warn_limited(
                        now,
                        format!("%GLBP-4-BADAUTH: {} Grp {group}: bad authentication from {src} ({e:?})", self.ports[pidx].name),
                    );
                    InterfaceEvent::AuthFailed { group, src_ip: src }
                }
            },
            // Not configured here: the engine counts it.
            None => InterfaceEvent::Rx(RxMessage {
                src_ip: f.src_ip,
                src_mac: f.src_mac,
                port: pidx as u16,
                auth_ok: false,
                repr,
            }),
        };
        let gp = self.glbp[pidx].as_mut().expect("checked above");
        let a = gp.engine.handle(now, ev);
        self.pending.push((pidx, a));
        self.glbp_apply_pending(now);
        Outcome::Consumed
    }

    /// Resigns every group (priority-0 hellos, forwarders handed over).
    pub fn glbp_shutdown(&mut self) {
        let now = self.now_ms();
        for pidx in 0..self.glbp.len() {
            if let Some(gp) = self.glbp[pidx].as_mut() {
                let a = gp.engine.handle(now, InterfaceEvent::Shutdown);
                self.pending.push((pidx, a));
            }
        }
        self.glbp_apply_pending(now);
        self.flush();
    }

    pub(super) fn glbp_apply_pending(&mut self, now: u64) {
        let pending = std::mem::take(&mut self.pending);
        // Only the interfaces whose engine just ran can have a new view (a
        // redirect expiring is a timer of that engine too): with hundreds
        // of VLANs, re-deriving every view on every hello cost most of the
        // control lcore.
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.clear();
        dirty.resize(self.glbp.len(), false);
        for (pidx, actions) in pending {
            if let Some(d) = dirty.get_mut(pidx) {
                *d = true;
            }
            for a in actions {
                self.glbp_action(pidx, a);
            }
        }
        let mut changed = false;
        for (pidx, d) in dirty.iter().enumerate() {
            if *d && self.glbp_refresh_view(now, pidx) {
                changed = true;
                self.nd_view_changed(now, pidx);
            }
        }
        self.dirty = dirty;
        if changed {
            self.publish();
        }
    }

    /// Re-derives the workers' view of port `pidx` from the engine; installs
    /// and removes VMACs in the NIC's filter. True when the view changed.
    fn glbp_refresh_view(&mut self, now: u64, pidx: usize) -> bool {
        let Some(gp) = self.glbp[pidx].as_ref() else {
            return false;
        };
        let mut view = GlbpView::default();
        for g in gp.engine.groups() {
            view.vmacs.extend(g.forwarding());
            let revalidate = g.revalidating(now);
            let v6 = &mut view.groups6;
            fn held<A: Copy>(
                vip: A,
                group: u16,
                r: impl Iterator<Item = (u8, MacAddr)>,
            ) -> impl Iterator<Item = Revalidate<A>> {
                r.map(move |(forwarder, vmac)| Revalidate {
                    vmac,
                    vip,
                    group,
                    forwarder,
                })
            }
            match g.vip() {
                Some(IpAddr::V4(vip)) => view.revalidate.extend(held(vip, g.id(), revalidate)),
                Some(IpAddr::V6(vip)) => v6.revalidate.extend(held(vip, g.id(), revalidate)),
                None => {}
            }
            match (g.balancing(now), g.vip()) {
                (Some(b), _) => match b.vip {
                    IpAddr::V4(vip) => view.avg.push(VipBalance::new(g.id(), vip, b.balance)),
                    IpAddr::V6(vip) => v6.avg.push(VipBalance::new(g.id(), vip, b.balance)),
                },
                (None, Some(IpAddr::V4(vip))) => view.silent.push(vip),
                (None, Some(IpAddr::V6(vip))) => v6.silent.push(vip),
                (None, None) => {}
            }
        }
        view.vmacs.sort();
        view.vmacs.dedup();
        let port = &mut self.ports[pidx];
        if view == port.glbp {
            return false;
        }
        let link = port.link;
        // A VMAC also held on another VLAN of the same port (the same
        // group number there) stays in the port's filter.
        let elsewhere: Vec<MacAddr> = self
            .ports
            .iter()
            .enumerate()
            .filter(|(i, p)| *i != pidx && p.link == link)
            .flat_map(|(_, p)| p.glbp.vmacs.iter().copied())
            .collect();
        let port = &mut self.ports[pidx];
        for gone in port
            .glbp
            .vmacs
            .iter()
            .filter(|m| !view.vmacs.contains(m) && !elsewhere.contains(m))
        {
            if let Err(e) = port.port.mac_remove(gone.0) {
                log::debug!(
                    "port {}: removing {gone} from the MAC filter: {e}",
                    port.name
                );
            }
        }
        for new in view.vmacs.iter().filter(|m| !port.glbp.vmacs.contains(m)) {
            crate::runtime::receive_for(&port.port, *new);
        }
        port.glbp = view;
        true
    }

    fn glbp_action(&mut self, pidx: usize, a: Action) {
        let name = self.ports[pidx].name.clone();
        match a {
            Action::Send { dst, eth_src, msg } => self.glbp_send(pidx, dst, eth_src, &msg),
            Action::StartForwarding { vmac } => log::debug!("{name}: forwarding for {vmac}"),
            Action::StopForwarding { vmac } => {
                log::debug!("{name}: no longer forwarding for {vmac}")
            }
            Action::ArpReply { .. } => {}
            Action::GratuitousArp {
                vip: IpAddr::V4(vip),
                vmac,
            } => {
                log::warn!(
                    "%GLBP-4-LONESURVIVOR: {name}: only member left, announcing {vip} at {vmac}"
                );
                self.send_garp(pidx, vip, vmac);
            }
            Action::GratuitousArp { .. } => {}
            a @ Action::Mismatch { .. } => {
                if let Some(line) = a.log_line(&name) {
                    log::warn!("{line}");
                }
            }
            a => {
                if let Some(line) = a.log_line(&name) {
                    log::info!("{line}");
                }
            }
        }
    }

    fn glbp_send(&mut self, pidx: usize, dst: Dest, eth_src: MacAddr, msg: &GlbpRepr) {
        let ip = self.ports[pidx].addr.addr;
        let ll = self.ports[pidx].link_local;
        let v6 = self.glbp[pidx]
            .as_ref()
            .is_some_and(|g| g.v6.contains(&msg.group));
        let builder = match dst {
            Dest::Multicast if v6 => FrameBuilder::multicast_v6(eth_src, ll),
            Dest::Multicast => FrameBuilder::multicast_v4(eth_src, ip),
            Dest::Unicast(IpAddr::V4(to)) => match self.neighbors.get(pidx as u16, to) {
                Some(to_mac) => {
                    FrameBuilder::unicast(eth_src, to_mac, IpAddr::V4(ip), IpAddr::V4(to))
                }
                None => {
                    // Resolve now; the engine repeats its request.
                    if let Some(p) = self.neighbors.resolve(self.now_ms(), pidx as u16, to) {
                        self.send_probe(p);
                    }
                    self.stats.glbp_unsent += 1;
                    return;
                }
            },
            // To the owner MAC the member's hellos carried (IPv6 members
            // are not resolved with Neighbor Discovery yet).
            Dest::Unicast(IpAddr::V6(to)) => {
                match self.glbp[pidx].as_ref().and_then(|g| g.peers6.get(&to)) {
                    Some(&to_mac) => {
                        FrameBuilder::unicast(eth_src, to_mac, IpAddr::V6(ll), IpAddr::V6(to))
                    }
                    None => {
                        self.stats.glbp_unsent += 1;
                        return;
                    }
                }
            }
        };
        let key = self.glbp[pidx]
            .as_ref()
            .and_then(|g| g.keys.get(&msg.group))
            .cloned()
            .unwrap_or(AuthKey::None);
        let len = builder.frame_len(msg);
        let frame = self.new_frame(len.max(60), |b| {
            b.fill(0);
            builder.build(msg, &key, b).is_ok()
        });
        match frame {
            Some(m) => {
                self.stats.glbp_sent += 1;
                self.send(pidx, m);
            }
            None => self.stats.glbp_unsent += 1,
        }
    }

    fn send_garp(&mut self, pidx: usize, vip: Ipv4Addr, vmac: MacAddr) {
        let eth = EthernetRepr {
            src: vmac,
            dst: MacAddr::BROADCAST,
            vlan_tci: None,
            ethertype: ethernet::ETHERTYPE_ARP,
        };
        let a = ArpRepr {
            operation: ArpOperation::Request,
            sender_hw_addr: vmac,
            sender_ip: vip,
            target_hw_addr: MacAddr::ZERO,
            target_ip: vip,
        };
        if let Some(m) = self.new_frame(60, |b| {
            b.fill(0);
            let Ok(e) = eth.emit(b) else { return false };
            a.emit(&mut b[e..]).is_ok()
        }) {
            self.send(pidx, m);
        }
    }

    /// Counts GLBP carrying our own address (source IP) or MAC (Ethernet
    /// source or owner ID), and says so as IOS does, at most once per 10 s
    /// per port.
    fn glbp_own_address(&mut self, now: u64, pidx: usize, src_ip: IpAddr, src_mac: MacAddr) {
        self.counts
            .drop(crate::runtime::dataplane::counters::DropReason::GlbpOwnAddress);
        let own_ip = IpAddr::V4(self.ports[pidx].addr.addr);
        let own_mac = self.ports[pidx].mac;
        let Some(gp) = self.glbp.get_mut(pidx).and_then(Option::as_mut) else {
            return;
        };
        if now < gp.next_dupaddr_ms {
            return;
        }
        gp.next_dupaddr_ms = now + 10_000;
        let dup = if src_ip == own_ip {
            src_ip.to_string()
        } else {
            own_mac.to_string()
        };
        log::warn!(
            "%GLBP-4-DUPADDR: Duplicate address {dup} on {}, sourced by {src_mac}",
            self.ports[pidx].name
        );
    }

    /// Logs a warning at most once a second.
    fn warn_limited(&mut self, now: u64, msg: String) {
        if now >= self.next_warn {
            self.next_warn = now + 1000;
            log::warn!("{msg}");
        }
    }
}
