//! Virtual forwarders (VF): assignment by the AVG (Request/Response TLVs),
//! takeover, release, preemption, redirect/timeout and weighting
//! (docs/protocol.md §9).

use std::net::IpAddr;

use super::{ms, Forwarder, Group, Holder, Peer};
use crate::protocol::{Action, Dest, Millis};
use crate::wire::glbp::{
    ReqRespRepr, VfState, VgState, MAX_FORWARDERS, VF_PRIORITY_PRIMARY, VF_PRIORITY_RESIGN,
    VF_PRIORITY_SECONDARY,
};
use crate::wire::MacAddr;

impl Group {
    pub(super) fn set_active(&mut self, idx: usize, on: bool, out: &mut Vec<Action>) {
        let group = self.cfg.id;
        let Some(f) = self.fwds[idx].as_mut() else {
            return;
        };
        if f.active == on {
            return;
        }
        let old = f.vf_state();
        f.active = on;
        if on {
            f.holder = None;
            f.hold_at = None;
            f.preempt_at = None;
            out.push(Action::StartForwarding { vmac: f.vmac });
        } else {
            out.push(Action::StopForwarding { vmac: f.vmac });
        }
        out.push(Action::VfStateChange {
            group,
            forwarder: f.number,
            old,
            new: f.vf_state(),
        });
        self.counters.vf_transitions += 1;
    }

    /// Goes Active for forwarder `idx` and announces it with a ReqResp-only
    /// message sourced from its VMAC (docs/protocol.md §9.3).
    fn take_over(&mut self, now: Millis, idx: usize, out: &mut Vec<Action>) {
        if !self.can_forward() || self.fwds[idx].as_ref().map_or(true, |f| f.active) {
            return;
        }
        self.set_active(idx, true, out);
        self.announce(now, idx, out);
    }

    /// A ReqResp-only message for forwarder `idx`, sourced from its VMAC.
    fn announce(&mut self, now: Millis, idx: usize, out: &mut Vec<Action>) {
        if let Some(f) = &self.fwds[idx] {
            let (tlv, vmac) = (self.tlv(f, now), f.vmac);
            let msg = self.message(None, vec![tlv]);
            self.send(Dest::Multicast, vmac, msg, out);
        }
    }

    /// Sends one ReqResp-only message releasing (VF priority 160) every
    /// forwarder we are active for or own (even one still in its Listen
    /// wait), so that peers take them over at once. Returns the Ethernet
    /// source it used (or would have used).
    pub(super) fn release_all(&mut self, now: Millis, out: &mut Vec<Action>) -> MacAddr {
        self.release_where(now, |f| f.active || f.primary, out)
    }

    /// Releases the forwarders `pick` selects.
    fn release_where(
        &mut self,
        now: Millis,
        pick: impl Fn(&Forwarder) -> bool,
        out: &mut Vec<Action>,
    ) -> MacAddr {
        let released: Vec<ReqRespRepr> = self
            .fwds
            .iter()
            .flatten()
            .filter(|f| pick(f))
            .map(|f| ReqRespRepr {
                state: VfState::Listen,
                priority: VF_PRIORITY_RESIGN,
                ..self.tlv(f, now)
            })
            .collect();
        let src = self.eth_src();
        if !released.is_empty() {
            let msg = self.message(None, released);
            self.send(Dest::Multicast, src, msg, out);
        }
        src
    }

    /// Current weight: configured weighting minus decrements of tracked objects
    /// that are down.
    pub fn weight(&self) -> u8 {
        let dec: u32 = self
            .tracked_down
            .iter()
            .filter_map(|o| self.cfg.tracking.get(o))
            .map(|d| u32::from(*d))
            .sum();
        u8::try_from(u32::from(self.cfg.weighting.max).saturating_sub(dec)).unwrap_or(0)
    }

    /// Below the lower weight threshold and not yet back above the upper:
    /// forwards nothing.
    pub fn weight_low(&self) -> bool {
        self.low
    }

