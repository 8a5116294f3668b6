//! GLBP messages (UDP 3222 to 224.0.0.102 / ff02::66), Cisco IOS compatible.
//!
//! See `docs/protocol.md` §4 for the layout. The value types below
//! are the contract between the wire layer and the protocol engine; parsing
//! and emitting them lives in this module.

use super::MacAddr;
use std::net::IpAddr;

/// UDP port used by GLBP as both source and destination.
pub const UDP_PORT: u16 = 3222;
/// IPv4 multicast destination of GLBP.
pub const MCAST_V4: std::net::Ipv4Addr = std::net::Ipv4Addr::new(224, 0, 0, 102);
/// IPv6 multicast destination of GLBP.
pub const MCAST_V6: std::net::Ipv6Addr = std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x66);
/// Ethernet destination for [`MCAST_V4`].
pub const MCAST_MAC_V4: MacAddr = MacAddr([0x01, 0x00, 0x5e, 0x00, 0x00, 0x66]);
/// Ethernet destination for [`MCAST_V6`].
pub const MCAST_MAC_V6: MacAddr = MacAddr([0x33, 0x33, 0x00, 0x00, 0x00, 0x66]);
/// Highest group number.
pub const MAX_GROUP: u16 = 1023;
/// Forwarders per group.
pub const MAX_FORWARDERS: u8 = 4;
/// VF priority of the primary owner of a forwarder.
pub const VF_PRIORITY_PRIMARY: u8 = 167;
/// VF priority of a secondary holder of a forwarder.
pub const VF_PRIORITY_SECONDARY: u8 = 135;
/// VF priority seen in the forwarder TLV of a resigning AVG.
pub const VF_PRIORITY_RESIGN: u8 = 160;

/// Virtual gateway state, as carried at offset 3 of the Hello TLV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VgState {
    /// 0x01 (never sent).
    Disabled,
    /// 0x02 (never sent).
    Init,
    /// 0x04.
    Listen,
    /// 0x08.
    Speak,
    /// 0x10.
    Standby,
    /// 0x20.
    Active,
    /// A value this implementation does not know; kept so that it can be
    /// reported, never acted on.
    Unknown(u8),
}

/// Virtual forwarder state, as carried at offset 3 of the Request/Response TLV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VfState {
    /// 0: used in unicast requests and in the AVG's responses.
    Unspecified,
    /// 0x01 (never sent).
    Disabled,
    /// 0x02 (never sent).
    Init,
    /// 0x04.
    Listen,
    /// 0x20.
    Active,
    /// A value this implementation does not know.
    Unknown(u8),
}

/// Authentication TLV (type 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthRepr {
    /// Type 1: plain text; at most [`MAX_TEXT_LEN`] bytes fit a TLV.
    Text(Vec<u8>),
    /// Type 2: MD5 key-string; the 16-byte digest as received or to be filled.
    Md5String {
        /// Keyed MD5 digest (see [`auth::keyed_md5`]).
        digest: [u8; 16],
    },
    /// Type 3: MD5 key-chain; key id then digest.
    Md5Chain {
        /// Key id in the sender's key chain.
        key_id: u32,
        /// Keyed MD5 digest (see [`auth::keyed_md5`]).
        digest: [u8; 16],
    },
}

/// One peer entry of the type-4 nonce TLV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoncePeer {
    /// The peer's owner ID.
    pub owner: MacAddr,
    /// The last nonce received from that peer.
    pub echo: u32,
}

/// Type-4 TLV: sender's nonce and echoes of its peers' nonces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceRepr {
    /// Generation counter, +1 for each new nonce.
    pub counter: u8,
    /// The sender's current nonce.
    pub nonce: u32,
    /// Echoes of the peers' nonces.
    pub peers: Vec<NoncePeer>,
}

/// Hello TLV (type 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelloRepr {
    /// The sender's gateway state.
    pub state: VgState,
    /// 1..=255; 0 means the sender resigns.
    pub priority: u8,
    /// Hello interval, milliseconds.
    pub hello_ms: u32,
    /// Hold time, milliseconds.
    pub hold_ms: u32,
    /// Redirect timer, seconds.
    pub redirect_s: u16,
    /// Forwarder timeout, seconds.
    pub timeout_s: u16,
    /// Virtual IP: IPv4 (address type 1) or IPv6 (address type 2).
    pub vip: IpAddr,
}

/// Request/Response TLV (type 2): one virtual forwarder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReqRespRepr {
    /// 1..=4; 0 in a unicast request for a forwarder.
    pub forwarder: u8,
    /// The forwarder's state at the sender.
    pub state: VfState,
    /// 167 primary, 135 secondary, 160 in a resign.
    pub priority: u8,
    /// Weighting (default 100).
    pub weight: u8,
    /// Forwarder timeout in seconds (remaining, when held as secondary).
    pub timeout_s: u16,
    /// Redirect in seconds (remaining, when held as secondary).
    pub redirect_s: u16,
    /// The forwarder's virtual MAC.
    pub vmac: MacAddr,
}

/// One whole GLBP message (the UDP payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlbpRepr {
    /// Group number, 0..=1023.
    pub group: u16,
    /// Sender's own interface MAC, even when the Ethernet source is a VMAC.
    pub owner: MacAddr,
    /// Authentication TLV; `None` also for a type-0 ("none") TLV.
    pub auth: Option<AuthRepr>,
    /// Type-4 nonce TLV.
    pub nonce: Option<NonceRepr>,
    /// Hello TLV; absent in forwarder-only messages.
    pub hello: Option<HelloRepr>,
    /// Request/Response TLVs in wire order.
    pub forwarders: Vec<ReqRespRepr>,
}

