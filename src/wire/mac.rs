//! Ethernet MAC addresses.

use std::fmt;
use std::str::FromStr;

/// A 48-bit Ethernet address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    /// 00:00:00:00:00:00.
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// The first six bytes of `b`.
    ///
    /// # Panics
    /// If `b` is shorter than 6 bytes.
    pub fn from_bytes(b: &[u8]) -> MacAddr {
        let mut m = [0u8; 6];
        m.copy_from_slice(&b[..6]);
        MacAddr(m)
    }
    /// The six bytes.
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }
    /// Group bit set (broadcast included).
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }
    /// ff:ff:ff:ff:ff:ff.
    pub const fn is_broadcast(&self) -> bool {
        matches!(self.0, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
    }
    /// Group bit clear.
    pub const fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }
    /// The IPv6 link-local address a host forms from this MAC (RFC 4291
    /// appendix A, modified EUI-64: `ff:fe` in the middle, the U/L bit
    /// flipped), as IOS does for an interface without a configured one.
    pub const fn link_local(&self) -> std::net::Ipv6Addr {
        let [a, b, c, d, e, f] = self.0;
        std::net::Ipv6Addr::new(
            0xfe80,
            0,
            0,
            0,
            u16::from_be_bytes([a ^ 0x02, b]),
            u16::from_be_bytes([c, 0xff]),
            u16::from_be_bytes([0xfe, d]),
            u16::from_be_bytes([e, f]),
        )
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Error parsing a MAC address from text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseMacError;

impl fmt::Display for ParseMacError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected a MAC address like 02:00:00:00:aa:01")
    }
}

impl std::error::Error for ParseMacError {}

impl FromStr for MacAddr {
    type Err = ParseMacError;
    /// Accepts `aa:bb:cc:dd:ee:ff`, `aa-bb-cc-dd-ee-ff` and Cisco's `aabb.ccdd.eeff`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex: String = s
            .chars()
            .filter(|c| !matches!(c, ':' | '-' | '.'))
            .collect();
        let sep_ok = match s.len() {
            17 => {
                let sep = s.as_bytes()[2];
                (sep == b':' || sep == b'-')
                    && s.bytes().enumerate().all(|(i, c)| {
                        if i % 3 == 2 {
                            c == sep
                        } else {
                            c.is_ascii_hexdigit()
                        }
                    })
            }
            14 => s.bytes().enumerate().all(|(i, c)| {
                if i % 5 == 4 {
                    c == b'.'
                } else {
                    c.is_ascii_hexdigit()
                }
            }),
            _ => false,
        };
        if !sep_ok || hex.len() != 12 {
            return Err(ParseMacError);
        }
        let mut m = [0u8; 6];
        for (i, byte) in m.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| ParseMacError)?;
        }
        Ok(MacAddr(m))
    }
}

impl serde::Serialize for MacAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for MacAddr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4291 appendix A's rule, checked against what Linux forms
    /// (`ip -6 addr` on a veth with MAC 02:00:00:00:0a:01 shows
    /// fe80::ff:fe00:a01) and IOS's `fe80::207:b4ff:fe00:2e00`-style
    /// addresses for a MAC with the U/L bit clear.
    #[test]
    fn link_local_is_modified_eui64() {
        let m: MacAddr = "02:00:00:00:0a:01".parse().unwrap();
        assert_eq!(m.link_local().to_string(), "fe80::ff:fe00:a01");
        let m: MacAddr = "00:07:b4:00:2e:00".parse().unwrap();
        assert_eq!(m.link_local().to_string(), "fe80::207:b4ff:fe00:2e00");
    }

    #[test]
    fn parse_and_display() {
        let m: MacAddr = "00:07:b4:00:28:01".parse().unwrap();
        assert_eq!(m.0, [0x00, 0x07, 0xb4, 0x00, 0x28, 0x01]);
        assert_eq!(m.to_string(), "00:07:b4:00:28:01");
        assert_eq!("0007.b400.2801".parse::<MacAddr>().unwrap(), m);
        assert_eq!("00-07-b4-00-28-01".parse::<MacAddr>().unwrap(), m);
        assert!("00:07:b4:00:28".parse::<MacAddr>().is_err());
        assert!("00:07:b4:00:28:0g".parse::<MacAddr>().is_err());
        assert!("00:07-b4:00:28:01".parse::<MacAddr>().is_err());
    }
}
