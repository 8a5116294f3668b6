//! Authentication: the auth TLV we send, the check of what we receive,
//! and the MD5 nonce (docs/protocol.md §4).

use super::{Group, NonceState};
use crate::protocol::config::Authentication;
use crate::protocol::{Millis, RxMessage};
use crate::wire::glbp::{AuthRepr, GlbpRepr};

/// The nonce rotates about this often (docs/protocol.md §4.6).
const NONCE_ROTATE_MS: Millis = 20_000;
/// At most this many peer echoes fit in a type-4 TLV (8 + 12 N <= 255).
const MAX_NONCE_PEERS: usize = 20;

impl Group {
    pub(super) fn auth_tlv(&self) -> Option<AuthRepr> {
        match &self.cfg.authentication {
            Authentication::None => None,
            Authentication::Text(s) => Some(AuthRepr::Text(s.as_bytes().to_vec())),
            Authentication::Md5KeyString(_) => Some(AuthRepr::Md5String { digest: [0; 16] }),
            Authentication::Md5KeyChain(_) => Some(AuthRepr::Md5Chain {
                key_id: self.cfg.authentication.send_key_id().unwrap_or(0),
                digest: [0; 16],
            }),
        }
    }

    pub(super) fn new_nonce(&mut self, now: Millis, counter: u8) -> NonceState {
        NonceState {
            counter,
            nonce: self.rng.next_u64() as u32,
            rotate_at: now + NONCE_ROTATE_MS,
            peers: self.nonce.take().map(|n| n.peers).unwrap_or_default(),
        }
    }

    /// Starts a new nonce when the current one is due to rotate.
    pub(super) fn rotate_nonce(&mut self, now: Millis) {
        if let Some(n) = &self.nonce {
            if n.rotate_at <= now {
                let c = n.counter.wrapping_add(1);
                self.nonce = Some(self.new_nonce(now, c));
            }
        }
    }

    /// Remembers the nonce a peer sent, to echo it in our type-4 TLV
    /// (at most `MAX_NONCE_PEERS` peers).
    pub(super) fn record_nonce(&mut self, repr: &GlbpRepr) {
        if let (Some(n), Some(peer)) = (self.nonce.as_mut(), &repr.nonce) {
            if n.peers.len() < MAX_NONCE_PEERS || n.peers.contains_key(&repr.owner) {
                n.peers.insert(repr.owner, peer.nonce);
            }
        }
    }

    pub(super) fn auth_ok(&self, m: &RxMessage) -> bool {
        match (&self.cfg.authentication, &m.repr.auth) {
            (Authentication::None, None) => true,
            (Authentication::Text(k), Some(AuthRepr::Text(got))) => k.as_bytes() == got.as_slice(),
            (Authentication::Md5KeyString(_), Some(AuthRepr::Md5String { .. }))
            | (Authentication::Md5KeyChain(_), Some(AuthRepr::Md5Chain { .. })) => m.auth_ok,
            _ => false,
        }
    }
}