    /// Applies the weight thresholds with hysteresis (docs/protocol.md §9.7).
    pub(super) fn weight_changed(&mut self, now: Millis, out: &mut Vec<Action>) {
        let w = self.weight();
        let was_low = self.low;
        if w < self.cfg.weighting.lower {
            self.low = true;
        } else if w >= self.cfg.weighting.upper {
            self.low = false;
        }
        if !self.running() {
            return;
        }
        if self.low && !was_low {
            // Hand over at once, like a resign, so peers do not wait a hold time.
            self.release_all(now, out);
            for i in 0..self.fwds.len() {
                self.set_active(i, false, out);
                if let Some(f) = self.fwds[i].as_mut() {
                    f.preempt_at = None;
                }
            }
        } else if !self.low && was_low {
            for i in 0..self.fwds.len() {
                let Some(f) = self.fwds[i].as_mut() else {
                    continue;
                };
                if f.holder.is_none() {
                    // Nobody forwards it (we may have been the only candidate).
                    self.take_over(now, i, out);
                } else if f.primary && self.cfg.forwarder_preempt {
                    f.preempt_at = Some(now + self.cfg.forwarder_preempt_delay_ms);
                }
            }
        }
        // The new weight travels in the next hello.
    }

    /// A member with no forwarder of its own gets one while fewer than
    /// four exist or one is orphaned (its owner is no member): the AVG
    /// assigns itself the lowest free (else orphaned) number (members ask
    /// it, see `on_hello`). Covers an AVG that gave its number up to a
    /// higher-IP claimant after a partition healed: without this it would
    /// forward nothing of its own, and once the others die and their
    /// forwarders time out, the virtual IP would go dark.
    pub(super) fn own_forwarder(&mut self, now: Millis) {
        if self.vg != VgState::Active || self.has_primary() {
            return;
        }
        if let Some(n) = self.number_for(self.mac, self.ip) {
            self.become_primary(now, n);
        }
    }

    pub(super) fn become_primary(&mut self, now: Millis, n: u8) {
        let idx = usize::from(n - 1);
        let (me, ip, hold) = (self.mac, self.ip, self.hold());
        let (preempt, delay) = (
            self.cfg.forwarder_preempt,
            self.cfg.forwarder_preempt_delay_ms,
        );
        let f = self.fwds[idx].get_or_insert_with(|| Forwarder::new(self.cfg.id, n));
        f.primary = true;
        f.owner = Some((me, ip));
        // Whatever its previous owner said about its weight (an orphaned
        // number may come from one that was below its threshold).
        f.owner_low = false;
        f.redirect_at = None;
        f.timeout_at = None;
        if f.active {
            return;
        }
        if f.holder.is_some() {
            if preempt && !self.low {
                f.preempt_at = Some(now + delay);
            }
        } else {
            // Wait one hold time in Listen for a secondary to show up.
            f.hold_at = Some(now + hold);
        }
    }

    pub(super) fn fwd_timers(&mut self, now: Millis, out: &mut Vec<Action>) {
        for i in 0..self.fwds.len() {
            let Some(f) = self.fwds[i].as_mut() else {
                continue;
            };
            if Self::expired(f.timeout_at, now) {
                let number = f.number;
                if f.active && self.vg == VgState::Active && !self.has_primary() && !self.low {
                    // The AVG forwards it and owns nothing: it makes the
                    // number its own instead of deleting it, so it never
                    // goes without a forwarder to hand out and the hosts
                    // still on this VMAC keep their gateway.
                    let (mac, ip) = (self.mac, self.ip);
                    if let Some(f) = self.fwds[i].as_mut() {
                        f.primary = true;
                        f.owner = Some((mac, ip));
                        f.redirect_at = None;
                        f.timeout_at = None;
                        f.preempt_at = None;
                    }
                    self.announce(now, i, out);
                    continue;
                }
                // Members whose view of the primary's last advert is fresher
                // (e.g. across a healed partition) take it over at once.
                self.release_where(now, |f| f.active && f.number == number, out);
                self.set_active(i, false, out);
                // The state it is really in now (Listen after the stop above).
                let old = self.fwds[i]
                    .as_ref()
                    .map_or(VfState::Listen, |f| f.vf_state());
                self.fwds[i] = None;
                out.push(Action::VfStateChange {
                    group: self.cfg.id,
                    forwarder: number,
                    old,
                    new: VfState::Disabled,
                });
                self.counters.vf_transitions += 1;
                continue;
            }
            if Self::expired(f.hold_at, now) {
                f.hold_at = None;
                f.holder = None;
                self.take_over(now, i, out);
            }
            let Some(f) = self.fwds[i].as_mut() else {
                continue;
            };
            if Self::expired(f.preempt_at, now) {
                f.preempt_at = None;
                // Forwarder preemption may have been configured off meanwhile.
                if f.primary && self.cfg.forwarder_preempt {
                    self.take_over(now, i, out);
                }
            }
        }
    }