pub mod auth;
pub mod frame;

use super::{get_ipv4, get_ipv6, get_u16, get_u32, put_u16, put_u32, Error, Result};
use std::net::Ipv6Addr;

/// GLBP version carried in the header.
pub const VERSION: u8 = 1;
/// Length of the GLBP header.
pub const HEADER_LEN: usize = 12;
/// TLV type of a Hello.
pub const TLV_HELLO: u8 = 1;
/// TLV type of a Request/Response (virtual forwarder).
pub const TLV_REQ_RESP: u8 = 2;
/// TLV type of Authentication.
pub const TLV_AUTH: u8 = 3;
/// TLV type of the nonce / peer echo TLV.
pub const TLV_NONCE: u8 = 4;
/// Hello TLV length with an IPv4 virtual IP.
pub const HELLO_LEN_V4: usize = 28;
/// Hello TLV length with an IPv6 virtual IP.
pub const HELLO_LEN_V6: usize = 40;
/// Request/Response TLV length.
pub const REQ_RESP_LEN: usize = 20;
/// Authentication type: none.
pub const AUTH_NONE: u8 = 0;
/// Authentication type: plain text.
pub const AUTH_TEXT: u8 = 1;
/// Authentication type: MD5 key-string.
pub const AUTH_MD5_STRING: u8 = 2;
/// Authentication type: MD5 key-chain.
pub const AUTH_MD5_CHAIN: u8 = 3;
/// Length of an MD5 digest.
pub const MD5_LEN: usize = 16;
/// Longest plain-text password a TLV can carry (255 − 4 header bytes).
pub const MAX_TEXT_LEN: usize = 251;
/// Most peers a nonce TLV can carry (8 + 12·20 = 248 ≤ 255).
pub const MAX_NONCE_PEERS: usize = 20;

mod field {
    // Header.
    pub const VERSION: usize = 0;
    pub const GROUP: usize = 2;
    pub const OWNER: usize = 6;
    // Offsets inside a TLV, from its type byte.
    pub const TLV_TYPE: usize = 0;
    pub const TLV_LEN: usize = 1;
    // Hello.
    pub const HELLO_STATE: usize = 3;
    pub const HELLO_PRIORITY: usize = 5;
    pub const HELLO_HELLO: usize = 8;
    pub const HELLO_HOLD: usize = 12;
    pub const HELLO_REDIRECT: usize = 16;
    pub const HELLO_TIMEOUT: usize = 18;
    pub const HELLO_ADDR_TYPE: usize = 22;
    pub const HELLO_ADDR_LEN: usize = 23;
    pub const HELLO_ADDR: usize = 24;
    // Request/Response.
    pub const RR_FORWARDER: usize = 2;
    pub const RR_STATE: usize = 3;
    pub const RR_PRIORITY: usize = 5;
    pub const RR_WEIGHT: usize = 6;
    pub const RR_TIMEOUT: usize = 8;
    pub const RR_REDIRECT: usize = 10;
    pub const RR_VMAC: usize = 14;
    // Authentication.
    pub const AUTH_TYPE: usize = 2;
    pub const AUTH_LEN: usize = 3;
    pub const AUTH_DATA: usize = 4;
    // Nonce.
    pub const NONCE_COUNT: usize = 2;
    pub const NONCE_COUNTER: usize = 3;
    pub const NONCE_NONCE: usize = 4;
    pub const NONCE_PEERS: usize = 8;
    pub const NONCE_PEER_LEN: usize = 12;
    pub const PEER_ECHO: usize = 6;
}

impl VgState {
    /// Decodes the wire value (unknown values are kept).
    pub const fn from_u8(v: u8) -> VgState {
        match v {
            0x01 => VgState::Disabled,
            0x02 => VgState::Init,
            0x04 => VgState::Listen,
            0x08 => VgState::Speak,
            0x10 => VgState::Standby,
            0x20 => VgState::Active,
            v => VgState::Unknown(v),
        }
    }
    /// The wire value.
    pub const fn to_u8(self) -> u8 {
        match self {
            VgState::Disabled => 0x01,
            VgState::Init => 0x02,
            VgState::Listen => 0x04,
            VgState::Speak => 0x08,
            VgState::Standby => 0x10,
            VgState::Active => 0x20,
            VgState::Unknown(v) => v,
        }
    }
}

impl std::fmt::Display for VgState {
    /// IOS's words ("Active"); unknown values as `Unknown(0x40)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VgState::Unknown(v) => write!(f, "Unknown({v:#04x})"),
            other => std::fmt::Debug::fmt(other, f),
        }
    }
}

impl VfState {
    /// Decodes the wire value (unknown values are kept).
    pub const fn from_u8(v: u8) -> VfState {
        match v {
            0x00 => VfState::Unspecified,
            0x01 => VfState::Disabled,
            0x02 => VfState::Init,
            0x04 => VfState::Listen,
            0x20 => VfState::Active,
            v => VfState::Unknown(v),
        }
    }
    /// The wire value.
    pub const fn to_u8(self) -> u8 {
        match self {
            VfState::Unspecified => 0x00,
            VfState::Disabled => 0x01,
            VfState::Init => 0x02,
            VfState::Listen => 0x04,
            VfState::Active => 0x20,
            VfState::Unknown(v) => v,
        }
    }
}

impl std::fmt::Display for VfState {
    /// IOS's words ("Active"), "Unspecified" for 0, unknown values as
    /// `Unknown(0x08)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VfState::Unknown(v) => write!(f, "Unknown({v:#04x})"),
            other => std::fmt::Debug::fmt(other, f),
        }
    }
}

