//! The worker's burst pipeline, in the manner of l3fwd's `processx4` path
//! and VPP's dual/quad loops: the whole RX burst goes through each stage
//! before the next one starts, so the CPU overlaps the packets' loads
//! instead of waiting on each packet in turn.
//!
//! 1. **Classify** (with the data of packet `i + 4` prefetched): a frame
//!    is a *plain forward* when it is an IPv4 frame (untagged, or behind
//!    its interface's 802.1Q tag) to the interface's MAC or a VMAC held
//!    on it, with a 20-byte header that is sane
//!    (version, lengths), a correct checksum (the device's flag when the
//!    port has the offload, software otherwise) and a TTL above 1; or an
//!    IPv6 frame to the same MACs, its payload length within the frame,
//!    a hop limit above 1, global (not link-local, not multicast)
//!    addresses and no ICMPv6 (Neighbor Discovery and echo go to the
//!    reference). Plain forwards are collected in small arrays, one set
//!    per family; every other frame (ARP,
//!    GLBP, anything odd) gets its verdict from the per-packet reference,
//!    [`process`]. The leading frames on one interface (the whole burst,
//!    usually) go through a loop that knows the interface; the rest are
//!    sorted one by one (see [`Ingress`]).
//! 2. **Route**: one bulk longest-prefix-match lookup per family for all
//!    plain forwards ([`Routes::lookup_bulk`], [`super::state::Routes6::lookup6_bulk`]:
//!    one call into `rte_lpm6_lookup_bulk_func` for the burst).
//! 3. **Rewrite**: a frame whose next hop is one where own addresses or
//!    virtual IPs are routed too is checked against them (and, when it is
//!    addressed to one, goes to the reference, which punts it); the others
//!    get the next hop's precomputed 12-byte MAC header in one copy and
//!    their TTL decremented with an RFC 1624 incremental checksum update
//!    (IPv6: the hop limit, no checksum).
//!
//! The worker then hands each frame to its egress port's TX batch
//! (transmit grouped by port). Verdicts and bytes are the reference's: a
//! property test feeds random bursts through both.

use std::net::Ipv6Addr;

use super::counters::DropReason;
use super::index::{mac_header, HopEntry, LocalHops, PortIndex, SnapshotIndex};
use super::state::{DataplaneState, PortLinks, Routes, NO_IFACE, NO_ROUTE};
use super::worker::{process, LastHop, Scratch, Verdict, CONNECTED};
use crate::dpdk::{Mbuf, RxCksum, MAX_BURST};
use crate::wire::{checksum, ethernet, ipv4, MacAddr};

/// A received frame as the pipeline sees it.
pub trait Frame {
    /// The frame's bytes (first segment), writable.
    fn bytes(&mut self) -> &mut [u8];
    /// What the device said about the IPv4 header checksum.
    fn rx_ip_cksum(&self) -> RxCksum;
    /// True when the frame has more than one segment.
    fn is_segmented(&self) -> bool;
    /// Length of the whole frame (all segments).
    fn pkt_len(&self) -> u32;
    /// Starts loading the frame's first bytes into the cache.
    fn prefetch(&self);
    /// Removes the frame's 802.1Q tag (or takes the one the device
    /// stripped) and returns its TCI; None for an untagged frame.
    fn vlan_strip(&mut self) -> Option<u16>;
    /// The TCI of the tag the device (or [`Frame::vlan_strip`]) stripped.
    fn vlan_tci(&self) -> Option<u16>;
    /// Removes `n` bytes from the front of the frame.
    fn drop_front(&mut self, n: usize);
}

impl Frame for Mbuf {
    #[inline]
    fn bytes(&mut self) -> &mut [u8] {
        self.data_mut()
    }
    #[inline]
    fn rx_ip_cksum(&self) -> RxCksum {
        Mbuf::rx_ip_cksum(self)
    }
    #[inline]
    fn is_segmented(&self) -> bool {
        Mbuf::is_segmented(self)
    }
    #[inline]
    fn pkt_len(&self) -> u32 {
        Mbuf::pkt_len(self)
    }
    #[inline]
    fn prefetch(&self) {
        self.prefetch_data();
    }
    #[inline]
    fn vlan_strip(&mut self) -> Option<u16> {
        Mbuf::vlan_strip(self)
    }
    #[inline]
    fn vlan_tci(&self) -> Option<u16> {
        Mbuf::vlan_tci(self)
    }
    #[inline]
    fn drop_front(&mut self, n: usize) {
        self.adj(n as u16);
    }
}

/// The interface each frame of a burst arrived on.
///
/// The pipeline first runs the burst's leading frames that are on the
/// [`Ingress::fixed`] interface (every frame, on a port without VLANs;
/// on a trunk, the frames of the first frame's VLAN, which is usually the
/// whole burst) through a loop that knows their interface and tag form;
/// from the first frame that is not, it sorts the rest one by one
/// ([`Ingress::take`]).
pub trait Ingress {
    /// True when every frame is on the [`Ingress::fixed`] interface.
    const ALL_FIXED: bool = false;
    /// The interface of the burst's first frames (see above), when known.
    #[inline(always)]
    fn fixed(&self) -> Option<usize> {
        None
    }
    /// True when the frames on the [`Ingress::fixed`] interface carry
    /// their 802.1Q tag in their data.
    #[inline(always)]
    fn fixed_tagged(&self) -> bool {
        false
    }
    /// When the frames on the [`Ingress::fixed`] interface carry their
    /// tag in their data: the tag's first 4 bytes (TPID, VID) as a
    /// big-endian number, priority bits clear, for the plain-forward
    /// check to compare (masked with `0xffff_0fff`) while it reads the
    /// header. Frames that fail it are asked [`Ingress::on_fixed`].
    #[inline(always)]
    fn fixed_tag(&self) -> Option<u32> {
        None
    }
    /// True when frame `f` is on the [`Ingress::fixed`] interface, its tag
    /// in the form [`Ingress::fixed_tagged`] says.
    #[inline(always)]
    fn on_fixed<F: Frame>(&self, _f: &mut F) -> bool {
        true
    }
    /// Notes that frame `i`, on the fixed interface, is not a plain
    /// forward (so that [`Ingress::at`] and [`Ingress::tagged`] know it).
    #[inline(always)]
    fn record(&mut self, _i: usize) {}
    /// Frame `i`'s interface ([`NO_IFACE`] when it has none), found from
    /// its tag (or the one the device stripped) and noted for
    /// [`Ingress::at`] and [`Ingress::tagged`].
    #[inline(always)]
    fn take<F: Frame>(&mut self, i: usize, _f: &mut F) -> usize {
        self.at(i)
    }
    /// The interface found for frame `i` (for the frames that were not
    /// plain forwards on the fixed interface: [`Ingress::record`],
    /// [`Ingress::take`]).
    fn at(&self, i: usize) -> usize;
    /// True when frame `i` still carries its 802.1Q tag in its data (the
    /// pipeline strips it only when the frame is not a plain forward: a
    /// plain forward's new MAC header goes after the tag and the frame
    /// then starts 4 bytes later, with no bytes moved).
    #[inline(always)]
    fn tagged(&self, _i: usize) -> bool {
        false
    }
}

/// A burst from a port without VLANs: every frame on one interface.
impl Ingress for usize {
    const ALL_FIXED: bool = true;
    #[inline(always)]
    fn at(&self, _: usize) -> usize {
        *self
    }
    #[inline(always)]
    fn fixed(&self) -> Option<usize> {
        (*self != usize::from(NO_IFACE)).then_some(*self)
    }
}

/// Interfaces given frame by frame (tests).
impl Ingress for [u16; MAX_BURST] {
    #[inline(always)]
    fn at(&self, i: usize) -> usize {
        usize::from(self.get(i).copied().unwrap_or(NO_IFACE))
    }
}

/// A burst from a port that carries VLANs: each frame's 802.1Q tag (or the
/// one the device stripped) gives, with the port, its interface,
/// [`NO_IFACE`] for a VLAN the port does not have (or an untagged frame on
/// a port with no untagged interface). A tag in the data stays there until
/// the pipeline knows what the frame is (see [`Ingress::tagged`]). A frame
/// with a second tag inside (QinQ) keeps it and the reference drops it.
///
/// The first frame's VLAN is the burst's [`Ingress::fixed`] interface: a
/// trunk's bursts are usually of one VLAN, and a frame of it then costs
/// one comparison of its tag with the first frame's.
pub struct Demux<'a> {
    port: &'a PortLinks,
    /// By frame: the interface found.
    ingress: &'a mut [u16; MAX_BURST],
    /// By frame: its tag is still in its data.
    inline: &'a mut [bool; MAX_BURST],
    /// The first frame's interface and tag key ([`tag_key`]).
    first: Option<(u16, u32)>,
}