    pub(super) fn request_forwarder(&mut self, avg: IpAddr, out: &mut Vec<Action>) {
        let msg = self.message(None, vec![ReqRespRepr::REQUEST]);
        self.counters.requests_out += 1;
        let src = self.eth_src();
        self.send(Dest::Unicast(avg), src, msg, out);
    }

    /// One Request/Response TLV from member `p` (`in_hello`: carried by a
    /// hello, i.e. a periodic advert rather than an announcement).
    pub(super) fn on_tlv(
        &mut self,
        now: Millis,
        p: Peer,
        t: &ReqRespRepr,
        in_hello: bool,
        out: &mut Vec<Action>,
    ) {
        if t.forwarder == 0 {
            if t.state == VfState::Unspecified && self.vg == VgState::Active {
                self.on_request(now, p, out);
            } else {
                self.counters.malformed += 1;
            }
            return;
        }
        if t.forwarder > MAX_FORWARDERS {
            self.counters.malformed += 1;
            return;
        }
        let idx = usize::from(t.forwarder - 1);
        if t.priority == VF_PRIORITY_RESIGN {
            self.on_release(now, p, idx, in_hello, out);
            return;
        }
        match t.state {
            VfState::Unspecified => self.on_response(now, p, t),
            VfState::Active | VfState::Listen => {
                if self.fwds[idx].is_none() && t.priority != VF_PRIORITY_PRIMARY && t.timeout_s == 0
                {
                    return; // About to be deleted everywhere: do not re-learn it.
                }
                self.forget_stale_ownership(p, t);
                if !self.learn_forwarder(now, p, idx, t) {
                    return;
                }
                if t.state == VfState::Active {
                    self.on_active_claim(now, p, idx, t, out);
                } else {
                    self.on_listen_advert(now, p, idx, t, out);
                }
            }
            _ => self.counters.malformed += 1,
        }
    }

    /// A member owns one number at a time: when it advertises one as its
    /// own (167), an older record of it owning another is stale, and that
    /// number is orphaned (see `number_for`). Kept, it left the number
    /// "owned" by a live member: never orphaned, never handed out again.
    fn forget_stale_ownership(&mut self, p: Peer, t: &ReqRespRepr) {
        if t.priority != VF_PRIORITY_PRIMARY {
            return;
        }
        for g in self.fwds.iter_mut().flatten() {
            let stale = g.number != t.forwarder && !g.primary;
            if stale && g.owner.is_some_and(|(m, _)| m == p.mac) {
                g.owner = None;
            }
        }
    }

    /// A response to our request, from the AVG.
    fn on_response(&mut self, now: Millis, p: Peer, t: &ReqRespRepr) {
        if self.active.is_some_and(|a| a.ip == p.ip) && !self.has_primary() {
            self.counters.responses_in += 1;
            self.become_primary(now, t.forwarder);
        }
    }

    /// Learns forwarder `idx` from an Active or Listen advert: its owner
    /// and the redirect/timeout countdowns. `false` when we keep our own
    /// claim to it (two owners, ours the higher IP): the advert is ignored.
    fn learn_forwarder(&mut self, now: Millis, p: Peer, idx: usize, t: &ReqRespRepr) -> bool {
        let group = self.cfg.id;
        let (redirect, timeout) = (ms(self.t.redirect_s), ms(self.t.timeout_s));
        let f = self.fwds[idx].get_or_insert_with(|| Forwarder::new(group, t.forwarder));
        if t.priority == VF_PRIORITY_PRIMARY {
            // Its owner advertises it as its own again: back above
            // the upper threshold.
            f.owner_low = false;
            if f.primary {
                // Two owners (e.g. two AVGs during a partition): the
                // lower IP gives its claim up and asks again; so does
                // one below its lower weight threshold, which
                // advertises 160, never 167: the other would never
                // hear a claim to yield to, and an AVG keeping a
                // number it cannot forward hands out nothing for it.
                if p.ip < self.ip && !self.low {
                    return false;
                }
                f.primary = false;
            }
            f.owner = Some((p.mac, p.ip));
            f.redirect_at = Some(now + redirect);
            f.timeout_at = Some(now + timeout);
        } else if !f.primary && f.timeout_at.is_none() {
            // Learnt from a secondary: adopt its remaining seconds.
            // Later adverts do not shorten our own countdown: theirs
            // may come from an older view (e.g. across a partition).
            f.redirect_at = Some(now + ms(t.redirect_s).min(redirect));
            f.timeout_at = Some(now + ms(t.timeout_s).min(timeout));
        }
        true
    }

