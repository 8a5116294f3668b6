//! ICMPv6 (RFC 4443) and the Neighbor Discovery messages a router needs
//! (RFC 4861): echo, router solicitation and advertisement, neighbour
//! solicitation and advertisement, with the options GLBP uses.
//!
//! Two levels, as for the other formats: [`Icmpv6Repr`] parses and emits
//! whole messages (the control lcore), and [`Solicit`] with
//! [`advertise_in_place`] turns a neighbour solicitation into its
//! advertisement without copying (the workers).

use std::net::Ipv6Addr;

use super::ipv6::{self, HEADER_LEN as IPV6_HEADER_LEN};
use super::{checksum, get_u16, get_u32, put_u16, put_u32, Error, MacAddr, Result};

/// IPv6 next header of ICMPv6.
pub const PROTO_ICMPV6: u8 = 58;
/// Destination unreachable.
pub const TYPE_DST_UNREACHABLE: u8 = 1;
/// Destination-unreachable code: no route to destination.
pub const CODE_NO_ROUTE: u8 = 0;
/// Time exceeded.
pub const TYPE_TIME_EXCEEDED: u8 = 3;
/// Parameter problem.
pub const TYPE_PARAM_PROBLEM: u8 = 4;
/// Echo request.
pub const TYPE_ECHO_REQUEST: u8 = 128;
/// Echo reply.
pub const TYPE_ECHO_REPLY: u8 = 129;
/// Router solicitation.
pub const TYPE_ROUTER_SOLICIT: u8 = 133;
/// Router advertisement.
pub const TYPE_ROUTER_ADVERT: u8 = 134;
/// Neighbour solicitation.
pub const TYPE_NEIGHBOR_SOLICIT: u8 = 135;
/// Neighbour advertisement.
pub const TYPE_NEIGHBOR_ADVERT: u8 = 136;

/// Option: source link-layer address.
pub const OPT_SOURCE_LLADDR: u8 = 1;
/// Option: target link-layer address.
pub const OPT_TARGET_LLADDR: u8 = 2;
/// Option: prefix information.
pub const OPT_PREFIX_INFO: u8 = 3;
/// Option: MTU.
pub const OPT_MTU: u8 = 5;

/// Neighbour advertisement flag: sent by a router.
pub const NA_ROUTER: u8 = 0x80;
/// Neighbour advertisement flag: an answer to a solicitation.
pub const NA_SOLICITED: u8 = 0x40;
/// Neighbour advertisement flag: replace a cached link-layer address.
pub const NA_OVERRIDE: u8 = 0x20;

/// Prefix information flag: on-link.
pub const PREFIX_ON_LINK: u8 = 0x80;
/// Prefix information flag: usable for stateless autoconfiguration.
pub const PREFIX_AUTONOMOUS: u8 = 0x40;

/// All nodes on the link.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// All routers on the link.
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);

/// Length of the ICMPv6 header (type, code, checksum, 4 bytes of rest).
pub const HEADER_LEN: usize = 8;
/// Length of a neighbour solicitation or advertisement without options.
pub const ND_LEN: usize = 24;
/// Length of a neighbour solicitation or advertisement carrying one
/// link-layer address option.
pub const ND_LLADDR_LEN: usize = ND_LEN + 8;

/// The solicited-node multicast group of `a` (RFC 4291 §2.7.1).
pub fn solicited_node(a: Ipv6Addr) -> Ipv6Addr {
    let o = a.octets();
    Ipv6Addr::from([
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, o[13], o[14], o[15],
    ])
}

/// The Ethernet address of IPv6 multicast group `a` (RFC 2464 §7).
pub fn multicast_mac(a: Ipv6Addr) -> MacAddr {
    let o = a.octets();
    MacAddr([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

/// The ICMPv6 checksum's sum (not complemented) of `msg` from `src` to
/// `dst`, pseudo-header included.
fn sum(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> u16 {
    if let Ok(m) = <&[u8; ND_LLADDR_LEN]>::try_from(msg) {
        return checksum::finish_ne(
            checksum::partial_ne(&src.octets())
                + checksum::partial_ne(&dst.octets())
                + checksum::partial_ne(m)
                + ND_PSEUDO,
        );
    }
    checksum::combine(&[
        checksum::pseudo_header_v6(src, dst, PROTO_ICMPV6, msg.len() as u32),
        checksum::data(msg),
    ])
}

/// The pseudo-header's length and next header of a 32-byte ICMPv6 message
/// (a solicitation or advertisement with one link-layer option, what the
/// workers answer in place), as a native-endian partial sum.
const ND_PSEUDO: u64 = checksum::ne_word(ND_LLADDR_LEN as u16 + PROTO_ICMPV6 as u16);

/// [`sum`] of such a message from the packet's bytes 8 to 72: source and
/// destination address (the rest of the pseudo-header) and the message lie
/// next to each other, eight native-endian loads.
#[inline(always)]
fn sum_nd(addrs_and_msg: &[u8; 64]) -> u16 {
    checksum::finish_ne(checksum::partial_ne(addrs_and_msg) + ND_PSEUDO)
}

/// True when `msg` (a whole ICMPv6 message) carries the right checksum
/// for a packet from `src` to `dst`.
#[inline]
pub fn verify_checksum(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> bool {
    msg.len() >= 4 && sum(src, dst, msg) == 0xffff
}

/// Computes and stores the checksum of `msg` (at least 4 bytes) from
/// `src` to `dst`.
#[inline]
pub fn fill_checksum(src: Ipv6Addr, dst: Ipv6Addr, msg: &mut [u8]) {
    put_u16(msg, 2, 0);
    let s = sum(src, dst, msg);
    put_u16(msg, 2, !s);
}

/// The link-layer address options of a Neighbor Discovery message
/// (`opts`: the bytes after its fixed part): validates every option's
/// length (RFC 4861 §4.6: none may be 0, none may run past the end) and
/// returns the first option of type `want` holding an Ethernet address.
fn lladdr_option(mut opts: &[u8], want: u8) -> Result<Option<MacAddr>> {
    let mut found = None;
    while !opts.is_empty() {
        let [kind, units, ..] = *opts else {
            return Err(Error::Truncated);
        };
        let len = usize::from(units) * 8;
        if len == 0 {
            return Err(Error::Malformed("ND option of length 0"));
        }
        let Some(opt) = opts.get(..len) else {
            return Err(Error::Truncated);
        };
        if kind == want && found.is_none() {
            found = Some(MacAddr::from_bytes(&opt[2..8]));
        }
        opts = &opts[len..];
    }
    Ok(found)
}

/// One prefix of a router advertisement (the prefix information option).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixInfo {
    /// The prefix (bits past `len` are sent as zero).
    pub prefix: Ipv6Addr,
    /// Prefix length.
    pub len: u8,
    /// [`PREFIX_ON_LINK`], [`PREFIX_AUTONOMOUS`].
    pub flags: u8,
    /// Valid lifetime, seconds.
    pub valid: u32,
    /// Preferred lifetime, seconds.
    pub preferred: u32,
}

/// Length of the prefix information option.
const PREFIX_OPT_LEN: usize = 32;

/// A router advertisement (RFC 4861 §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterAdvert {
    /// Hop limit hosts should use (0: unspecified).
    pub hop_limit: u8,
    /// M and O flags.
    pub flags: u8,
    /// Seconds hosts may use this router as a default router (0: not a
    /// default router).
    pub router_lifetime: u16,
    /// Reachable time, ms (0: unspecified).
    pub reachable_time: u32,
    /// Retransmission timer, ms (0: unspecified).
    pub retrans_time: u32,
    /// Source link-layer address option.
    pub lladdr: Option<MacAddr>,
    /// MTU option.
    pub mtu: Option<u32>,
    /// Prefix information options.
    pub prefixes: Vec<PrefixInfo>,
}

/// An ICMPv6 message of the kinds this router handles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Icmpv6Repr<'a> {
    /// Echo request.
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Echo data.
        data: &'a [u8],
    },
    /// Echo reply.
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Echo data.
        data: &'a [u8],
    },
    /// Router solicitation.
    RouterSolicit {
        /// Source link-layer address option.
        lladdr: Option<MacAddr>,
    },
    /// Router advertisement.
    RouterAdvert(RouterAdvert),
    /// Neighbour solicitation.
    NeighborSolicit {
        /// The address asked about.
        target: Ipv6Addr,
        /// Source link-layer address option.
        lladdr: Option<MacAddr>,
    },
    /// Neighbour advertisement.
    NeighborAdvert {
        /// [`NA_ROUTER`], [`NA_SOLICITED`], [`NA_OVERRIDE`].
        flags: u8,
        /// The address advertised.
        target: Ipv6Addr,
        /// Target link-layer address option.
        lladdr: Option<MacAddr>,
    },
    /// Time exceeded (code 0: hop limit exceeded in transit).
    TimeExceeded {
        /// Code.
        code: u8,
        /// As much of the offending packet as fits.
        data: &'a [u8],
    },
    /// Destination unreachable.
    DstUnreachable {
        /// Code (0 no route, 3 address unreachable, 4 port unreachable).
        code: u8,
        /// As much of the offending packet as fits.
        data: &'a [u8],
    },
    /// Parameter problem (code 1: unrecognized next header).
    ParamProblem {
        /// Code.
        code: u8,
        /// Offset of the problem in the offending packet.
        pointer: u32,
        /// As much of the offending packet as fits.
        data: &'a [u8],
    },
}

