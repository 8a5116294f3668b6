//! Requests from other threads (DPDK's telemetry thread) to the control
//! loop: the asker sends a one-shot reply channel through a bounded queue
//! and waits; the control loop answers when it polls, never blocking.

use std::time::Duration;

use crossbeam::channel::{self, Receiver, RecvTimeoutError, Sender, TrySendError};

/// The asking side; cheap to clone.
pub struct Asker<T> {
    tx: Sender<Sender<T>>,
}

impl<T> Clone for Asker<T> {
    fn clone(&self) -> Self {
        Asker {
            tx: self.tx.clone(),
        }
    }
}

/// An asker, and the queue of requests the control loop answers (at most
/// `queue` waiting).
pub fn asker<T>(queue: usize) -> (Asker<T>, Receiver<Sender<T>>) {
    let (tx, rx) = channel::bounded(queue);
    (Asker { tx }, rx)
}

impl<T> Asker<T> {
    /// Asks, and waits up to `wait` for the answer; Err says why there is
    /// none.
    pub fn ask(&self, wait: Duration) -> Result<T, String> {
        let (tx, rx) = channel::bounded(1);
        match self.tx.try_send(tx) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err("too many requests are waiting; try again".into())
            }
            Err(TrySendError::Disconnected(_)) => return Err("glbpd is stopping".into()),
        }
        match rx.recv_timeout(wait) {
            Ok(v) => Ok(v),
            Err(RecvTimeoutError::Timeout) => Err(format!(
                "no answer from the control loop within {} s",
                wait.as_secs()
            )),
            Err(RecvTimeoutError::Disconnected) => Err("glbpd is stopping".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_times_out_and_refuses_when_full_or_gone() {
        let (a, rx) = asker::<u32>(1);
        let t = std::thread::spawn(move || {
            let reply = rx.recv().unwrap();
            reply.send(7).unwrap();
            rx
        });
        assert_eq!(a.ask(Duration::from_secs(5)), Ok(7));
        let rx = t.join().unwrap();
        // Nobody answers: the wait ends; the queue (one) is then full.
        let e = a.ask(Duration::from_millis(10)).unwrap_err();
        assert!(e.contains("no answer"), "{e}");
        let e = a.ask(Duration::from_millis(10)).unwrap_err();
        assert!(e.contains("too many"), "{e}");
        drop(rx);
        let e = a.ask(Duration::from_millis(10)).unwrap_err();
        assert!(e.contains("stopping"), "{e}");
    }
}
