//! IPv4 headers (RFC 791), with the RFC 1624 incremental checksum update used
//! when forwarding.

use super::{checksum, get_ipv4, get_u16, put_u16, Error, Result};
use std::net::Ipv4Addr;

/// IP protocol number of ICMP.
pub const PROTO_ICMP: u8 = 1;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;
/// Length of a header without options.
pub const HEADER_LEN: usize = 20;

mod field {
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLG_OFF: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
}

view! {
    /// A read/write view of an IPv4 packet.
    ///
    /// [`Packet::new_checked`] validates version, header length and total length
    /// against the buffer; afterwards no accessor can panic. The buffer may be
    /// longer than the total length (Ethernet padding): [`Packet::payload`] stops
    /// at the total length.
    Packet
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks version 4, `20 <= header_len <= total_len <=
    /// buffer length`.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if self.version() != 4 {
            return Err(Error::Unrecognized);
        }
        let (hl, tl) = (self.header_len(), usize::from(self.total_len()));
        if hl < HEADER_LEN {
            return Err(Error::Malformed("IPv4 header length < 20"));
        }
        if tl < hl {
            return Err(Error::Malformed("IPv4 total length < header length"));
        }
        if b.len() < tl {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Version (4).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }
    /// Header length in bytes.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }
    /// Type of service byte (DSCP and ECN).
    #[inline]
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::TOS]
    }
    /// Total length (header and payload).
    #[inline]
    pub fn total_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::LENGTH)
    }
    /// Identification.
    #[inline]
    pub fn ident(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::IDENT)
    }
    /// Don't-fragment flag.
    #[inline]
    pub fn dont_frag(&self) -> bool {
        get_u16(self.buffer.as_ref(), field::FLG_OFF) & 0x4000 != 0
    }
    /// More-fragments flag.
    #[inline]
    pub fn more_frags(&self) -> bool {
        get_u16(self.buffer.as_ref(), field::FLG_OFF) & 0x2000 != 0
    }
    /// Fragment offset in bytes.
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        (get_u16(self.buffer.as_ref(), field::FLG_OFF) & 0x1fff) << 3
    }
    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }
    /// Protocol of the payload.
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }
    /// Header checksum as stored.
    #[inline]
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }
    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> Ipv4Addr {
        get_ipv4(self.buffer.as_ref(), field::SRC)
    }
    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> Ipv4Addr {
        get_ipv4(self.buffer.as_ref(), field::DST)
    }
    /// Whether the header checksum is correct.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::data(&self.buffer.as_ref()[..self.header_len()]) == 0xffff
    }
    /// Whether this is a fragment (MF set or non-zero offset).
    #[inline]
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }
    /// The payload, up to the total length.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..usize::from(self.total_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the TOS byte.
    #[inline]
    pub fn set_tos(&mut self, v: u8) {
        self.buffer.as_mut()[field::TOS] = v;
    }
    /// Sets the identification.
    #[inline]
    pub fn set_ident(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::IDENT, v);
    }
    /// Sets the TTL (the checksum is not updated).
    #[inline]
    pub fn set_ttl(&mut self, v: u8) {
        self.buffer.as_mut()[field::TTL] = v;
    }
    /// Sets the source address (the checksum is not updated).
    #[inline]
    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC..field::SRC + 4].copy_from_slice(&a.octets());
    }
    /// Sets the destination address (the checksum is not updated).
    #[inline]
    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::DST..field::DST + 4].copy_from_slice(&a.octets());
    }
    /// Recomputes and stores the header checksum.
    #[inline]
    pub fn fill_checksum(&mut self) {
        put_u16(self.buffer.as_mut(), field::CHECKSUM, 0);
        let sum = checksum::data(&self.buffer.as_ref()[..self.header_len()]);
        put_u16(self.buffer.as_mut(), field::CHECKSUM, !sum);
    }

    /// Forwarding step: decrements the TTL and patches the header checksum
    /// incrementally (RFC 1624 eqn. 3, `HC' = ~(~HC + ~m + m')`), touching
    /// four bytes and allocating nothing.
    ///
    /// Returns the new TTL, or `None` without changing anything when the TTL
    /// is 0 or 1: the packet must not be forwarded (send ICMP time exceeded).
    #[inline(always)]
    pub fn decrement_ttl(&mut self) -> Option<u8> {
        let b = self.buffer.as_mut();
        let ttl = b[field::TTL];
        if ttl <= 1 {
            return None;
        }
        let old = get_u16(b, field::TTL);
        let new = old - 0x0100;
        b[field::TTL] = ttl - 1;
        let hc = get_u16(b, field::CHECKSUM);
        let sum = u32::from(!hc) + u32::from(!old) + u32::from(new);
        put_u16(b, field::CHECKSUM, !checksum::fold(sum));
        Some(ttl - 1)
    }

    /// The mutable payload, up to the total length.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (start, end) = (self.header_len(), usize::from(self.total_len()));
        &mut self.buffer.as_mut()[start..end]
    }
}