    /// A Listen advert: the sender does not forward it. Take over one
    /// nobody forwards (an orphan advertised by a secondary, or the one
    /// its holder gave up); else watch a dormant one.
    fn on_listen_advert(
        &mut self,
        now: Millis,
        p: Peer,
        idx: usize,
        t: &ReqRespRepr,
        out: &mut Vec<Action>,
    ) {
        let (hold, hello) = (self.hold(), Millis::from(self.t.hello_ms));
        let Some(f) = self.fwds[idx].as_mut() else {
            return;
        };
        let orphan = t.priority == VF_PRIORITY_SECONDARY && f.holder.is_none() && !f.active;
        if orphan || f.holder.is_some_and(|h| h.ip == p.ip) {
            f.holder = None;
            f.hold_at = None;
            self.take_over(now, idx, out);
        } else if f.holder.is_none() && !f.active && !f.primary {
            // Dormant (owner in its Listen wait, or nobody could
            // take it): watch it a hello longer than the owner's
            // own wait, so a live owner always goes first.
            f.hold_at = Some(now + hold + hello);
        }
    }

    /// An Active claim: on a collision the lower (VF priority, IP) backs
    /// off; otherwise the sender becomes the holder we watch, and an owner
    /// arms its forwarder preemption against a secondary.
    fn on_active_claim(
        &mut self,
        now: Millis,
        p: Peer,
        idx: usize,
        t: &ReqRespRepr,
        out: &mut Vec<Action>,
    ) {
        let (hold, redirect) = (self.hold(), ms(self.t.redirect_s));
        let Some(f) = self.fwds[idx].as_ref() else {
            return;
        };
        let theirs = (t.priority, p.ip);
        if f.active && theirs < (f.vf_priority(), self.ip) {
            // Collision: they back off. Their claim was sourced
            // from the VMAC too and may have been the last one a
            // switch saw: announce again so it learns our port.
            self.announce(now, idx, out);
            return;
        }
        if f.active {
            self.set_active(idx, false, out);
        }
        let Some(f) = self.fwds[idx].as_mut() else {
            return;
        };
        let redirect_at =
            (t.priority < VF_PRIORITY_PRIMARY).then(|| now + ms(t.redirect_s).min(redirect));
        f.holder = Some(Holder {
            ip: p.ip,
            weight: t.weight,
            redirect_at,
        });
        f.hold_at = Some(now + hold);
        if f.primary && t.priority < VF_PRIORITY_PRIMARY && f.preempt_at.is_none() {
            if self.cfg.forwarder_preempt && !self.low {
                f.preempt_at = Some(now + self.cfg.forwarder_preempt_delay_ms);
            }
        } else if t.priority >= VF_PRIORITY_PRIMARY {
            f.preempt_at = None;
        }
    }

    /// VF priority 160: the sender stops forwarding (resign, weight below the
    /// lower threshold). Sent in a hello it is also the owner's periodic
    /// advert of a forwarder it owns but cannot forward, which keeps its
    /// redirect/timeout running like a 167 advert. Nobody else active for it:
    /// take over at once (collisions resolve as usual).
    fn on_release(
        &mut self,
        now: Millis,
        p: Peer,
        idx: usize,
        in_hello: bool,
        out: &mut Vec<Action>,
    ) {
        if self.fwds[idx].is_none() && !in_hello {
            return;
        }
        let (redirect, timeout) = (ms(self.t.redirect_s), ms(self.t.timeout_s));
        let group = self.cfg.id;
        // A 160 in a hello comes only from an owner (below its lower
        // threshold). Our record may name an owner that is gone (e.g. the
        // sender took the number during a partition): the sender is the
        // owner now, and its advert keeps redirect running, as it does
        // for the other members. Kept, the dead owner's countdown ran out
        // and this secondary stopped answering re-validations while the
        // live owner advertised the number.
        let orphan = self.fwds[idx].as_ref().is_some_and(|f| self.orphaned(f));
        let f = self.fwds[idx].get_or_insert_with(|| Forwarder::new(group, idx as u8 + 1));
        let from_owner = orphan || f.owner.map_or(true, |(m, _)| m == p.mac);
        if in_hello && from_owner && !f.primary {
            f.owner = Some((p.mac, p.ip));
            f.redirect_at = Some(now + redirect);
            f.timeout_at = Some(now + timeout);
            // 160 in a periodic hello: alive, but below its lower threshold.
            f.owner_low = true;
        }
        if !f.active && f.holder.map_or(true, |h| h.ip == p.ip) {
            f.holder = None;
            f.hold_at = None;
            self.take_over(now, idx, out);
        }
    }

