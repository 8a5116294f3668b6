//! Per-lcore counters: each lcore counts in plain local integers and
//! publishes them with relaxed stores once per poll round into its own
//! cache-padded block, so no two lcores ever write the same cache line.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crossbeam::utils::CachePadded;

/// Why a worker dropped a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Drop {
    /// Shorter than its headers claim, bad version/IHL, bad checksum.
    Malformed,
    /// Not addressed to a MAC this node receives for.
    NotForUs,
    /// An ethertype or protocol the router does not handle.
    Unsupported,
    /// No route to the destination.
    NoRoute,
    /// The next hop has no ARP entry yet.
    Unresolved,
    /// ARP for a virtual IP on a member that is not AVG.
    ArpNotAvg,
    /// The ring to the control lcore was full.
    ExceptionFull,
    /// The TX queue (or hand-off ring) was full.
    TxFull,
    /// IPv4 fragments, options we do not forward, etc.
    Other,
    /// The egress port's link is down.
    LinkDown,
    /// GLBP from our own port address, owner ID or MAC: our own frame
    /// looped back, or another router with our address (`%GLBP-4-DUPADDR`).
    GlbpOwnAddress,
}

impl Drop {
    pub const COUNT: usize = 11;
    pub const ALL: [Drop; Drop::COUNT] = [
        Drop::Malformed,
        Drop::NotForUs,
        Drop::Unsupported,
        Drop::NoRoute,
        Drop::Unresolved,
        Drop::ArpNotAvg,
        Drop::ExceptionFull,
        Drop::TxFull,
        Drop::Other,
        Drop::LinkDown,
        Drop::GlbpOwnAddress,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Drop::Malformed => "malformed",
            Drop::NotForUs => "not_for_us",
            Drop::Unsupported => "unsupported",
            Drop::NoRoute => "no_route",
            Drop::Unresolved => "unresolved",
            Drop::ArpNotAvg => "arp_not_avg",
            Drop::ExceptionFull => "exception_full",
            Drop::TxFull => "tx_full",
            Drop::Other => "other",
            Drop::LinkDown => "link_down",
            Drop::GlbpOwnAddress => "glbp_own_address",
        }
    }
}

/// Why a worker hands a frame to the control lcore (the punt classes
/// that timing and policing are kept by).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum PuntClass {
    /// GLBP: UDP 3222 to 224.0.0.102 or to an own address.
    Glbp,
    /// ARP the workers do not answer: for own addresses, replies to us,
    /// broadcasts.
    Arp,
    /// ICMP to an own address or a virtual IP.
    Icmp,
    /// Other IPv4 to an own address or a virtual IP.
    Own,
    /// IPv4 whose TTL expired here (time exceeded).
    TtlExpired,
}

impl PuntClass {
    pub const COUNT: usize = 5;
    pub const ALL: [PuntClass; PuntClass::COUNT] = [
        PuntClass::Glbp,
        PuntClass::Arp,
        PuntClass::Icmp,
        PuntClass::Own,
        PuntClass::TtlExpired,
    ];
    pub fn name(self) -> &'static str {
        match self {
            PuntClass::Glbp => "glbp",
            PuntClass::Arp => "arp",
            PuntClass::Icmp => "icmp",
            PuntClass::Own => "own",
            PuntClass::TtlExpired => "ttl_expired",
        }
    }
    /// The class of a discriminant (`self as u8`); None when out of range.
    pub fn from_index(i: usize) -> Option<PuntClass> {
        PuntClass::ALL.get(i).copied()
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
    pub punted: u64,
    pub drops: [u64; Drop::COUNT],
    /// Punts dropped by the `[control_plane]` policers, by class.
    pub policed: [u64; PuntClass::COUNT],
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
    pub fn drop(&mut self, why: Drop) {
        self.drops[why as usize] += 1;
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
        self.punted += other.punted;
        self.arp_by_forwarder
            .iter_mut()
            .zip(other.arp_by_forwarder)
            .for_each(|(x, y)| *x += y);
        self.drops
            .iter_mut()
            .zip(other.drops)
            .for_each(|(x, y)| *x += y);
        self.policed
            .iter_mut()
            .zip(other.policed)
            .for_each(|(x, y)| *x += y);
    }
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }
}

/// The published copy of one lcore's counters (written by that lcore only).
pub struct Shared {
    ports: usize,
    /// rx_packets, rx_bytes, tx_packets, tx_bytes per port, then the scalars.
    cells: CachePadded<Box<[AtomicU64]>>,
}

const SCALARS: usize = 3 + 4 + Drop::COUNT + PuntClass::COUNT;

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
        for (i, d) in c.drops.iter().enumerate() {
            cells[s + 3 + i].store(*d, Relaxed);
        }
        for (i, d) in c.arp_by_forwarder.iter().enumerate() {
            cells[s + 3 + Drop::COUNT + i].store(*d, Relaxed);
        }
        for (i, d) in c.policed.iter().enumerate() {
            cells[s + 7 + Drop::COUNT + i].store(*d, Relaxed);
        }
    }

    /// Reads the last published values (any thread).
    pub fn read(&self) -> Counts {
        let p = self.ports;
        let cells = &self.cells;
        let get = |i: usize| cells[i].load(Relaxed);
        let s = 4 * p;
        let mut drops = [0; Drop::COUNT];
        for (i, d) in drops.iter_mut().enumerate() {
            *d = get(s + 3 + i);
        }
        let mut arp_by_forwarder = [0; 4];
        for (i, d) in arp_by_forwarder.iter_mut().enumerate() {
            *d = get(s + 3 + Drop::COUNT + i);
        }
        let mut policed = [0; PuntClass::COUNT];
        for (i, d) in policed.iter_mut().enumerate() {
            *d = get(s + 7 + Drop::COUNT + i);
        }
        Counts {
            rx_packets: (0..p).map(get).collect(),
            rx_bytes: (0..p).map(|i| get(p + i)).collect(),
            tx_packets: (0..p).map(|i| get(2 * p + i)).collect(),
            tx_bytes: (0..p).map(|i| get(3 * p + i)).collect(),
            forwarded: get(s),
            arp_replies: get(s + 1),
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