/// A parsed IPv4 header (options are skipped on parse and never emitted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Repr {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Payload protocol.
    pub protocol: u8,
    /// Payload length (total length minus header length).
    pub payload_len: usize,
    /// Time to live.
    pub ttl: u8,
    /// Type of service byte.
    pub tos: u8,
    /// Identification.
    pub ident: u16,
    /// Don't-fragment flag.
    pub dont_frag: bool,
}

impl Ipv4Repr {
    /// Reads a header, verifying its checksum. Fragments are rejected
    /// (`Malformed`): nothing in this project reassembles.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Ipv4Repr> {
        p.check_len()?;
        if !p.verify_checksum() {
            return Err(Error::Checksum);
        }
        if p.is_fragment() {
            return Err(Error::Malformed("IPv4 fragment"));
        }
        Ok(Ipv4Repr {
            src: p.src_addr(),
            dst: p.dst_addr(),
            protocol: p.protocol(),
            payload_len: usize::from(p.total_len()) - p.header_len(),
            ttl: p.ttl(),
            tos: p.tos(),
            ident: p.ident(),
            dont_frag: p.dont_frag(),
        })
    }

    /// Length of the emitted header.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes a 20-byte header with its checksum at the start of `buf`;
    /// returns the header length. The payload is not touched.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = u16::try_from(HEADER_LEN + self.payload_len)
            .map_err(|_| Error::Malformed("IPv4 payload too long"))?;
        let b = buf.get_mut(..HEADER_LEN).ok_or(Error::Truncated)?;
        b[field::VER_IHL] = 0x45;
        b[field::TOS] = self.tos;
        put_u16(b, field::LENGTH, total);
        put_u16(b, field::IDENT, self.ident);
        put_u16(b, field::FLG_OFF, if self.dont_frag { 0x4000 } else { 0 });
        b[field::TTL] = self.ttl;
        b[field::PROTOCOL] = self.protocol;
        let mut p = Packet::new_unchecked(b);
        p.set_src_addr(self.src);
        p.set_dst_addr(self.dst);
        p.fill_checksum();
        Ok(HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The IPv4 header of the test-vector hello (docs/protocol.md §14), as IOS sends it
    // (TOS 0xc0, ID 0, TTL 255, UDP, 10.0.0.1 -> 224.0.0.102). Checksum
    // 0xd06d: tshark validated 0xd06c for the same header with ID 1.
    const HEADER: [u8; 20] = [
        0x45, 0xc0, 0x00, 0x58, 0x00, 0x00, 0x00, 0x00, 0xff, 0x11, 0xd0, 0x6d, 10, 0, 0, 1, 224,
        0, 0, 102,
    ];

    #[test]
    fn parse_emit() {
        let p = Packet::new_checked(&HEADER[..]).unwrap_err();
        assert_eq!(p, Error::Truncated); // total length 88 > 20 bytes
        let mut buf = [0u8; 88];
        buf[..20].copy_from_slice(&HEADER);
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert!(p.verify_checksum());
        let r = Ipv4Repr::parse(&p).unwrap();
        assert_eq!(
            r,
            Ipv4Repr {
                src: Ipv4Addr::new(10, 0, 0, 1),
                dst: Ipv4Addr::new(224, 0, 0, 102),
                protocol: PROTO_UDP,
                payload_len: 68,
                ttl: 255,
                tos: 0xc0,
                ident: 0,
                dont_frag: false,
            }
        );
        let mut out = [0u8; 20];
        assert_eq!(r.emit(&mut out), Ok(20));
        assert_eq!(out, HEADER);
    }

    #[test]
    fn bad_checksum_and_lengths() {
        let mut buf = [0u8; 88];
        buf[..20].copy_from_slice(&HEADER);
        buf[11] ^= 1;
        assert_eq!(
            Ipv4Repr::parse(&Packet::new_checked(&buf[..]).unwrap()),
            Err(Error::Checksum)
        );
        buf[0] = 0x44; // IHL 4
        assert!(matches!(
            Packet::new_checked(&buf[..]),
            Err(Error::Malformed(_))
        ));
        buf[0] = 0x65;
        assert_eq!(
            Packet::new_checked(&buf[..]).unwrap_err(),
            Error::Unrecognized
        );
    }

    #[test]
    fn ttl_decrement_matches_full_recompute() {
        let mut buf = [0u8; 88];
        buf[..20].copy_from_slice(&HEADER);
        for _ in 0..254 {
            let mut p = Packet::new_checked(&mut buf[..]).unwrap();
            let before = p.ttl();
            assert_eq!(p.decrement_ttl(), Some(before - 1));
            assert!(p.verify_checksum(), "ttl {}", before - 1);
            let incremental = p.checksum();
            p.fill_checksum();
            assert_eq!(incremental, p.checksum());
        }
        let mut p = Packet::new_checked(&mut buf[..]).unwrap();
        assert_eq!(p.ttl(), 1);
        assert_eq!(p.decrement_ttl(), None);
        assert_eq!(p.ttl(), 1);
    }
}