    /// The forwarder `owner` had (IOS gives returning members their number
    /// back), else the lowest free number (numbers follow arrival order),
    /// else the lowest orphaned one: with four forwarders whose owners all
    /// died, a live member (or the AVG) would otherwise own none until
    /// their timeout (4 h by default), and once their redirect expired the
    /// AVG would have nothing left to hand out (a dark virtual IP).
    /// Among orphaned numbers, one the requester (at `ip`) already forwards
    /// comes first: it owns that VMAC at once, with no preemption wait
    /// during which the AVG could not hand it out (its secondary's
    /// redirect may be over).
    pub(super) fn number_for(&self, owner: MacAddr, ip: IpAddr) -> Option<u8> {
        let old = self
            .fwds
            .iter()
            .flatten()
            .find(|f| f.owner.is_some_and(|(m, _)| m == owner));
        let orphans = || self.fwds.iter().flatten().filter(|f| self.orphaned(f));
        let held = |f: &&Forwarder| {
            if ip == self.ip {
                f.active
            } else {
                f.holder.is_some_and(|h| h.ip == ip)
            }
        };
        old.map(|f| f.number)
            .or_else(|| (1..=MAX_FORWARDERS).find(|n| self.fwds[usize::from(n - 1)].is_none()))
            .or_else(|| {
                orphans()
                    .find(held)
                    .or_else(|| orphans().next())
                    .map(|f| f.number)
            })
    }

    /// A forwarder whose owner is neither us nor a member (it died,
    /// resigned, aged out, or was never heard): its number may go to a
    /// member that owns none, which then takes it over from the secondary
    /// holder after the forwarder preemption delay (same VMAC: the hosts
    /// on it keep their gateway).
    fn orphaned(&self, f: &Forwarder) -> bool {
        !f.primary
            && f.owner.map_or(true, |(m, ip)| {
                m != self.mac && !self.members.contains_key(&ip)
            })
    }

    /// Whether asking the AVG for a forwarder may get one: fewer than four
    /// exist, or one is orphaned.
    pub(super) fn number_available(&self) -> bool {
        self.fwds
            .iter()
            .any(|f| f.as_ref().map_or(true, |f| self.orphaned(f)))
    }

    /// AVG: assign the requester its old forwarder or the lowest free number.
    fn on_request(&mut self, now: Millis, p: Peer, out: &mut Vec<Action>) {
        self.counters.requests_in += 1;
        let Some(n) = self.number_for(p.mac, p.ip) else {
            return;
        };
        let (redirect, timeout) = (ms(self.t.redirect_s), ms(self.t.timeout_s));
        let group = self.cfg.id;
        let f = self.fwds[usize::from(n - 1)].get_or_insert_with(|| Forwarder::new(group, n));
        if f.primary {
            return; // Ours; never hand it away.
        }
        f.owner = Some((p.mac, p.ip));
        f.redirect_at = Some(now + redirect);
        f.timeout_at = Some(now + timeout);
        if f.holder.is_none() && !f.active {
            // Dormant watch, as for a learnt forwarder (see `on_tlv`).
            f.hold_at = Some(now + Millis::from(self.t.hold_ms) + Millis::from(self.t.hello_ms));
        }
        let tlv = ReqRespRepr {
            forwarder: n,
            state: VfState::Unspecified,
            priority: VF_PRIORITY_PRIMARY,
            weight: 0,
            timeout_s: self.t.timeout_s,
            redirect_s: self.t.redirect_s,
            vmac: f.vmac,
        };
        let msg = self.message(None, vec![tlv]);
        self.counters.responses_out += 1;
        let src = self.eth_src();
        self.send(Dest::Unicast(p.ip), src, msg, out);
    }
}
