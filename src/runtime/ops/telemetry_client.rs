//! A client of DPDK's telemetry socket (`<runtime folder>/dpdk_telemetry.v2`,
//! `SOCK_SEQPACKET`): on connect the server sends a JSON greeting
//! (`{"version", "pid", "max_output_len"}`); each command string sent gets
//! one JSON reply `{"<command>": value}`. `glbpd reload` uses it to reach the
//! running instance itself rather than a PID read from a file.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use nix::sys::socket::{
    connect, recv, send, setsockopt, socket, sockopt, AddressFamily, MsgFlags, SockFlag, SockType,
    UnixAddr,
};
use nix::sys::time::{TimeVal, TimeValLike};
use serde_json::Value;

/// Largest reply read (DPDK 22.11 sends at most 16 KiB).
const MAX_REPLY: usize = 64 * 1024;

/// A connection to one process's telemetry socket.
pub struct Telemetry {
    fd: OwnedFd,
    /// The PID the server announced in its greeting.
    pub pid: Option<u32>,
}

fn read_json(fd: &OwnedFd, what: &str) -> Result<Value, String> {
    let mut buf = vec![0u8; MAX_REPLY];
    let n = recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()).map_err(|e| match e {
        nix::errno::Errno::EAGAIN => format!("no {what} within the time limit"),
        e => format!("reading the {what}: {e}"),
    })?;
    if n == 0 {
        return Err(format!(
            "the instance closed the connection before its {what}"
        ));
    }
    serde_json::from_slice(&buf[..n]).map_err(|e| format!("{what} is not JSON: {e}"))
}

impl Telemetry {
    /// Connects to the socket at `path`; every later read waits at most
    /// `timeout`.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Telemetry, String> {
        let fd = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(|e| format!("telemetry socket: {e}"))?;
        let tv = TimeVal::milliseconds(timeout.as_millis().min(i64::MAX as u128) as i64);
        setsockopt(&fd.as_fd(), sockopt::ReceiveTimeout, &tv)
            .and_then(|_| setsockopt(&fd.as_fd(), sockopt::SendTimeout, &tv))
            .map_err(|e| format!("telemetry socket timeouts: {e}"))?;
        let addr = UnixAddr::new(path).map_err(|e| format!("{}: {e}", path.display()))?;
        connect(fd.as_raw_fd(), &addr).map_err(|e| format!("{}: {e}", path.display()))?;
        let hello = read_json(&fd, "telemetry greeting")?;
        let pid = hello["pid"].as_u64().and_then(|p| u32::try_from(p).ok());
        Ok(Telemetry { fd, pid })
    }

    /// Sends `cmd` (e.g. `/glbp/reload`) and returns the value of its reply
    /// (`null` when the process does not know the command).
    pub fn query(&self, cmd: &str) -> Result<Value, String> {
        send(self.fd.as_raw_fd(), cmd.as_bytes(), MsgFlags::empty())
            .map_err(|e| format!("sending {cmd}: {e}"))?;
        let mut reply = read_json(&self.fd, "reply")?;
        let key = cmd.split(',').next().unwrap_or(cmd);
        match reply.get_mut(key) {
            Some(v) => Ok(v.take()),
            None => Err(format!("the reply does not answer {key}: {reply}")),
        }
    }
}

/// Text sent by [`crate::runtime::ops::telemetry_text`]: a string, or its
/// pieces as a dictionary `"0"`, `"1"`, ... (or an array).
pub fn joined_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(joined_text).collect(),
        Value::Object(m) => {
            let mut parts: Vec<(u64, String)> = m
                .iter()
                .map(|(k, v)| (k.parse().unwrap_or(u64::MAX), joined_text(v)))
                .collect();
            parts.sort();
            parts.into_iter().map(|(_, s)| s).collect()
        }
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::ops::telemetry_text;

    #[test]
    fn long_text_survives_the_round_trip() {
        let long: String = (0..300)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        for s in ["short", long.as_str(), "é".repeat(100).as_str()] {
            let sent = telemetry_text(s);
            if let Value::Array(parts) = &sent {
                assert!(parts.iter().all(|p| p.as_str().unwrap().len() <= 127));
                // On the wire, an array in a dictionary becomes "0", "1", ...
                let dict: serde_json::Map<String, Value> = parts
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (i.to_string(), p.clone()))
                    .rev()
                    .collect();
                assert_eq!(joined_text(&Value::Object(dict)), s);
            }
            assert_eq!(joined_text(&sent), s);
        }
    }
}
