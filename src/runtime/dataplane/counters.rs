//! Per-lcore counters: each lcore counts in plain local integers and
//! publishes them with relaxed stores once per poll round into its own
//! cache-padded block, so no two lcores ever write the same cache line.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crossbeam::utils::CachePadded;

/// Defines a counted kind (drop reasons, punt classes) from one table
/// whose rows give the variant, its stable snake_case name (the JSON key
/// and Prometheus label) and its help text, so that adding a kind is one
/// line. Generates the enum (discriminants 0..COUNT, in table order),
/// `COUNT`, `ALL`, `name()`, `help()`, `from_index()` and `$counts`, an
/// array of counts indexed by the kind that serializes as a JSON object
/// `{name: count}` in table order.
macro_rules! counted_kinds {
    (
        $(#[$meta:meta])*
        pub enum $kind:ident: $repr:ident, counted in $counts:ident {
            $( $variant:ident = $name:literal, $help:literal; )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr($repr)]
        pub enum $kind {
            $( #[doc = $help] $variant, )+
        }

        impl $kind {
            pub const COUNT: usize = [$($kind::$variant),+].len();
            pub const ALL: [$kind; $kind::COUNT] = [$($kind::$variant),+];
            /// Stable snake_case name: JSON key, Prometheus label value.
            pub fn name(self) -> &'static str {
                match self { $( $kind::$variant => $name, )+ }
            }
            /// One-line description.
            pub fn help(self) -> &'static str {
                match self { $( $kind::$variant => $help, )+ }
            }
            /// The kind of a discriminant (`self as usize`); None when out
            /// of range.
            pub fn from_index(i: usize) -> Option<$kind> {
                $kind::ALL.get(i).copied()
            }
            /// The kind named `name` (see [`Self::name`]).
            pub fn from_name(name: &str) -> Option<$kind> {
                $kind::ALL.iter().copied().find(|k| k.name() == name)
            }
        }

        #[doc = concat!("A count per [`", stringify!($kind), "`]; JSON: `{name: count}`.")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $counts(pub [u64; $kind::COUNT]);

        impl Default for $counts {
            fn default() -> Self {
                $counts([0; $kind::COUNT])
            }
        }

        impl std::ops::Index<$kind> for $counts {
            type Output = u64;
            #[inline]
            fn index(&self, k: $kind) -> &u64 {
                &self.0[k as usize]
            }
        }

        impl std::ops::IndexMut<$kind> for $counts {
            #[inline]
            fn index_mut(&mut self, k: $kind) -> &mut u64 {
                &mut self.0[k as usize]
            }
        }

        impl $counts {
            /// (kind, count) in table order.
            pub fn iter(&self) -> impl Iterator<Item = ($kind, u64)> + '_ {
                $kind::ALL.iter().map(move |k| (*k, self[*k]))
            }
            /// Adds `other` into self.
            pub fn add(&mut self, other: &$counts) {
                self.0.iter_mut().zip(other.0).for_each(|(x, y)| *x += y);
            }
            pub fn total(&self) -> u64 {
                self.0.iter().sum()
            }
        }

        impl serde::Serialize for $counts {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_map(self.iter().map(|(k, v)| (k.name(), v)))
            }
        }

        /// Names this version does not know (from another version's
        /// document) are skipped; missing ones count 0.
        impl<'de> serde::Deserialize<'de> for $counts {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let m = std::collections::BTreeMap::<String, u64>::deserialize(d)?;
                let mut c = $counts::default();
                for (name, v) in m {
                    if let Some(k) = $kind::from_name(&name) {
                        c[k] = v;
                    }
                }
                Ok(c)
            }
        }
    };
}

counted_kinds! {
    /// Why a worker (or the control lcore) dropped a packet.
    pub enum DropReason: u8, counted in DropCounts {
        Malformed = "malformed", "Shorter than its headers claim, bad version/IHL, bad checksum.";
        NotForUs = "not_for_us", "Not addressed to a MAC this node receives for.";
        Unsupported = "unsupported", "An ethertype or protocol the router does not handle.";
        UnknownVlan = "unknown_vlan", "Tagged with a VLAN no interface of the port has, or untagged on a port that only carries VLANs.";
        NoRoute = "no_route", "No route to the destination.";
        Unresolved = "unresolved", "The next hop has no ARP entry yet.";
        ArpNotAvg = "arp_not_avg", "ARP for a virtual IP on a member that is not AVG.";
        NdNotAvg = "nd_not_avg", "A neighbour solicitation for a virtual IPv6 address on a member that is not AVG.";
        ExceptionFull = "exception_full", "The ring to the control lcore was full.";
        TxFull = "tx_full", "The TX queue (or hand-off ring) was full.";
        Other = "other", "IPv4 fragments, options we do not forward, etc.";
        LinkDown = "link_down", "The egress port's link is down.";
        GlbpOwnAddress = "glbp_own_address", "GLBP from our own port address, owner ID or MAC: our own frame looped back, or another router with our address (%GLBP-4-DUPADDR).";
    }
}

