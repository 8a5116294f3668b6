//! Ethernet II frames with an optional 802.1Q tag.

use super::{Error, MacAddr, Result};

/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType (TPID) of an 802.1Q tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// Length of an untagged Ethernet II header.
pub const HEADER_LEN: usize = field::UNTAGGED_LEN;

mod field {
    use core::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    /// EtherType, or the TPID when tagged.
    pub const TYPE: Range<usize> = 12..14;
    /// Tag control information, when tagged.
    pub const TCI: Range<usize> = 14..16;
    /// Inner EtherType, when tagged.
    pub const INNER_TYPE: Range<usize> = 16..18;
    pub const UNTAGGED_LEN: usize = 14;
    pub const TAGGED_LEN: usize = 18;
}

view! {
    /// A read/write view of an Ethernet II frame (optionally 802.1Q tagged).
    ///
    /// After [`Frame::new_checked`] succeeds no accessor can panic.
    Frame
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Checks that the buffer holds the whole header it announces: 18 bytes
    /// when the frame carries an 802.1Q tag, 14 otherwise.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < field::UNTAGGED_LEN || b.len() < self.header_len() {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    fn outer_type(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[field::TYPE.start], b[field::TYPE.start + 1]])
    }

    /// Whether the frame carries an 802.1Q tag.
    #[inline]
    pub fn is_tagged(&self) -> bool {
        self.buffer.as_ref().len() >= field::UNTAGGED_LEN && self.outer_type() == ETHERTYPE_VLAN
    }

    /// Header length: 18 with a tag, 14 without.
    #[inline]
    pub fn header_len(&self) -> usize {
        if self.is_tagged() {
            field::TAGGED_LEN
        } else {
            field::UNTAGGED_LEN
        }
    }

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[field::DST])
    }

    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[field::SRC])
    }

    /// The 802.1Q tag control information (PCP, DEI, VID), if tagged.
    #[inline]
    pub fn vlan_tci(&self) -> Option<u16> {
        let b = self.buffer.as_ref();
        self.is_tagged()
            .then(|| u16::from_be_bytes([b[field::TCI.start], b[field::TCI.start + 1]]))
    }

    /// The EtherType of the payload (the inner one when tagged).
    #[inline]
    pub fn ethertype(&self) -> u16 {
        let b = self.buffer.as_ref();
        if self.is_tagged() {
            u16::from_be_bytes([b[field::INNER_TYPE.start], b[field::INNER_TYPE.start + 1]])
        } else {
            self.outer_type()
        }
    }

    /// The payload after the (possibly tagged) header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Sets the destination address.
    #[inline]
    pub fn set_dst_addr(&mut self, addr: MacAddr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&addr.0);
    }

    /// Sets the source address.
    #[inline]
    pub fn set_src_addr(&mut self, addr: MacAddr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&addr.0);
    }

    /// Sets the payload EtherType (the inner one when tagged).
    #[inline]
    pub fn set_ethertype(&mut self, ethertype: u16) {
        let range = if self.is_tagged() {
            field::INNER_TYPE
        } else {
            field::TYPE
        };
        self.buffer.as_mut()[range].copy_from_slice(&ethertype.to_be_bytes());
    }

    /// Sets the tag control information; does nothing on an untagged frame.
    #[inline]
    pub fn set_vlan_tci(&mut self, tci: u16) {
        if self.is_tagged() {
            self.buffer.as_mut()[field::TCI].copy_from_slice(&tci.to_be_bytes());
        }
    }

    /// The mutable payload after the header.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        &mut self.buffer.as_mut()[start..]
    }
}

/// A parsed Ethernet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetRepr {
    /// Source address.
    pub src: MacAddr,
    /// Destination address.
    pub dst: MacAddr,
    /// 802.1Q tag control information, when tagged.
    pub vlan_tci: Option<u16>,
    /// Payload EtherType.
    pub ethertype: u16,
}

impl EthernetRepr {
    /// Reads the header of a checked frame.
    pub fn parse<T: AsRef<[u8]>>(frame: &Frame<T>) -> Result<EthernetRepr> {
        frame.check_len()?;
        Ok(EthernetRepr {
            src: frame.src_addr(),
            dst: frame.dst_addr(),
            vlan_tci: frame.vlan_tci(),
            ethertype: frame.ethertype(),
        })
    }