/// A frame's tag as one number: `1 << 16 | VID` for a tag in the data,
/// `2 << 16 | VID` for one the device stripped, 0 for none, and
/// [`ODD_TAG`] for a tag in a frame too short to hold it with an
/// ethertype.
#[inline(always)]
fn tag_key<F: Frame>(f: &mut F) -> u32 {
    if let Some(t) = f.vlan_tci() {
        return 2 << 16 | u32::from(t & 0x0fff);
    }
    let b = f.bytes();
    match b.get(12..16) {
        Some(&[0x81, 0x00, hi, lo]) if b.len() >= 18 => {
            1 << 16 | u32::from(u16::from_be_bytes([hi, lo]) & 0x0fff)
        }
        Some(&[0x81, 0x00, ..]) => ODD_TAG,
        _ => 0,
    }
}

/// See [`tag_key`].
const ODD_TAG: u32 = u32::MAX;

impl<'a> Demux<'a> {
    /// Sorts a burst from `port` whose first frame is `first` (None: sort
    /// every frame on its own).
    pub fn new<F: Frame>(
        port: &'a PortLinks,
        first: Option<&mut F>,
        ingress: &'a mut [u16; MAX_BURST],
        inline: &'a mut [bool; MAX_BURST],
    ) -> Self {
        let first = first.map(tag_key).filter(|&k| k != ODD_TAG).and_then(|k| {
            let iface = port.iface((k != 0).then_some(k as u16));
            (iface != NO_IFACE).then_some((iface, k))
        });
        Demux {
            port,
            ingress,
            inline,
            first,
        }
    }
}

impl Ingress for Demux<'_> {
    #[inline(always)]
    fn fixed(&self) -> Option<usize> {
        self.first.map(|(i, _)| usize::from(i))
    }
    #[inline(always)]
    fn fixed_tagged(&self) -> bool {
        matches!(self.first, Some((_, k)) if k >> 16 == 1)
    }
    #[inline(always)]
    fn fixed_tag(&self) -> Option<u32> {
        match self.first {
            Some((_, k)) if k >> 16 == 1 => Some(0x8100_0000 | (k & 0x0fff)),
            _ => None,
        }
    }
    #[inline(always)]
    fn on_fixed<F: Frame>(&self, f: &mut F) -> bool {
        matches!(self.first, Some((_, k)) if tag_key(f) == k)
    }
    #[inline(always)]
    fn record(&mut self, i: usize) {
        let Some((iface, k)) = self.first else {
            return;
        };
        if let (Some(slot), Some(t)) = (self.ingress.get_mut(i), self.inline.get_mut(i)) {
            *slot = iface;
            *t = k >> 16 == 1;
        }
    }
    #[inline(always)]
    fn take<F: Frame>(&mut self, i: usize, f: &mut F) -> usize {
        let (tci, inline) = match tag_key(f) {
            0 | ODD_TAG => (None, false),
            k => (Some(k as u16), k >> 16 == 1),
        };
        let iface = self.port.iface(tci);
        if let (Some(slot), Some(t)) = (self.ingress.get_mut(i), self.inline.get_mut(i)) {
            *slot = iface;
            *t = inline;
        }
        usize::from(iface)
    }
    #[inline(always)]
    fn at(&self, i: usize) -> usize {
        self.ingress.at(i)
    }
    #[inline(always)]
    fn tagged(&self, i: usize) -> bool {
        self.inline.get(i).copied().unwrap_or(false)
    }
}

/// What the worker needs to know about a burst besides the verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BurstSummary {
    /// Bytes received (all frames).
    pub bytes: u64,
    /// `Some(port)` when every frame of the burst is forwarded to `port`
    /// (the common case, which the worker hands to TX in one move).
    pub uniform: Option<u16>,
    /// How many leading frames were on the [`Ingress::fixed`] interface
    /// (0 without one).
    pub on_fixed: usize,
}

/// How far ahead of the packet being classified its successors' data is
/// prefetched (l3fwd: 3).
const PREFETCH_AHEAD: usize = 4;

/// The per-burst arrays of the plain forwards, per family: burst index,
/// destination address (IPv4: host order), next-hop index from the route
/// lookup; and how many there are.
pub struct Stage {
    idx: [u8; MAX_BURST],
    dst: [u32; MAX_BURST],
    hop: [u32; MAX_BURST],
    n: usize,
    idx6: [u8; MAX_BURST],
    dst6: [[u8; 16]; MAX_BURST],
    hop6: [u32; MAX_BURST],
    n6: usize,
    /// A VMAC found held on an interface earlier in this burst: the next
    /// frame to it (nearly every frame of a burst from one LAN) is to us
    /// after one comparison.
    held: (usize, MacAddr),
}

impl Default for Stage {
    fn default() -> Self {
        Stage {
            idx: [0; MAX_BURST],
            dst: [0; MAX_BURST],
            hop: [0; MAX_BURST],
            n: 0,
            idx6: [0; MAX_BURST],
            dst6: [[0; 16]; MAX_BURST],
            hop6: [0; MAX_BURST],
            n6: 0,
            held: (usize::MAX, MacAddr([0; 6])),
        }
    }
}

impl Stage {
    /// Stages frame `i` (bytes `b`, Ethernet header `ETH` bytes long; on
    /// interface `ing`, port MAC `mac`; see [`classify`]) when it is a
    /// plain forward of either family. True when it was.
    #[inline(always)]
    fn push<const ETH: usize>(
        &mut self,
        b: &[u8],
        i: usize,
        (ing, mac, pi): (usize, MacAddr, &PortIndex),
        ck: RxCksum,
        want: Option<u32>,
    ) -> bool {
        let Some(et) = b.get(ETH - 2..ETH) else {
            return false;
        };
        let us = (ing, mac, pi);
        if et == ethernet::ETHERTYPE_IPV4.to_be_bytes() {
            if !to_us(b, us, want, &mut self.held) {
                return false;
            }
            let Some(dst) = plain_forward::<ETH>(b, ck) else {
                return false;
            };
            let k = self.n.min(MAX_BURST - 1);
            self.idx[k] = i as u8;
            self.dst[k] = dst;
            self.n = k + 1;
            true
        } else if et == ethernet::ETHERTYPE_IPV6.to_be_bytes() {
            if !to_us(b, us, want, &mut self.held) {
                return false;
            }
            let k = self.n6.min(MAX_BURST - 1);
            if !plain_forward6::<ETH>(b, &mut self.dst6[k]) {
                return false;
            }
            self.idx6[k] = i as u8;
            self.n6 = k + 1;
            true
        } else {
            false
        }
    }
}

