//! `show glbp` text in the IOS layout, for operators.

use std::fmt::Write;

use super::config::LoadBalancing;
use super::group::{GroupStatus, PeerStatus};
use super::{vf_name, vg_name, Millis};
use crate::wire::glbp::VfState;
use crate::wire::MacAddr;

/// `0007.b400.0101`, as IOS prints MACs.
pub fn cisco_mac(m: MacAddr) -> String {
    let b = m.0;
    format!(
        "{:02x}{:02x}.{:02x}{:02x}.{:02x}{:02x}",
        b[0], b[1], b[2], b[3], b[4], b[5]
    )
}

fn secs(ms: Millis) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

fn timer(ms: u32) -> String {
    if ms % 1000 == 0 {
        format!("{} sec", ms / 1000)
    } else {
        format!("{ms} msec")
    }
}

fn router(p: &Option<PeerStatus>) -> String {
    match p {
        None => "unknown".into(),
        Some(p) if p.local => "local".into(),
        Some(p) => format!(
            "{}, priority {} (expires in {} sec)",
            p.ip,
            p.priority,
            secs(p.expires_in_ms.unwrap_or(0))
        ),
    }
}

impl GroupStatus {
    /// `show glbp` for this group on interface `ifname`.
    pub fn show(&self, ifname: &str) -> String {
        let c = &self.config;
        let mut o = String::new();
        let _ = writeln!(o, "{ifname} - Group {}", self.group);
        let _ = writeln!(o, "  State is {}", vg_name(self.state));
        match self.vip {
            Some(v) => _ = writeln!(o, "  Virtual IP address is {v}"),
            None => _ = writeln!(o, "  Virtual IP address is unknown"),
        }
        let cfgd = if self.hello_ms.0 != self.hello_ms.1 || self.hold_ms.0 != self.hold_ms.1 {
            format!(
                " (cfgd {}, {})",
                timer(self.hello_ms.1),
                timer(self.hold_ms.1)
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            o,
            "  Hello time {}, hold time {}{cfgd}",
            timer(self.hello_ms.0),
            timer(self.hold_ms.0)
        );
        if let Some(n) = self.next_hello_in_ms {
            let _ = writeln!(o, "    Next hello sent in {} secs", secs(n));
        }
        let _ = writeln!(
            o,
            "  Redirect time {} sec, forwarder time-out {} sec",
            self.redirect_s.0, self.timeout_s.0
        );
        if c.preempt {
            let _ = writeln!(
                o,
                "  Preemption enabled, min delay {} sec",
                c.preempt_delay_ms / 1000
            );
        } else {
            let _ = writeln!(o, "  Preemption disabled");
        }
        let _ = writeln!(o, "  Active is {}", router(&self.active));
        let _ = writeln!(o, "  Standby is {}", router(&self.standby));
        let _ = writeln!(o, "  Priority {} (configured)", self.priority);
        let w = c.weighting;
        let low = if self.weight_low {
            ", below lower threshold"
        } else {
            ""
        };
        let _ = writeln!(
            o,
            "  Weighting {} (configured {}), thresholds: lower {}, upper {}{low}",
            self.weight, w.max, w.lower, w.upper
        );
        let lb = match c.load_balancing {
            LoadBalancing::RoundRobin => "round-robin",
            LoadBalancing::Weighted => "weighted",
            LoadBalancing::HostDependent => "host-dependent",
        };
        let _ = writeln!(o, "  Load balancing: {lb}");
        let _ = writeln!(o, "  Group members:");
        for m in &self.members {
            let local = if m.local { " local" } else { "" };
            let _ = writeln!(o, "    {} ({}){local}", cisco_mac(m.mac), m.ip);
        }
        let active = self
            .forwarders
            .iter()
            .filter(|f| f.state == VfState::Active)
            .count();
        let _ = writeln!(
            o,
            "  There are {} forwarders ({active} active)",
            self.forwarders.len()
        );
        for f in &self.forwarders {
            let _ = writeln!(o, "  Forwarder {}", f.number);
            let _ = writeln!(o, "    State is {}", vf_name(f.state));
            let _ = writeln!(o, "    MAC address is {} (default)", cisco_mac(f.vmac));
            let owner = f.owner.map_or("unknown".into(), cisco_mac);
            let _ = writeln!(
                o,
                "    Owner ID is {owner}{}",
                if f.primary { " (local)" } else { "" }
            );
            match f.redirect_left_ms {
                None => _ = writeln!(o, "    Redirection enabled"),
                Some(0) => _ = writeln!(o, "    Redirection disabled (redirect time expired)"),
                Some(ms) => _ = writeln!(o, "    Redirection enabled, {} sec remaining", secs(ms)),
            }
            if let Some(ms) = f.timeout_left_ms {
                let _ = writeln!(o, "    Time to live: {} sec", secs(ms));
            }
            if c.forwarder_preempt {
                let _ = writeln!(
                    o,
                    "    Preemption enabled, min delay {} sec",
                    c.forwarder_preempt_delay_ms / 1000
                );
            } else {
                let _ = writeln!(o, "    Preemption disabled");
            }
            let who = match (f.state, f.active_router) {
                (VfState::Active, _) => "local".to_string(),
                (_, Some(ip)) => ip.to_string(),
                (_, None) => "unknown".to_string(),
            };
            let weight = f.weight.map_or("-".into(), |w| w.to_string());
            let _ = writeln!(o, "    Active is {who}, weighting {weight}");
            let _ = writeln!(o, "    Client selection count: {}", f.clients);
            if c.client_cache.max > 0 {
                let _ = writeln!(o, "    Clients in cache: {}", f.cached_clients);
            }
        }
        if c.client_cache.max > 0 {
            let _ = writeln!(
                o,
                "  Client cache: {} of maximum {} entries, timeout {} sec",
                self.clients.len(),
                c.client_cache.max,
                c.client_cache.timeout_s
            );
            if !self.clients.is_empty() {
                let _ = writeln!(o, "    Host MAC        Fwd  Last assigned");
                for (host, fwd, age) in &self.clients {
                    let _ = writeln!(
                        o,
                        "    {}  {fwd:>3}  {} sec ago",
                        cisco_mac(*host),
                        age / 1000
                    );
                }
            }
        }
        o
    }
}
