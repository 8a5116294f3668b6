//! IPv6 fixed header (RFC 8200). Extension headers are not walked: GLBP is
//! sent with UDP directly after the fixed header.

use super::{get_ipv6, get_u16, put_u16, Error, Result};
use std::net::Ipv6Addr;

/// Length of the fixed header.
pub const HEADER_LEN: usize = 40;

/// True for a link-local unicast address (fe80::/10).
pub const fn is_link_local(a: Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

mod field {
    pub const VER_TC_FLOW: usize = 0;
    pub const LENGTH: usize = 4;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: usize = 8;
    pub const DST: usize = 24;
}

view! {
    /// A read/write view of an IPv6 packet.
    ///
    /// [`Packet::new_checked`] validates version 6 and that the payload length
    /// fits the buffer; afterwards no accessor can panic.
    Packet
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks version 6 and that the payload length fits the buffer.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if self.version() != 6 {
            return Err(Error::Unrecognized);
        }
        if b.len() < HEADER_LEN + usize::from(self.payload_len()) {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Version (6).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TC_FLOW] >> 4
    }
    /// Traffic class.
    #[inline]
    pub fn traffic_class(&self) -> u8 {
        (get_u16(self.buffer.as_ref(), field::VER_TC_FLOW) >> 4) as u8
    }
    /// Payload length.
    #[inline]
    pub fn payload_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::LENGTH)
    }
    /// Next header.
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NXT_HDR]
    }
    /// Hop limit.
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }
    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> Ipv6Addr {
        get_ipv6(self.buffer.as_ref(), field::SRC)
    }
    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> Ipv6Addr {
        get_ipv6(self.buffer.as_ref(), field::DST)
    }
    /// The whole buffer, header first.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    /// The payload, up to the payload length.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..HEADER_LEN + usize::from(self.payload_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the hop limit.
    #[inline]
    pub fn set_hop_limit(&mut self, v: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = v;
    }
    /// Decrements the hop limit; `None` (nothing changed) when it is 0 or 1.
    #[inline]
    pub fn decrement_hop_limit(&mut self) -> Option<u8> {
        let b = self.buffer.as_mut();
        let h = b[field::HOP_LIMIT];
        (h > 1).then(|| {
            b[field::HOP_LIMIT] = h - 1;
            h - 1
        })
    }
    /// The whole buffer, header first.
    #[inline]
    pub fn as_mut_bytes(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    /// The mutable payload.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// A parsed IPv6 fixed header (the flow label is not kept and emitted as 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Repr {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// Next header.
    pub next_header: u8,
    /// Payload length.
    pub payload_len: usize,
    /// Hop limit.
    pub hop_limit: u8,
    /// Traffic class.
    pub traffic_class: u8,
}

impl Ipv6Repr {
    /// Reads the fixed header.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Ipv6Repr> {
        p.check_len()?;
        Ok(Ipv6Repr {
            src: p.src_addr(),
            dst: p.dst_addr(),
            next_header: p.next_header(),
            payload_len: usize::from(p.payload_len()),
            hop_limit: p.hop_limit(),
            traffic_class: p.traffic_class(),
        })
    }

    /// Length of the emitted header.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the fixed header at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = u16::try_from(self.payload_len)
            .map_err(|_| Error::Malformed("IPv6 payload too long"))?;
        let b = buf.get_mut(..HEADER_LEN).ok_or(Error::Truncated)?;
        b[..4]
            .copy_from_slice(&((6u32 << 28) | (u32::from(self.traffic_class) << 20)).to_be_bytes());
        put_u16(b, field::LENGTH, len);
        b[field::NXT_HDR] = self.next_header;
        b[field::HOP_LIMIT] = self.hop_limit;
        b[field::SRC..field::SRC + 16].copy_from_slice(&self.src.octets());
        b[field::DST..field::DST + 16].copy_from_slice(&self.dst.octets());
        Ok(HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_emit() {
        // Traffic class 0xe0, payload 8, UDP, hop limit 255, fe80::1 -> ff02::66.
        let mut bytes = [0u8; 48];
        bytes[..8].copy_from_slice(&[0x6e, 0x00, 0x00, 0x00, 0x00, 0x08, 0x11, 0xff]);
        bytes[8] = 0xfe;
        bytes[9] = 0x80;
        bytes[23] = 1;
        bytes[24] = 0xff;
        bytes[25] = 0x02;
        bytes[39] = 0x66;
        let p = Packet::new_checked(&bytes[..]).unwrap();
        let r = Ipv6Repr::parse(&p).unwrap();
        assert_eq!(r.traffic_class, 0xe0);
        assert_eq!(r.payload_len, 8);
        assert_eq!(r.next_header, 17);
        assert_eq!(r.hop_limit, 255);
        assert_eq!(r.src, "fe80::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(r.dst, "ff02::66".parse::<Ipv6Addr>().unwrap());
        let mut out = [0u8; 40];
        assert_eq!(r.emit(&mut out), Ok(40));
        assert_eq!(out, bytes[..40]);
        assert_eq!(
            Packet::new_checked(&bytes[..47]).unwrap_err(),
            Error::Truncated
        );
    }
}
