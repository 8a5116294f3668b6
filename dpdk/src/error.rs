use std::ffi::CStr;
use std::fmt;

use dpdk_ffi as ffi;

/// A DPDK call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A call returned a negative errno (or set `rte_errno`).
    Errno { op: &'static str, errno: i32 },
    /// A call that returns a pointer returned NULL; `rte_errno` says why.
    Null { op: &'static str, errno: i32 },
    /// An argument could not be passed to DPDK (interior NUL, out of range...).
    Invalid { op: &'static str, what: String },
}

pub type Result<T> = std::result::Result<T, Error>;

/// DPDK's text for an errno value (covers both libc and `RTE_*` codes).
pub fn strerror(errno: i32) -> String {
    // SAFETY: rte_strerror returns a pointer to a static or thread-local
    // buffer holding a NUL-terminated string; we copy it out immediately.
    unsafe { CStr::from_ptr(ffi::rte_strerror(errno)) }
        .to_string_lossy()
        .into_owned()
}

/// The calling thread's `rte_errno`.
pub(crate) fn rte_errno() -> i32 {
    // SAFETY: reads a thread-local int through the C shim; no preconditions.
    unsafe { ffi::glbpd_rte_errno() }
}

/// Maps a DPDK return code (negative errno on failure) to a `Result`.
pub(crate) fn check(op: &'static str, rc: i32) -> Result<i32> {
    if rc < 0 {
        Err(Error::Errno { op, errno: -rc })
    } else {
        Ok(rc)
    }
}

/// Maps a pointer return (NULL on failure, reason in `rte_errno`).
pub(crate) fn non_null<T>(op: &'static str, p: *mut T) -> Result<std::ptr::NonNull<T>> {
    std::ptr::NonNull::new(p).ok_or_else(|| Error::Null {
        op,
        errno: rte_errno(),
    })
}

pub(crate) fn cstring(op: &'static str, s: &str) -> Result<std::ffi::CString> {
    std::ffi::CString::new(s).map_err(|_| Error::Invalid {
        op,
        what: format!("{s:?} contains a NUL byte"),
    })
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Errno { op, errno } | Error::Null { op, errno } => {
                write!(f, "{op} failed: {} (errno {errno})", strerror(*errno))
            }
            Error::Invalid { op, what } => write!(f, "{op}: {what}"),
        }
    }
}

impl std::error::Error for Error {}
