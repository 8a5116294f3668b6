//! GLBP protocol engine: pure state machines. Events in, actions out; time is
//! an argument. No DPDK, no sockets, no clock.
#![forbid(unsafe_code)]