    /// Header length this value emits.
    pub const fn header_len(&self) -> usize {
        if self.vlan_tci.is_some() {
            field::TAGGED_LEN
        } else {
            field::UNTAGGED_LEN
        }
    }

    /// Writes the header at the start of `buf`; returns the header length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.header_len();
        let b = buf.get_mut(..len).ok_or(Error::Truncated)?;
        b[field::DST].copy_from_slice(&self.dst.0);
        b[field::SRC].copy_from_slice(&self.src.0);
        match self.vlan_tci {
            Some(tci) => {
                b[field::TYPE].copy_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
                b[field::TCI].copy_from_slice(&tci.to_be_bytes());
                b[field::INNER_TYPE].copy_from_slice(&self.ethertype.to_be_bytes());
            }
            None => b[field::TYPE].copy_from_slice(&self.ethertype.to_be_bytes()),
        }
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNTAGGED: [u8; 16] = [
        0x01, 0x00, 0x5e, 0x00, 0x00, 0x66, 0x02, 0x00, 0x00, 0x00, 0xaa, 0x01, 0x08, 0x00, 0x45,
        0xc0,
    ];
    const TAGGED: [u8; 19] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x07, 0xb4, 0x00, 0x28, 0x01, 0x81, 0x00, 0xa0,
        0x1e, 0x08, 0x06, 0x00,
    ];

    #[test]
    fn untagged() {
        let f = Frame::new_checked(&UNTAGGED[..]).unwrap();
        assert_eq!(f.dst_addr(), MacAddr([0x01, 0x00, 0x5e, 0x00, 0x00, 0x66]));
        assert_eq!(f.src_addr(), MacAddr([0x02, 0, 0, 0, 0xaa, 0x01]));
        assert_eq!(f.vlan_tci(), None);
        assert_eq!(f.ethertype(), ETHERTYPE_IPV4);
        assert_eq!(f.payload(), &[0x45, 0xc0]);
        let repr = EthernetRepr::parse(&f).unwrap();
        let mut out = [0u8; 14];
        assert_eq!(repr.emit(&mut out), Ok(14));
        assert_eq!(out, UNTAGGED[..14]);
    }

    #[test]
    fn tagged() {
        let f = Frame::new_checked(&TAGGED[..]).unwrap();
        assert_eq!(f.vlan_tci(), Some(0xa01e)); // PCP 5, VID 30
        assert_eq!(f.ethertype(), ETHERTYPE_ARP);
        assert_eq!(f.payload(), &[0x00]);
        let repr = EthernetRepr::parse(&f).unwrap();
        let mut out = [0u8; 18];
        assert_eq!(repr.emit(&mut out), Ok(18));
        assert_eq!(out, TAGGED[..18]);
    }

    #[test]
    fn truncated() {
        assert_eq!(
            Frame::new_checked(&UNTAGGED[..13]).unwrap_err(),
            Error::Truncated
        );
        // A tag announced but not present.
        assert_eq!(
            Frame::new_checked(&TAGGED[..17]).unwrap_err(),
            Error::Truncated
        );
        let repr = EthernetRepr::parse(&Frame::new_checked(&TAGGED[..]).unwrap()).unwrap();
        assert_eq!(repr.emit(&mut [0u8; 17]), Err(Error::Truncated));
    }

    #[test]
    fn rewrite_in_place() {
        let mut buf = TAGGED;
        let mut f = Frame::new_checked(&mut buf[..]).unwrap();
        f.set_src_addr(MacAddr([2, 0, 0, 0, 0, 9]));
        f.set_dst_addr(MacAddr::BROADCAST);
        f.set_ethertype(ETHERTYPE_IPV6);
        f.set_vlan_tci(0x0001);
        assert_eq!(
            &buf[6..18],
            &[2, 0, 0, 0, 0, 9, 0x81, 0x00, 0x00, 0x01, 0x86, 0xdd]
        );
    }
}
