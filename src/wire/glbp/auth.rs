//! GLBP authentication: plain text, MD5 key-string and MD5 key-chain.
//!
//! [`sign`] fills the digest of an emitted message, [`verify`] checks a
//! received one over its bytes as they are. Digests and passwords are
//! compared in constant time.

use super::{
    get_u32, Packet, AUTH_MD5_CHAIN, AUTH_MD5_STRING, AUTH_NONE, AUTH_TEXT, MD5_LEN, TLV_AUTH,
};
use md5::{Digest, Md5};
use std::collections::BTreeMap;
use std::net::IpAddr;
use subtle::ConstantTimeEq;

/// A key chain: key id -> key string (IOS `key chain`; key lifetimes are
/// not modelled).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct KeyChain {
    keys: BTreeMap<u32, Vec<u8>>,
}

impl KeyChain {
    /// An empty chain.
    pub fn new() -> KeyChain {
        KeyChain::default()
    }
    /// Adds or replaces key `id`.
    pub fn insert(&mut self, id: u32, key: impl Into<Vec<u8>>) {
        self.keys.insert(id, key.into());
    }
    /// The key string of `id`.
    pub fn get(&self, id: u32) -> Option<&[u8]> {
        self.keys.get(&id).map(Vec::as_slice)
    }
}

impl std::fmt::Debug for KeyChain {
    /// Lists key ids only, never key strings.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyChain")
            .field("ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The authentication configured on a group.
#[derive(Clone, PartialEq, Eq)]
pub enum AuthKey {
    /// No authentication: messages must carry no (or a type-0) Auth TLV.
    None,
    /// `glbp N authentication text STRING`.
    Text(Vec<u8>),
    /// `glbp N authentication md5 key-string STRING`.
    Md5String(Vec<u8>),
    /// `glbp N authentication md5 key-chain NAME`.
    Md5Chain(KeyChain),
}

impl std::fmt::Debug for AuthKey {
    /// Never prints secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthKey::None => f.write_str("None"),
            AuthKey::Text(_) => f.write_str("Text(..)"),
            AuthKey::Md5String(_) => f.write_str("Md5String(..)"),
            AuthKey::Md5Chain(c) => f.debug_tuple("Md5Chain").field(c).finish(),
        }
    }
}

/// Why a message failed authentication (or could not be signed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// The message or its Auth TLV does not parse.
    Malformed,
    /// Authentication is configured but the message carries none.
    Missing,
    /// The message is authenticated with another type than configured.
    TypeMismatch,
    /// Key-chain key id not in the chain.
    UnknownKeyId(u32),
    /// Wrong plain-text password.
    BadText,
    /// Wrong MD5 digest.
    BadDigest,
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthError::Malformed => f.write_str("malformed authentication TLV"),
            AuthError::Missing => f.write_str("authentication missing"),
            AuthError::TypeMismatch => f.write_str("authentication type mismatch"),
            AuthError::UnknownKeyId(id) => write!(f, "unknown key id {id}"),
            AuthError::BadText => f.write_str("bad authentication text"),
            AuthError::BadDigest => f.write_str("bad MD5 digest"),
        }
    }
}

impl std::error::Error for AuthError {}

/// Keyed MD5 digest of a GLBP message.
///
/// **Not yet verified against IOS.** The construction comes from a public
/// password cracker's GLBP parser (docs/protocol.md §11.2): RFC 1828-style
/// `MD5(K || pad(K) || M || K)`, where `pad(K)` is MD5's own padding of `K`
/// alone (0x80, zeros, 64-bit little-endian bit length, filling K to a whole
/// number of 64-byte blocks) and `M` is the whole GLBP message with its 16
/// digest bytes, at `digest_at`, replaced by the sender's source address:
/// IPv4 address followed by 12 zero bytes, or the 16-byte IPv6 address
/// (IPv6 is a hypothesis). Every other byte is taken as it is, so verifying
/// a received message covers its junk bytes too.
///
/// Returns `None` when `digest_at + 16` runs past `msg`.
pub fn keyed_md5(
    key: &[u8],
    msg: &[u8],
    digest_at: usize,
    src_ip: IpAddr,
) -> Option<[u8; MD5_LEN]> {
    let (before, rest) = msg.split_at_checked(digest_at)?;
    let after = rest.get(MD5_LEN..)?;
    let mut substitute = [0u8; MD5_LEN];
    match src_ip {
        IpAddr::V4(a) => substitute[..4].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => substitute.copy_from_slice(&a.octets()),
    }
    Some(rfc1828_md5(key, &[before, &substitute, after]))
}

