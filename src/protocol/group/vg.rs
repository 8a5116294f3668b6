//! Gateway (VG) election: hellos, members, the Listen/Speak/Standby/Active
//! transitions, preemption and the lone survivor (docs/protocol.md §8).

use std::collections::BTreeSet;

use super::{Group, Member, Peer, Timers};
use crate::protocol::{Action, Dest, Millis, MismatchKind};
use crate::wire::glbp::{HelloRepr, VgState};
use crate::wire::MacAddr;

impl Group {
    pub(super) fn hello_repr(&self, priority: u8) -> Option<HelloRepr> {
        Some(HelloRepr {
            state: self.vg,
            priority,
            hello_ms: self.t.hello_ms,
            hold_ms: self.t.hold_ms,
            redirect_s: self.t.redirect_s,
            timeout_s: self.t.timeout_s,
            vip: self.vip?,
        })
    }

    pub(super) fn send_hello(&mut self, now: Millis, out: &mut Vec<Action>) {
        let interval = Millis::from(self.t.hello_ms);
        let jitter = self
            .rng
            .below(interval * Millis::from(self.cfg.hello_jitter_pct) / 100 + 1);
        self.hello_at = Some(now + (interval - jitter.min(interval - 1)).max(1));
        let Some(hello) = self.hello_repr(self.cfg.priority) else {
            return;
        };
        let tlvs = self
            .fwds
            .iter()
            .flatten()
            // A member below its lower threshold also advertises forwarders
            // nobody forwards (Listen/135), so members that never saw them
            // active (e.g. just booted) learn them and take them over.
            .filter(|f| f.active || f.primary || (self.low && f.holder.is_none()))
            .map(|f| self.tlv(f, now))
            .collect();
        let msg = self.message(Some(hello), tlvs);
        let src = self.eth_src();
        self.counters.hellos_out += 1;
        self.send(Dest::Multicast, src, msg, out);
    }

    pub(super) fn set_vg(&mut self, now: Millis, new: VgState, out: &mut Vec<Action>) {
        if self.vg == new {
            return;
        }
        let old = self.vg;
        self.vg = new;
        self.counters.vg_transitions += 1;
        out.push(Action::VgStateChange {
            group: self.cfg.id,
            old,
            new,
        });
        if self.running() {
            self.send_hello(now, out);
        }
    }

    pub(super) fn age_members(&mut self, now: Millis) {
        let hold = self.hold();
        let before = self.members.len();
        self.members.retain(|_, m| m.last_seen + hold > now);
        if self.members.len() == before {
            return;
        }
        if self.members.is_empty() {
            self.alone_since = Some(now);
            self.alone_garp_sent = false;
            self.alone_garp_tried = false;
        }
        if let Some(n) = self.nonce.as_mut() {
            let alive: BTreeSet<MacAddr> = self.members.values().map(|m| m.mac).collect();
            n.peers.retain(|mac, _| alive.contains(mac));
        }
    }

    /// When the lone-survivor gratuitous ARP is due, if it may be sent at
    /// all: only by the AVG, when configured, once per period alone, one
    /// full hold time after the last member aged out (so one more hold
    /// after the last valid hello from anyone). A stall or a flood that
    /// makes every router miss hellos for a hold does not qualify: the
    /// peers' hellos arrive again within the extra hold.
    pub(super) fn lone_survivor_due(&self) -> Option<Millis> {
        if !self.cfg.lone_survivor_garp || self.alone_garp_sent || self.vg != VgState::Active {
            return None;
        }
        self.alone_since.map(|t| t + self.hold())
    }

    /// Patent: a master left alone after a failure sends a gratuitous ARP
    /// with a VMAC it forwards, so that no host stays pointed at a VMAC
    /// nobody forwards (Linux hosts overwrite their entry on it: every host
    /// of the LAN moves, which is why it is kept to this case).
    /// Only a VMAC it forwards and still within its redirect time is
    /// announced (its own first); none yet: try again on the next event.
    pub(super) fn lone_survivor(&mut self, now: Millis, out: &mut Vec<Action>) {
        self.alone_garp_tried = true;
        let Some(vip) = self.vip else { return };
        if !self.can_forward() || !self.members.is_empty() {
            return;
        }
        let pick = self
            .fwds
            .iter()
            .flatten()
            .filter(|f| f.active && f.redirect_at.map_or(true, |r| r > now))
            .min_by_key(|f| (!f.primary, f.number))
            .map(|f| f.vmac);
        if let Some(vmac) = pick {
            self.alone_garp_sent = true;
            self.counters.lone_survivor_garps += 1;
            out.push(Action::GratuitousArp { vip, vmac });
        }
    }

