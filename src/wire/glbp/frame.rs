//! Whole GLBP frames: building them as IOS does (Ethernet, IPv4/IPv6, UDP
//! 3222 -> 3222) and taking received ones apart.

use super::auth::{self, AuthKey};
use super::{GlbpRepr, MCAST_MAC_V4, MCAST_MAC_V6, MCAST_V4, MCAST_V6, UDP_PORT};
use crate::wire::ethernet::{self, EthernetRepr, ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use crate::wire::ipv4::{self, Ipv4Repr, PROTO_UDP};
use crate::wire::ipv6::{self, is_link_local, Ipv6Repr};
use crate::wire::udp::{self, UdpRepr};
use crate::wire::{Error, MacAddr, Result};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 TOS IOS uses for GLBP (precedence 6, internetwork control).
pub const TOS_V4: u8 = 0xc0;
/// IPv6 traffic class IOS uses for GLBP.
pub const TRAFFIC_CLASS_V6: u8 = 0xe0;
/// TTL / hop limit IOS uses for GLBP.
pub const TTL: u8 = 255;

/// Addressing of an outgoing GLBP frame. The message itself is a
/// [`GlbpRepr`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameBuilder {
    /// Ethernet source: the router's MAC, or the VMAC it is active for.
    pub src_mac: MacAddr,
    /// Ethernet destination.
    pub dst_mac: MacAddr,
    /// 802.1Q tag control information, when the interface is tagged.
    pub vlan_tci: Option<u16>,
    /// IP source (for IPv6, the interface's link-local address).
    pub src_ip: IpAddr,
    /// IP destination.
    pub dst_ip: IpAddr,
}

impl FrameBuilder {
    /// Multicast to 224.0.0.102 (01:00:5e:00:00:66).
    pub const fn multicast_v4(src_mac: MacAddr, src_ip: Ipv4Addr) -> FrameBuilder {
        FrameBuilder {
            src_mac,
            dst_mac: MCAST_MAC_V4,
            vlan_tci: None,
            src_ip: IpAddr::V4(src_ip),
            dst_ip: IpAddr::V4(MCAST_V4),
        }
    }

    /// Multicast to ff02::66 (33:33:00:00:00:66) from a link-local address.
    pub const fn multicast_v6(src_mac: MacAddr, src_link_local: Ipv6Addr) -> FrameBuilder {
        FrameBuilder {
            src_mac,
            dst_mac: MCAST_MAC_V6,
            vlan_tci: None,
            src_ip: IpAddr::V6(src_link_local),
            dst_ip: IpAddr::V6(MCAST_V6),
        }
    }

    /// Unicast (forwarder request/response) to a member.
    pub const fn unicast(
        src_mac: MacAddr,
        dst_mac: MacAddr,
        src_ip: IpAddr,
        dst_ip: IpAddr,
    ) -> FrameBuilder {
        FrameBuilder {
            src_mac,
            dst_mac,
            vlan_tci: None,
            src_ip,
            dst_ip,
        }
    }

    /// The same, with an 802.1Q tag.
    pub const fn with_vlan(mut self, tci: u16) -> FrameBuilder {
        self.vlan_tci = Some(tci);
        self
    }

    fn ethernet(&self) -> EthernetRepr {
        let ethertype = if self.src_ip.is_ipv4() {
            ETHERTYPE_IPV4
        } else {
            ETHERTYPE_IPV6
        };
        EthernetRepr {
            src: self.src_mac,
            dst: self.dst_mac,
            vlan_tci: self.vlan_tci,
            ethertype,
        }
    }

    fn ip_header_len(&self) -> usize {
        if self.src_ip.is_ipv4() {
            ipv4::HEADER_LEN
        } else {
            ipv6::HEADER_LEN
        }
    }

    /// Length of the whole frame for `msg` (no Ethernet padding, no FCS).
    pub fn frame_len(&self, msg: &GlbpRepr) -> usize {
        self.ethernet().header_len() + self.ip_header_len() + udp::HEADER_LEN + msg.buffer_len()
    }