/// `MD5(K || pad(K) || parts... || K)`; `pad(K)` is MD5's padding of `K`
/// alone, so `K || pad(K)` fills whole 64-byte blocks.
fn rfc1828_md5(key: &[u8], parts: &[&[u8]]) -> [u8; MD5_LEN] {
    let mut h = Md5::new();
    h.update(key);
    let zeros = (119 - key.len() % 64) % 64;
    h.update([0x80]);
    h.update(&[0u8; 64][..zeros]);
    h.update((key.len() as u64).wrapping_mul(8).to_le_bytes());
    for part in parts {
        h.update(part);
    }
    h.update(key);
    h.finalize().into()
}

/// Where the Auth TLV of a message sits, and what it holds.
struct AuthField {
    auth_type: u8,
    /// Offset of the auth data (after type/length/auth type/auth length).
    data_at: usize,
    data_len: usize,
}

/// Finds the (first) Auth TLV; its lengths are checked by
/// [`super::AuthRepr::parse_tlv`].
fn find_auth(msg: &[u8]) -> Result<Option<AuthField>, AuthError> {
    let p = Packet::new_checked(msg).map_err(|_| AuthError::Malformed)?;
    for tlv in p.tlvs() {
        let tlv = tlv.map_err(|_| AuthError::Malformed)?;
        if tlv.kind == TLV_AUTH {
            let parsed = super::AuthRepr::parse_tlv(tlv.bytes).map_err(|_| AuthError::Malformed)?;
            return Ok(parsed.map(|a| AuthField {
                auth_type: a.auth_type(),
                data_at: tlv.offset + 4,
                data_len: usize::from(tlv.bytes[3]),
            }));
        }
    }
    Ok(None)
}

/// The MD5 key and digest offset for `field` under `key`.
fn md5_params<'k>(
    msg: &[u8],
    field: &AuthField,
    key: &'k AuthKey,
) -> Result<(&'k [u8], usize), AuthError> {
    match (key, field.auth_type) {
        (AuthKey::Md5String(k), AUTH_MD5_STRING) => Ok((k.as_slice(), field.data_at)),
        (AuthKey::Md5Chain(chain), AUTH_MD5_CHAIN) => {
            let id = get_u32(msg, field.data_at);
            let k = chain.get(id).ok_or(AuthError::UnknownKeyId(id))?;
            Ok((k, field.data_at + 4))
        }
        _ => Err(AuthError::TypeMismatch),
    }
}

/// Fills the MD5 digest of an emitted message in place (its Auth TLV must be
/// MD5 key-string or key-chain, the key-chain key chosen by the TLV's key
/// id). With [`AuthKey::None`] or [`AuthKey::Text`] there is nothing to
/// compute; the message's Auth TLV must then match the configuration.
pub fn sign(msg: &mut [u8], key: &AuthKey, src_ip: IpAddr) -> Result<(), AuthError> {
    let field = find_auth(msg)?;
    match (key, field) {
        (AuthKey::None, None) => Ok(()),
        (AuthKey::None, Some(_)) | (_, None) => Err(AuthError::TypeMismatch),
        (AuthKey::Text(_), Some(f)) if f.auth_type == AUTH_TEXT => Ok(()),
        (key, Some(f)) => {
            let (k, at) = md5_params(msg, &f, key)?;
            let digest = keyed_md5(k, msg, at, src_ip).ok_or(AuthError::Malformed)?;
            msg[at..at + MD5_LEN].copy_from_slice(&digest);
            Ok(())
        }
    }
}