impl<'a> Icmpv6Repr<'a> {
    /// Reads the ICMPv6 message `msg` of a packet from `src` to `dst` with
    /// hop limit `hop_limit`, verifying its checksum and, for Neighbor
    /// Discovery, the validity checks of RFC 4861 (hop limit 255, code 0,
    /// lengths, options). Other types are `Unrecognized`.
    pub fn parse(
        src: Ipv6Addr,
        dst: Ipv6Addr,
        hop_limit: u8,
        msg: &'a [u8],
    ) -> Result<Icmpv6Repr<'a>> {
        if msg.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if !verify_checksum(src, dst, msg) {
            return Err(Error::Checksum);
        }
        let (ty, code) = (msg[0], msg[1]);
        let nd = (TYPE_ROUTER_SOLICIT..=TYPE_NEIGHBOR_ADVERT).contains(&ty);
        if nd && (hop_limit != 255 || code != 0) {
            return Err(Error::Malformed(
                "ND with hop limit below 255 or code not 0",
            ));
        }
        let data = &msg[HEADER_LEN..];
        let target = || -> Result<Ipv6Addr> {
            let b = msg.get(..ND_LEN).ok_or(Error::Truncated)?;
            let t = super::get_ipv6(b, 8);
            if t.is_multicast() {
                return Err(Error::Malformed("ND target is multicast"));
            }
            Ok(t)
        };
        Ok(match ty {
            TYPE_ECHO_REQUEST => Icmpv6Repr::EchoRequest {
                ident: get_u16(msg, 4),
                seq_no: get_u16(msg, 6),
                data,
            },
            TYPE_ECHO_REPLY => Icmpv6Repr::EchoReply {
                ident: get_u16(msg, 4),
                seq_no: get_u16(msg, 6),
                data,
            },
            TYPE_TIME_EXCEEDED => Icmpv6Repr::TimeExceeded { code, data },
            TYPE_DST_UNREACHABLE => Icmpv6Repr::DstUnreachable { code, data },
            TYPE_PARAM_PROBLEM => Icmpv6Repr::ParamProblem {
                code,
                pointer: get_u32(msg, 4),
                data,
            },
            TYPE_ROUTER_SOLICIT => Icmpv6Repr::RouterSolicit {
                lladdr: lladdr_option(data, OPT_SOURCE_LLADDR)?,
            },
            TYPE_NEIGHBOR_SOLICIT => {
                let target = target()?;
                let lladdr = lladdr_option(&msg[ND_LEN..], OPT_SOURCE_LLADDR)?;
                if src.is_unspecified() && (lladdr.is_some() || dst != solicited_node(target)) {
                    return Err(Error::Malformed("DAD solicitation with an address option"));
                }
                Icmpv6Repr::NeighborSolicit { target, lladdr }
            }
            TYPE_NEIGHBOR_ADVERT => {
                let target = target()?;
                let flags = msg[4] & (NA_ROUTER | NA_SOLICITED | NA_OVERRIDE);
                if flags & NA_SOLICITED != 0 && dst.is_multicast() {
                    return Err(Error::Malformed("solicited advertisement to a group"));
                }
                Icmpv6Repr::NeighborAdvert {
                    flags,
                    target,
                    lladdr: lladdr_option(&msg[ND_LEN..], OPT_TARGET_LLADDR)?,
                }
            }
            TYPE_ROUTER_ADVERT => {
                if msg.len() < 16 {
                    return Err(Error::Truncated);
                }
                if !super::ipv6::is_link_local(src) {
                    return Err(Error::Malformed("router advertisement not from link-local"));
                }
                let mut ra = RouterAdvert {
                    hop_limit: msg[4],
                    flags: msg[5],
                    router_lifetime: get_u16(msg, 6),
                    reachable_time: get_u32(msg, 8),
                    retrans_time: get_u32(msg, 12),
                    lladdr: lladdr_option(&msg[16..], OPT_SOURCE_LLADDR)?,
                    mtu: None,
                    prefixes: Vec::new(),
                };
                let mut opts = &msg[16..];
                while let [kind, units, ..] = *opts {
                    let len = usize::from(units) * 8;
                    let opt = &opts[..len];
                    match kind {
                        OPT_MTU if len == 8 => ra.mtu = Some(get_u32(opt, 4)),
                        OPT_PREFIX_INFO if len == PREFIX_OPT_LEN => ra.prefixes.push(PrefixInfo {
                            len: opt[2],
                            flags: opt[3],
                            valid: get_u32(opt, 4),
                            preferred: get_u32(opt, 8),
                            prefix: super::get_ipv6(opt, 16),
                        }),
                        _ => {}
                    }
                    opts = &opts[len..];
                }
                Icmpv6Repr::RouterAdvert(ra)
            }
            _ => return Err(Error::Unrecognized),
        })
    }

    /// Length of the emitted message.
    pub fn buffer_len(&self) -> usize {
        let ll = |l: &Option<MacAddr>| if l.is_some() { 8 } else { 0 };
        match self {
            Icmpv6Repr::EchoRequest { data, .. }
            | Icmpv6Repr::EchoReply { data, .. }
            | Icmpv6Repr::TimeExceeded { data, .. }
            | Icmpv6Repr::DstUnreachable { data, .. }
            | Icmpv6Repr::ParamProblem { data, .. } => HEADER_LEN + data.len(),
            Icmpv6Repr::RouterSolicit { lladdr } => HEADER_LEN + ll(lladdr),
            Icmpv6Repr::NeighborSolicit { lladdr, .. }
            | Icmpv6Repr::NeighborAdvert { lladdr, .. } => ND_LEN + ll(lladdr),
            Icmpv6Repr::RouterAdvert(ra) => {
                16 + ll(&ra.lladdr)
                    + if ra.mtu.is_some() { 8 } else { 0 }
                    + PREFIX_OPT_LEN * ra.prefixes.len()
            }
        }
    }

    /// Writes the message at the start of `buf` with its checksum for a
    /// packet from `src` to `dst`; returns its length.
    pub fn emit(&self, src: Ipv6Addr, dst: Ipv6Addr, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let b = buf.get_mut(..len).ok_or(Error::Truncated)?;
        b.fill(0);
        let lladdr = |b: &mut [u8], kind: u8, mac: MacAddr| {
            b[0] = kind;
            b[1] = 1;
            b[2..8].copy_from_slice(&mac.0);
        };
        match self {
            Icmpv6Repr::EchoRequest {
                ident,
                seq_no,
                data,
            }
            | Icmpv6Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => {
                b[0] = if matches!(self, Icmpv6Repr::EchoRequest { .. }) {
                    TYPE_ECHO_REQUEST
                } else {
                    TYPE_ECHO_REPLY
                };
                put_u16(b, 4, *ident);
                put_u16(b, 6, *seq_no);
                b[HEADER_LEN..].copy_from_slice(data);
            }
            Icmpv6Repr::TimeExceeded { code, data } | Icmpv6Repr::DstUnreachable { code, data } => {
                b[0] = if matches!(self, Icmpv6Repr::TimeExceeded { .. }) {
                    TYPE_TIME_EXCEEDED
                } else {
                    TYPE_DST_UNREACHABLE
                };
                b[1] = *code;
                b[HEADER_LEN..].copy_from_slice(data);
            }
            Icmpv6Repr::ParamProblem {
                code,
                pointer,
                data,
            } => {
                b[0] = TYPE_PARAM_PROBLEM;
                b[1] = *code;
                put_u32(b, 4, *pointer);
                b[HEADER_LEN..].copy_from_slice(data);
            }
            Icmpv6Repr::RouterSolicit { lladdr: l } => {
                b[0] = TYPE_ROUTER_SOLICIT;
                if let Some(mac) = l {
                    lladdr(&mut b[HEADER_LEN..], OPT_SOURCE_LLADDR, *mac);
                }
            }
            Icmpv6Repr::NeighborSolicit { target, lladdr: l }
            | Icmpv6Repr::NeighborAdvert {
                target, lladdr: l, ..
            } => {
                let (ty, opt) = match self {
                    Icmpv6Repr::NeighborAdvert { flags, .. } => {
                        b[4] = *flags;
                        (TYPE_NEIGHBOR_ADVERT, OPT_TARGET_LLADDR)
                    }
                    _ => (TYPE_NEIGHBOR_SOLICIT, OPT_SOURCE_LLADDR),
                };
                b[0] = ty;
                b[8..24].copy_from_slice(&target.octets());
                if let Some(mac) = l {
                    lladdr(&mut b[ND_LEN..], opt, *mac);
                }
            }
            Icmpv6Repr::RouterAdvert(ra) => {
                b[0] = TYPE_ROUTER_ADVERT;
                b[4] = ra.hop_limit;
                b[5] = ra.flags;
                put_u16(b, 6, ra.router_lifetime);
                put_u32(b, 8, ra.reachable_time);
                put_u32(b, 12, ra.retrans_time);
                let mut at = 16;
                if let Some(mac) = ra.lladdr {
                    lladdr(&mut b[at..], OPT_SOURCE_LLADDR, mac);
                    at += 8;
                }
                if let Some(mtu) = ra.mtu {
                    b[at] = OPT_MTU;
                    b[at + 1] = 1;
                    put_u32(b, at + 4, mtu);
                    at += 8;
                }
                for p in &ra.prefixes {
                    let o = &mut b[at..at + PREFIX_OPT_LEN];
                    o[0] = OPT_PREFIX_INFO;
                    o[1] = (PREFIX_OPT_LEN / 8) as u8;
                    o[2] = p.len;
                    o[3] = p.flags;
                    put_u32(o, 4, p.valid);
                    put_u32(o, 8, p.preferred);
                    let bits = u128::from(p.prefix)
                        & (!0u128)
                            .checked_shl(128 - u32::from(p.len.min(128)))
                            .unwrap_or(0);
                    o[16..32].copy_from_slice(&bits.to_be_bytes());
                    at += PREFIX_OPT_LEN;
                }
            }
        }
        fill_checksum(src, dst, b);
        Ok(len)
    }
}

