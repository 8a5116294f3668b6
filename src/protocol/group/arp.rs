//! ARP for the virtual IP: the AVG's load balancing over eligible
//! forwarders, and unicast re-validations answered by their holder
//! (docs/protocol.md §10).

use std::net::IpAddr;
use std::sync::Arc;

use super::{Forwarder, Group};
use crate::protocol::lb::{Balance, ClientEntry, ClientTable};
use crate::protocol::{Action, Millis};
use crate::wire::glbp::VgState;
use crate::wire::MacAddr;

/// The AVG's load-balancing table, for a dataplane that answers ARP itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balancing {
    /// The virtual IP answered for.
    pub vip: IpAddr,
    /// Eligible forwarders, method and client cache.
    pub balance: Balance,
}

impl Group {
    /// Forwarders the AVG may hand out now: active somewhere and not past
    /// redirect, as (number, VMAC, weight of the current holder), by number.
    fn eligible(&self, now: Millis) -> Vec<(u8, MacAddr, u8)> {
        let my_weight = self.weight();
        self.fwds
            .iter()
            .flatten()
            .filter(|f| f.redirect_at.map_or(true, |r| r > now))
            // Not one whose owner is below its lower weight threshold (our
            // own, or a peer's that says so with priority 160).
            .filter(|f| !(f.owner_low || f.primary && self.low))
            .filter_map(|f| match (f.active, f.holder) {
                (true, _) => Some((f.number, f.vmac, my_weight)),
                // A secondary whose own countdown says redirect is over (e.g.
                // the number was just reassigned here) is not handed out.
                (false, Some(h)) if h.redirect_at.map_or(true, |r| r > now) => {
                    Some((f.number, f.vmac, h.weight))
                }
                (false, _) => None,
            })
            .collect()
    }

    /// Whether we answer a host's unicast re-validation for forwarder `f`
    /// (docs/protocol.md §10.4): we forward it and it is still eligible
    /// for new hosts (we own it, or within redirect after its owner died).
    fn revalidates(f: &Forwarder, now: Millis) -> bool {
        f.active && f.redirect_at.map_or(true, |r| r > now)
    }

    /// The VMACs we forward whose unicast re-validations we answer (with
    /// that same VMAC, AVG or not), as (number, VMAC). Past redirect a
    /// holder stays silent: the host's probes fail while its traffic still
    /// flows, it broadcasts and moves to a live forwarder before the
    /// timeout deletes this one.
    pub fn revalidating(&self, now: Millis) -> impl Iterator<Item = (u8, MacAddr)> + '_ {
        self.fwds
            .iter()
            .flatten()
            .filter(move |f| Self::revalidates(f, now))
            .map(|f| (f.number, f.vmac))
    }

    /// What a dataplane answering ARP for the VIP needs, when this member is
    /// the AVG: the VIP and the balancing table (eligible forwarders,
    /// method, client cache). `None` when not AVG (stay silent).
    pub fn balancing(&self, now: Millis) -> Option<Balancing> {
        let vip = self.vip.filter(|_| self.vg == VgState::Active)?;
        Some(Balancing {
            vip,
            balance: Balance::new(
                self.cfg.load_balancing,
                &self.eligible(now),
                self.clients.clone(),
            ),
        })
    }

    /// The client cache's live entries (empty when the cache is off).
    pub fn clients(&self, now: Millis) -> Vec<ClientEntry> {
        self.clients
            .as_ref()
            .map_or_else(Vec::new, |c| c.entries(now))
    }

    /// The client cache table itself, for a dataplane that answers ARP.
    pub fn client_table(&self) -> Option<&Arc<ClientTable>> {
        self.clients.as_ref()
    }

    pub(super) fn on_arp(
        &mut self,
        now: Millis,
        host_ip: IpAddr,
        host_mac: MacAddr,
        dst: MacAddr,
        out: &mut Vec<Action>,
    ) {
        let Some(vip) = self.vip else {
            self.counters.arp_ignored += 1;
            return;
        };
        if !dst.is_broadcast() && dst != self.mac {
            // A unicast re-validation of the entry a host holds.
            let hit = self
                .fwds
                .iter_mut()
                .flatten()
                .find(|f| f.vmac == dst && Self::revalidates(f, now));
            match hit {
                Some(f) => {
                    self.counters.arp_replies += 1;
                    out.push(Action::ArpReply {
                        host_ip,
                        host_mac,
                        vip,
                        vmac: f.vmac,
                    });
                }
                None => self.counters.arp_ignored += 1,
            }
            return;
        }
        let Some(b) = self.balancing(now) else {
            self.counters.arp_ignored += 1;
            return;
        };
        let b = b.balance;
        let pick = b
            .pick(host_mac, &mut self.turn, now)
            .map(|i| b.forwarders[i].0);
        let Some(f) = pick.and_then(|n| self.fwds[usize::from(n - 1)].as_mut()) else {
            self.counters.arp_ignored += 1;
            return;
        };
        f.clients += 1;
        self.counters.arp_replies += 1;
        out.push(Action::ArpReply {
            host_ip,
            host_mac,
            vip,
            vmac: f.vmac,
        });
    }
}