counted_kinds! {
    /// Why a worker hands a frame to the control lcore (the punt classes
    /// that timing and policing are kept by).
    pub enum PuntClass: u8, counted in PuntCounts {
        Glbp = "glbp", "GLBP: UDP 3222 to 224.0.0.102 or to an own address.";
        Arp = "arp", "ARP the workers do not answer: for own addresses, replies to us, broadcasts.";
        Icmp = "icmp", "ICMP to an own address or a virtual IP.";
        Own = "own", "Other IPv4 to an own address or a virtual IP.";
        TtlExpired = "ttl_expired", "IPv4 whose TTL expired here (time exceeded).";
        Nd = "nd", "Neighbor Discovery the workers do not answer: router solicitations, solicitations for own addresses, advertisements.";
        Unreachable = "unreachable", "Routed traffic with no route (also counted as dropped, no_route), to be answered with destination unreachable.";
    }
}

// A punt stamp keeps the class in its low 4 bits.
const _: () = assert!(PuntClass::COUNT <= 16);

/// The stamp a worker puts on a frame it punts at TSC `now`: the control
/// lcore measures how long the frame waited, and by class
/// ([`PuntClass::of_stamp`]).
#[inline]
pub fn punt_stamp(now: u64, class: PuntClass) -> u64 {
    now & !0xf | class as u64
}

impl PuntClass {
    /// The class and the TSC (to 16 ticks) of a [`punt_stamp`].
    pub fn of_stamp(stamp: u64) -> Option<(PuntClass, u64)> {
        PuntClass::from_index((stamp & 0xf) as usize).map(|c| (c, stamp & !0xf))
    }
}

/// Local (unshared) counters of one lcore.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub rx_packets: Vec<u64>,
    pub rx_bytes: Vec<u64>,
    pub tx_packets: Vec<u64>,
    pub tx_bytes: Vec<u64>,
    pub forwarded: u64,
    pub arp_replies: u64,
    /// ARP replies for the virtual IPs, by forwarder number 1..=4.
    pub arp_by_forwarder: [u64; 4],
    /// Neighbour advertisements for virtual IPv6 addresses, made from the
    /// hosts' solicitations.
    pub nd_replies: u64,
    pub punted: u64,
    /// Drops by reason; JSON: `{reason: count}`.
    pub drops: DropCounts,
    /// Punts dropped by the `[control_plane]` policers, by class; JSON:
    /// `{class: count}`.
    pub policed: PuntCounts,
}

impl Counts {
    pub fn new(ports: usize) -> Counts {
        Counts {
            rx_packets: vec![0; ports],
            rx_bytes: vec![0; ports],
            tx_packets: vec![0; ports],
            tx_bytes: vec![0; ports],
            ..Counts::default()
        }
    }
    #[inline]
    pub fn drop(&mut self, why: DropReason) {
        self.drops[why] += 1;
    }
    /// Adds `other` into self.
    pub fn add(&mut self, other: &Counts) {
        let sum = |a: &mut Vec<u64>, b: &Vec<u64>| {
            if a.len() < b.len() {
                a.resize(b.len(), 0);
            }
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        };
        sum(&mut self.rx_packets, &other.rx_packets);
        sum(&mut self.rx_bytes, &other.rx_bytes);
        sum(&mut self.tx_packets, &other.tx_packets);
        sum(&mut self.tx_bytes, &other.tx_bytes);
        self.forwarded += other.forwarded;
        self.arp_replies += other.arp_replies;
        self.nd_replies += other.nd_replies;
        self.punted += other.punted;
        self.arp_by_forwarder
            .iter_mut()
            .zip(other.arp_by_forwarder)
            .for_each(|(x, y)| *x += y);
        self.drops.add(&other.drops);
        self.policed.add(&other.policed);
    }
    pub fn total_drops(&self) -> u64 {
        self.drops.total()
    }
}

/// The published copy of one lcore's counters (written by that lcore only).
pub struct Shared {
    ports: usize,
    /// rx_packets, rx_bytes, tx_packets, tx_bytes per port, then the scalars.
    cells: CachePadded<Box<[AtomicU64]>>,
}

const SCALARS: usize = 3 + 4 + DropReason::COUNT + PuntClass::COUNT + 1;

impl Shared {
    pub fn new(ports: usize) -> Shared {
        let n = 4 * ports + SCALARS;
        Shared {
            ports,
            cells: CachePadded::new((0..n).map(|_| AtomicU64::new(0)).collect()),
        }
    }

    /// Publishes `c` (called by the owning lcore only).
    #[inline]
    pub fn publish(&self, c: &Counts) {
        let p = self.ports;
        let cells = &self.cells;
        for i in 0..p {
            cells[i].store(c.rx_packets[i], Relaxed);
            cells[p + i].store(c.rx_bytes[i], Relaxed);
            cells[2 * p + i].store(c.tx_packets[i], Relaxed);
            cells[3 * p + i].store(c.tx_bytes[i], Relaxed);
        }
        let s = 4 * p;
        cells[s].store(c.forwarded, Relaxed);
        cells[s + 1].store(c.arp_replies, Relaxed);
        cells[s + 2].store(c.punted, Relaxed);
        for (i, d) in c.drops.0.iter().enumerate() {
            cells[s + 3 + i].store(*d, Relaxed);
        }
        for (i, d) in c.arp_by_forwarder.iter().enumerate() {
            cells[s + 3 + DropReason::COUNT + i].store(*d, Relaxed);
        }
        for (i, d) in c.policed.0.iter().enumerate() {
            cells[s + 7 + DropReason::COUNT + i].store(*d, Relaxed);
        }
        cells[s + 7 + DropReason::COUNT + PuntClass::COUNT].store(c.nd_replies, Relaxed);
    }