/// What a worker needs to know of a neighbour solicitation to answer it in
/// place (see [`Solicit::parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Solicit {
    /// The address asked about.
    pub target: Ipv6Addr,
    /// The solicitor (unspecified for duplicate address detection).
    pub src: Ipv6Addr,
    /// Its source link-layer address option.
    pub lladdr: Option<MacAddr>,
    /// The message is exactly the fixed part and one source link-layer
    /// option: its advertisement, with one target link-layer option, fits
    /// in the same bytes.
    pub fits: bool,
}

impl Solicit {
    /// Reads the neighbour solicitation carried by the IPv6 packet `ip`
    /// (already checked: next header ICMPv6, type 135), with every check
    /// of RFC 4861 §7.1.1: hop limit 255, code 0, length, checksum,
    /// options, and for duplicate address detection no address option and
    /// a solicited-node destination.
    ///
    /// The common case (the fixed part and one source link-layer option,
    /// from a specified address) is checked in line: returned from a call,
    /// the result went through memory in pieces and cost the workers a
    /// store-forwarding stall per solicitation.
    #[inline(always)]
    pub fn parse<T: AsRef<[u8]>>(ip: &ipv6::Packet<T>) -> Result<Solicit> {
        let msg = ip.payload();
        let summed = ip.as_bytes().get(8..IPV6_HEADER_LEN + ND_LLADDR_LEN);
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        if let (Ok(m), Some(Ok(summed))) = (
            <&[u8; ND_LLADDR_LEN]>::try_from(msg),
            summed.map(<&[u8; 64]>::try_from),
        ) {
            let target = super::get_ipv6(m, 8);
            if m[0] == TYPE_NEIGHBOR_SOLICIT
                && m[1] == 0
                && ip.hop_limit() == 255
                && m[ND_LEN] == OPT_SOURCE_LLADDR
                && m[ND_LEN + 1] == 1
                && !src.is_unspecified()
                && !target.is_multicast()
            {
                if sum_nd(summed) != 0xffff {
                    return Err(Error::Checksum);
                }
                return Ok(Solicit {
                    target,
                    src,
                    lladdr: Some(MacAddr::from_bytes(&m[ND_LEN + 2..])),
                    fits: true,
                });
            }
        }
        Self::parse_any(src, dst, ip.hop_limit(), msg)
    }