    /// Builds the whole frame into `buf` and returns its length, allocating
    /// nothing: Ethernet, IPv4 (TTL 255, TOS 0xc0, ID 0, DF clear, header
    /// checksum) or IPv6 (hop limit 255, traffic class 0xe0; the source must
    /// be link-local), UDP 3222 -> 3222, the message in IOS TLV order, its
    /// MD5 digest filled by [`auth::sign`] with `key`, then the UDP checksum.
    ///
    /// Errors: `Truncated` if `buf` is short; `Malformed` for mixed address
    /// families, a non-link-local IPv6 source, or an Auth TLV that does not
    /// match `key` (or a key-chain id missing from it).
    pub fn build(&self, msg: &GlbpRepr, key: &AuthKey, buf: &mut [u8]) -> Result<usize> {
        let len = self.frame_len(msg);
        let buf = buf.get_mut(..len).ok_or(Error::Truncated)?;
        let glbp_len = msg.buffer_len();
        let udp_len = udp::HEADER_LEN + glbp_len;
        let mut at = self.ethernet().emit(buf)?;
        let ip_at = at;
        at += match (self.src_ip, self.dst_ip) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => Ipv4Repr {
                src,
                dst,
                protocol: PROTO_UDP,
                payload_len: udp_len,
                ttl: TTL,
                tos: TOS_V4,
                ident: 0,
                dont_frag: false,
            }
            .emit(&mut buf[at..])?,
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                if !is_link_local(src) {
                    return Err(Error::Malformed(
                        "GLBP over IPv6 must be sent from a link-local address",
                    ));
                }
                Ipv6Repr {
                    src,
                    dst,
                    next_header: PROTO_UDP,
                    payload_len: udp_len,
                    hop_limit: TTL,
                    traffic_class: TRAFFIC_CLASS_V6,
                }
                .emit(&mut buf[at..])?
            }
            _ => return Err(Error::Malformed("mixed IPv4/IPv6 addresses")),
        };
        debug_assert_eq!(at, ip_at + self.ip_header_len());
        let udp_buf = &mut buf[at..];
        UdpRepr {
            src_port: UDP_PORT,
            dst_port: UDP_PORT,
        }
        .emit(udp_buf, glbp_len)?;
        let payload = &mut udp_buf[udp::HEADER_LEN..];
        msg.emit(payload)?;
        auth::sign(payload, key, self.src_ip)
            .map_err(|_| Error::Malformed("GLBP auth TLV does not match the key"))?;
        udp::Packet::new_unchecked(udp_buf).fill_checksum(self.src_ip, self.dst_ip);
        Ok(len)
    }

    /// [`FrameBuilder::build`] into a new vector.
    pub fn build_vec(&self, msg: &GlbpRepr, key: &AuthKey) -> Result<Vec<u8>> {
        let mut v = vec![0; self.frame_len(msg)];
        self.build(msg, key, &mut v)?;
        Ok(v)
    }
}

/// A received GLBP frame taken apart down to the UDP payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedFrame<'a> {
    /// Ethernet source.
    pub src_mac: MacAddr,
    /// Ethernet destination.
    pub dst_mac: MacAddr,
    /// 802.1Q tag control information, if tagged.
    pub vlan_tci: Option<u16>,
    /// IP source.
    pub src_ip: IpAddr,
    /// IP destination.
    pub dst_ip: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// The GLBP message (UDP payload).
    pub payload: &'a [u8],
}

impl<'a> ReceivedFrame<'a> {
    /// Walks Ethernet (optionally 802.1Q), IPv4 or IPv6 and UDP and returns
    /// the GLBP message, allocating nothing.
    ///
    /// `Unrecognized` for anything that is not recognisably UDP
    /// 3222 -> 3222 (including frames too short or broken to tell, and IPv6
    /// with extension headers). Once the ports say GLBP: `Checksum` for a bad
    /// IPv4 header or UDP checksum, `Malformed` for an IPv4 fragment.
    pub fn parse(frame: &'a [u8]) -> Result<ReceivedFrame<'a>> {
        let not_glbp = |_| Error::Unrecognized;
        let eth = ethernet::Frame::new_checked(frame).map_err(not_glbp)?;
        let (src_mac, dst_mac, vlan_tci) = (eth.src_addr(), eth.dst_addr(), eth.vlan_tci());
        let eth_payload = &frame[eth.header_len()..];
        let (src_ip, dst_ip, ttl, ip_payload, ip4) = match eth.ethertype() {
            ETHERTYPE_IPV4 => {
                let ip = ipv4::Packet::new_checked(eth_payload).map_err(not_glbp)?;
                if ip.protocol() != PROTO_UDP {
                    return Err(Error::Unrecognized);
                }
                let payload = &eth_payload[ip.header_len()..usize::from(ip.total_len())];
                (
                    IpAddr::V4(ip.src_addr()),
                    IpAddr::V4(ip.dst_addr()),
                    ip.ttl(),
                    payload,
                    Some(ip),
                )
            }
            ETHERTYPE_IPV6 => {
                let ip = ipv6::Packet::new_checked(eth_payload).map_err(not_glbp)?;
                if ip.next_header() != PROTO_UDP {
                    return Err(Error::Unrecognized);
                }
                let payload = &eth_payload
                    [ipv6::HEADER_LEN..ipv6::HEADER_LEN + usize::from(ip.payload_len())];
                (
                    IpAddr::V6(ip.src_addr()),
                    IpAddr::V6(ip.dst_addr()),
                    ip.hop_limit(),
                    payload,
                    None,
                )
            }
            _ => return Err(Error::Unrecognized),
        };
        let udp = udp::Packet::new_checked(ip_payload).map_err(not_glbp)?;
        if udp.src_port() != UDP_PORT || udp.dst_port() != UDP_PORT {
            return Err(Error::Unrecognized);
        }
        if let Some(ip) = ip4 {
            Ipv4Repr::parse(&ip)?;
        }
        UdpRepr::parse(&udp, src_ip, dst_ip)?;
        let payload = &ip_payload[udp::HEADER_LEN..usize::from(udp.len())];
        Ok(ReceivedFrame {
            src_mac,
            dst_mac,
            vlan_tci,
            src_ip,
            dst_ip,
            ttl,
            payload,
        })
    }
}