    /// A higher member still contending for the standby or active role
    /// (heard within the last hello and a half).
    fn higher_contender(&self, now: Millis) -> bool {
        let recent = Millis::from(self.t.hello_ms) * 3 / 2;
        self.members.iter().any(|(ip, m)| {
            matches!(m.state, VgState::Speak | VgState::Standby)
                && m.priority > 0
                && m.last_seen + recent > now
                && self.higher_than_me(m.priority, *ip)
        })
    }

    pub(super) fn vg_timers(&mut self, now: Millis, out: &mut Vec<Action>) {
        let a = Self::expired(self.active_at, now);
        let s = Self::expired(self.standby_at, now);
        if a {
            self.active = None;
            self.active_at = None;
        }
        if s {
            self.standby = None;
            self.standby_at = None;
        }
        match self.vg {
            VgState::Listen if a || s => {
                if a && !s && self.higher_contender(now) {
                    // A higher member is already stepping up; check again soon.
                    self.active_at = Some(now + Millis::from(self.t.hello_ms));
                } else {
                    self.enter_speak(now, out);
                }
            }
            VgState::Speak if a => {
                if self.higher_contender(now) {
                    self.active_at = Some(now + Millis::from(self.t.hello_ms));
                    self.standby_at = Some(now + self.hold());
                    self.set_vg(now, VgState::Listen, out);
                } else {
                    self.become_active(now, out);
                }
            }
            VgState::Speak if s => {
                self.set_vg(now, VgState::Standby, out);
            }
            VgState::Standby if a => self.become_active(now, out),
            _ => {}
        }
    }

    fn enter_speak(&mut self, now: Millis, out: &mut Vec<Action>) {
        self.standby_at = Some(now + self.hold());
        if self.active.is_none() {
            // Nobody is Active: contend for one hello interval only.
            self.active_at = Some(now + Millis::from(self.t.hello_ms));
        } else if self.active_at.is_none() {
            self.active_at = Some(now + self.hold());
        }
        self.set_vg(now, VgState::Speak, out);
    }

    fn become_active(&mut self, now: Millis, out: &mut Vec<Action>) {
        self.active = None;
        self.active_at = None;
        if self.standby.is_none() {
            self.standby_at = None;
        }
        self.t = Timers::of(&self.cfg);
        self.set_vg(now, VgState::Active, out);
        if !self.has_primary() {
            if let Some(n) = self.number_for(self.mac, self.ip) {
                self.become_primary(now, n);
            }
        }
    }

    /// A valid hello from `p`: membership, the virtual IP and the AVG's
    /// timers, then the election step for the state it advertises.
    pub(super) fn on_hello(&mut self, now: Millis, p: Peer, h: &HelloRepr, out: &mut Vec<Action>) {
        if matches!(
            h.state,
            VgState::Unknown(_) | VgState::Disabled | VgState::Init
        ) {
            self.counters.malformed += 1;
            return;
        }
        self.counters.hellos_in += 1;
        let resign = h.priority == 0;
        let from_avg = h.state == VgState::Active && !resign;
        self.update_member(now, p, h);
        self.check_vip(p, h, from_avg, out);
        self.init_to_listen(now, out);
        if !self.running() {
            return;
        }
        if from_avg {
            self.adopt_timers(p, h, out);
        }
        let higher = self.higher_than_me(h.priority, p.ip);
        match h.state {
            VgState::Active if resign => self.on_active_resign(now, p, out),
            VgState::Active => self.on_active_hello(now, p, higher, out),
            VgState::Standby => {
                if self.active.is_some_and(|a| a.ip == p.ip) {
                    self.active = None;
                }
                if resign {
                    self.on_standby_resign(now, p, out);
                } else {
                    self.on_standby_hello(now, p, higher, out);
                }
            }
            VgState::Speak if !resign && higher => self.on_higher_speak(now, out),
            _ => {}
        }
    }

    /// Membership: a resign (priority 0) removes the sender, remembered as
    /// resigned for a hold time; any other hello (re)adds it. The period
    /// alone starts with the last member's resign and ends with any hello.
    fn update_member(&mut self, now: Millis, p: Peer, h: &HelloRepr) {
        if h.priority == 0 {
            if self.members.remove(&p.ip).is_some() {
                self.resigned.insert(p.ip, now + self.hold());
            }
            if self.members.is_empty() && self.alone_since.is_none() {
                self.alone_since = Some(now);
                self.alone_garp_sent = false;
                self.alone_garp_tried = false;
            }
        } else {
            self.members.insert(
                p.ip,
                Member {
                    mac: p.mac,
                    priority: h.priority,
                    state: h.state,
                    last_seen: now,
                },
            );
            self.alone_since = None;
            self.alone_garp_sent = false;
            self.alone_garp_tried = false;
        }
    }

    /// Virtual IP: learn it from the AVG, or report a disagreement once.
    fn check_vip(&mut self, p: Peer, h: &HelloRepr, from_avg: bool, out: &mut Vec<Action>) {
        match self.cfg.vip {
            Some(v) => self.mismatch(p.ip, MismatchKind::Vip, v != h.vip, out),
            None if from_avg => self.vip = Some(h.vip),
            None => {}
        }
    }