    /// [`Solicit::parse`] for any layout, through the full parser.
    #[cold]
    #[inline(never)]
    fn parse_any(src: Ipv6Addr, dst: Ipv6Addr, hop_limit: u8, msg: &[u8]) -> Result<Solicit> {
        let Icmpv6Repr::NeighborSolicit { target, lladdr } =
            Icmpv6Repr::parse(src, dst, hop_limit, msg)?
        else {
            return Err(Error::Unrecognized);
        };
        Ok(Solicit {
            target,
            src,
            lladdr,
            fits: msg.len() == ND_LLADDR_LEN && lladdr.is_some(),
        })
    }
}

/// Multicast listener query (RFC 3810 §5.1; MLDv1's, RFC 2710 §3, is its
/// first 24 bytes).
pub const TYPE_MLD_QUERY: u8 = 130;

/// A multicast listener query: for one group, or for every group when
/// `group` is unspecified (a general query), to be answered within
/// `max_delay_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MldQuery {
    /// The group asked about (unspecified: all).
    pub group: Ipv6Addr,
    /// The Maximum Response Delay, decoded.
    pub max_delay_ms: u32,
    /// An MLDv1 query (24 bytes): its querier does not read MLDv2 reports.
    pub v1: bool,
}

/// The hop-by-hop options header of an IPv6 packet (its payload `p`, the
/// packet's next header 0): the header's next header and length, when it
/// fits.
fn hop_by_hop(p: &[u8]) -> Option<(u8, usize)> {
    let len = (usize::from(*p.get(1)?) + 1) * 8;
    (p.len() >= len).then_some((p[0], len))
}

/// True when the payload `p` of an IPv6 packet whose next header is 0 looks
/// like an MLD query (hop-by-hop options, then ICMPv6 type 130), without
/// checks: the workers' test of what to hand to the control lcore.
#[inline]
pub fn is_mld_query(p: &[u8]) -> bool {
    hop_by_hop(p)
        .is_some_and(|(next, len)| next == PROTO_ICMPV6 && p.get(len) == Some(&TYPE_MLD_QUERY))
}

impl MldQuery {
    /// Reads the MLD query of an IPv6 packet from `src` to `dst` at
    /// `hop_limit` whose next header is 0 and payload `p`, with RFC 3810's
    /// checks (§5, §5.1.14): from a link-local address, hop limit 1, a
    /// Router Alert option in the hop-by-hop header, the checksum right,
    /// 24 bytes (MLDv1) or at least 28.
    pub fn parse(src: Ipv6Addr, dst: Ipv6Addr, hop_limit: u8, p: &[u8]) -> Result<MldQuery> {
        let (next, len) = hop_by_hop(p).ok_or(Error::Truncated)?;
        let msg = &p[len..];
        if next != PROTO_ICMPV6 || msg.first() != Some(&TYPE_MLD_QUERY) {
            return Err(Error::Unrecognized);
        }
        if !ipv6::is_link_local(src) || hop_limit != 1 {
            return Err(Error::Malformed(
                "MLD query not link-local or not hop limit 1",
            ));
        }
        // Options: Pad1 is one byte, the others type, length, value.
        let mut opts = &p[2..len];
        let mut alert = false;
        while let Some(&kind) = opts.first() {
            if kind == 0 {
                opts = &opts[1..];
                continue;
            }
            let n = 2 + usize::from(*opts.get(1).ok_or(Error::Truncated)?);
            let opt = opts.get(..n).ok_or(Error::Truncated)?;
            alert |= opt == [5, 2, 0, 0];
            opts = &opts[n..];
        }
        if !alert {
            return Err(Error::Malformed("MLD query without router alert"));
        }
        let v1 = msg.len() == 24;
        if msg.len() < 24 || (!v1 && msg.len() < 28) {
            return Err(Error::Truncated);
        }
        if msg[1] != 0 {
            return Err(Error::Malformed("ICMPv6 code"));
        }
        if !verify_checksum(src, dst, msg) {
            return Err(Error::Checksum);
        }
        // Maximum Response Code: milliseconds, or from 32768 on a
        // floating-point value (RFC 3810 §5.1.3).
        let code = u32::from(get_u16(msg, 4));
        let max_delay_ms = if v1 || code < 0x8000 {
            code
        } else {
            ((code & 0x0fff) | 0x1000) << (((code >> 12) & 7) + 3)
        };
        Ok(MldQuery {
            group: super::get_ipv6(msg, 8),
            max_delay_ms,
            v1,
        })
    }
}

