//! ICMPv4 (RFC 792): echo request/reply, destination unreachable and time
//! exceeded.

use super::{checksum, get_u16, put_u16, Error, Result};

/// Type of an echo reply.
pub const TYPE_ECHO_REPLY: u8 = 0;
/// Type of an echo request.
pub const TYPE_ECHO_REQUEST: u8 = 8;
/// Type of time exceeded.
pub const TYPE_TIME_EXCEEDED: u8 = 11;
/// Type of destination unreachable.
pub const TYPE_DST_UNREACHABLE: u8 = 3;
/// Destination-unreachable code: net unreachable (no route).
pub const CODE_NET_UNREACHABLE: u8 = 0;
/// Destination-unreachable code: protocol unreachable.
pub const CODE_PROTO_UNREACHABLE: u8 = 2;
/// Destination-unreachable code: port unreachable.
pub const CODE_PORT_UNREACHABLE: u8 = 3;
/// Time-exceeded code: TTL exceeded in transit.
pub const CODE_TTL_EXCEEDED: u8 = 0;
/// Length of the ICMP header (type, code, checksum, 4 bytes of rest).
pub const HEADER_LEN: usize = 8;

mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const ECHO_IDENT: usize = 4;
    pub const ECHO_SEQNO: usize = 6;
}

view! {
    /// A read/write view of an ICMPv4 message (the whole IP payload).
    ///
    /// [`Packet::new_checked`] validates the 8-byte header; afterwards no
    /// accessor can panic.
    Packet
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks that the buffer holds the 8-byte header.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(())
    }
    /// Message type.
    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }
    /// Message code.
    #[inline]
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }
    /// Checksum as stored.
    #[inline]
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }
    /// Echo identifier (meaningful for echo messages).
    #[inline]
    pub fn echo_ident(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::ECHO_IDENT)
    }
    /// Echo sequence number (meaningful for echo messages).
    #[inline]
    pub fn echo_seq_no(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::ECHO_SEQNO)
    }
    /// Data after the 8-byte header.
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
    /// Whether the checksum over the whole message is correct.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::data(self.buffer.as_ref()) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the type.
    #[inline]
    pub fn set_msg_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::TYPE] = v;
    }
    /// Sets the code.
    #[inline]
    pub fn set_msg_code(&mut self, v: u8) {
        self.buffer.as_mut()[field::CODE] = v;
    }
    /// Computes and stores the checksum over the whole message.
    #[inline]
    pub fn fill_checksum(&mut self) {
        put_u16(self.buffer.as_mut(), field::CHECKSUM, 0);
        let sum = checksum::data(self.buffer.as_ref());
        put_u16(self.buffer.as_mut(), field::CHECKSUM, !sum);
    }
    /// Turns a checked echo request into its reply in place (type 0, checksum
    /// patched), keeping identifier, sequence number and data.
    #[inline]
    pub fn make_echo_reply(&mut self) {
        self.set_msg_type(TYPE_ECHO_REPLY);
        self.set_msg_code(0);
        self.fill_checksum();
    }
}

/// A parsed ICMPv4 message of the kinds this router handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv4Repr<'a> {
    /// Type 8.
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Echo data.
        data: &'a [u8],
    },
    /// Type 0.
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Echo data.
        data: &'a [u8],
    },
    /// Type 3.
    DstUnreachable {
        /// 2 protocol unreachable, 3 port unreachable, ...
        code: u8,
        /// The offending IP header and the first bytes of its payload.
        data: &'a [u8],
    },
    /// Type 11.
    TimeExceeded {
        /// 0 TTL exceeded in transit, 1 reassembly time exceeded.
        code: u8,
        /// The offending IP header and the first bytes of its payload.
        data: &'a [u8],
    },
}