    /// Timers: adopt the AVG's (IOS "hello time 3 sec (cfgd 1 sec)").
    fn adopt_timers(&mut self, p: Peer, h: &HelloRepr, out: &mut Vec<Action>) {
        let theirs = Timers::of_hello(h);
        self.mismatch(p.ip, MismatchKind::BadTimers, theirs.is_none(), out);
        if let Some(t) = theirs {
            self.mismatch(p.ip, MismatchKind::Timers, t != Timers::of(&self.cfg), out);
            if self.vg != VgState::Active {
                self.t = t;
            }
        }
    }

    /// The AVG resigns: its standby takes over at once, Listen and Speak
    /// members contend for standby.
    fn on_active_resign(&mut self, now: Millis, p: Peer, out: &mut Vec<Action>) {
        if self.active.is_some_and(|a| a.ip == p.ip) {
            self.active = None;
        }
        match self.vg {
            VgState::Standby => self.become_active(now, out),
            VgState::Listen | VgState::Speak => {
                self.active_at = None;
                self.enter_speak(now, out);
            }
            _ => {}
        }
    }

    /// A hello from an AVG: a standby that took over makes room for a new
    /// standby; two AVGs: the lower goes back to Speak; otherwise follow
    /// it, preempt it, or ask it for a forwarder.
    fn on_active_hello(&mut self, now: Millis, p: Peer, higher: bool, out: &mut Vec<Action>) {
        let hold = self.hold();
        if self.standby.is_some_and(|s| s.ip == p.ip) {
            // The standby took over: elect a new one now.
            self.standby = None;
            self.standby_at = None;
            match self.vg {
                VgState::Listen => {
                    self.active = Some(p);
                    self.active_at = Some(now + hold);
                    self.enter_speak(now, out);
                }
                // Already contending: the standby timer is what takes Speak
                // on to Standby, so it must keep running (without it a
                // Speak member waited for good and the group had no
                // standby).
                VgState::Speak => self.standby_at = Some(now + hold),
                _ => {}
            }
        }
        if self.vg == VgState::Active {
            self.counters.two_active_seen += 1;
            if higher {
                self.active = Some(p);
                self.active_at = Some(now + hold);
                self.standby_at = Some(now + hold);
                self.set_vg(now, VgState::Speak, out);
            }
        } else {
            self.active = Some(p);
            self.active_at = Some(now + hold);
            let preempt = self.cfg.preempt
                && !higher
                && now >= self.enabled_at.saturating_add(self.cfg.preempt_delay_ms);
            if preempt {
                if self.vg == VgState::Speak {
                    self.become_active(now, out);
                } else {
                    self.enter_speak(now, out);
                }
            } else if !self.has_primary() && self.number_available() {
                self.request_forwarder(p.ip, out);
            }
        }
    }

    /// The standby resigns: a Listen member contends for its place.
    fn on_standby_resign(&mut self, now: Millis, p: Peer, out: &mut Vec<Action>) {
        if self.standby.is_some_and(|s| s.ip == p.ip) {
            self.standby = None;
        }
        if self.vg == VgState::Listen {
            self.enter_speak(now, out);
        }
    }

    /// A hello from a standby: the AVG records it; a lower contender
    /// listens behind it; a higher one takes (or stays in) the role.
    fn on_standby_hello(&mut self, now: Millis, p: Peer, higher: bool, out: &mut Vec<Action>) {
        let hold = self.hold();
        match self.vg {
            VgState::Active => {
                self.standby = Some(p);
                self.standby_at = Some(now + hold);
            }
            VgState::Standby if higher => self.listen_behind_standby(now, p, out),
            VgState::Speak if higher => self.listen_behind_standby(now, p, out),
            VgState::Speak => self.set_vg(now, VgState::Standby, out),
            VgState::Listen if higher => {
                self.standby = Some(p);
                self.standby_at = Some(now + hold);
            }
            VgState::Listen => self.enter_speak(now, out),
            _ => {}
        }
    }

    /// A higher member speaks: stop contending for standby and restart the
    /// standby timer.
    fn on_higher_speak(&mut self, now: Millis, out: &mut Vec<Action>) {
        let hold = self.hold();
        match self.vg {
            VgState::Speak | VgState::Standby => {
                self.standby_at = Some(now + hold);
                self.set_vg(now, VgState::Listen, out);
            }
            VgState::Listen => self.standby_at = Some(now + hold),
            _ => {}
        }
    }

    fn listen_behind_standby(&mut self, now: Millis, p: Peer, out: &mut Vec<Action>) {
        self.standby = Some(p);
        self.standby_at = Some(now + self.hold());
        self.set_vg(now, VgState::Listen, out);
    }
}