/// Virtual MAC of `forwarder` (1..=4) in `group` (0..=1023), `None` out of
/// range.
pub const fn virtual_mac(group: u16, forwarder: u8) -> Option<MacAddr> {
    if group > MAX_GROUP || forwarder == 0 || forwarder > MAX_FORWARDERS {
        return None;
    }
    Some(vmac(group, forwarder))
}

/// The virtual MAC formula: `00:07:b4:GG:GG:FF` with the group in the two
/// middle bytes and the forwarder number last (docs/protocol.md §6). For
/// numbers already known to be in range; see [`virtual_mac`].
pub const fn vmac(group: u16, forwarder: u8) -> MacAddr {
    let g = group.to_be_bytes();
    MacAddr([0x00, 0x07, 0xb4, g[0], g[1], forwarder])
}

/// Group and forwarder of a GLBP virtual MAC, or `None` if `mac` is not one.
pub const fn parse_virtual_mac(mac: MacAddr) -> Option<(u16, u8)> {
    let [a, b, c, g0, g1, fwd] = mac.0;
    let group = u16::from_be_bytes([g0, g1]);
    if a != 0x00 || b != 0x07 || c != 0xb4 || group > MAX_GROUP || fwd == 0 || fwd > MAX_FORWARDERS
    {
        return None;
    }
    Some((group, fwd))
}

/// IPv6 virtual link-local address of `group`: the EUI-64 of
/// `00:07:b4:GG:GG:00` (forwarder byte 0) **without** the usual U/L bit flip,
/// i.e. `fe80::7:b4ff:feGG:GG00` (group 46 -> `fe80::7:b4ff:fe00:2e00`).
pub const fn virtual_link_local(group: u16) -> Option<Ipv6Addr> {
    if group > MAX_GROUP {
        return None;
    }
    let g = group.to_be_bytes();
    Some(Ipv6Addr::new(
        0xfe80,
        0,
        0,
        0,
        0x0007,
        0xb4ff,
        0xfe00 | g[0] as u16,
        (g[1] as u16) << 8,
    ))
}

/// One TLV as found in a message: its type and its whole bytes (type and
/// length bytes included), `offset` bytes from the start of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// TLV type.
    pub kind: u8,
    /// Offset of the type byte from the start of the GLBP message.
    pub offset: usize,
    /// The whole TLV, `bytes.len() >= 2`.
    pub bytes: &'a [u8],
}

/// Iterator over the TLVs of a message. Yields an error (and then stops) on
/// a length below 2 or a TLV running past the end.
#[derive(Debug, Clone)]
pub struct TlvIter<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Iterator for TlvIter<'a> {
    type Item = Result<Tlv<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.buf.len() {
            return None;
        }
        let rest = &self.buf[self.pos..];
        let item = match rest {
            [kind, len, ..] => {
                let len = usize::from(*len);
                if len < 2 {
                    Err(Error::Malformed("GLBP TLV length < 2"))
                } else if let Some(bytes) = rest.get(..len) {
                    let tlv = Tlv {
                        kind: *kind,
                        offset: self.pos,
                        bytes,
                    };
                    self.pos += len;
                    return Some(Ok(tlv));
                } else {
                    Err(Error::Malformed("GLBP TLV overruns the message"))
                }
            }
            _ => Err(Error::Truncated),
        };
        self.done = true;
        Some(item)
    }
}

view! {
    /// A read/write view of a GLBP message (the UDP payload).
    ///
    /// [`Packet::new_checked`] validates the 12-byte header and version 1;
    /// afterwards no accessor can panic. TLVs are reached through
    /// [`Packet::tlvs`], which checks each length before use.
    Packet
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks the header length and the version (`Unrecognized` unless 1).
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if b[field::VERSION] != VERSION {
            return Err(Error::Unrecognized);
        }
        Ok(())
    }
    /// Version.
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION]
    }
    /// Group number (not range-checked here).
    #[inline]
    pub fn group(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::GROUP)
    }
    /// Owner ID: the sender's interface MAC.
    #[inline]
    pub fn owner(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[field::OWNER..HEADER_LEN])
    }
    /// The TLVs after the header.
    #[inline]
    pub fn tlvs(&self) -> TlvIter<'_> {
        TlvIter {
            buf: self.buffer.as_ref(),
            pos: HEADER_LEN,
            done: false,
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the group.
    #[inline]
    pub fn set_group(&mut self, group: u16) {
        put_u16(self.buffer.as_mut(), field::GROUP, group);
    }
    /// Sets the owner ID.
    #[inline]
    pub fn set_owner(&mut self, owner: MacAddr) {
        self.buffer.as_mut()[field::OWNER..HEADER_LEN].copy_from_slice(&owner.0);
    }
}

/// Checks that a TLV holds at least `min` bytes.
fn need(t: &[u8], min: usize, what: &'static str) -> Result<()> {
    if t.len() < min {
        Err(Error::Malformed(what))
    } else {
        Ok(())
    }
}

/// Writes type and length, returns the TLV slice to fill.
fn tlv_start(buf: &mut [u8], kind: u8, len: usize) -> Result<&mut [u8]> {
    let len8 = u8::try_from(len).map_err(|_| Error::Malformed("GLBP TLV longer than 255"))?;
    let t = buf.get_mut(..len).ok_or(Error::Truncated)?;
    t.fill(0);
    t[field::TLV_TYPE] = kind;
    t[field::TLV_LEN] = len8;
    Ok(t)
}