/// MLDv2 listener report (RFC 3810 §5.2).
pub const TYPE_MLD2_REPORT: u8 = 143;
/// All MLDv2-capable routers, where listener reports go (RFC 3810 §5.2.14).
pub const ALL_MLD2_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x16);
/// Multicast address records per report: 60 x 20 bytes keeps the frame
/// within 1280 bytes, the IPv6 minimum MTU.
pub const MLD2_MAX_RECORDS: usize = 60;
/// Record type MODE_IS_EXCLUDE: with no sources, "all of this group".
const MLD2_MODE_IS_EXCLUDE: u8 = 2;
/// The hop-by-hop options header an MLD message carries (RFC 3810 §5):
/// next header ICMPv6, Router Alert (RFC 2711) with value 0 (MLD), and a
/// two-byte PadN.
const HBH_ROUTER_ALERT: [u8; 8] = [PROTO_ICMPV6, 0, 5, 2, 0, 0, 1, 0];

/// Length of the IPv6 packet (header included) of an MLDv2 report of `n`
/// groups.
pub const fn mld2_report_len(n: usize) -> usize {
    IPV6_HEADER_LEN + HBH_ROUTER_ALERT.len() + HEADER_LEN + 20 * n
}

/// Writes the head of an MLD packet from `src` to `dst` into `b` (the
/// whole packet, None when the buffer is too short): the IPv6 header
/// (hop limit 1) and the hop-by-hop header with Router Alert; returns the
/// message after them, zeroed.
fn mld_packet(src: Ipv6Addr, dst: Ipv6Addr, b: Option<&mut [u8]>) -> Result<&mut [u8]> {
    let b = b.ok_or(Error::Truncated)?;
    ipv6::Ipv6Repr {
        src,
        dst,
        next_header: 0, // hop-by-hop options
        payload_len: b.len().saturating_sub(IPV6_HEADER_LEN),
        hop_limit: 1,
        traffic_class: 0,
    }
    .emit(b)?;
    let (hbh, msg) = b[IPV6_HEADER_LEN..]
        .split_at_mut_checked(HBH_ROUTER_ALERT.len())
        .ok_or(Error::Truncated)?;
    hbh.copy_from_slice(&HBH_ROUTER_ALERT);
    msg.fill(0);
    Ok(msg)
}

/// Writes into `buf` the IPv6 packet of an MLDv2 report from `src` (the
/// interface's link-local address) saying that it listens to every group
/// of `groups` (at most [`MLD2_MAX_RECORDS`]): to ff02::16, hop limit 1,
/// Router Alert, one MODE_IS_EXCLUDE record without sources per group.
/// Returns its length.
pub fn emit_mld2_report(src: Ipv6Addr, groups: &[Ipv6Addr], buf: &mut [u8]) -> Result<usize> {
    if groups.len() > MLD2_MAX_RECORDS {
        return Err(Error::Unrecognized);
    }
    let len = mld2_report_len(groups.len());
    let msg = mld_packet(src, ALL_MLD2_ROUTERS, buf.get_mut(..len))?;
    msg[0] = TYPE_MLD2_REPORT;
    put_u16(msg, 6, groups.len() as u16);
    for (r, g) in msg[HEADER_LEN..].chunks_exact_mut(20).zip(groups) {
        r[0] = MLD2_MODE_IS_EXCLUDE;
        r[4..].copy_from_slice(&g.octets());
    }
    fill_checksum(src, ALL_MLD2_ROUTERS, msg);
    Ok(len)
}

/// MLDv1 listener report (RFC 2710 §3), what an MLDv1 querier reads.
pub const TYPE_MLD1_REPORT: u8 = 131;
/// Length of the IPv6 packet (header included) of an MLDv1 report.
pub const MLD1_REPORT_LEN: usize = IPV6_HEADER_LEN + HBH_ROUTER_ALERT.len() + 24;

/// Writes into `buf` the IPv6 packet of an MLDv1 report from `src` (the
/// interface's link-local address) that it listens to `group`: to the
/// group itself, hop limit 1, Router Alert (RFC 2710 §3, §4). Returns its
/// length.
pub fn emit_mld1_report(src: Ipv6Addr, group: Ipv6Addr, buf: &mut [u8]) -> Result<usize> {
    let msg = mld_packet(src, group, buf.get_mut(..MLD1_REPORT_LEN))?;
    msg[0] = TYPE_MLD1_REPORT;
    msg[8..].copy_from_slice(&group.octets());
    fill_checksum(src, group, msg);
    Ok(MLD1_REPORT_LEN)
}

