//! One instance per DPDK file prefix: the runtime folder
//! (`/var/run/dpdk/<prefix>`, or `$XDG_RUNTIME_DIR/dpdk/<prefix>` for a
//! user) and an exclusive `flock` on `glbpd.lock` in it, taken before EAL
//! starts and held for the life of the process, with or without
//! `--no-shconf` (which makes EAL itself take no lock). Whoever holds the
//! lock owns the folder: [`InstanceLock`] removes it on drop, after EAL,
//! and nothing else ever does.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::config::check_prefix;

/// Name of the lock file in the runtime folder.
pub const LOCK_FILE: &str = "glbpd.lock";

/// Name of DPDK's telemetry socket in the runtime folder.
pub const TELEMETRY_SOCKET: &str = "dpdk_telemetry.v2";

/// The folder DPDK puts runtime folders in, chosen as EAL 22.11 does:
/// `/var/run/dpdk` for root, `$XDG_RUNTIME_DIR/dpdk` for anyone else.
/// EAL falls back to `/tmp/dpdk` without `XDG_RUNTIME_DIR`, a folder every
/// user can write to: glbpd refuses that.
pub fn runtime_base() -> Result<PathBuf, String> {
    if nix::unistd::Uid::current().is_root() {
        return Ok(PathBuf::from("/var/run/dpdk"));
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(d) if Path::new(&d).is_absolute() => Ok(PathBuf::from(d).join("dpdk")),
        _ => Err(
            "not root and XDG_RUNTIME_DIR is not set to an absolute path: DPDK would \
                  use /tmp/dpdk, which every user can write to; set XDG_RUNTIME_DIR or run as root"
                .into(),
        ),
    }
}

/// The runtime folder of `prefix` (which must be a plain name).
pub fn runtime_dir(prefix: &str) -> Result<PathBuf, String> {
    check_prefix(prefix).map_err(|e| format!("prefix {e}"))?;
    Ok(runtime_base()?.join(prefix))
}

/// Why the lock could not be taken.
#[derive(Debug)]
pub enum LockError {
    /// Another process holds it (its PID as it wrote it, when readable).
    Busy { path: PathBuf, pid: Option<u32> },
    /// Anything else (bad prefix, permissions, a hostile folder).
    Other(String),
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Busy { path, pid } => {
                let who = pid.map_or("another process".to_string(), |p| format!("pid {p}"));
                write!(
                    f,
                    "another glbpd ({who}) runs with this prefix: it holds {}; \
                     give this instance its own eal.file_prefix",
                    path.display()
                )
            }
            LockError::Other(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for LockError {}

/// Creates `dir` (mode 0700) unless it exists, then checks that it is a
/// real folder (not a symbolic link) owned by this user.
fn private_dir(dir: &Path) -> Result<(), String> {
    match DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
    }
    let md = std::fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !md.file_type().is_dir() {
        return Err(format!(
            "{} is not a folder (a symbolic link?): refusing to use it",
            dir.display()
        ));
    }
    let me = nix::unistd::Uid::effective().as_raw();
    if md.uid() != me {
        return Err(format!(
            "{} belongs to uid {}, not to this user (uid {me}): refusing to use it",
            dir.display(),
            md.uid()
        ));
    }
    Ok(())
}

/// Opens the lock file without following a link.
fn open_lock(path: &Path, create: bool) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(create)
        .create(create)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(path)
}

/// The PID a lock holder wrote into its lock file.
fn written_pid(path: &Path) -> Option<u32> {
    let mut s = String::new();
    open_lock(path, false).ok()?.read_to_string(&mut s).ok()?;
    s.trim().parse().ok()
}

/// True when `file` is (still) the file at `path`.
fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// How long a start waits for a lock held only for a moment (a `show`
/// probing it) before it calls the prefix busy.
const BUSY_GRACE: Duration = Duration::from_millis(500);

/// The exclusive lock on a prefix's runtime folder. Dropping it removes
/// the folder (everything EAL and glbpd left in it), then releases the lock.
pub struct InstanceLock {
    dir: PathBuf,
    lock: Option<Flock<File>>,
}

impl InstanceLock {
    /// Creates the runtime folder of `prefix` and locks it. Fails with
    /// [`LockError::Busy`] when another process holds it; touches nothing
    /// then.
    pub fn acquire(prefix: &str) -> Result<InstanceLock, LockError> {
        let base = runtime_base().map_err(LockError::Other)?;
        let dir = runtime_dir(prefix).map_err(LockError::Other)?;
        private_dir(&base).map_err(LockError::Other)?;
        private_dir(&dir).map_err(LockError::Other)?;
        let path = dir.join(LOCK_FILE);
        let started = Instant::now();
        loop {
            let file = open_lock(&path, true)
                .map_err(|e| LockError::Other(format!("cannot open {}: {e}", path.display())))?;
            let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(l) => l,
                Err((_, Errno::EWOULDBLOCK)) if started.elapsed() < BUSY_GRACE => {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
                Err((_, Errno::EWOULDBLOCK)) => {
                    return Err(LockError::Busy {
                        pid: written_pid(&path),
                        path,
                    })
                }
                Err((_, e)) => {
                    return Err(LockError::Other(format!(
                        "cannot lock {}: {e}",
                        path.display()
                    )))
                }
            };
            // A holder that was just exiting may have removed the folder
            // between our open and our lock: then we locked a file nobody
            // else can find, so start over.
            if !same_file(&lock, &path) {
                private_dir(&dir).map_err(LockError::Other)?;
                continue;
            }
            let pid = format!("{}\n", std::process::id());
            lock.set_len(0)
                .and_then(|_| lock.rewind())
                .and_then(|_| lock.write_all(pid.as_bytes()))
                .map_err(|e| LockError::Other(format!("{}: {e}", path.display())))?;
            return Ok(InstanceLock {
                dir,
                lock: Some(lock),
            });
        }
    }

    /// The runtime folder this lock owns.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for InstanceLock {
    fn drop(&mut self) {
        let Some(lock) = self.lock.take() else {
            return;
        };
        // Only while the folder still holds our lock file: never a folder
        // someone else put in its place.
        if same_file(&lock, &self.dir.join(LOCK_FILE)) {
            if let Err(e) = std::fs::remove_dir_all(&self.dir) {
                log::warn!("cannot remove {}: {e}", self.dir.display());
            }
        } else {
            log::warn!(
                "{} no longer holds this instance's lock file: left in place",
                self.dir.display()
            );
        }
        drop(lock);
    }
}

/// The PID the holder of `prefix`'s lock wrote into it.
pub fn holder_pid(prefix: &str) -> Option<u32> {
    written_pid(&runtime_dir(prefix).ok()?.join(LOCK_FILE))
}

/// Whether some process holds the lock of `prefix` (a live instance).
/// Probes with a shared lock that it releases at once; an instance
/// starting at that very moment waits [`BUSY_GRACE`] for it.
pub fn is_held(prefix: &str) -> Result<bool, String> {
    let path = runtime_dir(prefix)?.join(LOCK_FILE);
    let file = match open_lock(&path, false) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        Ok(probe) => {
            drop(probe);
            Ok(false)
        }
        Err((_, Errno::EWOULDBLOCK)) => Ok(true),
        Err((_, e)) => Err(format!("{}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_never_leave_the_base() {
        for bad in ["..", ".", "a/b", "", "x y", "../../tmp/x", &"a".repeat(65)] {
            assert!(runtime_dir(bad).is_err(), "{bad:?}");
        }
    }
}