impl HelloRepr {
    /// Parses a Hello TLV (whole TLV bytes). Reserved bytes are ignored; the
    /// address type must be 1 with length 4 or 2 with length 16.
    pub fn parse_tlv(t: &[u8]) -> Result<HelloRepr> {
        need(t, field::HELLO_ADDR, "GLBP hello TLV too short")?;
        let vip = match (t[field::HELLO_ADDR_TYPE], t[field::HELLO_ADDR_LEN]) {
            (1, 4) => {
                need(t, HELLO_LEN_V4, "GLBP hello TLV too short for IPv4")?;
                IpAddr::V4(get_ipv4(t, field::HELLO_ADDR))
            }
            (2, 16) => {
                need(t, HELLO_LEN_V6, "GLBP hello TLV too short for IPv6")?;
                IpAddr::V6(get_ipv6(t, field::HELLO_ADDR))
            }
            _ => return Err(Error::Malformed("GLBP hello address type/length")),
        };
        Ok(HelloRepr {
            state: VgState::from_u8(t[field::HELLO_STATE]),
            priority: t[field::HELLO_PRIORITY],
            hello_ms: get_u32(t, field::HELLO_HELLO),
            hold_ms: get_u32(t, field::HELLO_HOLD),
            redirect_s: get_u16(t, field::HELLO_REDIRECT),
            timeout_s: get_u16(t, field::HELLO_TIMEOUT),
            vip,
        })
    }

    /// Length of the emitted TLV (28 for IPv4, 40 for IPv6).
    pub const fn tlv_len(&self) -> usize {
        match self.vip {
            IpAddr::V4(_) => HELLO_LEN_V4,
            IpAddr::V6(_) => HELLO_LEN_V6,
        }
    }

    /// Writes the TLV (reserved bytes zero) at the start of `buf`; returns
    /// its length.
    pub fn emit_tlv(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.tlv_len();
        let t = tlv_start(buf, TLV_HELLO, len)?;
        t[field::HELLO_STATE] = self.state.to_u8();
        t[field::HELLO_PRIORITY] = self.priority;
        put_u32(t, field::HELLO_HELLO, self.hello_ms);
        put_u32(t, field::HELLO_HOLD, self.hold_ms);
        put_u16(t, field::HELLO_REDIRECT, self.redirect_s);
        put_u16(t, field::HELLO_TIMEOUT, self.timeout_s);
        match self.vip {
            IpAddr::V4(a) => {
                t[field::HELLO_ADDR_TYPE] = 1;
                t[field::HELLO_ADDR_LEN] = 4;
                t[field::HELLO_ADDR..].copy_from_slice(&a.octets());
            }
            IpAddr::V6(a) => {
                t[field::HELLO_ADDR_TYPE] = 2;
                t[field::HELLO_ADDR_LEN] = 16;
                t[field::HELLO_ADDR..].copy_from_slice(&a.octets());
            }
        }
        Ok(len)
    }
}

impl ReqRespRepr {
    /// A unicast request for a forwarder: forwarder 0, everything else zero.
    pub const REQUEST: ReqRespRepr = ReqRespRepr {
        forwarder: 0,
        state: VfState::Unspecified,
        priority: 0,
        weight: 0,
        timeout_s: 0,
        redirect_s: 0,
        vmac: MacAddr::ZERO,
    };

    /// Parses a Request/Response TLV (whole TLV bytes); junk bytes ignored.
    pub fn parse_tlv(t: &[u8]) -> Result<ReqRespRepr> {
        need(t, REQ_RESP_LEN, "GLBP request/response TLV too short")?;
        Ok(ReqRespRepr {
            forwarder: t[field::RR_FORWARDER],
            state: VfState::from_u8(t[field::RR_STATE]),
            priority: t[field::RR_PRIORITY],
            weight: t[field::RR_WEIGHT],
            timeout_s: get_u16(t, field::RR_TIMEOUT),
            redirect_s: get_u16(t, field::RR_REDIRECT),
            vmac: MacAddr::from_bytes(&t[field::RR_VMAC..REQ_RESP_LEN]),
        })
    }

    /// Writes the 20-byte TLV at the start of `buf`.
    pub fn emit_tlv(&self, buf: &mut [u8]) -> Result<usize> {
        let t = tlv_start(buf, TLV_REQ_RESP, REQ_RESP_LEN)?;
        t[field::RR_FORWARDER] = self.forwarder;
        t[field::RR_STATE] = self.state.to_u8();
        t[field::RR_PRIORITY] = self.priority;
        t[field::RR_WEIGHT] = self.weight;
        put_u16(t, field::RR_TIMEOUT, self.timeout_s);
        put_u16(t, field::RR_REDIRECT, self.redirect_s);
        t[field::RR_VMAC..].copy_from_slice(&self.vmac.0);
        Ok(REQ_RESP_LEN)
    }
}

impl AuthRepr {
    /// Parses an Authentication TLV (whole TLV bytes). Type 0 ("none")
    /// yields `None`. MD5 key-string needs auth length 16, key-chain 20
    /// (4-byte key id, 16-byte digest).
    pub fn parse_tlv(t: &[u8]) -> Result<Option<AuthRepr>> {
        need(t, field::AUTH_DATA, "GLBP auth TLV too short")?;
        let alen = usize::from(t[field::AUTH_LEN]);
        let data = t
            .get(field::AUTH_DATA..field::AUTH_DATA + alen)
            .ok_or(Error::Malformed("GLBP auth length overruns the TLV"))?;
        match (t[field::AUTH_TYPE], alen) {
            (AUTH_NONE, _) => Ok(None),
            (AUTH_TEXT, _) => Ok(Some(AuthRepr::Text(data.to_vec()))),
            (AUTH_MD5_STRING, MD5_LEN) => {
                let mut digest = [0; MD5_LEN];
                digest.copy_from_slice(data);
                Ok(Some(AuthRepr::Md5String { digest }))
            }
            (AUTH_MD5_CHAIN, 20) => {
                let mut digest = [0; MD5_LEN];
                digest.copy_from_slice(&data[4..]);
                Ok(Some(AuthRepr::Md5Chain {
                    key_id: get_u32(data, 0),
                    digest,
                }))
            }
            (AUTH_MD5_STRING | AUTH_MD5_CHAIN, _) => Err(Error::Malformed("GLBP MD5 auth length")),
            _ => Err(Error::Malformed("GLBP unknown auth type")),
        }
    }