/// Turns the neighbour solicitation in the IPv6 packet `ip` (one that
/// [`Solicit::parse`] accepted with `fits`) into the advertisement of its
/// target at `mac` with `flags`, from the target to `to`, in place: the
/// same length, hop limit 255, traffic class and flow label cleared.
///
/// The checksum is summed from values in registers (the target counts
/// twice: source address and target field), not over the bytes written:
/// reading back bytes just written in pieces stalled every answer on
/// store forwarding. Native-endian, as [`checksum::partial_ne`].
#[inline(always)]
pub fn advertise_in_place<T: AsRef<[u8]> + AsMut<[u8]>>(
    ip: &mut ipv6::Packet<T>,
    to: Ipv6Addr,
    mac: MacAddr,
    flags: u8,
) {
    #[inline(always)]
    fn w(b: [u8; 4]) -> u64 {
        u64::from(u32::from_ne_bytes(b))
    }
    let b = ip.as_mut_bytes();
    let Some(m) = b.get(IPV6_HEADER_LEN..IPV6_HEADER_LEN + ND_LLADDR_LEN) else {
        return;
    };
    let target = super::get_ipv6(m, 8);
    let mac = mac.0;
    let opt = [OPT_TARGET_LLADDR, 1, mac[0], mac[1]];
    let sum = ND_PSEUDO
        + 2 * checksum::partial_ne(&target.octets())
        + checksum::partial_ne(&to.octets())
        + w([TYPE_NEIGHBOR_ADVERT, 0, 0, 0])
        + w([flags, 0, 0, 0])
        + w(opt)
        + w([mac[2], mac[3], mac[4], mac[5]]);
    let ck = !checksum::fold64(sum);
    b[..4].copy_from_slice(&(6u32 << 28).to_be_bytes());
    b[7] = 255;
    b[8..24].copy_from_slice(&target.octets());
    b[24..40].copy_from_slice(&to.octets());
    let msg = &mut b[IPV6_HEADER_LEN..IPV6_HEADER_LEN + ND_LLADDR_LEN];
    msg[0] = TYPE_NEIGHBOR_ADVERT;
    msg[1] = 0;
    msg[2..4].copy_from_slice(&ck.to_ne_bytes());
    msg[4..8].copy_from_slice(&[flags, 0, 0, 0]);
    msg[ND_LEN..ND_LEN + 4].copy_from_slice(&opt);
    msg[ND_LEN + 4..].copy_from_slice(&mac[2..]);
    debug_assert!(verify_checksum(target, to, msg));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ipv6::Ipv6Repr;

    fn addr(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    /// An IPv6 packet carrying `m` from `src` to `dst`.
    fn packet(src: Ipv6Addr, dst: Ipv6Addr, hop_limit: u8, m: &Icmpv6Repr) -> Vec<u8> {
        let len = m.buffer_len();
        let mut b = vec![0u8; IPV6_HEADER_LEN + len];
        Ipv6Repr {
            src,
            dst,
            next_header: PROTO_ICMPV6,
            payload_len: len,
            hop_limit,
            traffic_class: 0,
        }
        .emit(&mut b)
        .unwrap();
        m.emit(src, dst, &mut b[IPV6_HEADER_LEN..]).unwrap();
        b
    }

    /// A neighbour solicitation as scapy builds it, in the layout Linux
    /// sends (fe80::1 asking for fe80::2 at ff02::1:ff00:2, source
    /// link-layer 02:00:00:00:00:01), byte for byte.
    const LINUX_NS: &str = "6000000000203aff fe800000000000000000000000000001 \
        ff0200000000000000000001ff000002 8700 7a97 00000000 \
        fe800000000000000000000000000002 0101020000000001";

    #[test]
    fn a_real_solicitation_parses_and_round_trips() {
        let b = crate::wire::tests_hex(LINUX_NS);
        let ip = ipv6::Packet::new_checked(&b[..]).unwrap();
        let s = Solicit::parse(&ip).unwrap();
        assert_eq!(s.target, addr("fe80::2"));
        assert_eq!(s.lladdr, Some(MacAddr([2, 0, 0, 0, 0, 1])));
        assert!(s.fits);
        let repr = Icmpv6Repr::NeighborSolicit {
            target: s.target,
            lladdr: s.lladdr,
        };
        assert_eq!(
            packet(addr("fe80::1"), addr("ff02::1:ff00:2"), 255, &repr),
            b
        );
        assert_eq!(solicited_node(addr("fe80::2")), addr("ff02::1:ff00:2"));
        assert_eq!(
            multicast_mac(addr("ff02::1:ff00:2")),
            MacAddr([0x33, 0x33, 0xff, 0, 0, 2])
        );
    }

    /// The in-line path of `Solicit::parse` takes exactly what the full
    /// parser takes, with the same result: every one-bit change of a real
    /// solicitation (from the hop limit on), checksum fixed up or not.
    #[test]
    fn the_fast_path_agrees_with_the_full_parser() {
        let base = crate::wire::tests_hex(LINUX_NS);
        for i in 7..base.len() {
            for bit in 0..8 {
                for fix in [false, true] {
                    let mut b = base.clone();
                    b[i] ^= 1 << bit;
                    let ip = ipv6::Packet::new_checked(&b[..]).unwrap();
                    let (src, dst) = (ip.src_addr(), ip.dst_addr());
                    if fix {
                        fill_checksum(src, dst, &mut b[IPV6_HEADER_LEN..]);
                    }
                    let ip = ipv6::Packet::new_checked(&b[..]).unwrap();
                    let fast = Solicit::parse(&ip).map(|s| (s.target, s.lladdr));
                    let full = match Icmpv6Repr::parse(src, dst, ip.hop_limit(), ip.payload()) {
                        Ok(Icmpv6Repr::NeighborSolicit { target, lladdr }) => Ok((target, lladdr)),
                        Ok(_) => Err(Error::Unrecognized),
                        Err(e) => Err(e),
                    };
                    assert_eq!(fast.is_ok(), full.is_ok(), "byte {i} bit {bit} fixed {fix}");
                    if fast.is_ok() {
                        assert_eq!(fast, full, "byte {i} bit {bit} fixed {fix}");
                    }
                }
            }
        }
    }

    #[test]
    fn solicitations_that_must_be_ignored() {
        let ns = |hl: u8, src: &str, dst: &str, lladdr| {
            let m = Icmpv6Repr::NeighborSolicit {
                target: addr("fe80::2"),
                lladdr,
            };
            packet(addr(src), addr(dst), hl, &m)
        };
        let mac = Some(MacAddr([2, 0, 0, 0, 0, 1]));
        let parse = |b: &[u8]| Solicit::parse(&ipv6::Packet::new_checked(b).unwrap());
        // Forwarded from off link.
        assert!(parse(&ns(254, "fe80::1", "ff02::1:ff00:2", mac)).is_err());
        // DAD with an address option, or not to the solicited-node group.
        assert!(parse(&ns(255, "::", "ff02::1:ff00:2", mac)).is_err());
        assert!(parse(&ns(255, "::", "ff02::1", None)).is_err());
        let dad = parse(&ns(255, "::", "ff02::1:ff00:2", None)).unwrap();
        assert!(!dad.fits && dad.src.is_unspecified());
        // A bad checksum.
        let mut b = ns(255, "fe80::1", "ff02::1:ff00:2", mac);
        b[45] ^= 1;
        assert_eq!(parse(&b), Err(Error::Checksum));
        // Any bit flipped in the addresses (the pseudo-header) or the
        // message: refused.
        let good = ns(255, "fe80::1", "ff02::1:ff00:2", mac);
        assert!(parse(&good).is_ok());
        for i in 8..good.len() {
            for bit in 0..8 {
                let mut b = good.clone();
                b[i] ^= 1 << bit;
                assert!(parse(&b).is_err(), "byte {i} bit {bit}");
            }
        }
        // An option of length 0 (the checksum fixed up).
        let mut b = ns(255, "fe80::1", "ff02::1:ff00:2", mac);
        b[IPV6_HEADER_LEN + ND_LEN + 1] = 0;
        fill_checksum(
            addr("fe80::1"),
            addr("ff02::1:ff00:2"),
            &mut b[IPV6_HEADER_LEN..],
        );
        assert!(parse(&b).is_err());
        // Without the option it parses but does not fit in place.
        let s = parse(&ns(255, "fe80::1", "fe80::2", None)).unwrap();
        assert!(!s.fits);
    }

    #[test]
    fn an_advertisement_made_in_place_equals_the_emitted_one() {
        let mut b = crate::wire::tests_hex(LINUX_NS);
        let vmac = MacAddr([0, 7, 0xb4, 0, 0x2e, 2]);
        let mut ip = ipv6::Packet::new_checked(&mut b[..]).unwrap();
        advertise_in_place(
            &mut ip,
            addr("fe80::1"),
            vmac,
            NA_ROUTER | NA_SOLICITED | NA_OVERRIDE,
        );
        let want = packet(
            addr("fe80::2"),
            addr("fe80::1"),
            255,
            &Icmpv6Repr::NeighborAdvert {
                flags: NA_ROUTER | NA_SOLICITED | NA_OVERRIDE,
                target: addr("fe80::2"),
                lladdr: Some(vmac),
            },
        );
        assert_eq!(b, want);
        let ip = ipv6::Packet::new_checked(&b[..]).unwrap();
        let r = Icmpv6Repr::parse(ip.src_addr(), ip.dst_addr(), 255, ip.payload()).unwrap();
        assert_eq!(
            r,
            Icmpv6Repr::NeighborAdvert {
                flags: NA_ROUTER | NA_SOLICITED | NA_OVERRIDE,
                target: addr("fe80::2"),
                lladdr: Some(vmac)
            }
        );
    }

    /// The advertisement made in place equals the emitted one byte for
    /// byte, checksum included, over many solicitations: random addresses,
    /// MACs, flags and a non-zero reserved word (receivers must ignore it).
    #[test]
    fn the_advertisement_made_in_place_matches_the_emitted_one() {
        let mut next = crate::wire::tests_rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..5000 {
            let a = next();
            // A link-local or global source, a global or link-local target.
            let net = |x: u64| {
                if x % 2 == 0 {
                    0xfe80u128 << 112
                } else {
                    0x2001_0db8u128 << 96
                }
            };
            let src = Ipv6Addr::from(net(a >> 1) | u128::from(next()));
            let target = Ipv6Addr::from(net(a >> 2) | u128::from(next()) << 16 | 0x1);
            let dst = if a % 4 == 0 {
                target
            } else {
                solicited_node(target)
            };
            let mac = MacAddr::from_bytes(&next().to_be_bytes()[..6]);
            let vmac = MacAddr::from_bytes(&next().to_be_bytes()[2..]);
            let flags = (next() as u8) & 0xe0;
            let m = Icmpv6Repr::NeighborSolicit {
                target,
                lladdr: Some(mac),
            };
            let mut b = packet(src, dst, 255, &m);
            if a % 3 == 0 {
                b[IPV6_HEADER_LEN + 4..IPV6_HEADER_LEN + 8]
                    .copy_from_slice(&(next() as u32).to_be_bytes());
                fill_checksum(src, dst, &mut b[IPV6_HEADER_LEN..]);
            }
            let mut ip = ipv6::Packet::new_checked(&mut b[..]).unwrap();
            assert!(Solicit::parse(&ip).is_ok_and(|s| s.fits));
            advertise_in_place(&mut ip, src, vmac, flags);
            let want = packet(
                target,
                src,
                255,
                &Icmpv6Repr::NeighborAdvert {
                    flags,
                    target,
                    lladdr: Some(vmac),
                },
            );
            assert_eq!(b, want, "{src} -> {dst}, target {target}");
        }
    }

    /// MLD queries as scapy builds them: an MLDv2 general query (10 s),
    /// one for ff02::66 with a floating-point response code, an MLDv1
    /// general query (2 s).
    const SCAPY_MLD2_GENERAL: &str = "6000000000240001fe800000000000000000000000000001\
        ff0200000000000000000000000000013a0005020000010082005913271000000000000000000000\
        000000000000000000000000";
    const SCAPY_MLD2_SPECIFIC: &str = "6000000000240001fe800000000000000000000000000001\
        ff0200000000000000000000000000663a000502000001008200f6538a010000ff02000000000000\
        000000000000006600000000";
    const SCAPY_MLD1_GENERAL: &str = "6000000000200001fe800000000000000000000000000001\
        ff0200000000000000000000000000013a000502000001008200785707d000000000000000000000\
        0000000000000000";

    fn mld(hex: &str) -> (Vec<u8>, Result<MldQuery>) {
        let b = crate::wire::tests_hex(hex);
        let ip = ipv6::Packet::new_checked(&b[..]).unwrap();
        assert_eq!(ip.next_header(), 0);
        assert!(is_mld_query(ip.payload()));
        let q = MldQuery::parse(ip.src_addr(), ip.dst_addr(), ip.hop_limit(), ip.payload());
        (b, q)
    }

    #[test]
    fn mld_queries_as_scapy_builds_them() {
        let general = MldQuery {
            group: Ipv6Addr::UNSPECIFIED,
            max_delay_ms: 10_000,
            v1: false,
        };
        assert_eq!(mld(SCAPY_MLD2_GENERAL).1, Ok(general));
        // 0x8a01: mantissa 0xa01, exponent 0: (0x1a01) << 3.
        let specific = MldQuery {
            group: addr("ff02::66"),
            max_delay_ms: 0x1a01 << 3,
            v1: false,
        };
        assert_eq!(mld(SCAPY_MLD2_SPECIFIC).1, Ok(specific));
        let v1 = MldQuery {
            group: Ipv6Addr::UNSPECIFIED,
            max_delay_ms: 2000,
            v1: true,
        };
        assert_eq!(mld(SCAPY_MLD1_GENERAL).1, Ok(v1));
    }

    #[test]
    fn mld_queries_that_must_be_ignored() {
        let parse = |b: &[u8]| {
            let ip = ipv6::Packet::new_checked(b).unwrap();
            MldQuery::parse(ip.src_addr(), ip.dst_addr(), ip.hop_limit(), ip.payload())
        };
        let (good, q) = mld(SCAPY_MLD2_GENERAL);
        assert!(q.is_ok());
        // Hop limit 2; a global source (the checksum fixed up after it).
        let mut b = good.clone();
        b[7] = 2;
        assert!(matches!(parse(&b), Err(Error::Malformed(_))));
        let mut b = good.clone();
        b[8..10].copy_from_slice(&[0x20, 0x01]);
        fill_checksum(addr("2001::1"), addr("ff02::1"), &mut b[48..]);
        assert!(matches!(parse(&b), Err(Error::Malformed(_))));
        // No router alert: the option turned into a PadN.
        let mut b = good.clone();
        b[42] = 1;
        assert!(matches!(parse(&b), Err(Error::Malformed(_))));
        // Any bit flipped in the addresses or the message.
        for i in (8..40).chain(48..good.len()) {
            let mut b = good.clone();
            b[i] ^= 0x10;
            assert!(parse(&b).is_err(), "byte {i}");
        }
        // Lengths between MLDv1's and MLDv2's.
        let mut b = good.clone();
        b.truncate(48 + 26);
        b[5] = 8 + 26;
        fill_checksum(addr("fe80::1"), addr("ff02::1"), &mut b[48..]);
        assert_eq!(parse(&b), Err(Error::Truncated));
        // A report is not a query.
        let mut b = good.clone();
        b[48] = TYPE_MLD2_REPORT;
        assert!(!is_mld_query(&b[40..]));
        assert_eq!(parse(&b), Err(Error::Unrecognized));
        // A hop-by-hop length past the end.
        let mut b = good.clone();
        b[41] = 9;
        assert!(!is_mld_query(&b[40..]));
        assert!(parse(&b).is_err());
    }

    /// An MLDv2 report as RFC 3810 lays it out, byte for byte (the layout
    /// Linux sends; checked against tshark by the e2e tests).
    #[test]
    fn an_mld2_report_has_the_rfc_layout() {
        let src = addr("fe80::1");
        let groups = [addr("ff02::2"), addr("ff02::1:ff00:1")];
        let mut b = vec![0u8; 200];
        let n = emit_mld2_report(src, &groups, &mut b).unwrap();
        assert_eq!(n, 40 + 8 + 8 + 40);
        let ip = ipv6::Packet::new_checked(&b[..n]).unwrap();
        assert_eq!((ip.next_header(), ip.hop_limit()), (0, 1));
        assert_eq!(ip.dst_addr(), ALL_MLD2_ROUTERS);
        assert_eq!(&b[40..48], &[58, 0, 5, 2, 0, 0, 1, 0]);
        let msg = &b[48..n];
        assert_eq!(&msg[..2], &[143, 0]);
        assert_eq!(&msg[4..8], &[0, 0, 0, 2]);
        assert_eq!(&msg[8..12], &[2, 0, 0, 0]);
        assert_eq!(&msg[12..28], &groups[0].octets());
        assert_eq!(&msg[28..32], &[2, 0, 0, 0]);
        assert_eq!(&msg[32..48], &groups[1].octets());
        assert!(verify_checksum(src, ALL_MLD2_ROUTERS, msg));
        let too_many = vec![groups[0]; MLD2_MAX_RECORDS + 1];
        assert!(emit_mld2_report(src, &too_many, &mut vec![0u8; 2000]).is_err());
        assert!(emit_mld2_report(src, &groups, &mut b[..60]).is_err());
    }

    /// An MLDv1 report as RFC 2710 lays it out, byte for byte: to the
    /// group, hop limit 1, Router Alert, 24 bytes.
    #[test]
    fn an_mld1_report_has_the_rfc_layout() {
        let (src, group) = (addr("fe80::1"), addr("ff02::66"));
        let mut b = vec![0u8; 100];
        let n = emit_mld1_report(src, group, &mut b).unwrap();
        assert_eq!(n, 40 + 8 + 24);
        let ip = ipv6::Packet::new_checked(&b[..n]).unwrap();
        assert_eq!((ip.next_header(), ip.hop_limit()), (0, 1));
        assert_eq!((ip.src_addr(), ip.dst_addr()), (src, group));
        assert_eq!(&b[40..48], &[58, 0, 5, 2, 0, 0, 1, 0]);
        let msg = &b[48..n];
        assert_eq!(&msg[..2], &[131, 0]);
        assert_eq!(&msg[4..8], &[0, 0, 0, 0]);
        assert_eq!(&msg[8..], &group.octets());
        assert!(verify_checksum(src, group, msg));
        assert!(emit_mld1_report(src, group, &mut b[..71]).is_err());
    }

    #[test]
    fn router_advertisements_round_trip() {
        let ra = Icmpv6Repr::RouterAdvert(RouterAdvert {
            hop_limit: 64,
            flags: 0,
            router_lifetime: 1800,
            reachable_time: 0,
            retrans_time: 0,
            lladdr: None,
            mtu: Some(1500),
            prefixes: vec![PrefixInfo {
                prefix: addr("2001:db8:10::1"),
                len: 64,
                flags: PREFIX_ON_LINK | PREFIX_AUTONOMOUS,
                valid: 2_592_000,
                preferred: 604_800,
            }],
        });
        let (src, dst) = (addr("fe80::7:b4ff:fe00:2e00"), ALL_NODES);
        let b = packet(src, dst, 255, &ra);
        assert_eq!(b.len(), IPV6_HEADER_LEN + 16 + 8 + 32);
        let r = Icmpv6Repr::parse(src, dst, 255, &b[IPV6_HEADER_LEN..]).unwrap();
        let Icmpv6Repr::RouterAdvert(got) = r else {
            panic!("{r:?}")
        };
        assert_eq!(got.prefixes[0].prefix, addr("2001:db8:10::"));
        assert_eq!((got.router_lifetime, got.mtu), (1800, Some(1500)));
        // From a global address: not a valid advertisement.
        let b = packet(addr("2001:db8::1"), dst, 255, &ra);
        assert!(Icmpv6Repr::parse(addr("2001:db8::1"), dst, 255, &b[IPV6_HEADER_LEN..]).is_err());
    }

    #[test]
    fn errors_round_trip() {
        let (s, d) = (addr("2001:db8::1"), addr("2001:db8::2"));
        for m in [
            Icmpv6Repr::TimeExceeded {
                code: 0,
                data: b"quoted",
            },
            Icmpv6Repr::DstUnreachable {
                code: 4,
                data: b"quoted",
            },
            Icmpv6Repr::ParamProblem {
                code: 1,
                pointer: 6,
                data: b"quoted",
            },
        ] {
            let b = packet(s, d, 64, &m);
            assert_eq!(Icmpv6Repr::parse(s, d, 64, &b[IPV6_HEADER_LEN..]), Ok(m));
        }
    }

    #[test]
    fn echo_round_trips() {
        let m = Icmpv6Repr::EchoRequest {
            ident: 7,
            seq_no: 9,
            data: b"abcdefgh",
        };
        let (s, d) = (addr("fe80::1"), addr("fe80::7:b4ff:fe00:2e00"));
        let b = packet(s, d, 64, &m);
        assert_eq!(Icmpv6Repr::parse(s, d, 64, &b[IPV6_HEADER_LEN..]), Ok(m));
    }
}