/// Decides the fate of a burst whose frames arrived as `ingress` says
/// (see [`Ingress`]): `verdicts[i]` for `frames[i]` (at most
/// [`MAX_BURST`] frames), each frame rewritten in place when it is
/// forwarded or answered. `sc.refresh(st)` must have been called since
/// `st` was loaded.
#[inline]
pub fn process_burst<R: Routes, F: Frame, I: Ingress>(
    frames: &mut [F],
    ingress: &mut I,
    st: &DataplaneState<R>,
    sc: &mut Scratch,
    verdicts: &mut [Verdict; MAX_BURST],
) -> BurstSummary {
    let n = frames.len().min(MAX_BURST);
    let frames = &mut frames[..n];
    for f in frames.iter().take(PREFETCH_AHEAD) {
        f.prefetch();
    }
    // Stage 1: classify. First the leading frames on the fixed interface
    // (its MAC read once, the tag form known), then the others one by
    // one.
    let fixed = ingress
        .fixed()
        .map(|i| (i, st.ports.get(i).map(|p| p.mac), ingress.fixed_tagged()));
    sc.stage.n = 0;
    sc.stage.n6 = 0;
    sc.stage.held = (usize::MAX, MacAddr([0; 6]));
    let mut bytes = 0u64;
    let mut i = 0;
    if let Some((ing, mac, tagged)) = fixed {
        // With tags in the data, a plain forward's tag is checked with its
        // header; any other frame is asked whether it is on the fixed
        // interface.
        let want = ingress.fixed_tag();
        while i < n {
            if let Some(f) = frames.get(i + PREFETCH_AHEAD) {
                f.prefetch();
            }
            let f = &mut frames[i];
            if !I::ALL_FIXED && want.is_none() && !ingress.on_fixed(f) {
                break;
            }
            let len = f.pkt_len();
            if f.is_segmented() {
                verdicts[i] = Verdict::Drop(DropReason::Other);
            } else if !classify(f, i, (ing, mac, tagged, want), &sc.index, &mut sc.stage) {
                if want.is_some() && !ingress.on_fixed(f) {
                    break;
                }
                ingress.record(i);
                verdicts[i] = slow(f, ing, tagged, st, sc);
            }
            bytes += u64::from(len);
            i += 1;
        }
    }
    // Frames before `split` were on the fixed interface.
    let split = i;
    if split < n {
        sort_each(frames, split, ingress, st, sc, verdicts, &mut bytes);
    }
    let (mut k, mut k6) = (sc.stage.n, sc.stage.n6);
    if k + k6 == 0 {
        return BurstSummary {
            bytes,
            uniform: None,
            on_fixed: split,
        };
    }
    // Stage 2: one route lookup per family for the burst.
    let stage = &mut sc.stage;
    if k > 0 {
        st.routes.lookup_bulk(&stage.dst[..k], &mut stage.hop[..k]);
    }
    if k6 > 0 {
        st.v6
            .routes
            .lookup6_bulk(&stage.dst6[..k6], &mut stage.hop6[..k6]);
    }
    let (mut uniform, mut port) = (k + k6 == n, None);
    let ingress_of = |i: usize, ingress: &I| match fixed {
        Some((ing, _, tagged)) if I::ALL_FIXED || i < split => (ing, tagged),
        _ => (ingress.at(i), ingress.tagged(i)),
    };
    let mut note = |v: Verdict| match (v, port) {
        (Verdict::Forward(p), None) => port = Some(p),
        (Verdict::Forward(p), Some(q)) if p == q => {}
        _ => uniform = false,
    };
    // Stage 3: rewrite. A frame routed where an own address or a virtual
    // IP also goes, and addressed to one of them, is for the reference.
    // The common burst first: on the fixed untagged interface, each
    // family's forwards all to one resolved gateway.
    let fixed_untagged = |last: Option<&u8>| match (fixed, last) {
        (Some((_, _, false)), Some(&i)) => I::ALL_FIXED || usize::from(i) < split,
        _ => false,
    };
    let stage = &sc.stage;
    if fixed_untagged(stage.idx[..k].last()) {
        let ends = (&stage.idx[..k], &stage.hop[..k]);
        let ttl = |ip: &mut [u8]| {
            ipv4::Packet::new_unchecked(ip).decrement_ttl();
        };
        let table = (&sc.index.local, &sc.index.hops[..]);
        if let Some(p) = same_gateway(frames, ends, table, verdicts, ttl) {
            note(Verdict::Forward(p));
            k = 0;
        }
    }
    if fixed_untagged(stage.idx6[..k6].last()) {
        let ends = (&stage.idx6[..k6], &stage.hop6[..k6]);
        let hop_limit = |ip: &mut [u8]| ip[7] -= 1;
        let table = (&sc.index.v6.local, &sc.index.v6.hops[..]);
        if let Some(p) = same_gateway(frames, ends, table, verdicts, hop_limit) {
            note(Verdict::Forward(p));
            k6 = 0;
        }
    }
    for j in 0..k {
        let i = usize::from(sc.stage.idx[j]);
        let (dst, hop) = (sc.stage.dst[j], sc.stage.hop[j]);
        let Some(f) = frames.get_mut(i) else { continue };
        let (ing, tagged) = ingress_of(i, ingress);
        let local = match sc.index.ports.get(ing) {
            Some(pi) => sc.index.may_be_local(pi, hop, dst),
            None => true,
        };
        let v = place(f, (ing, tagged), local, st, sc, |b, sc| {
            if tagged {
                rewrite::<{ ethernet::HEADER_LEN + 4 }, R>(b, dst, hop, st, sc)
            } else {
                rewrite::<{ ethernet::HEADER_LEN }, R>(b, dst, hop, st, sc)
            }
        });
        note(v);
        verdicts[i] = v;
    }
    for j in 0..k6 {
        let i = usize::from(sc.stage.idx6[j]);
        let (dst, hop) = (sc.stage.dst6[j], sc.stage.hop6[j]);
        let Some(f) = frames.get_mut(i) else { continue };
        let (ing, tagged) = ingress_of(i, ingress);
        let local = sc.index.v6.may_be_local(hop, &dst);
        let v = place(f, (ing, tagged), local, st, sc, |b, sc| {
            if tagged {
                rewrite6::<{ ethernet::HEADER_LEN + 4 }, R>(b, &dst, hop, st, sc)
            } else {
                rewrite6::<{ ethernet::HEADER_LEN }, R>(b, &dst, hop, st, sc)
            }
        });
        note(v);
        verdicts[i] = v;
    }
    BurstSummary {
        bytes,
        uniform: if uniform { port } else { None },
        on_fixed: split,
    }
}

/// Stage 3 for one plain forward on interface `ing` (its tag in its data
/// when `tagged`): the reference's verdict when it `may_be_local`, else
/// `rewrite`'s. A tagged frame's new MAC header goes after the tag and the
/// frame then starts there: what stripping the tag first would have given.
#[inline(always)]
fn place<R: Routes, F: Frame>(
    f: &mut F,
    (ing, tagged): (usize, bool),
    may_be_local: bool,
    st: &DataplaneState<R>,
    sc: &mut Scratch,
    rewrite: impl FnOnce(&mut [u8], &mut Scratch) -> Verdict,
) -> Verdict {
    if may_be_local {
        if tagged {
            f.vlan_strip();
        }
        return reference_cold(f.bytes(), ing, st, sc);
    }
    let v = rewrite(f.bytes(), sc);
    if tagged && matches!(v, Verdict::Forward(_)) {
        f.drop_front(4);
    }
    v
}

/// Stage 3 for a burst's plain forwards of one family (frames `idx`,
/// untagged, routed to next hops `hops`) when they all go to one resolved
/// gateway that no local address is routed to (`local`): the next hop's
/// entry (in `entries`) looked at once, then per frame only `age` (TTL or
/// hop limit, on the bytes after the MAC header) and the new MAC header.
/// The egress port, or None (nothing done) otherwise.
#[inline(always)]
fn same_gateway<F: Frame, A>(
    frames: &mut [F],
    (idx, hops): (&[u8], &[u32]),
    (local, entries): (&LocalHops, &[HopEntry<A>]),
    verdicts: &mut [Verdict; MAX_BURST],
    age: impl Fn(&mut [u8]),
) -> Option<u16> {
    let &hop = hops.first()?;
    if local.flagged(hop) || hops.iter().any(|&h| h != hop) {
        return None;
    }
    let Some(&HopEntry::Gateway { port, header }) = entries.get(hop as usize) else {
        return None;
    };
    for &i in idx.iter().take(hops.len()) {
        let i = usize::from(i);
        let Some(f) = frames.get_mut(i) else { continue };
        if let Some((eth, ip)) = f.bytes().split_at_mut_checked(ethernet::HEADER_LEN) {
            // Classification saw a TTL or hop limit above 1.
            age(ip);
            eth[..12].copy_from_slice(&header);
        }
        verdicts[i] = Verdict::Forward(port);
    }
    Some(port)
}

/// Stage 1 for frames `from..` of a burst, each on the interface
/// [`Ingress::take`] finds. Out of line: it runs for bursts that mix
/// interfaces, and keeps the one-interface loop small.
#[inline(never)]
fn sort_each<R: Routes, F: Frame, I: Ingress>(
    frames: &mut [F],
    from: usize,
    ingress: &mut I,
    st: &DataplaneState<R>,
    sc: &mut Scratch,
    verdicts: &mut [Verdict; MAX_BURST],
    bytes: &mut u64,
) {
    let n = frames.len().min(MAX_BURST);
    for i in from..n {
        if let Some(f) = frames.get(i + PREFETCH_AHEAD) {
            f.prefetch();
        }
        let f = &mut frames[i];
        *bytes += u64::from(f.pkt_len());
        let ing = ingress.take(i, f);
        if f.is_segmented() {
            verdicts[i] = Verdict::Drop(DropReason::Other);
        } else if ing == usize::from(NO_IFACE) {
            verdicts[i] = Verdict::Drop(DropReason::UnknownVlan);
        } else {
            let tagged = ingress.tagged(i);
            let mac = st.ports.get(ing).map(|p| p.mac);
            if !classify(f, i, (ing, mac, tagged, None), &sc.index, &mut sc.stage) {
                verdicts[i] = slow(f, ing, tagged, st, sc);
            }
        }
    }
}