    /// Wire authentication type.
    pub const fn auth_type(&self) -> u8 {
        match self {
            AuthRepr::Text(_) => AUTH_TEXT,
            AuthRepr::Md5String { .. } => AUTH_MD5_STRING,
            AuthRepr::Md5Chain { .. } => AUTH_MD5_CHAIN,
        }
    }

    /// Length of the data after the 4-byte TLV head.
    fn data_len(&self) -> usize {
        match self {
            AuthRepr::Text(text) => text.len(),
            AuthRepr::Md5String { .. } => MD5_LEN,
            AuthRepr::Md5Chain { .. } => 4 + MD5_LEN,
        }
    }

    /// Length of the emitted TLV.
    pub fn tlv_len(&self) -> usize {
        field::AUTH_DATA + self.data_len()
    }

    /// Writes the TLV at the start of `buf`. A text longer than
    /// [`MAX_TEXT_LEN`] is `Malformed`.
    pub fn emit_tlv(&self, buf: &mut [u8]) -> Result<usize> {
        let alen = u8::try_from(self.data_len())
            .ok()
            .filter(|&l| usize::from(l) <= MAX_TEXT_LEN)
            .ok_or(Error::Malformed("GLBP auth text longer than 251"))?;
        let len = self.tlv_len();
        let t = tlv_start(buf, TLV_AUTH, len)?;
        t[field::AUTH_TYPE] = self.auth_type();
        t[field::AUTH_LEN] = alen;
        let d = &mut t[field::AUTH_DATA..];
        match self {
            AuthRepr::Text(text) => d.copy_from_slice(text),
            AuthRepr::Md5String { digest } => d.copy_from_slice(digest),
            AuthRepr::Md5Chain { key_id, digest } => {
                put_u32(d, 0, *key_id);
                d[4..].copy_from_slice(digest);
            }
        }
        Ok(len)
    }
}

impl NonceRepr {
    /// Parses a type-4 TLV (whole TLV bytes): needs `8 + 12·N` bytes.
    pub fn parse_tlv(t: &[u8]) -> Result<NonceRepr> {
        need(t, field::NONCE_PEERS, "GLBP nonce TLV too short")?;
        let n = usize::from(t[field::NONCE_COUNT]);
        let peers = t
            .get(field::NONCE_PEERS..field::NONCE_PEERS + n * field::NONCE_PEER_LEN)
            .ok_or(Error::Malformed(
                "GLBP nonce TLV shorter than its peer count",
            ))?;
        Ok(NonceRepr {
            counter: t[field::NONCE_COUNTER],
            nonce: get_u32(t, field::NONCE_NONCE),
            peers: peers
                .chunks_exact(field::NONCE_PEER_LEN)
                .map(|p| NoncePeer {
                    owner: MacAddr::from_bytes(&p[..6]),
                    echo: get_u32(p, field::PEER_ECHO),
                })
                .collect(),
        })
    }

    /// Length of the emitted TLV.
    pub fn tlv_len(&self) -> usize {
        field::NONCE_PEERS + field::NONCE_PEER_LEN * self.peers.len()
    }

    /// Writes the TLV at the start of `buf`. More than
    /// [`MAX_NONCE_PEERS`] peers is `Malformed`.
    pub fn emit_tlv(&self, buf: &mut [u8]) -> Result<usize> {
        if self.peers.len() > MAX_NONCE_PEERS {
            return Err(Error::Malformed("GLBP nonce TLV with more than 20 peers"));
        }
        let len = self.tlv_len();
        let t = tlv_start(buf, TLV_NONCE, len)?;
        t[field::NONCE_COUNT] = self.peers.len() as u8;
        t[field::NONCE_COUNTER] = self.counter;
        put_u32(t, field::NONCE_NONCE, self.nonce);
        for (p, out) in self
            .peers
            .iter()
            .zip(t[field::NONCE_PEERS..].chunks_exact_mut(field::NONCE_PEER_LEN))
        {
            out[..6].copy_from_slice(&p.owner.0);
            put_u32(out, field::PEER_ECHO, p.echo);
        }
        Ok(len)
    }
}

impl GlbpRepr {
    /// Parses a whole message. Tolerant as IOS peers require: reserved bytes
    /// are ignored, TLVs may come in any order, unknown TLV types are skipped
    /// by length. Rejected: group > 1023, a TLV length < 2 or past the end,
    /// a known TLV too short for its fields, more than one Auth, nonce or
    /// Hello TLV (ambiguous, and an authentication bypass risk).
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<GlbpRepr> {
        p.check_len()?;
        let group = p.group();
        if group > MAX_GROUP {
            return Err(Error::Malformed("GLBP group > 1023"));
        }
        let mut repr = GlbpRepr {
            group,
            owner: p.owner(),
            auth: None,
            nonce: None,
            hello: None,
            forwarders: Vec::new(),
        };
        let (mut seen_auth, mut seen_nonce) = (false, false);
        for tlv in p.tlvs() {
            let tlv = tlv?;
            match tlv.kind {
                TLV_HELLO if repr.hello.is_some() => {
                    return Err(Error::Malformed("duplicate GLBP hello TLV"))
                }
                TLV_HELLO => repr.hello = Some(HelloRepr::parse_tlv(tlv.bytes)?),
                TLV_REQ_RESP => repr.forwarders.push(ReqRespRepr::parse_tlv(tlv.bytes)?),
                TLV_AUTH if seen_auth => return Err(Error::Malformed("duplicate GLBP auth TLV")),
                TLV_AUTH => {
                    seen_auth = true;
                    repr.auth = AuthRepr::parse_tlv(tlv.bytes)?;
                }
                TLV_NONCE if seen_nonce => {
                    return Err(Error::Malformed("duplicate GLBP nonce TLV"))
                }
                TLV_NONCE => {
                    seen_nonce = true;
                    repr.nonce = Some(NonceRepr::parse_tlv(tlv.bytes)?);
                }
                _ => {}
            }
        }
        Ok(repr)
    }

