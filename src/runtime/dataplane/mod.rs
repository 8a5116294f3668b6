//! The dataplane: what runs on the worker lcores. Poll-mode workers
//! ([`worker`]) take a burst, decide its packets' fates in stages
//! ([`pipeline`]) against the published snapshot ([`state`]) and the
//! worker's lookup tables over it ([`index`]), and count them
//! ([`counters`]); what they hand to the control lcore is policed per
//! class ([`police`]). No allocation, lock, syscall or log line per packet.

pub mod counters;
mod index;
pub mod pipeline;
pub mod police;
pub mod state;
pub mod worker;
