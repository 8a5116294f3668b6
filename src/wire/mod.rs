//! Wire formats: bytes <-> values. Pure Rust, no unsafe, no I/O, no clock.
//!
//! Layout follows smoltcp: a zero-copy view per protocol (`Packet<T>` with
//! `new_checked`, after which no accessor can panic) plus a validated value
//! type (`Repr`) with `parse` and `emit`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// Declares a zero-copy view `$name<T: AsRef<[u8]>>` over a buffer with
/// `new_unchecked`, `new_checked` and `into_inner`; the module provides
/// `check_len`, which validates every length its accessors rely on.
macro_rules! view {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name<T: AsRef<[u8]>> {
            buffer: T,
        }

        impl<T: AsRef<[u8]>> $name<T> {
            /// Wraps a buffer without checking it: accessors may panic on a
            /// buffer that `new_checked` would reject.
            pub const fn new_unchecked(buffer: T) -> Self {
                Self { buffer }
            }

            /// Wraps a buffer after `check_len` accepted it; from then on no
            /// accessor can panic.
            pub fn new_checked(buffer: T) -> Result<Self> {
                let view = Self::new_unchecked(buffer);
                view.check_len()?;
                Ok(view)
            }

            /// Returns the underlying buffer.
            pub fn into_inner(self) -> T {
                self.buffer
            }
        }
    };
}

pub mod arp;
pub mod checksum;
pub mod ethernet;
#[doc(hidden)]
pub mod fuzzing;
pub mod glbp;
pub mod icmpv4;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod mac;
pub mod udp;

pub use mac::MacAddr;

/// Error returned by every parser in this module: cheap to construct and copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The buffer is shorter than the header or a length field says.
    Truncated,
    /// A field holds a value the format does not allow.
    Malformed(&'static str),
    /// The checksum does not match.
    Checksum,
    /// Not this protocol (wrong version, port, type...).
    Unrecognized,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Truncated => f.write_str("truncated"),
            Error::Malformed(what) => write!(f, "malformed: {what}"),
            Error::Checksum => f.write_str("bad checksum"),
            Error::Unrecognized => f.write_str("unrecognized"),
        }
    }
}

impl std::error::Error for Error {}

/// Result of the wire parsers.
pub type Result<T> = core::result::Result<T, Error>;

// Big-endian field access for the views. Callers index only after
// `new_checked` has validated the length, so these never see a short slice.
#[inline]
pub(crate) fn get_u16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}
#[inline]
pub(crate) fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
#[inline]
pub(crate) fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}
#[inline]
pub(crate) fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}
#[inline]
pub(crate) fn get_ipv4(b: &[u8], at: usize) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}
#[inline]
pub(crate) fn get_ipv6(b: &[u8], at: usize) -> std::net::Ipv6Addr {
    let mut o = [0u8; 16];
    o.copy_from_slice(&b[at..at + 16]);
    std::net::Ipv6Addr::from(o)
}

/// A deterministic xorshift64 generator (seeded with `x`, not 0) for the
/// randomised tests.
#[cfg(test)]
pub(crate) fn tests_rng(mut x: u64) -> impl FnMut() -> u64 {
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

/// Decodes a hex string (whitespace ignored) for the literal-byte tests.
#[cfg(test)]
pub(crate) fn tests_hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