/// Verifies a received message as-is against the configured key.
///
/// - [`AuthKey::None`]: accepted when there is no Auth TLV or it is type 0.
/// - [`AuthKey::Text`]: the TLV must be plain text and equal.
/// - MD5: the TLV must be of the configured MD5 type and the digest (of the
///   key chosen by key id, for a chain) must match.
pub fn verify(msg: &[u8], key: &AuthKey, src_ip: IpAddr) -> Result<(), AuthError> {
    let field = find_auth(msg)?;
    let field = match (key, field) {
        (AuthKey::None, None) => return Ok(()),
        (AuthKey::None, Some(_)) => return Err(AuthError::TypeMismatch),
        (_, None) => return Err(AuthError::Missing),
        (_, Some(f)) => f,
    };
    debug_assert_ne!(field.auth_type, AUTH_NONE);
    if let AuthKey::Text(expected) = key {
        if field.auth_type != AUTH_TEXT {
            return Err(AuthError::TypeMismatch);
        }
        let got = &msg[field.data_at..field.data_at + field.data_len];
        return if bool::from(got.ct_eq(expected.as_slice())) {
            Ok(())
        } else {
            Err(AuthError::BadText)
        };
    }
    let (k, at) = md5_params(msg, &field, key)?;
    let expected = keyed_md5(k, msg, at, src_ip).ok_or(AuthError::Malformed)?;
    if bool::from(msg[at..at + MD5_LEN].ct_eq(&expected)) {
        Ok(())
    } else {
        Err(AuthError::BadDigest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keyed-MD5 kernel against John the Ripper's `hsrp` format test
    /// vectors (salt = the HSRP message with its digest field prepared;
    /// the same kernel JtR applies to GLBP), an independent implementation.
    #[test]
    fn kernel_matches_john_the_ripper_vectors() {
        let vectors = [
            (
                "000004030a64010000000000000000000a000064041c010000000a0000140000000000000000000000000000000000000000",
                "52e1db09d18d695b8fefb3730ff8d9d6",
                "password12345",
            ),
            (
                "000004030a5a01000000000000000000ac102801041c01000000ac1028140000000000000000000000000000000000000000",
                "f15dfa631a0679e0801f8e6b0c0c17ac",
                "openwall",
            ),
            (
                "000010030a64010000000000000000000a000064041c010000000a0000140000000000000000000000000000000000000000",
                "f02fc41b1b516e2d1261d8800d39ccea",
                "openwall12345",
            ),
        ];
        for (salt, digest, key) in vectors {
            let salt = crate::wire::tests_hex(salt);
            assert_eq!(
                rfc1828_md5(key.as_bytes(), &[&salt]).to_vec(),
                crate::wire::tests_hex(digest),
                "{key}"
            );
        }
    }

    #[test]
    fn long_keys_pad_to_whole_blocks() {
        // 55 bytes: one block; 56 bytes: padding spills into a second block.
        for n in [0usize, 55, 56, 63, 64, 100] {
            let key = vec![b'k'; n];
            let mut h = Md5::new();
            h.update(&key);
            let mut padded = key.clone();
            padded.push(0x80);
            while padded.len() % 64 != 56 {
                padded.push(0);
            }
            padded.extend_from_slice(&((n as u64) * 8).to_le_bytes());
            assert_eq!(padded.len() % 64, 0);
            padded.extend_from_slice(b"msg");
            padded.extend_from_slice(&key);
            let expected: [u8; 16] = Md5::digest(&padded).into();
            assert_eq!(
                rfc1828_md5(&key, &[b"m", b"sg"]),
                expected,
                "key length {n}"
            );
        }
    }
}