/// Stage 1 for frame `i` on interface `ing` (port MAC `mac`, its tag in
/// its data when `tagged`, and that tag checked against `want` (see
/// [`Ingress::fixed_tag`]) when given): staged when it is a plain forward
/// (true), else false (a frame for the reference).
#[inline(always)]
fn classify<F: Frame>(
    f: &mut F,
    i: usize,
    (ing, mac, tagged, want): (usize, Option<MacAddr>, bool, Option<u32>),
    index: &SnapshotIndex,
    stage: &mut Stage,
) -> bool {
    let ck = f.rx_ip_cksum();
    if want.is_some() && f.vlan_tci().is_some() {
        return false;
    }
    let b = f.bytes();
    match (mac, index.ports.get(ing), tagged) {
        (Some(mac), Some(pi), false) => {
            stage.push::<{ ethernet::HEADER_LEN }>(b, i, (ing, mac, pi), ck, None)
        }
        (Some(mac), Some(pi), true) => {
            stage.push::<{ ethernet::HEADER_LEN + 4 }>(b, i, (ing, mac, pi), ck, want)
        }
        _ => false,
    }
}

/// The reference's verdict on a frame that is not a plain forward, its
/// tag stripped first.
#[inline(always)]
fn slow<R: Routes, F: Frame>(
    f: &mut F,
    ing: usize,
    tagged: bool,
    st: &DataplaneState<R>,
    sc: &mut Scratch,
) -> Verdict {
    if tagged {
        f.vlan_strip();
    }
    process(f.bytes(), ing, st, sc)
}

/// [`process`], out of line: for the rare plain forward that turns out to
/// be addressed to a local address, kept out of the rewrite loop.
#[cold]
#[inline(never)]
fn reference_cold<R: Routes>(
    b: &mut [u8],
    ingress: usize,
    st: &DataplaneState<R>,
    sc: &mut Scratch,
) -> Verdict {
    process(b, ingress, st, sc)
}

/// The destination address (host order) of a frame (to us: see
/// [`to_us`]) the worker forwards without looking further (see the module
/// doc), or None when the frame needs the reference path.
/// `ETH`: where the IPv4 header starts (14, or 18 behind a tag).
#[inline(always)]
fn plain_forward<const ETH: usize>(b: &[u8], ck: RxCksum) -> Option<u32> {
    let h = b.get(..ETH + 20)?;
    if h[ETH - 2..ETH] != ethernet::ETHERTYPE_IPV4.to_be_bytes() || h[ETH] != 0x45 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([h[ETH + 2], h[ETH + 3]]));
    if total < 20 || total > b.len() - ETH || h[ETH + 8] <= 1 {
        return None;
    }
    let ok = match ck {
        RxCksum::Good => true,
        RxCksum::Bad => false,
        RxCksum::Unknown | RxCksum::None => match h[ETH..ETH + 20].try_into() {
            Ok(ip) => checksum::header20(ip) == 0xffff,
            Err(_) => false,
        },
    };
    let dst = u32::from_be_bytes([h[ETH + 16], h[ETH + 17], h[ETH + 18], h[ETH + 19]]);
    ok.then_some(dst)
}

/// True when a frame (its first bytes `h`) carries the tag `want` (see
/// [`Ingress::fixed_tag`]; any, when None) and is addressed to interface
/// `ing`'s MAC or a VMAC held on it (`pi`). `held`: the VMAC last found
/// held, and on which interface (a burst's memo).
#[inline(always)]
fn to_us(
    h: &[u8],
    (ing, port_mac, pi): (usize, MacAddr, &PortIndex),
    want: Option<u32>,
    held: &mut (usize, MacAddr),
) -> bool {
    let Some(h) = h.get(..16) else {
        return false;
    };
    if let Some(w) = want {
        if u32::from_be_bytes([h[12], h[13], h[14], h[15]]) & 0xffff_0fff != w {
            return false;
        }
    }
    let dst_mac = MacAddr([h[0], h[1], h[2], h[3], h[4], h[5]]);
    if *held == (ing, dst_mac) || dst_mac == port_mac {
        return true;
    }
    if pi.is_vmac(dst_mac) {
        *held = (ing, dst_mac);
        return true;
    }
    false
}

/// For an IPv6 frame (to us: see [`to_us`]) that the worker forwards
/// without looking further (see the module doc), writes its destination
/// address to `dst` and returns true; false when the frame needs the
/// reference path. `ETH` as for [`plain_forward`].
#[inline(always)]
fn plain_forward6<const ETH: usize>(b: &[u8], dst: &mut [u8; 16]) -> bool {
    let Some(h) = b.get(..ETH + 40) else {
        return false;
    };
    // Version 6, the ethertype checked by the caller.
    if h[ETH] >> 4 != 6 {
        return false;
    }
    let payload = usize::from(u16::from_be_bytes([h[ETH + 4], h[ETH + 5]]));
    // Neighbor Discovery and echo requests for the control lcore are
    // ICMPv6; link-local scope is never routed; a hop limit of 1 expires.
    if payload + 40 > b.len() - ETH || h[ETH + 6] == crate::wire::icmpv6::PROTO_ICMPV6 {
        return false;
    }
    if h[ETH + 7] <= 1 {
        return false;
    }
    let scoped = |a: &[u8]| a[0] == 0xff || (a[0] == 0xfe && a[1] & 0xc0 == 0x80);
    if scoped(&h[ETH + 8..ETH + 24]) || scoped(&h[ETH + 24..ETH + 40]) {
        return false;
    }
    dst.copy_from_slice(&h[ETH + 24..ETH + 40]);
    true
}

/// Stage 3 for one IPv6 plain forward: `dst` routed to next hop `hop`.
#[inline(always)]
fn rewrite6<const ETH: usize, R: Routes>(
    b: &mut [u8],
    dst: &[u8; 16],
    hop: u32,
    st: &DataplaneState<R>,
    sc: &Scratch,
) -> Verdict {
    const NO_PORT: HopEntry<Ipv6Addr> = HopEntry::NoPort;
    let entry = if hop == NO_ROUTE {
        &NO_PORT
    } else {
        sc.index.v6.hops.get(hop as usize).unwrap_or(&NO_PORT)
    };
    let connected;
    let (port, header) = match entry {
        HopEntry::Gateway { port, header } => (*port, header),
        HopEntry::Connected { port } => {
            let port = *port;
            let Some(out) = st.ports.get(usize::from(port)) else {
                return Verdict::Drop(DropReason::NoRoute);
            };
            let Some(mac) = out.neighbors6.get(&Ipv6Addr::from(*dst)) else {
                return Verdict::Unresolved6 {
                    port,
                    hop: CONNECTED,
                };
            };
            connected = mac_header(*mac, out.mac);
            (port, &connected)
        }
        HopEntry::NoPort => return Verdict::Drop(DropReason::NoRoute),
        HopEntry::LinkDown(_) => return Verdict::Drop(DropReason::LinkDown),
        HopEntry::Unresolved { port, .. } => return Verdict::Unresolved6 { port: *port, hop },
    };
    let Some(hl) = b.get_mut(ETH + 7) else {
        return Verdict::Drop(DropReason::Malformed);
    };
    // Classification saw a hop limit above 1.
    *hl -= 1;
    // Just before the ethertype (after the tag, when there is one).
    if let Some(h) = b.get_mut(ETH - 14..ETH - 2) {
        h.copy_from_slice(header);
    }
    Verdict::Forward(port)
}

