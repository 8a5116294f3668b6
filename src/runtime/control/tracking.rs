//! Tracked objects on the control lcore: each port's link state (the PMD's,
//! and for kernel-backed virtual devices the kernel interface's carrier,
//! since `net_af_packet` reports its link up for ever), and neighbours
//! probed by ARP or ICMP echo. Changes go to the GLBP engines as
//! `PortEvent::Track`; a port whose link is down is published to the
//! workers, which stop forwarding into it, and its ARP entries are marked
//! stale.

use std::net::Ipv4Addr;

use super::Control;
use crate::config::TrackProbe;
use crate::runtime::control::track::ProbeOut;
use crate::wire::icmpv4::Icmpv4Repr;

/// How often link states are read.
const LINK_POLL_MS: u64 = 100;

/// The kernel interface behind a kernel-backed virtual device
/// (`net_af_packet…,iface=NAME`, `net_tap…,iface=NAME`), whose carrier
/// tells the link state the PMD does not.
pub fn kernel_iface(device: &str) -> Option<String> {
    let mut parts = device.split(',');
    let name = parts.next()?;
    if !(name.starts_with("net_af_packet") || name.starts_with("net_tap")) {
        return None;
    }
    parts
        .find_map(|a| a.strip_prefix("iface="))
        .filter(|i| !i.is_empty() && !i.contains(['/', '.']))
        .map(String::from)
}

/// The kernel's view of `iface` in this network namespace: carrier, and
/// operstate when carrier cannot be read (an interface set down).
fn kernel_link_up(iface: &str) -> Option<bool> {
    let dir = std::path::Path::new("/sys/class/net").join(iface);
    match std::fs::read_to_string(dir.join("carrier")) {
        Ok(c) => Some(c.trim() == "1"),
        Err(_) => std::fs::read_to_string(dir.join("operstate"))
            .ok()
            .map(|s| matches!(s.trim(), "up" | "unknown")),
    }
}

impl Control {
    /// Reads link states and runs the neighbour probes; true when a
    /// tracked object changed.
    pub(super) fn track_poll(&mut self, now: u64) -> bool {
        let mut changes = Vec::new();
        if now >= self.next_track_poll {
            self.next_track_poll = now + LINK_POLL_MS;
            // Read once per physical port: its VLANs share its link.
            let mut read: Vec<(usize, bool)> = Vec::new();
            for pidx in 0..self.ports.len() {
                let p = &self.ports[pidx];
                let up = match read.iter().find(|(l, _)| *l == p.link) {
                    Some(&(_, up)) => up,
                    None => {
                        let pmd = p.port.link().map_or(true, |l| l.up);
                        let kernel = p.kernel_if.as_deref().and_then(kernel_link_up);
                        let up = pmd && kernel.unwrap_or(true);
                        read.push((p.link, up));
                        up
                    }
                };
                if up != self.link_up[pidx] {
                    self.link_changed(now, pidx, up);
                }
                changes.extend(self.tracker.link(now, pidx, up));
            }
        }
        let (changed, probes) = self.tracker.poll(now);
        changes.extend(changed);
        for p in probes {
            self.send_track_probe(now, p);
        }
        let names: Vec<String> = if changes.is_empty() {
            Vec::new()
        } else {
            self.ports.iter().map(|p| p.name.clone()).collect()
        };
        for &(id, up) in &changes {
            if let Some(o) = self.tracker.get(id) {
                log::info!(
                    "%TRACK-6-STATE: {id} {} {} -> {}",
                    o.kind.describe(&names),
                    if up { "Down" } else { "Up" },
                    if up { "Up" } else { "Down" }
                );
            }
            self.track_changed(now, id, up);
        }
        !changes.is_empty()
    }

    /// A port's link went `up` or down: the workers learn it with the next
    /// snapshot (published now), and neighbours learnt on it are re-probed
    /// before they are trusted again.
    fn link_changed(&mut self, now: u64, pidx: usize, up: bool) {
        self.link_up[pidx] = up;
        log::warn!(
            "%LINK-3-UPDOWN: Interface {}, changed state to {}",
            self.ports[pidx].name,
            if up { "up" } else { "down" }
        );
        if !up {
            self.neighbors.mark_stale(now, pidx as u16);
        }
        self.publish();
    }

    fn send_track_probe(&mut self, now: u64, p: ProbeOut) {
        match p.probe {
            TrackProbe::Arp => self.send_probe(crate::runtime::control::neighbors::Probe {
                port: p.port as u16,
                ip: p.ip,
                to: None,
            }),
            TrackProbe::Icmp => match self.neighbors.get(p.port as u16, p.ip) {
                Some(mac) => self.send_echo(p.port, mac, p.ip, p.ident, p.seq),
                None => {
                    // Resolve first; this probe counts as unanswered.
                    if let Some(r) = self.neighbors.resolve(now, p.port as u16, p.ip) {
                        self.send_probe(r);
                    }
                }
            },
        }
    }

    fn send_echo(
        &mut self,
        pidx: usize,
        to: crate::wire::MacAddr,
        ip: Ipv4Addr,
        ident: u16,
        seq: u16,
    ) {
        let (mac, own) = (self.ports[pidx].mac, self.ports[pidx].addr.addr);
        let icmp = Icmpv4Repr::EchoRequest {
            ident,
            seq_no: seq,
            data: b"glbpd track",
        };
        if let Some(m) = self.icmp_frame((mac, to), (own, ip), (seq, true), &icmp) {
            self.stats.track_probes_sent += 1;
            self.send(pidx, m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_interfaces_of_kernel_backed_devices_only() {
        assert_eq!(
            kernel_iface("net_af_packet0,iface=up0,framecnt=4096").as_deref(),
            Some("up0")
        );
        assert_eq!(kernel_iface("net_tap1,iface=tap7").as_deref(), Some("tap7"));
        assert_eq!(kernel_iface("net_null0"), None);
        assert_eq!(kernel_iface("0000:3b:00.0"), None);
        assert_eq!(kernel_iface("net_af_packet0,iface=../x"), None);
    }
}
