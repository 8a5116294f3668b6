//! Wire formats: bytes <-> values. Pure Rust, no unsafe, no I/O, no clock.
//!
//! Layout follows smoltcp: a zero-copy view per protocol (`Packet<T>` with
//! `new_checked`, after which no accessor can panic) plus a validated value
//! type (`Repr`) with `parse` and `emit`.
#![forbid(unsafe_code)]

pub mod glbp;
pub mod mac;

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

pub type Result<T> = core::result::Result<T, Error>;