    /// Reads the last published values (any thread).
    pub fn read(&self) -> Counts {
        let p = self.ports;
        let cells = &self.cells;
        let get = |i: usize| cells[i].load(Relaxed);
        let s = 4 * p;
        let mut drops = DropCounts::default();
        for (i, d) in drops.0.iter_mut().enumerate() {
            *d = get(s + 3 + i);
        }
        let mut arp_by_forwarder = [0; 4];
        for (i, d) in arp_by_forwarder.iter_mut().enumerate() {
            *d = get(s + 3 + DropReason::COUNT + i);
        }
        let mut policed = PuntCounts::default();
        for (i, d) in policed.0.iter_mut().enumerate() {
            *d = get(s + 7 + DropReason::COUNT + i);
        }
        Counts {
            rx_packets: (0..p).map(get).collect(),
            rx_bytes: (0..p).map(|i| get(p + i)).collect(),
            tx_packets: (0..p).map(|i| get(2 * p + i)).collect(),
            tx_bytes: (0..p).map(|i| get(3 * p + i)).collect(),
            forwarded: get(s),
            arp_replies: get(s + 1),
            nd_replies: get(s + 7 + DropReason::COUNT + PuntClass::COUNT),
            punted: get(s + 2),
            arp_by_forwarder,
            drops,
            policed,
        }
    }
}

/// ARP replies for virtual IPs by (port, group, forwarder): the AVG's
/// "client selection count". One block per worker, written by that worker
/// only with plain (relaxed) load and store: no lock, no atomic
/// read-modify-write on the fast path.
pub struct ArpClients {
    cells: Box<[AtomicU64]>,
}

const GROUPS: usize = 1024;

impl ArpClients {
    pub fn new(ports: usize) -> ArpClients {
        ArpClients {
            cells: (0..ports * GROUPS * 4).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    #[inline]
    fn index(port: usize, group: u16, forwarder: u8) -> usize {
        (port * GROUPS + usize::from(group) % GROUPS) * 4 + usize::from(forwarder.clamp(1, 4) - 1)
    }

    /// Counts one reply (owning worker only).
    #[inline]
    pub fn bump(&self, port: usize, group: u16, forwarder: u8) {
        if let Some(c) = self.cells.get(Self::index(port, group, forwarder)) {
            c.store(c.load(Relaxed) + 1, Relaxed);
        }
    }

    /// Replies counted so far (any thread).
    pub fn get(&self, port: usize, group: u16, forwarder: u8) -> u64 {
        self.cells
            .get(Self::index(port, group, forwarder))
            .map_or(0, |c| c.load(Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_distinct_snake_case_names_and_help() {
        fn check(names: Vec<&str>, helps: Vec<&str>) {
            let mut seen = std::collections::BTreeSet::new();
            for n in &names {
                assert!(
                    !n.is_empty() && n.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                    "{n}"
                );
                assert!(seen.insert(*n), "{n} twice");
            }
            assert!(helps.iter().all(|h| !h.is_empty()));
        }
        check(
            DropReason::ALL.iter().map(|k| k.name()).collect(),
            DropReason::ALL.iter().map(|k| k.help()).collect(),
        );
        check(
            PuntClass::ALL.iter().map(|k| k.name()).collect(),
            PuntClass::ALL.iter().map(|k| k.help()).collect(),
        );
        for (i, k) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
            assert_eq!(DropReason::from_index(i), Some(*k));
            assert_eq!(DropReason::from_name(k.name()), Some(*k));
        }
    }

    #[test]
    fn drops_are_a_map_by_reason_name() {
        let mut c = Counts::new(2);
        c.drop(DropReason::NotForUs);
        c.drop(DropReason::GlbpOwnAddress);
        c.drop(DropReason::GlbpOwnAddress);
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["drops"]["not_for_us"], 1);
        assert_eq!(v["drops"]["glbp_own_address"], 2);
        assert_eq!(v["drops"]["malformed"], 0);
        assert_eq!(v["drops"].as_object().unwrap().len(), DropReason::COUNT);
        // Unknown names (another version's) are skipped, missing ones are 0.
        let back: DropCounts =
            serde_json::from_str(r#"{"not_for_us": 1, "from_the_future": 9}"#).unwrap();
        let mut want = DropCounts::default();
        want[DropReason::NotForUs] = 1;
        assert_eq!(back, want);
        assert_eq!(
            serde_json::from_value::<DropCounts>(v["drops"].clone()).unwrap(),
            c.drops
        );
    }
}
