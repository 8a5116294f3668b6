//! Reload without blocking the control lcore. On SIGHUP or a
//! `/glbp/reload` telemetry request, a helper thread reads and parses the
//! configuration file (`Config::load`); the control loop polls for the
//! result and applies only a parsed configuration (through
//! `Control::reload`). A read that has not finished after
//! [`READ_TIMEOUT`] (a FIFO nobody writes, a hung NFS mount) fails the
//! reload; its thread is abandoned, and further reloads are refused until
//! it finishes.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam::channel::{self, Receiver, Sender, TryRecvError};

use crate::config::{Config, ConfigError};
use crate::runtime::control::Control;
use crate::runtime::ops::ask::{asker, Asker};
use crate::runtime::ops::status::ReloadVerdict;

/// How long reading and parsing the file may take.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The outcome of one reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub ok: bool,
    pub message: String,
}

impl Verdict {
    fn refused(message: impl Into<String>) -> Verdict {
        Verdict {
            ok: false,
            message: message.into(),
        }
    }
}

/// Reload requests waiting for the control loop at most.
const QUEUE: usize = 16;

/// Asks the control loop for a reload and waits for its verdict. Cheap to
/// clone; used from DPDK's telemetry thread.
#[derive(Clone)]
pub struct ReloadClient {
    asker: Asker<Verdict>,
}

impl ReloadClient {
    /// Requests a reload and waits up to `wait` for the verdict.
    pub fn request(&self, wait: Duration) -> Verdict {
        self.asker.ask(wait).unwrap_or_else(Verdict::refused)
    }
}

type Parsed = Result<Config, ConfigError>;

/// A read in progress and who waits for it.
struct Reading {
    rx: Receiver<Parsed>,
    started: Instant,
    waiters: Vec<Sender<Verdict>>,
}

/// The control loop's side of reloading.
pub struct Reloader {
    path: PathBuf,
    signal: Arc<AtomicBool>,
    requests: Receiver<Sender<Verdict>>,
    timeout: Duration,
    reading: Option<Reading>,
    /// Requests that came while a read was running: they get a read of
    /// their own once it is done, so that they see the file as it is now.
    queued: Option<Vec<Sender<Verdict>>>,
    /// A read that timed out and whose thread has not finished yet.
    stuck: Option<(Receiver<Parsed>, Instant)>,
    last: Option<ReloadVerdict>,
    /// CPU of the reading threads (see `ops::spawn_pinned`).
    cpu: Option<usize>,
}

impl Reloader {
    /// A reloader of `path`, triggered by `signal` (SIGHUP) and by the
    /// returned client.
    pub fn new(path: &Path, signal: Arc<AtomicBool>) -> (Reloader, ReloadClient) {
        Self::with_timeout(path, signal, READ_TIMEOUT)
    }

    pub fn with_timeout(
        path: &Path,
        signal: Arc<AtomicBool>,
        timeout: Duration,
    ) -> (Reloader, ReloadClient) {
        let (asker, requests) = asker(QUEUE);
        let r = Reloader {
            path: path.to_path_buf(),
            signal,
            requests,
            timeout,
            reading: None,
            queued: None,
            stuck: None,
            last: None,
            cpu: None,
        };
        (r, ReloadClient { asker })
    }

    /// Runs the reading threads on `cpu` (the control lcore's), never on a
    /// worker's core.
    pub fn pin(&mut self, cpu: Option<usize>) {
        self.cpu = cpu;
    }

    /// The last verdict, for the status document (None before any).
    pub fn last(&self) -> &Option<ReloadVerdict> {
        &self.last
    }

