//! GLBP messages (UDP 3222 to 224.0.0.102 / ff02::66), Cisco IOS compatible.
//!
//! See `../shared/glbp-protocol.md` §3 for the layout. The value types below
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
    Disabled,
    Init,
    Listen,
    Speak,
    Standby,
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
    Disabled,
    Init,
    Listen,
    Active,
    Unknown(u8),
}

/// Authentication TLV (type 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthRepr {
    /// Type 1: plain text, at most 249 bytes.
    Text(Vec<u8>),
    /// Type 2: MD5 key-string; the 16-byte digest as received or to be filled.
    Md5String { digest: [u8; 16] },
    /// Type 3: MD5 key-chain; key id then digest.
    Md5Chain { key_id: u32, digest: [u8; 16] },
}

/// One peer entry of the type-4 nonce TLV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoncePeer {
    pub owner: MacAddr,
    pub echo: u32,
}

/// Type-4 TLV: sender's nonce and echoes of its peers' nonces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceRepr {
    pub counter: u8,
    pub nonce: u32,
    pub peers: Vec<NoncePeer>,
}

/// Hello TLV (type 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelloRepr {
    pub state: VgState,
    /// 1..=255; 0 means the sender resigns.
    pub priority: u8,
    pub hello_ms: u32,
    pub hold_ms: u32,
    pub redirect_s: u16,
    pub timeout_s: u16,
    /// Virtual IP: IPv4 (address type 1) or IPv6 (address type 2).
    pub vip: IpAddr,
}

/// Request/Response TLV (type 2): one virtual forwarder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReqRespRepr {
    /// 1..=4; 0 in a unicast request for a forwarder.
    pub forwarder: u8,
    pub state: VfState,
    /// 167 primary, 135 secondary, 160 in a resign.
    pub priority: u8,
    pub weight: u8,
    /// Forwarder timeout in seconds (remaining, when held as secondary).
    pub timeout_s: u16,
    /// Redirect in seconds (remaining, when held as secondary).
    pub redirect_s: u16,
    pub vmac: MacAddr,
}

/// One whole GLBP message (the UDP payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlbpRepr {
    pub group: u16,
    /// Sender's own interface MAC, even when the Ethernet source is a VMAC.
    pub owner: MacAddr,
    pub auth: Option<AuthRepr>,
    pub nonce: Option<NonceRepr>,
    pub hello: Option<HelloRepr>,
    /// Request/Response TLVs in wire order.
    pub forwarders: Vec<ReqRespRepr>,
}