/// Stage 3 for one plain forward: `dst` (host order) routed to next hop
/// `hop`.
#[inline(always)]
fn rewrite<const ETH: usize, R: Routes>(
    b: &mut [u8],
    dst: u32,
    hop: u32,
    st: &DataplaneState<R>,
    sc: &mut Scratch,
) -> Verdict {
    const NO_PORT: HopEntry = HopEntry::NoPort;
    // Borrowed, never copied: the header goes from the table to the frame
    // in one copy.
    let entry = if hop == NO_ROUTE {
        &NO_PORT
    } else {
        sc.index.hops.get(hop as usize).unwrap_or(&NO_PORT)
    };
    let connected;
    let (port, header) = match entry {
        HopEntry::Gateway { port, header } => (*port, header),
        HopEntry::Connected { port } => {
            let port = *port;
            let Some(out) = st.ports.get(usize::from(port)) else {
                return Verdict::Drop(DropReason::NoRoute);
            };
            let ip = std::net::Ipv4Addr::from(dst);
            let LastHop(last) = &mut sc.last_hop;
            let mac = match last {
                Some((p, nh, mac)) if *p == port && *nh == ip => *mac,
                _ => {
                    let Some(mac) = out.neighbors.get(&ip) else {
                        return Verdict::Unresolved(port, ip);
                    };
                    *last = Some((port, ip, *mac));
                    *mac
                }
            };
            connected = mac_header(mac, out.mac);
            (port, &connected)
        }
        HopEntry::NoPort => return Verdict::Drop(DropReason::NoRoute),
        HopEntry::LinkDown(_) => return Verdict::Drop(DropReason::LinkDown),
        HopEntry::Unresolved { port, via } => return Verdict::Unresolved(*port, *via),
    };
    let Some((eth, ip)) = b.split_at_mut_checked(ETH) else {
        return Verdict::Drop(DropReason::Malformed);
    };
    if ipv4::Packet::new_unchecked(ip).decrement_ttl().is_none() {
        // Classification saw a TTL above 1: not reached.
        return Verdict::Drop(DropReason::Malformed);
    }
    // Just before the ethertype (after the tag, when there is one).
    if let Some(h) = eth.get_mut(ETH - 14..ETH - 2) {
        h.copy_from_slice(header);
    }
    Verdict::Forward(port)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use proptest::prelude::*;

    use super::*;
    use crate::config::Ipv4Net;
    use crate::protocol::lb::Balance;
    use crate::protocol::{vmac, LoadBalancing};
    use crate::runtime::dataplane::state::{
        route_entries, LinearRoutes, LinearRoutes6, NextHop, PortView, Revalidate, V6Routes,
        VipBalance,
    };
    use crate::wire::checksum;

    /// A frame in a test burst: bytes, the checksum flag a device would
    /// set, and whether it came in more than one segment.
    #[derive(Debug, Clone)]
    struct TestFrame {
        bytes: Vec<u8>,
        ck: RxCksum,
        segmented: bool,
    }

    impl Frame for TestFrame {
        fn bytes(&mut self) -> &mut [u8] {
            &mut self.bytes
        }
        fn rx_ip_cksum(&self) -> RxCksum {
            self.ck
        }
        fn is_segmented(&self) -> bool {
            self.segmented
        }
        fn pkt_len(&self) -> u32 {
            self.bytes.len() as u32
        }
        fn prefetch(&self) {}
        fn vlan_strip(&mut self) -> Option<u16> {
            let b = &mut self.bytes;
            if b.len() < 18 || b[12..14] != [0x81, 0x00] {
                return None;
            }
            let tci = u16::from_be_bytes([b[14], b[15]]);
            b.drain(12..16);
            Some(tci)
        }
        fn vlan_tci(&self) -> Option<u16> {
            None
        }
        fn drop_front(&mut self, n: usize) {
            self.bytes.drain(..n.min(self.bytes.len()));
        }
    }

    const LAN_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const UP_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);
    const GW_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xfe]);
    const HOST_NB: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 50);

    /// Group 3's virtual IP lies outside every route.
    fn vip(g: u16) -> Ipv4Addr {
        if g == 3 {
            return Ipv4Addr::new(172, 16, 0, 3);
        }
        Ipv4Addr::new(10, 0, 0, 200 + g as u8)
    }

    /// lan0 (groups 1 and 3 AVG with forwarders 1-2 held, group 2 silent),
    /// up0 with a resolved gateway, dn0 whose link is down; routes to a
    /// resolved gateway, an unresolved one, the down port, and gaps.
    fn state() -> DataplaneState<LinearRoutes> {
        let lan: Ipv4Net = "10.0.0.2/24".parse().unwrap();
        let up: Ipv4Net = "192.0.2.2/24".parse().unwrap();
        let dn: Ipv4Net = "203.0.113.2/24".parse().unwrap();
        let (entries, next_hops) = route_entries(
            &[(lan, 0), (up, 1), (dn, 2)],
            &[
                (
                    "198.18.0.0/16".parse().unwrap(),
                    Ipv4Addr::new(192, 0, 2, 1),
                    None,
                ),
                (
                    "198.19.0.0/16".parse().unwrap(),
                    Ipv4Addr::new(192, 0, 2, 99),
                    None,
                ),
                (
                    "100.64.0.0/10".parse().unwrap(),
                    Ipv4Addr::new(203, 0, 113, 1),
                    None,
                ),
                // Holds dn0's own address: its gateway's forwards need a
                // look at the destination.
                (
                    "203.0.113.0/28".parse().unwrap(),
                    Ipv4Addr::new(192, 0, 2, 7),
                    None,
                ),
            ],
        );
        let mut lan0 = PortView::bare("lan0", LAN_MAC, lan);
        lan0.vmacs = vec![vmac(1, 1), vmac(1, 2), vmac(3, 1)];
        let fwd = |g| {
            vec![
                (1, vmac(g, 1), 100),
                (2, vmac(g, 2), 100),
                (3, vmac(g, 3), 100),
            ]
        };
        lan0.avg = [1, 3]
            .into_iter()
            .map(|g| {
                VipBalance::new(
                    g,
                    vip(g),
                    Balance::new(LoadBalancing::RoundRobin, &fwd(g), None),
                )
            })
            .collect();
        lan0.silent = vec![vip(2)];
        lan0.revalidate = vec![Revalidate {
            vmac: vmac(1, 2),
            vip: vip(1),
            group: 1,
            forwarder: 2,
        }];
        lan0.neighbors
            .insert(HOST_NB, MacAddr([2, 0x10, 0, 0, 0, 50]));
        let mut up0 = PortView::bare("up0", UP_MAC, up);
        up0.neighbors.insert(Ipv4Addr::new(192, 0, 2, 1), GW_MAC);
        up0.neighbors
            .insert(Ipv4Addr::new(192, 0, 2, 7), MacAddr([2, 0, 0, 0, 0, 0xf7]));
        let mut dn0 = PortView::bare("dn0", MacAddr([2, 0, 0, 0, 0, 3]), dn);
        dn0.link_up = false;
        // IPv6: group 46 on lan0 (AVG), global addresses on lan0 and up0,
        // routes as for IPv4.
        let vip6 = crate::wire::glbp::virtual_link_local(46).unwrap();
        lan0.vmacs.push(vmac(46, 1));
        lan0.groups6.avg.push(VipBalance::new(
            46,
            vip6,
            Balance::new(LoadBalancing::RoundRobin, &fwd(46), None),
        ));
        lan0.address6 = vec![ip6("2001:db8:10::2")];
        up0.address6 = vec![ip6("2001:db8:ff::2")];
        // An own address inside a gateway's route (next hop 5, the same
        // gateway as next hop 2): that next hop's forwards need a look at
        // the destination.
        dn0.address6 = vec![ip6("2001:db8:79::2")];
        lan0.neighbors6
            .insert(ip6("2001:db8:10::50"), MacAddr([2, 0x10, 0, 0, 0, 50]));
        up0.neighbors6.insert(ip6("2001:db8:ff::1"), GW_MAC);
        let hop = |port, via: Option<&str>| NextHop {
            port,
            via: via.map(ip6),
        };
        let v6 = V6Routes {
            routes: std::sync::Arc::new(LinearRoutes6(vec![
                ("2001:db8:10::/64".parse().unwrap(), 0),
                ("2001:db8:ff::/64".parse().unwrap(), 1),
                ("2001:db8:77::/48".parse().unwrap(), 2),
                ("2001:db8:78::/48".parse().unwrap(), 3),
                ("2001:db8:dd::/48".parse().unwrap(), 4),
                ("2001:db8:79::/48".parse().unwrap(), 5),
            ])),
            next_hops: vec![
                hop(0, None),
                hop(1, None),
                hop(1, Some("2001:db8:ff::1")),
                hop(1, Some("2001:db8:ff::99")),
                hop(2, None),
                hop(1, Some("2001:db8:ff::1")),
            ],
        };
        DataplaneState {
            generation: 7,
            ports: vec![lan0, up0, dn0],
            routes: std::sync::Arc::new(LinearRoutes(entries)),
            next_hops,
            v6,
        }
    }

    fn ip6(s: &str) -> std::net::Ipv6Addr {
        s.parse().unwrap()
    }

    /// Where test IPv6 frames go, at the IPv6 layer.
    fn dst_ip6s() -> Vec<std::net::Ipv6Addr> {
        [
            "2001:db8:77::1",         // resolved gateway
            "2001:db8:77:9::5",       // same
            "2001:db8:78::1",         // unresolved gateway
            "2001:db8:dd::1",         // down port
            "2001:db9::1",            // no route
            "2001:db8:10::50",        // connected, resolved
            "2001:db8:10::51",        // connected, unresolved
            "2001:db8:ff::1",         // connected on up0
            "2001:db8:10::2",         // own
            "2001:db8:ff::2",         // own, other port
            "2001:db8:79::5",         // resolved gateway, own addresses there too
            "2001:db8:79::2",         // own, routed to that gateway
            "fe80::7:b4ff:fe00:2e00", // virtual link-local
            "fe80::1",                // link-local
            "ff02::1",                // multicast
            "::",
        ]
        .into_iter()
        .map(ip6)
        .collect()
    }

    /// Where test frames go, at the Ethernet layer.
    fn dst_macs() -> Vec<MacAddr> {
        vec![
            LAN_MAC,
            vmac(1, 1),
            vmac(1, 2),
            vmac(3, 1),
            vmac(1, 3), // held by another router
            vmac(2, 1),
            MacAddr::BROADCAST,
            MacAddr([0x01, 0, 0x5e, 0, 0, 0x66]),
            UP_MAC,
            MacAddr([2, 0x33, 0, 0, 0, 1]),
        ]
    }

    /// And at the IPv4 layer.
    fn dst_ips() -> Vec<Ipv4Addr> {
        vec![
            Ipv4Addr::new(198, 18, 1, 1),   // resolved gateway
            Ipv4Addr::new(198, 18, 200, 9), // same
            Ipv4Addr::new(198, 19, 0, 1),   // unresolved gateway
            Ipv4Addr::new(100, 64, 0, 1),   // down port
            Ipv4Addr::new(8, 8, 8, 8),      // no route
            HOST_NB,                        // connected, resolved
            Ipv4Addr::new(10, 0, 0, 51),    // connected, unresolved
            Ipv4Addr::new(192, 0, 2, 1),    // connected on up0
            Ipv4Addr::new(10, 0, 0, 2),     // own
            Ipv4Addr::new(192, 0, 2, 2),    // own, other port
            Ipv4Addr::new(203, 0, 113, 5),  // resolved gateway, own address there too
            Ipv4Addr::new(203, 0, 113, 2),  // own, routed to that gateway
            vip(1),                         // AVG
            vip(2),                         // silent
            vip(3),                         // AVG, no route
            vip(4),                         // no group
            Ipv4Addr::new(224, 0, 0, 102),  // GLBP multicast
            Ipv4Addr::new(0, 0, 0, 0),
        ]
    }

    #[derive(Debug, Clone)]
    struct Spec {
        arp: bool,
        mac: usize,
        ip: usize,
        ttl: u8,
        ihl: u8,
        total_delta: i8,
        proto: u8,
        udp_port: u16,
        bad_ck: bool,
        trust_flag: bool,
        truncate: usize,
        tagged: bool,
        segmented: bool,
        host: u8,
        junk: Option<Vec<u8>>,
        /// IPv6 (`ip` then indexes [`dst_ip6s`]; `ihl` 5 means version 6,
        /// any other value is the version; `proto` 1 means ICMPv6).
        v6: bool,
    }

    fn spec() -> impl Strategy<Value = Spec> {
        (
            (
                any::<bool>(),
                0..dst_macs().len(),
                0..dst_ips().len(),
                prop_oneof![Just(0u8), Just(1), Just(2), Just(64), any::<u8>()],
            ),
            (
                prop_oneof![4 => Just(5u8), 1 => 0u8..16],
                -3i8..3,
                prop_oneof![Just(17u8), Just(1), Just(6)],
                prop_oneof![Just(3222u16), Just(9)],
            ),
            (
                prop::bool::weighted(0.1),
                any::<bool>(),
                prop_oneof![8 => Just(0usize), 1 => 1usize..60],
                prop::bool::weighted(0.05),
                prop::bool::weighted(0.02),
            ),
            (
                any::<u8>(),
                prop::option::weighted(0.05, prop::collection::vec(any::<u8>(), 0..80)),
                prop::bool::weighted(0.4),
            ),
        )
            .prop_map(
                |(
                    (arp, mac, ip, ttl),
                    (ihl, total_delta, proto, udp_port),
                    (bad_ck, trust_flag, truncate, tagged, segmented),
                    (host, junk, v6),
                )| Spec {
                    arp,
                    mac,
                    ip,
                    ttl,
                    ihl,
                    total_delta,
                    proto,
                    udp_port,
                    bad_ck,
                    trust_flag,
                    truncate,
                    tagged,
                    segmented,
                    host,
                    junk,
                    v6,
                },
            )
    }

    /// The IPv6 packet (header and payload) of spec `s` (see [`Spec::v6`]),
    /// from host `host`.
    fn ipv6_packet(s: &Spec) -> Vec<u8> {
        let dst = dst_ip6s()[s.ip % dst_ip6s().len()];
        let src = match s.host % 16 {
            14 => ip6("fe80::1:2"),
            15 => ip6("ff02::1"),
            h => ip6(&format!("2001:db8:10::{:x}", 0x100 + u16::from(h))),
        };
        let payload = 8 + 18;
        let mut p = vec![0u8; 40 + payload];
        p[0] = if s.ihl == 5 { 0x60 } else { s.ihl << 4 };
        let len = (payload as i32 + i32::from(s.total_delta)).max(0) as u16;
        p[4..6].copy_from_slice(&len.to_be_bytes());
        p[6] = match s.proto {
            1 => crate::wire::icmpv6::PROTO_ICMPV6,
            x => x,
        };
        p[7] = s.ttl;
        p[8..24].copy_from_slice(&src.octets());
        p[24..40].copy_from_slice(&dst.octets());
        p[40..42].copy_from_slice(&3222u16.to_be_bytes());
        p[42..44].copy_from_slice(&s.udp_port.to_be_bytes());
        if s.proto == 1 {
            // A solicitation (not a sane one) or an echo request.
            p[40] = if s.udp_port == 3222 { 135 } else { 128 };
        }
        p
    }

    fn build(s: &Spec) -> TestFrame {
        let host = MacAddr([2, 0x10, 0, 0, 1, s.host]);
        let hip = Ipv4Addr::new(10, 0, 0, 100u8.wrapping_add(s.host));
        let dst_mac = dst_macs()[s.mac];
        let dst_ip = dst_ips()[s.ip];
        let mut f = dst_mac.0.to_vec();
        f.extend_from_slice(&host.0);
        if s.tagged {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x28]);
        }
        let mut ck = RxCksum::Unknown;
        if s.v6 && !s.arp {
            f.extend_from_slice(&ethernet::ETHERTYPE_IPV6.to_be_bytes());
            f.extend_from_slice(&ipv6_packet(s));
        } else if s.arp {
            f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
            f.extend_from_slice(&host.0);
            f.extend_from_slice(&hip.octets());
            f.extend_from_slice(&[0; 6]);
            f.extend_from_slice(&dst_ip.octets());
        } else {
            f.extend_from_slice(&[0x08, 0x00]);
            let ip_at = f.len();
            let hl = usize::from(s.ihl) * 4;
            let payload = 8 + 18;
            let total = (hl.max(20) + payload) as i32 + i32::from(s.total_delta);
            let mut ip = vec![0u8; hl.max(20)];
            ip[0] = 0x40 | s.ihl;
            ip[2..4].copy_from_slice(&(total.max(0) as u16).to_be_bytes());
            ip[8] = s.ttl;
            ip[9] = s.proto;
            ip[12..16].copy_from_slice(&hip.octets());
            ip[16..20].copy_from_slice(&dst_ip.octets());
            let hlen = hl.clamp(20, ip.len());
            let c = !checksum::data(&ip[..hlen]);
            ip[10..12].copy_from_slice(&c.to_be_bytes());
            if s.bad_ck {
                ip[10] ^= 0x40;
            }
            f.extend_from_slice(&ip);
            let mut udp = vec![0u8; payload];
            udp[0..2].copy_from_slice(&3222u16.to_be_bytes());
            udp[2..4].copy_from_slice(&s.udp_port.to_be_bytes());
            f.extend_from_slice(&udp);
            // A device with the offload tells the truth about what it
            // checked (a sane 20-byte header); otherwise it says nothing.
            if s.trust_flag && s.ihl == 5 && !s.tagged {
                let good = checksum::data(&f[ip_at..ip_at + 20]) == 0xffff;
                ck = if good { RxCksum::Good } else { RxCksum::Bad };
            }
        }
        f.resize(f.len().max(60), 0);
        if let Some(j) = &s.junk {
            f = j.clone();
            ck = RxCksum::Unknown;
        }
        let keep = f.len().saturating_sub(s.truncate);
        f.truncate(keep);
        TestFrame {
            bytes: f,
            ck,
            segmented: s.segmented,
        }
    }

    /// A sane UDP frame from host 1 to the port MAC (mac 0): the base the
    /// hand-written tests vary.
    fn plain_udp() -> Spec {
        Spec {
            arp: false,
            mac: 0,
            ip: 0,
            ttl: 64,
            ihl: 5,
            total_delta: 0,
            proto: 17,
            udp_port: 9,
            bad_ck: false,
            trust_flag: false,
            truncate: 0,
            tagged: false,
            segmented: false,
            host: 1,
            junk: None,
            v6: false,
        }
    }

    /// Whether a verdict sends the (possibly rewritten) frame anywhere.
    fn sends(v: &Verdict) -> bool {
        matches!(
            v,
            Verdict::Forward(_)
                | Verdict::ArpReply { .. }
                | Verdict::NdReply { .. }
                | Verdict::Punt(_)
                // Handed to the control lcore, to be quoted as it came in.
                | Verdict::Drop(DropReason::NoRoute)
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// The staged pipeline decides every frame of a burst exactly as
        /// the per-packet reference does, and leaves the same bytes in
        /// every frame it sends on: verdicts (including the AVG's
        /// round-robin turn) and rewrites.
        #[test]
        fn burst_pipeline_matches_the_reference(
            bursts in prop::collection::vec(prop::collection::vec(spec(), 1..=MAX_BURST), 1..4),
            ingress in prop_oneof![8 => Just(0usize), 1 => Just(1usize), 1 => Just(5usize)],
            mixed in prop::option::of(prop::collection::vec(
                prop_oneof![4 => Just(0u16), 2 => Just(1u16), 1 => Just(7u16), 1 => Just(NO_IFACE)],
                MAX_BURST,
            )),
        ) {
            // Either one interface for the burst (a port without VLANs) or
            // one per frame (after `demux`), unknown ones among them.
            let mut per_frame = [NO_IFACE; MAX_BURST];
            if let Some(m) = &mixed {
                per_frame.copy_from_slice(m);
            }
            let given = per_frame;
            let ing = |i: usize| if mixed.is_some() { usize::from(given[i]) } else { ingress };
            let st = state();
            let (mut a, mut b) = (Scratch::new(3), Scratch::new(3));
            for burst in &bursts {
                let mut frames: Vec<TestFrame> = burst.iter().map(build).collect();
                let mut reference = frames.clone();
                a.refresh(&st);
                let mut verdicts = [Verdict::Drop(DropReason::Other); MAX_BURST];
                let sum = if mixed.is_some() {
                    process_burst(&mut frames, &mut per_frame, &st, &mut a, &mut verdicts)
                } else {
                    process_burst(&mut frames, &mut ingress.clone(), &st, &mut a, &mut verdicts)
                };
                let n = frames.len();
                prop_assert_eq!(sum.bytes, reference.iter().map(|f| f.bytes.len() as u64).sum::<u64>());
                let all_to = |p| verdicts[..n].iter().all(|v| *v == Verdict::Forward(p));
                // A hint, given only when every frame was a plain forward
                // to one port (frames the reference forwards, such as IPv4
                // with options, do not make a burst uniform); never wrong.
                if let Some(p) = sum.uniform {
                    prop_assert!(all_to(p), "{:?}", &verdicts[..n]);
                }
                b.refresh(&st);
                for (i, r) in reference.iter_mut().enumerate() {
                    let want = if r.segmented {
                        Verdict::Drop(DropReason::Other)
                    } else if ing(i) == usize::from(NO_IFACE) {
                        Verdict::Drop(DropReason::UnknownVlan)
                    } else {
                        process(&mut r.bytes, ing(i), &st, &mut b)
                    };
                    prop_assert_eq!(verdicts[i], want, "frame {}: {:?}", i, burst[i]);
                    if sends(&want) {
                        prop_assert_eq!(&frames[i].bytes, &r.bytes, "frame {}: {:?}", i, burst[i]);
                    }
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

        /// On a port that carries VLANs the pipeline (tags left in the
        /// data for plain forwards, stripped for everything else) decides
        /// and rewrites every frame exactly as the reference does on the
        /// frame with its tag stripped first, on the tag's interface.
        #[test]
        fn tagged_bursts_match_stripping_first(
            bursts in prop::collection::vec(
                prop::collection::vec((spec(), prop_oneof![
                    2 => Just(None), 3 => Just(Some(10u16)), 2 => Just(Some(20u16)),
                    1 => Just(Some(30u16)), 1 => Just(Some(0x6000u16 | 10)), 1 => Just(Some(0u16)),
                ]), 1..=MAX_BURST),
                1..4,
            ),
        ) {
            use crate::runtime::dataplane::state::Links;
            let st = state();
            // Port 0: untagged -> interface 0, VLAN 10 -> 1, VLAN 20 -> 2.
            let links = Links::new(1, &[(0, 0), (0, 10), (0, 20)]);
            let (mut a, mut b, mut c) = (Scratch::new(3), Scratch::new(3), Scratch::new(3));
            let (mut ingress, mut inline) = ([NO_IFACE; MAX_BURST], [false; MAX_BURST]);
            for burst in &bursts {
                let mut frames: Vec<TestFrame> = burst
                    .iter()
                    .map(|(s, tag)| {
                        let mut f = build(s);
                        if let (Some(t), true) = (tag, f.bytes.len() >= 12) {
                            f.bytes.splice(12..12, [0x81, 0x00, (t >> 8) as u8, *t as u8]);
                        }
                        f
                    })
                    .collect();
                let mut reference = frames.clone();
                a.refresh(&st);
                let mut verdicts = [Verdict::Drop(DropReason::Other); MAX_BURST];
                // The pipeline as the worker runs it (the first frame's
                // VLAN taken as the burst's), and sorting every frame.
                let mut sorted = frames.clone();
                let mut sorted_verdicts = [Verdict::Drop(DropReason::Other); MAX_BURST];
                let (mut ingress2, mut inline2) = ([NO_IFACE; MAX_BURST], [false; MAX_BURST]);
                c.refresh(&st);
                let mut d = Demux::new::<TestFrame>(&links.ports[0], None, &mut ingress2, &mut inline2);
                process_burst(&mut sorted, &mut d, &st, &mut c, &mut sorted_verdicts);
                let mut d = Demux::new(&links.ports[0], frames.first_mut(), &mut ingress, &mut inline);
                process_burst(&mut frames, &mut d, &st, &mut a, &mut verdicts);
                b.refresh(&st);
                for (i, r) in reference.iter_mut().enumerate() {
                    let iface = links.iface(0, r.vlan_strip());
                    let want = if r.segmented {
                        Verdict::Drop(DropReason::Other)
                    } else if iface == NO_IFACE {
                        Verdict::Drop(DropReason::UnknownVlan)
                    } else {
                        process(&mut r.bytes, usize::from(iface), &st, &mut b)
                    };
                    prop_assert_eq!(verdicts[i], want, "frame {}: {:?}", i, burst[i]);
                    if want == Verdict::Drop(DropReason::NoRoute) {
                        // The worker strips what a plain forward kept.
                        frames[i].vlan_strip();
                        sorted[i].vlan_strip();
                    }
                    if sends(&want) {
                        prop_assert_eq!(&frames[i].bytes, &r.bytes, "frame {}: {:?}", i, burst[i]);
                    }
                    prop_assert_eq!(sorted_verdicts[i], want, "sorted, frame {}: {:?}", i, burst[i]);
                    if sends(&want) {
                        prop_assert_eq!(&sorted[i].bytes, &r.bytes, "sorted, frame {}: {:?}", i, burst[i]);
                    }
                    // The worker answers ARP out of the interface found.
                    if matches!(want, Verdict::ArpReply { .. }) {
                        prop_assert_eq!(ingress[i], iface, "frame {}", i);
                        prop_assert_eq!(ingress2[i], iface, "sorted, frame {}", i);
                    }
                }
            }
        }
    }

    /// The plain-forward path itself, byte for byte: gateway MACs from the
    /// precomputed header, TTL 64 -> 63 with a checksum that verifies;
    /// a connected neighbour; a device's "bad checksum" flag honoured.
    #[test]
    fn plain_forwards_are_rewritten_in_one_pass() {
        let st = state();
        let mut sc = Scratch::new(3);
        sc.refresh(&st);
        let base = Spec {
            mac: 1,
            ..plain_udp()
        };
        let mut frames = vec![
            build(&base),
            build(&Spec {
                ip: 5,
                ..base.clone()
            }),
            build(&Spec {
                trust_flag: true,
                bad_ck: true,
                ..base.clone()
            }),
            build(&Spec {
                trust_flag: true,
                ..base.clone()
            }),
        ];
        let mut v = [Verdict::Drop(DropReason::Other); MAX_BURST];
        process_burst(&mut frames, &mut 0usize, &st, &mut sc, &mut v);
        assert_eq!(
            v[..4],
            [
                Verdict::Forward(1),
                Verdict::Forward(0),
                Verdict::Drop(DropReason::Malformed),
                Verdict::Forward(1)
            ]
        );
        let f = &frames[0].bytes;
        assert_eq!(&f[..6], &GW_MAC.0);
        assert_eq!(&f[6..12], &UP_MAC.0);
        assert_eq!(f[22], 63);
        assert_eq!(
            checksum::data(&f[14..34]),
            0xffff,
            "checksum still verifies"
        );
        let f = &frames[1].bytes;
        assert_eq!(&f[..6], &[2, 0x10, 0, 0, 0, 50]);
        assert_eq!(&f[6..12], &LAN_MAC.0);
    }

    /// IPv6 plain forwards are staged (one bulk lookup) and rewritten:
    /// hop limit down by one, the next hop's MACs; a frame to an own
    /// address of another interface is staged too and then goes to the
    /// reference (punted); ICMPv6 and link-local traffic is not staged.
    #[test]
    fn ipv6_plain_forwards_are_staged_and_rewritten() {
        let st = state();
        let mut sc = Scratch::new(3);
        sc.refresh(&st);
        let base = Spec {
            mac: 1,
            v6: true,
            ..plain_udp()
        };
        let at = |ip: &str| dst_ip6s().iter().position(|a| *a == ip6(ip)).unwrap();
        let specs = [
            Spec { ..base.clone() },
            Spec {
                ip: at("2001:db8:10::50"),
                ..base.clone()
            },
            Spec {
                ip: at("2001:db8:78::1"),
                ..base.clone()
            },
            Spec {
                ip: at("2001:db8:ff::2"),
                ..base.clone()
            },
            Spec {
                proto: 1,
                ..base.clone()
            },
            Spec {
                ip: at("fe80::1"),
                ..base.clone()
            },
            Spec {
                ttl: 1,
                ..base.clone()
            },
        ];
        let mut frames: Vec<TestFrame> = specs.iter().map(build).collect();
        let mut v = [Verdict::Drop(DropReason::Other); MAX_BURST];
        process_burst(&mut frames, &mut 0usize, &st, &mut sc, &mut v);
        assert_eq!(sc.stage.n6, 4, "the first four frames were staged");
        assert_eq!(sc.stage.n, 0);
        assert_eq!(
            v[..7],
            [
                Verdict::Forward(1),
                Verdict::Forward(0),
                Verdict::Unresolved6 { port: 1, hop: 3 },
                Verdict::Punt(super::super::counters::PuntClass::Own),
                Verdict::Forward(1),
                Verdict::Drop(DropReason::Other),
                Verdict::Punt(super::super::counters::PuntClass::TtlExpired),
            ]
        );
        let f = &frames[0].bytes;
        assert_eq!((&f[..6], &f[6..12]), (&GW_MAC.0[..], &UP_MAC.0[..]));
        assert_eq!(f[14 + 7], 63);
        let f = &frames[1].bytes;
        assert_eq!(&f[..6], &[2, 0x10, 0, 0, 0, 50]);
        assert_eq!(&f[6..12], &LAN_MAC.0);
        assert_eq!(f[14 + 7], 63);
    }

    /// A burst of one VLAN goes whole through the loop for the first
    /// frame's interface (no frame is sorted on its own: `ingress` is
    /// left as it was) and every frame is forwarded with its tag gone; in
    /// a burst that changes VLAN, the frames from the change on are
    /// sorted one by one and decided as the reference decides them.
    #[test]
    fn a_burst_of_one_vlan_takes_the_first_frames_interface() {
        use crate::runtime::dataplane::state::Links;
        let st = state();
        // VLAN 10 is interface 0 (the LAN of `state()`).
        let links = Links::new(1, &[(0, 10), (0, 0), (0, 20)]);
        let mut sc = Scratch::new(3);
        sc.refresh(&st);
        let tagged = |tci: u16| {
            let mut f = build(&Spec {
                mac: 1,
                ..plain_udp()
            });
            f.bytes
                .splice(12..12, [0x81, 0x00, (tci >> 8) as u8, tci as u8]);
            f
        };
        const UNTOUCHED: u16 = 7;
        let (mut ingress, mut inline) = ([UNTOUCHED; MAX_BURST], [false; MAX_BURST]);
        // Priorities differ, the VLAN does not.
        let mut frames: Vec<TestFrame> = (0..8).map(|i| tagged((0x2000 * (i % 3)) | 10)).collect();
        let mut v = [Verdict::Drop(DropReason::Other); MAX_BURST];
        let mut d = Demux::new(
            &links.ports[0],
            frames.first_mut(),
            &mut ingress,
            &mut inline,
        );
        let sum = process_burst(&mut frames, &mut d, &st, &mut sc, &mut v);
        assert_eq!(ingress, [UNTOUCHED; MAX_BURST]);
        assert_eq!(sum.uniform, Some(1));
        assert!(
            frames.iter().all(|f| f.bytes[12..14] == [0x08, 0x00]),
            "tags gone"
        );

        let mut frames: Vec<TestFrame> = (0..8).map(|_| tagged(10)).collect();
        frames[3] = tagged(20);
        frames[5] = tagged(30);
        let mut d = Demux::new(
            &links.ports[0],
            frames.first_mut(),
            &mut ingress,
            &mut inline,
        );
        process_burst(&mut frames, &mut d, &st, &mut sc, &mut v);
        assert_eq!(
            ingress[..8],
            [UNTOUCHED, UNTOUCHED, UNTOUCHED, 2, 0, NO_IFACE, 0, 0]
        );
        let mut r = tagged(20);
        r.vlan_strip();
        let mut sc2 = Scratch::new(3);
        sc2.refresh(&st);
        assert_eq!(v[3], process(&mut r.bytes, 2, &st, &mut sc2));
        assert_eq!(v[5], Verdict::Drop(DropReason::UnknownVlan));
        assert_eq!(v[..3], [Verdict::Forward(1); 3]);
        assert_eq!(v[4], Verdict::Forward(1));
    }

    /// `Demux` maps (port, VLAN) to interfaces: untagged and
    /// priority-tagged frames to the untagged interface, known VLANs to
    /// theirs, unknown VLANs to none; tags stay in the data for the
    /// pipeline.
    #[test]
    fn demux_strips_tags_and_finds_the_interface() {
        use crate::runtime::dataplane::state::Links;
        // Port 0: untagged interface 0, VLAN 10 -> 2, VLAN 20 -> 3; port 1:
        // VLANs only (VLAN 10 -> 1).
        let links = Links::new(2, &[(0, 0), (1, 10), (0, 10), (0, 20)]);
        let base = Spec {
            arp: true,
            ..plain_udp()
        };
        let plain = build(&base);
        let tagged = |tci: u16| {
            let mut f = plain.clone();
            f.bytes
                .splice(12..12, [0x81, 0x00, (tci >> 8) as u8, tci as u8]);
            f
        };
        // VLAN 20 with priority 5; VLAN 0 (priority only); VLAN 30.
        let mut frames = vec![
            plain.clone(),
            tagged(10),
            tagged(0xa000 | 20),
            tagged(0xa000),
            tagged(30),
        ];
        let mut ingress = [0u16; MAX_BURST];
        let mut inline = [false; MAX_BURST];
        let mut demux = |frames: &mut Vec<TestFrame>, port: usize| -> (Vec<u16>, Vec<bool>) {
            let mut d =
                Demux::new::<TestFrame>(&links.ports[port], None, &mut ingress, &mut inline);
            let n = frames.len();
            for (i, f) in frames.iter_mut().enumerate() {
                let x = d.take(i, f);
                assert_eq!(d.at(i), x);
            }
            (ingress[..n].to_vec(), inline[..n].to_vec())
        };
        let before = frames.clone();
        let (found, tags) = demux(&mut frames, 0);
        assert_eq!(found, [0, 2, 3, 0, NO_IFACE]);
        assert_eq!(
            tags,
            [false, true, true, true, true],
            "tags stay in the data"
        );
        assert_eq!(
            frames.iter().map(|f| &f.bytes).collect::<Vec<_>>(),
            before.iter().map(|f| &f.bytes).collect::<Vec<_>>()
        );
        let mut frames = vec![plain.clone(), tagged(10), tagged(20)];
        let (found, _) = demux(&mut frames, 1);
        assert_eq!(found, [NO_IFACE, 1, NO_IFACE]);
        assert_eq!(links.iface(0, Some(10)), 2);
        assert_eq!(links.iface(1, None), NO_IFACE);
        assert_eq!(links.iface(7, None), NO_IFACE);
    }
}