    /// One step of the control loop: starts a read when asked, applies a
    /// parsed configuration. Never blocks. True when a verdict was reached.
    pub fn poll(&mut self, ctl: &mut Control, running: &mut Config) -> bool {
        let mut asked = self.signal.swap(false, Ordering::SeqCst);
        let mut waiters = Vec::new();
        while let Ok(w) = self.requests.try_recv() {
            waiters.push(w);
            asked = true;
        }
        self.reap_stuck();
        let mut decided = false;
        if asked {
            if let Some((_, since)) = &self.stuck {
                let v = Verdict::refused(format!(
                    "the previous read of {} has not finished after {} s \
                     (a FIFO or a hung file system?); reload refused until it does",
                    self.path.display(),
                    since.elapsed().as_secs()
                ));
                self.decide(ctl, v, waiters);
                decided = true;
            } else if self.reading.is_some() {
                self.queued.get_or_insert_with(Vec::new).extend(waiters);
            } else {
                decided |= self.start(ctl, waiters);
            }
        }
        let Some(r) = &self.reading else {
            return decided;
        };
        let parsed = match r.rx.try_recv() {
            Ok(p) => Some(p),
            Err(TryRecvError::Empty) if r.started.elapsed() < self.timeout => return decided,
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err(ConfigError {
                file: self.path.clone(),
                line: 0,
                column: 0,
                key: String::new(),
                message: "the reading thread failed".into(),
            })),
        };
        let r = self.reading.take().expect("checked above");
        let v = match parsed {
            Some(p) => self.apply(ctl, running, p),
            None => {
                self.stuck = Some((r.rx, r.started));
                Verdict::refused(format!(
                    "reading {} did not finish within {} s (a FIFO or a hung file system?); \
                     running configuration kept",
                    self.path.display(),
                    self.timeout.as_secs()
                ))
            }
        };
        self.decide(ctl, v, r.waiters);
        if let Some(next) = self.queued.take() {
            if self.stuck.is_some() {
                let v = Verdict::refused(format!(
                    "the read of {} is stuck; reload refused until it finishes",
                    self.path.display()
                ));
                self.decide(ctl, v, next);
            } else {
                self.start(ctl, next);
            }
        }
        true
    }

    /// Forgets a stuck read once its thread is done.
    fn reap_stuck(&mut self) {
        let Some((rx, since)) = &self.stuck else {
            return;
        };
        if !matches!(rx.try_recv(), Err(TryRecvError::Empty)) {
            log::info!(
                "the stuck read of {} finished after {:.1} s; its result is ignored",
                self.path.display(),
                since.elapsed().as_secs_f64()
            );
            self.stuck = None;
        }
    }

    /// Starts a read for `waiters`; true when it could not start (and the
    /// verdict is given at once).
    fn start(&mut self, ctl: &mut Control, waiters: Vec<Sender<Verdict>>) -> bool {
        let (tx, rx) = channel::bounded(1);
        let path = self.path.clone();
        let spawned = crate::runtime::ops::spawn_pinned("glbpd-reload", self.cpu, move || {
            let _ = tx.send(Config::load(&path));
        });
        match spawned {
            Ok(_) => {
                self.reading = Some(Reading {
                    rx,
                    started: Instant::now(),
                    waiters,
                });
                false
            }
            Err(e) => {
                let v = Verdict::refused(format!("cannot start a thread to read the file: {e}"));
                self.decide(ctl, v, waiters);
                true
            }
        }
    }

    /// Applies a parsed configuration; the running one stays on error.
    fn apply(&self, ctl: &mut Control, running: &mut Config, parsed: Parsed) -> Verdict {
        let result = parsed
            .map_err(|e| e.to_string())
            .and_then(|new| ctl.reload(running, &new).map(|sum| (new, sum)));
        match result {
            Ok((new, sum)) => {
                *running = new;
                Verdict {
                    ok: true,
                    message: sum.to_string(),
                }
            }
            Err(e) => Verdict::refused(e),
        }
    }

    /// Logs a verdict, records it for the status and answers the waiters.
    fn decide(&mut self, ctl: &Control, v: Verdict, waiters: Vec<Sender<Verdict>>) {
        if v.ok {
            log::info!(
                "%SYS-5-CONFIG: reloaded {}: {}",
                self.path.display(),
                v.message
            );
        } else {
            log::error!(
                "%SYS-3-CONFIG: reload of {} refused, running configuration kept: {}",
                self.path.display(),
                v.message
            );
        }
        self.last = Some(ReloadVerdict {
            at_ms: ctl.now_ms(),
            ok: v.ok,
            message: v.message.clone(),
        });
        for w in waiters {
            let _ = w.try_send(v.clone());
        }
    }
}