    /// Length of the emitted message.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
            + self.auth.as_ref().map_or(0, AuthRepr::tlv_len)
            + self.nonce.as_ref().map_or(0, NonceRepr::tlv_len)
            + self.hello.as_ref().map_or(0, HelloRepr::tlv_len)
            + REQ_RESP_LEN * self.forwarders.len()
    }

    /// Writes the message at the start of `buf` in IOS order (Auth, nonce,
    /// Hello, Request/Response…), reserved bytes zero and MD5 digests as
    /// given (see [`auth::sign`] to fill them); returns its length. Never
    /// allocates.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let b = buf.get_mut(..len).ok_or(Error::Truncated)?;
        b[..HEADER_LEN].fill(0);
        b[field::VERSION] = VERSION;
        let mut p = Packet::new_unchecked(&mut *b);
        p.set_group(self.group);
        p.set_owner(self.owner);
        let mut at = HEADER_LEN;
        if let Some(a) = &self.auth {
            at += a.emit_tlv(&mut b[at..])?;
        }
        if let Some(n) = &self.nonce {
            at += n.emit_tlv(&mut b[at..])?;
        }
        if let Some(h) = &self.hello {
            at += h.emit_tlv(&mut b[at..])?;
        }
        for f in &self.forwarders {
            at += f.emit_tlv(&mut b[at..])?;
        }
        debug_assert_eq!(at, len);
        Ok(len)
    }

    /// [`GlbpRepr::emit`] into a new vector.
    pub fn to_vec(&self) -> Result<Vec<u8>> {
        let mut v = vec![0; self.buffer_len()];
        self.emit(&mut v)?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::auth::{sign, verify, AuthError, AuthKey, KeyChain};
    use super::frame::{FrameBuilder, ReceivedFrame};
    use super::*;
    use crate::wire::tests_hex;
    use std::net::Ipv4Addr;

    /// The test vector of docs/protocol.md §14 (verified against tshark).
    const NOTES_VECTOR: &str = "01000001 0000 0200 0000 aa01
        011c 0020 0064 0000 00000bb8 00002710 0258 3840 0000 01 04 0a0000fe
        0214 01 20 00 a7 64 00 3840 0258 0000 0007b4000101";

    fn notes_repr() -> GlbpRepr {
        GlbpRepr {
            group: 1,
            owner: MacAddr([0x02, 0, 0, 0, 0xaa, 0x01]),
            auth: None,
            nonce: None,
            hello: Some(HelloRepr {
                state: VgState::Active,
                priority: 100,
                hello_ms: 3000,
                hold_ms: 10000,
                redirect_s: 600,
                timeout_s: 14400,
                vip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 254)),
            }),
            forwarders: vec![ReqRespRepr {
                forwarder: 1,
                state: VfState::Active,
                priority: 167,
                weight: 100,
                timeout_s: 14400,
                redirect_s: 600,
                vmac: MacAddr([0x00, 0x07, 0xb4, 0x00, 0x01, 0x01]),
            }],
        }
    }

    fn parse(bytes: &[u8]) -> Result<GlbpRepr> {
        GlbpRepr::parse(&Packet::new_checked(bytes)?)
    }

    #[test]
    fn notes_vector_parses_and_emits() {
        let bytes = tests_hex(NOTES_VECTOR);
        assert_eq!(parse(&bytes), Ok(notes_repr()));
        assert_eq!(notes_repr().to_vec(), Ok(bytes.clone()));
        let p = Packet::new_checked(&bytes[..]).unwrap();
        let kinds: Vec<_> = p
            .tlvs()
            .map(|t| t.map(|t| (t.kind, t.offset, t.bytes.len())))
            .collect();
        assert_eq!(kinds, vec![Ok((1, 12, 28)), Ok((2, 40, 20))]);
    }

    #[test]
    fn notes_vector_as_whole_frame() {
        // The frame tshark validated (IPv4 checksum 0xd06c there with ID 1,
        // so 0xd06d with IOS's ID 0; UDP checksum 0x7c51).
        let expected = tests_hex(&format!(
            "01005e000066 02000000aa01 0800
             45c0 0058 0000 0000 ff11 d06d 0a000001 e0000066
             0c96 0c96 0044 7c51 {NOTES_VECTOR}"
        ));
        let b = FrameBuilder::multicast_v4(
            MacAddr([0x02, 0, 0, 0, 0xaa, 0x01]),
            Ipv4Addr::new(10, 0, 0, 1),
        );
        let frame = b.build_vec(&notes_repr(), &AuthKey::None).unwrap();
        assert_eq!(frame, expected);
        let mut small = vec![0u8; frame.len() - 1];
        assert_eq!(
            b.build(&notes_repr(), &AuthKey::None, &mut small),
            Err(Error::Truncated)
        );
        let rx = ReceivedFrame::parse(&frame).unwrap();
        assert_eq!(rx.src_ip, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(rx.ttl, 255);
        assert_eq!(rx.payload, &expected[42..]);
    }

    #[test]
    fn virtual_macs() {
        assert_eq!(
            virtual_mac(40, 1),
            Some(MacAddr([0x00, 0x07, 0xb4, 0x00, 0x28, 0x01]))
        );
        assert_eq!(
            virtual_mac(40, 4),
            Some(MacAddr([0x00, 0x07, 0xb4, 0x00, 0x28, 0x04]))
        );
        assert_eq!(
            virtual_mac(1020, 1),
            Some(MacAddr([0x00, 0x07, 0xb4, 0x03, 0xfc, 0x01]))
        );
        assert_eq!(virtual_mac(1024, 1), None);
        assert_eq!(virtual_mac(1, 0), None);
        assert_eq!(virtual_mac(1, 5), None);
        assert_eq!(
            parse_virtual_mac(MacAddr([0x00, 0x07, 0xb4, 0x03, 0xfc, 0x01])),
            Some((1020, 1))
        );
        assert_eq!(
            parse_virtual_mac(MacAddr([0x00, 0x07, 0xb4, 0x04, 0x00, 0x01])),
            None
        );
        assert_eq!(
            parse_virtual_mac(MacAddr([0x00, 0x00, 0x0c, 0x07, 0xac, 0x01])),
            None
        );
        for g in 0..=MAX_GROUP {
            for f in 1..=MAX_FORWARDERS {
                assert_eq!(parse_virtual_mac(virtual_mac(g, f).unwrap()), Some((g, f)));
            }
        }
        assert_eq!(
            virtual_link_local(46),
            Some("fe80::7:b4ff:fe00:2e00".parse().unwrap())
        );
        assert_eq!(
            virtual_link_local(1020),
            Some("fe80::7:b4ff:fe03:fc00".parse().unwrap())
        );
        assert_eq!(virtual_link_local(1024), None);
    }

    #[test]
    fn tolerates_junk_order_and_unknown_tlvs() {
        // Junk in every reserved byte IOS has been seen to (or might) fill,
        // TLVs in reverse order and an unknown type-9 TLV in between.
        let bytes = tests_hex(
            "01 ff 0001 abcd 020000 00aa01
             0214 01 20 ee a7 64 ee 3840 0258 eeee 0007b4000101
             0905 aabbcc
             011c ee20 ee64 eeee 00000bb8 00002710 0258 3840 4f46 01 04 0a0000fe",
        );
        assert_eq!(parse(&bytes), Ok(notes_repr()));
    }

    #[test]
    fn rejects_bad_lengths() {
        let good = tests_hex(NOTES_VECTOR);
        let mut b = good.clone();
        b[13] = 1; // hello TLV length 1
        assert_eq!(parse(&b), Err(Error::Malformed("GLBP TLV length < 2")));
        let mut b = good.clone();
        b[41] = 21; // request/response runs one byte past the end
        assert_eq!(
            parse(&b),
            Err(Error::Malformed("GLBP TLV overruns the message"))
        );
        let mut b = good.clone();
        b[41] = 19; // too short for its fields, then a 1-byte tail
        assert!(matches!(parse(&b), Err(Error::Malformed(_))));
        let mut b = good.clone();
        b.push(0x07); // a lone trailing byte
        assert_eq!(parse(&b), Err(Error::Truncated));
        let mut b = good.clone();
        b[35] = 16; // IPv4 address type with IPv6 length
        assert!(matches!(parse(&b), Err(Error::Malformed(_))));
        let mut b = good.clone();
        b[2] = 0x04; // group 1025
        assert!(matches!(parse(&b), Err(Error::Malformed(_))));
        let mut b = good.clone();
        b[0] = 2;
        assert_eq!(parse(&b), Err(Error::Unrecognized));
        assert_eq!(parse(&good[..11]), Err(Error::Truncated));
        let mut b = good.clone();
        b.extend_from_slice(&good[12..40]); // second hello
        assert!(matches!(parse(&b), Err(Error::Malformed(_))));
        // Header alone: valid, empty message.
        assert_eq!(
            parse(&good[..12]).map(|r| r.hello.is_none() && r.forwarders.is_empty()),
            Ok(true)
        );
    }

    #[test]
    fn ipv6_hello_auth_and_nonce_literals() {
        let bytes = tests_hex(
            "01000001 0000 0200 0000 aa01
             0318 03 14 00000007 00112233445566778899aabbccddeeff
             0420 02 05 deadbeef 020000000002 cafef00d 0000 020000000003 01020304 0000
             0128 0010 0064 0000 00000bb8 00002710 0258 3840 0000 02 10 fe800000000000000007b4fffe002e00",
        );
        let r = parse(&bytes).unwrap();
        assert_eq!(
            r.auth,
            Some(AuthRepr::Md5Chain {
                key_id: 7,
                digest: [
                    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc,
                    0xdd, 0xee, 0xff
                ]
            })
        );
        assert_eq!(
            r.nonce,
            Some(NonceRepr {
                counter: 5,
                nonce: 0xdeadbeef,
                peers: vec![
                    NoncePeer {
                        owner: MacAddr([2, 0, 0, 0, 0, 2]),
                        echo: 0xcafef00d
                    },
                    NoncePeer {
                        owner: MacAddr([2, 0, 0, 0, 0, 3]),
                        echo: 0x01020304
                    },
                ],
            })
        );
        let hello = r.hello.unwrap();
        assert_eq!(hello.state, VgState::Standby);
        assert_eq!(
            hello.vip,
            IpAddr::V6("fe80::7:b4ff:fe00:2e00".parse().unwrap())
        );
        assert_eq!(r.to_vec(), Ok(bytes));

        let text = tests_hex("01000001 0000 0200 0000 aa01 030a 01 06 636973636f21");
        assert_eq!(
            parse(&text).unwrap().auth,
            Some(AuthRepr::Text(b"cisco!".to_vec()))
        );
        let none = tests_hex("01000001 0000 0200 0000 aa01 0304 00 00");
        assert_eq!(parse(&none).unwrap().auth, None);
        let bad_md5 = tests_hex("01000001 0000 0200 0000 aa01 0306 02 02 0000");
        assert!(matches!(parse(&bad_md5), Err(Error::Malformed(_))));
        let short_nonce = tests_hex("01000001 0000 0200 0000 aa01 0408 01 00 00000000");
        assert!(matches!(parse(&short_nonce), Err(Error::Malformed(_))));
    }

    #[test]
    fn emit_limits() {
        let mut r = notes_repr();
        r.auth = Some(AuthRepr::Text(vec![b'x'; MAX_TEXT_LEN]));
        assert!(r.to_vec().is_ok());
        r.auth = Some(AuthRepr::Text(vec![b'x'; MAX_TEXT_LEN + 1]));
        assert!(matches!(r.to_vec(), Err(Error::Malformed(_))));
        r.auth = None;
        r.nonce = Some(NonceRepr {
            counter: 0,
            nonce: 0,
            peers: vec![
                NoncePeer {
                    owner: MacAddr::ZERO,
                    echo: 0
                };
                21
            ],
        });
        assert!(matches!(r.to_vec(), Err(Error::Malformed(_))));
    }

    fn md5_msg(auth: AuthRepr) -> Vec<u8> {
        let mut r = notes_repr();
        r.auth = Some(auth);
        r.nonce = Some(NonceRepr {
            counter: 1,
            nonce: 0x11223344,
            peers: vec![],
        });
        r.to_vec().unwrap()
    }

    #[test]
    fn md5_string_sign_verify() {
        let src = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let key = AuthKey::Md5String(b"s3cret".to_vec());
        let mut msg = md5_msg(AuthRepr::Md5String { digest: [0; 16] });
        sign(&mut msg, &key, src).unwrap();
        // The digest, computed independently of `sign`'s TLV walk: the Auth
        // TLV is first, its digest at offset 16.
        let expected = auth::keyed_md5(b"s3cret", &msg, 16, src).unwrap();
        assert_eq!(&msg[16..32], &expected);
        assert_ne!(expected, [0; 16]);
        assert_eq!(verify(&msg, &key, src), Ok(()));
        assert_eq!(
            verify(&msg, &AuthKey::Md5String(b"s3cres".to_vec()), src),
            Err(AuthError::BadDigest)
        );
        assert_eq!(
            verify(&msg, &key, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))),
            Err(AuthError::BadDigest)
        );
        assert_eq!(
            verify(&msg, &AuthKey::Text(b"s3cret".to_vec()), src),
            Err(AuthError::TypeMismatch)
        );
        assert_eq!(
            verify(&msg, &AuthKey::None, src),
            Err(AuthError::TypeMismatch)
        );
        for i in 0..msg.len() {
            let mut m = msg.clone();
            m[i] ^= 0x01;
            assert!(
                verify(&m, &key, src).is_err(),
                "flipping byte {i} went unnoticed"
            );
        }
        assert_eq!(
            verify(&tests_hex(NOTES_VECTOR), &key, src),
            Err(AuthError::Missing)
        );
        assert_eq!(
            verify(&tests_hex(NOTES_VECTOR), &AuthKey::None, src),
            Ok(())
        );
    }

    #[test]
    fn md5_chain_and_ipv6() {
        let src = IpAddr::V6("fe80::1".parse().unwrap());
        let mut chain = KeyChain::new();
        chain.insert(1, "one");
        chain.insert(2, "two");
        let key = AuthKey::Md5Chain(chain);
        let mut msg = md5_msg(AuthRepr::Md5Chain {
            key_id: 2,
            digest: [0; 16],
        });
        sign(&mut msg, &key, src).unwrap();
        assert_eq!(
            &msg[20..36],
            &auth::keyed_md5(b"two", &msg, 20, src).unwrap()
        );
        assert_eq!(verify(&msg, &key, src), Ok(()));
        let mut other = KeyChain::new();
        other.insert(1, "two");
        assert_eq!(
            verify(&msg, &AuthKey::Md5Chain(other), src),
            Err(AuthError::UnknownKeyId(2))
        );
        let mut unsigned = md5_msg(AuthRepr::Md5Chain {
            key_id: 3,
            digest: [0; 16],
        });
        assert_eq!(
            sign(&mut unsigned, &key, src),
            Err(AuthError::UnknownKeyId(3))
        );
    }

    #[test]
    fn text_auth() {
        let src = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let mut msg = md5_msg(AuthRepr::Text(b"cisco".to_vec()));
        assert_eq!(
            sign(&mut msg, &AuthKey::Text(b"cisco".to_vec()), src),
            Ok(())
        );
        assert_eq!(verify(&msg, &AuthKey::Text(b"cisco".to_vec()), src), Ok(()));
        assert_eq!(
            verify(&msg, &AuthKey::Text(b"cisc0".to_vec()), src),
            Err(AuthError::BadText)
        );
        assert_eq!(
            verify(&msg, &AuthKey::Text(b"cisco1".to_vec()), src),
            Err(AuthError::BadText)
        );
        assert_eq!(
            verify(&msg, &AuthKey::Md5String(b"cisco".to_vec()), src),
            Err(AuthError::TypeMismatch)
        );
        assert_eq!(
            verify(&msg[..20], &AuthKey::Text(b"cisco".to_vec()), src),
            Err(AuthError::Malformed)
        );
    }
}
