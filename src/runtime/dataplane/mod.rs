//! The dataplane: what runs on the worker lcores. Poll-mode workers
//! ([`worker`]) take a burst, decide each packet's fate against the
//! published snapshot ([`state`]) and count it ([`counters`]); what they
//! hand to the control lcore is policed per class ([`police`]). No
//! allocation, lock, syscall or log line per packet.

pub mod counters;
pub mod police;
pub mod state;
pub mod worker;
