//! Discrete-event simulator of a LAN of GLBP routers and hosts.
#![forbid(unsafe_code)]
