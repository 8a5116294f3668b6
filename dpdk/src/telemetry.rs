//! DPDK telemetry commands backed by Rust closures, so that
//! `dpdk-telemetry.py` works against glbpd as against testpmd; and
//! `rte_pdump` for `dpdk-dumpcap`. The closures answer in telemetry's own
//! shape ([`Reply`]); how a caller's data maps onto it is the caller's
//! business.

use std::collections::HashMap;
use std::ffi::{c_char, c_int, CStr};
use std::sync::{Arc, Mutex, OnceLock};

use dpdk_ffi as ffi;

use super::error::{check, cstring, Result};

/// A telemetry value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar {
    U64(u64),
    /// Sent as a 32-bit int (clamped).
    Int(i64),
    /// Truncated to telemetry's string limit (127 bytes).
    Str(String),
}

/// One entry of a reply's dictionary: DPDK 22.11 nests containers one
/// level deep only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Scalar(Scalar),
    Dict(Vec<(String, Scalar)>),
}

/// What a command answers. Names keep alphanumerics, '_' and '/' (others
/// become '_'); a dictionary keeps its first 256 entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Dict(Vec<(String, Entry)>),
    /// A single string.
    Text(String),
}

type Handler = Arc<dyn Fn(&str) -> Reply + Send + Sync>;

fn registry() -> &'static Mutex<HashMap<String, Handler>> {
    static R: OnceLock<Mutex<HashMap<String, Handler>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Registers telemetry command `cmd` (e.g. "/glbp/groups"): `handler`
/// gets the parameters after the comma and returns the reply to send. It
/// runs on the telemetry thread of the client's connection and may block
/// (other commands do not wait for it).
pub fn register(
    cmd: &str,
    help: &str,
    handler: impl Fn(&str) -> Reply + Send + Sync + 'static,
) -> Result<()> {
    let ccmd = cstring("rte_telemetry_register_cmd", cmd)?;
    let chelp = cstring("rte_telemetry_register_cmd", help)?;
    registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(cmd.to_string(), Arc::new(handler));
    // SAFETY: both strings are valid for the call (telemetry copies them);
    // `dispatch` has the telemetry_cb signature.
    check("rte_telemetry_register_cmd", unsafe {
        ffi::rte_telemetry_register_cmd(ccmd.as_ptr(), Some(dispatch), chelp.as_ptr())
    })?;
    Ok(())
}

extern "C" fn dispatch(
    cmd: *const c_char,
    params: *const c_char,
    d: *mut ffi::rte_tel_data,
) -> c_int {
    let text = |p: *const c_char| {
        if p.is_null() {
            String::new()
        } else {
            // SAFETY: telemetry passes NUL-terminated strings valid for the
            // duration of the callback.
            unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
        }
    };
    let (cmd, params) = (text(cmd), text(params));
    // The registry is not locked while the handler runs.
    let handler = registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&cmd)
        .cloned();
    let value = handler
        .and_then(|h| std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h(&params))).ok());
    match value {
        // SAFETY: d is the container telemetry handed to this callback.
        Some(v) => unsafe { fill(d, &v) },
        None => -libc_einval(),
    }
}

const fn libc_einval() -> c_int {
    22
}

fn short(s: &str) -> std::ffi::CString {
    let max = ffi::RTE_TEL_MAX_STRING_LEN as usize - 1;
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    std::ffi::CString::new(s[..end].replace('\0', "")).unwrap_or_default()
}

/// Telemetry names: alphanumerics, '_' and '/'.
fn sanitize(k: &str) -> String {
    k.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '/' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Adds a scalar to a started dict.
///
/// # Safety
/// `d` must be a valid dict container.
unsafe fn add_scalar(d: *mut ffi::rte_tel_data, name: &str, v: &Scalar) {
    let name = short(&sanitize(name));
    // SAFETY: d is a started dict (caller); name and value are valid C data
    // that telemetry copies.
    unsafe {
        match v {
            Scalar::U64(n) => {
                ffi::rte_tel_data_add_dict_u64(d, name.as_ptr(), *n);
            }
            Scalar::Int(n) => {
                let x = (*n).clamp(i64::from(i32::MIN), i64::from(i32::MAX));
                ffi::rte_tel_data_add_dict_int(d, name.as_ptr(), x as i32);
            }
            Scalar::Str(s) => {
                let s = short(s);
                ffi::rte_tel_data_add_dict_string(d, name.as_ptr(), s.as_ptr());
            }
        }
    }
}

/// Fills `d` with `r`.
///
/// # Safety
/// `d` must be a valid, empty `rte_tel_data`.
unsafe fn fill(d: *mut ffi::rte_tel_data, r: &Reply) -> c_int {
    let max = ffi::RTE_TEL_MAX_DICT_ENTRIES as usize;
    match r {
        Reply::Dict(entries) => {
            // SAFETY: d is valid (caller).
            unsafe { ffi::rte_tel_data_start_dict(d) };
            for (k, e) in entries.iter().take(max) {
                match e {
                    Entry::Dict(inner) => {
                        // SAFETY: a fresh container, handed to telemetry with
                        // keep = 0 so that it frees it.
                        unsafe {
                            let child = ffi::rte_tel_data_alloc();
                            if child.is_null() {
                                continue;
                            }
                            ffi::rte_tel_data_start_dict(child);
                            for (name, x) in inner.iter().take(max) {
                                add_scalar(child, name, x);
                            }
                            ffi::rte_tel_data_add_dict_container(
                                d,
                                short(&sanitize(k)).as_ptr(),
                                child,
                                0,
                            );
                        }
                    }
                    // SAFETY: d is a started dict.
                    Entry::Scalar(x) => unsafe { add_scalar(d, k, x) },
                }
            }
            0
        }
        Reply::Text(text) => {
            let s = std::ffi::CString::new(text.replace('\0', "")).unwrap_or_default();
            // SAFETY: d is valid; telemetry copies the string (truncating at
            // its single-string limit).
            unsafe { ffi::rte_tel_data_string(d, s.as_ptr()) }
        }
    }
}

/// Initialises `rte_pdump` so that `dpdk-dumpcap` can capture from this
/// process (needs multi-process support, i.e. no `--no-shconf`).
pub fn pdump_init() -> Result<()> {
    // SAFETY: plain call after EAL init.
    check("rte_pdump_init", unsafe { ffi::rte_pdump_init() })?;
    Ok(())
}
