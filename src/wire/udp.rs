//! UDP (RFC 768) with IPv4 and IPv6 pseudo-header checksums.

use super::{checksum, get_u16, put_u16, Error, Result};
use std::net::IpAddr;

/// Length of the UDP header.
pub const HEADER_LEN: usize = 8;

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
}

view! {
    /// A read/write view of a UDP datagram.
    ///
    /// [`Packet::new_checked`] validates `8 <= length <= buffer length`;
    /// afterwards no accessor can panic.
    Packet
}

/// Sum of the pseudo-header for a datagram of `len` bytes, or `None` when the
/// two addresses are not of the same family.
fn pseudo_header(src: IpAddr, dst: IpAddr, len: usize) -> Option<u16> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Some(checksum::pseudo_header_v4(
            s,
            d,
            super::ipv4::PROTO_UDP,
            u16::try_from(len).ok()?,
        )),
        (IpAddr::V6(s), IpAddr::V6(d)) => Some(checksum::pseudo_header_v6(
            s,
            d,
            super::ipv4::PROTO_UDP,
            u32::try_from(len).ok()?,
        )),
        _ => None,
    }
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks the header and length field.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let len = usize::from(self.len());
        if len < HEADER_LEN {
            return Err(Error::Malformed("UDP length < 8"));
        }
        if b.len() < len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::SRC_PORT)
    }
    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::DST_PORT)
    }
    /// Length field (header and payload).
    #[inline]
    pub fn len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::LENGTH)
    }
    /// Whether the payload is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= HEADER_LEN
    }
    /// Checksum as stored (0: none, allowed over IPv4 only).
    #[inline]
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }
    /// The payload, up to the length field.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.len())]
    }

    /// Whether the checksum is correct for these pseudo-header addresses.
    /// A zero checksum means "none" and is accepted over IPv4, rejected over
    /// IPv6 (RFC 8200 §8.1). Mixed address families are never correct.
    #[inline]
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> bool {
        if self.checksum() == 0 {
            return src.is_ipv4() && dst.is_ipv4();
        }
        let len = usize::from(self.len());
        match pseudo_header(src, dst, len) {
            Some(ph) => {
                checksum::combine(&[ph, checksum::data(&self.buffer.as_ref()[..len])]) == 0xffff
            }
            None => false,
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the source port (checksum not updated).
    #[inline]
    pub fn set_src_port(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::SRC_PORT, v);
    }
    /// Sets the destination port (checksum not updated).
    #[inline]
    pub fn set_dst_port(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::DST_PORT, v);
    }
    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::CHECKSUM, v);
    }
    /// Computes and stores the checksum over header, payload and
    /// pseudo-header (a computed 0 is sent as 0xffff). Mixed address
    /// families leave a zero checksum.
    #[inline]
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) {
        self.set_checksum(0);
        let len = usize::from(self.len());
        let sum = match pseudo_header(src, dst, len) {
            Some(ph) => !checksum::combine(&[ph, checksum::data(&self.buffer.as_ref()[..len])]),
            None => return,
        };
        self.set_checksum(if sum == 0 { 0xffff } else { sum });
    }
    /// The mutable payload.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// A parsed UDP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
}

impl UdpRepr {
    /// Reads the header, verifying the checksum against the pseudo-header.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>, src: IpAddr, dst: IpAddr) -> Result<UdpRepr> {
        p.check_len()?;
        if !p.verify_checksum(src, dst) {
            return Err(Error::Checksum);
        }
        Ok(UdpRepr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
        })
    }

    /// Writes the header for a payload of `payload_len` bytes with a zero
    /// checksum; write the payload, then call [`Packet::fill_checksum`].
    pub fn emit(&self, buf: &mut [u8], payload_len: usize) -> Result<usize> {
        let len = u16::try_from(HEADER_LEN + payload_len)
            .map_err(|_| Error::Malformed("UDP payload too long"))?;
        let b = buf.get_mut(..HEADER_LEN).ok_or(Error::Truncated)?;
        put_u16(b, field::SRC_PORT, self.src_port);
        put_u16(b, field::DST_PORT, self.dst_port);
        put_u16(b, field::LENGTH, len);
        put_u16(b, field::CHECKSUM, 0);
        Ok(HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// The UDP datagram of the test vector (docs/protocol.md §14); checksum
    /// 0x7c51 as validated by tshark for 10.0.0.1 -> 224.0.0.102.
    fn datagram() -> Vec<u8> {
        let payload =
            "01000001000002000000aa01011c002000640000 00000bb800002710025838400000 01040a0000fe\
                       02140120 00a76400384002580000 0007b4000101";
        let payload: Vec<u8> = crate::wire::tests_hex(payload);
        let mut d = vec![0x0c, 0x96, 0x0c, 0x96, 0x00, 0x44, 0x7c, 0x51];
        d.extend_from_slice(&payload);
        d
    }

    const SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const DST: IpAddr = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 102));

    #[test]
    fn verify_and_fill() {
        let mut d = datagram();
        let p = Packet::new_checked(&d[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port(), p.len()), (3222, 3222, 68));
        assert!(p.verify_checksum(SRC, DST));
        assert!(!p.verify_checksum(SRC, IpAddr::V4(Ipv4Addr::new(224, 0, 0, 103))));
        assert_eq!(
            UdpRepr::parse(&p, SRC, DST),
            Ok(UdpRepr {
                src_port: 3222,
                dst_port: 3222
            })
        );
        let mut p = Packet::new_checked(&mut d[..]).unwrap();
        p.set_checksum(0x1234);
        assert_eq!(UdpRepr::parse(&p, SRC, DST), Err(Error::Checksum));
        p.fill_checksum(SRC, DST);
        assert_eq!(p.checksum(), 0x7c51);
        p.set_checksum(0);
        assert!(p.verify_checksum(SRC, DST), "zero = no checksum over IPv4");
        let v6 = IpAddr::V6("fe80::1".parse().unwrap());
        assert!(
            !p.verify_checksum(v6, v6),
            "zero checksum is invalid over IPv6"
        );
    }

    #[test]
    fn lengths() {
        let d = datagram();
        assert_eq!(Packet::new_checked(&d[..7]).unwrap_err(), Error::Truncated);
        assert_eq!(Packet::new_checked(&d[..67]).unwrap_err(), Error::Truncated);
        let mut short = d.clone();
        short[5] = 7;
        assert!(matches!(
            Packet::new_checked(&short[..]),
            Err(Error::Malformed(_))
        ));
        let mut out = [0u8; 8];
        assert_eq!(
            UdpRepr {
                src_port: 3222,
                dst_port: 3222
            }
            .emit(&mut out, 60),
            Ok(8)
        );
        assert_eq!(out, [0x0c, 0x96, 0x0c, 0x96, 0x00, 0x44, 0, 0]);
    }
}
