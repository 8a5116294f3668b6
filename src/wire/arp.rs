//! ARP for Ethernet/IPv4 (RFC 826).

use super::{get_ipv4, get_u16, Error, MacAddr, Result};
use std::net::Ipv4Addr;

/// Hardware type of Ethernet.
pub const HTYPE_ETHERNET: u16 = 1;
/// Operation code of a request.
pub const OP_REQUEST: u16 = 1;
/// Operation code of a reply.
pub const OP_REPLY: u16 = 2;
/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = field::TPA.end;

mod field {
    use core::ops::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

view! {
    /// A read/write view of an Ethernet/IPv4 ARP packet.
    ///
    /// [`Packet::new_checked`] accepts only hardware type Ethernet, protocol type
    /// IPv4 and address lengths 6 and 4; afterwards no accessor can panic.
    Packet
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks its length and that it is Ethernet/IPv4 ARP
    /// (`Error::Unrecognized` otherwise).
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < PACKET_LEN {
            return Err(Error::Truncated);
        }
        if get_u16(b, field::HTYPE.start) != HTYPE_ETHERNET
            || get_u16(b, field::PTYPE.start) != super::ethernet::ETHERTYPE_IPV4
            || b[field::HLEN] != 6
            || b[field::PLEN] != 4
        {
            return Err(Error::Unrecognized);
        }
        Ok(())
    }

    /// Operation code (1 request, 2 reply).
    #[inline]
    pub fn operation(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::OPER.start)
    }
    /// Sender hardware address.
    #[inline]
    pub fn sender_hw_addr(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[field::SHA])
    }
    /// Sender protocol address.
    #[inline]
    pub fn sender_ip(&self) -> Ipv4Addr {
        get_ipv4(self.buffer.as_ref(), field::SPA.start)
    }
    /// Target hardware address.
    #[inline]
    pub fn target_hw_addr(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[field::THA])
    }
    /// Target protocol address.
    #[inline]
    pub fn target_ip(&self) -> Ipv4Addr {
        get_ipv4(self.buffer.as_ref(), field::TPA.start)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the operation code.
    #[inline]
    pub fn set_operation(&mut self, op: u16) {
        self.buffer.as_mut()[field::OPER].copy_from_slice(&op.to_be_bytes());
    }
    /// Sets the sender hardware address.
    #[inline]
    pub fn set_sender_hw_addr(&mut self, addr: MacAddr) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&addr.0);
    }
    /// Sets the sender protocol address.
    #[inline]
    pub fn set_sender_ip(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::SPA].copy_from_slice(&addr.octets());
    }
    /// Sets the target hardware address.
    #[inline]
    pub fn set_target_hw_addr(&mut self, addr: MacAddr) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&addr.0);
    }
    /// Sets the target protocol address.
    #[inline]
    pub fn set_target_ip(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::TPA].copy_from_slice(&addr.octets());
    }

    /// Turns a checked request into the reply `sender_hw` gives for its
    /// target address, in place: swaps sender and target, sets the operation
    /// to reply. Used by the AVG to answer for the VIP with a chosen VMAC.
    #[inline]
    pub fn make_reply(&mut self, sender_hw: MacAddr) {
        let (req_hw, req_ip, target_ip) =
            (self.sender_hw_addr(), self.sender_ip(), self.target_ip());
        self.set_operation(OP_REPLY);
        self.set_sender_hw_addr(sender_hw);
        self.set_sender_ip(target_ip);
        self.set_target_hw_addr(req_hw);
        self.set_target_ip(req_ip);
    }
}

/// ARP operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpOperation {
    /// 1.
    Request,
    /// 2.
    Reply,
    /// Any other code.
    Unknown(u16),
}

impl From<u16> for ArpOperation {
    fn from(v: u16) -> Self {
        match v {
            OP_REQUEST => ArpOperation::Request,
            OP_REPLY => ArpOperation::Reply,
            v => ArpOperation::Unknown(v),
        }
    }
}