impl<'a> Icmpv4Repr<'a> {
    /// Reads a message, verifying its checksum. Other types are
    /// `Unrecognized`.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(p: &'a Packet<&'a T>) -> Result<Icmpv4Repr<'a>> {
        p.check_len()?;
        let b = p.buffer.as_ref();
        if !p.verify_checksum() {
            return Err(Error::Checksum);
        }
        let data = &b[HEADER_LEN..];
        match (p.msg_type(), p.msg_code()) {
            (TYPE_ECHO_REQUEST, 0) => Ok(Icmpv4Repr::EchoRequest {
                ident: p.echo_ident(),
                seq_no: p.echo_seq_no(),
                data,
            }),
            (TYPE_ECHO_REPLY, 0) => Ok(Icmpv4Repr::EchoReply {
                ident: p.echo_ident(),
                seq_no: p.echo_seq_no(),
                data,
            }),
            (TYPE_TIME_EXCEEDED, code @ 0..=1) => Ok(Icmpv4Repr::TimeExceeded { code, data }),
            (TYPE_DST_UNREACHABLE, code @ 0..=15) => Ok(Icmpv4Repr::DstUnreachable { code, data }),
            _ => Err(Error::Unrecognized),
        }
    }

    /// Length of the emitted message.
    pub fn buffer_len(&self) -> usize {
        match self {
            Icmpv4Repr::EchoRequest { data, .. }
            | Icmpv4Repr::EchoReply { data, .. }
            | Icmpv4Repr::DstUnreachable { data, .. }
            | Icmpv4Repr::TimeExceeded { data, .. } => HEADER_LEN + data.len(),
        }
    }

    /// Writes the message with its checksum at the start of `buf`; returns
    /// its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let b = buf.get_mut(..len).ok_or(Error::Truncated)?;
        let (ty, code, rest, data) = match *self {
            Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => (TYPE_ECHO_REQUEST, 0, [ident, seq_no], data),
            Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => (TYPE_ECHO_REPLY, 0, [ident, seq_no], data),
            Icmpv4Repr::TimeExceeded { code, data } => (TYPE_TIME_EXCEEDED, code, [0, 0], data),
            Icmpv4Repr::DstUnreachable { code, data } => (TYPE_DST_UNREACHABLE, code, [0, 0], data),
        };
        b[field::TYPE] = ty;
        b[field::CODE] = code;
        put_u16(b, field::ECHO_IDENT, rest[0]);
        put_u16(b, field::ECHO_SEQNO, rest[1]);
        b[HEADER_LEN..].copy_from_slice(data);
        Packet::new_unchecked(b).fill_checksum();
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // `ping -c1 -p 6162` style echo request: id 0x1234, seq 1, data "abcd";
    // checksum worked by hand: 0x0800+0x1234+0x0001+0x6162+0x6364 = 0xdefb,
    // complemented 0x2104.
    const ECHO: [u8; 12] = [
        0x08, 0x00, 0x21, 0x04, 0x12, 0x34, 0x00, 0x01, b'a', b'b', b'c', b'd',
    ];

    #[test]
    fn echo() {
        let p = Packet::new_checked(&ECHO[..]).unwrap();
        assert!(p.verify_checksum());
        let r = Icmpv4Repr::parse(&p).unwrap();
        assert_eq!(
            r,
            Icmpv4Repr::EchoRequest {
                ident: 0x1234,
                seq_no: 1,
                data: b"abcd"
            }
        );
        let mut out = [0u8; 12];
        assert_eq!(r.emit(&mut out), Ok(12));
        assert_eq!(out, ECHO);

        let mut reply = ECHO;
        Packet::new_checked(&mut reply[..])
            .unwrap()
            .make_echo_reply();
        // Type 8 -> 0 lowers the sum by 0x0800, raising the checksum by 0x0800.
        assert_eq!(reply[..4], [0x00, 0x00, 0x29, 0x04]);
        let p = Packet::new_checked(&reply[..]).unwrap();
        assert_eq!(
            Icmpv4Repr::parse(&p).unwrap(),
            Icmpv4Repr::EchoReply {
                ident: 0x1234,
                seq_no: 1,
                data: b"abcd"
            }
        );
    }

    #[test]
    fn port_unreachable_round_trips() {
        let quoted = [
            0x45u8, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 9, 10, 0, 0, 2, 0x82, 0x9b, 0x82,
            0x9b, 0, 8, 0, 0,
        ];
        let r = Icmpv4Repr::DstUnreachable {
            code: CODE_PORT_UNREACHABLE,
            data: &quoted,
        };
        let mut out = [0u8; 36];
        assert_eq!(r.emit(&mut out), Ok(36));
        assert_eq!(out[..2], [3, 3]);
        assert_eq!(&out[4..8], &[0, 0, 0, 0], "unused word");
        let p = Packet::new_checked(&out[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(Icmpv4Repr::parse(&p), Ok(r));
    }

    #[test]
    fn time_exceeded() {
        let quoted = [
            0x45u8, 0, 0, 20, 0, 0, 0, 0, 1, 17, 0, 0, 10, 0, 0, 1, 10, 0, 1, 1,
        ];
        let r = Icmpv4Repr::TimeExceeded {
            code: CODE_TTL_EXCEEDED,
            data: &quoted,
        };
        let mut out = [0u8; 28];
        assert_eq!(r.emit(&mut out), Ok(28));
        assert_eq!(out[..2], [11, 0]);
        assert_eq!(&out[4..8], &[0, 0, 0, 0]);
        let p = Packet::new_checked(&out[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(Icmpv4Repr::parse(&p), Ok(r));
        out[8] ^= 0xff;
        assert_eq!(
            Icmpv4Repr::parse(&Packet::new_checked(&out[..]).unwrap()),
            Err(Error::Checksum)
        );
        assert_eq!(
            Packet::new_checked(&out[..7]).unwrap_err(),
            Error::Truncated
        );
    }
}