impl From<ArpOperation> for u16 {
    fn from(v: ArpOperation) -> u16 {
        match v {
            ArpOperation::Request => OP_REQUEST,
            ArpOperation::Reply => OP_REPLY,
            ArpOperation::Unknown(v) => v,
        }
    }
}

/// A parsed Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpRepr {
    /// Request, reply, or other.
    pub operation: ArpOperation,
    /// Sender hardware address.
    pub sender_hw_addr: MacAddr,
    /// Sender protocol address.
    pub sender_ip: Ipv4Addr,
    /// Target hardware address.
    pub target_hw_addr: MacAddr,
    /// Target protocol address.
    pub target_ip: Ipv4Addr,
}

impl ArpRepr {
    /// Reads a packet.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<ArpRepr> {
        p.check_len()?;
        Ok(ArpRepr {
            operation: p.operation().into(),
            sender_hw_addr: p.sender_hw_addr(),
            sender_ip: p.sender_ip(),
            target_hw_addr: p.target_hw_addr(),
            target_ip: p.target_ip(),
        })
    }

    /// Length of the emitted packet.
    pub const fn buffer_len(&self) -> usize {
        PACKET_LEN
    }

    /// Writes the packet at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let b = buf.get_mut(..PACKET_LEN).ok_or(Error::Truncated)?;
        b[field::HTYPE].copy_from_slice(&HTYPE_ETHERNET.to_be_bytes());
        b[field::PTYPE].copy_from_slice(&super::ethernet::ETHERTYPE_IPV4.to_be_bytes());
        b[field::HLEN] = 6;
        b[field::PLEN] = 4;
        let mut p = Packet::new_unchecked(b);
        p.set_operation(self.operation.into());
        p.set_sender_hw_addr(self.sender_hw_addr);
        p.set_sender_ip(self.sender_ip);
        p.set_target_hw_addr(self.target_hw_addr);
        p.set_target_ip(self.target_ip);
        Ok(PACKET_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Who has 10.0.0.254? Tell 10.0.0.10 (from 02:00:00:00:00:0a).
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a, 10, 0,
        0, 10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 10, 0, 0, 254,
    ];

    #[test]
    fn parse_emit() {
        let p = Packet::new_checked(&REQUEST[..]).unwrap();
        let r = ArpRepr::parse(&p).unwrap();
        assert_eq!(r.operation, ArpOperation::Request);
        assert_eq!(r.sender_hw_addr, MacAddr([2, 0, 0, 0, 0, 0x0a]));
        assert_eq!(r.sender_ip, Ipv4Addr::new(10, 0, 0, 10));
        assert_eq!(r.target_hw_addr, MacAddr::ZERO);
        assert_eq!(r.target_ip, Ipv4Addr::new(10, 0, 0, 254));
        let mut out = [0u8; 28];
        assert_eq!(r.emit(&mut out), Ok(28));
        assert_eq!(out, REQUEST);
    }

    #[test]
    fn reply_in_place() {
        let mut buf = REQUEST;
        let vmac = MacAddr([0x00, 0x07, 0xb4, 0x00, 0x01, 0x02]);
        Packet::new_checked(&mut buf[..]).unwrap().make_reply(vmac);
        let expected: [u8; 28] = [
            0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x00, 0x07, 0xb4, 0x00, 0x01, 0x02, 10,
            0, 0, 254, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a, 10, 0, 0, 10,
        ];
        assert_eq!(buf, expected);
    }

    #[test]
    fn rejects() {
        assert_eq!(
            Packet::new_checked(&REQUEST[..27]).unwrap_err(),
            Error::Truncated
        );
        let mut other = REQUEST;
        other[5] = 16; // IPv6-sized protocol addresses
        assert_eq!(
            Packet::new_checked(&other[..]).unwrap_err(),
            Error::Unrecognized
        );
    }
}
