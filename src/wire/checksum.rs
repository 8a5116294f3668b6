//! The Internet checksum (RFC 1071) and its pseudo-headers.
//!
//! All functions work on borrowed bytes and never allocate.

use std::net::{Ipv4Addr, Ipv6Addr};

/// One's-complement sum of `data` as big-endian 16-bit words (an odd trailing
/// byte is padded with zero), folded to 16 bits, **not** complemented.
#[inline]
pub fn data(data: &[u8]) -> u16 {
    // Summing big-endian 32-bit words is congruent to summing the 16-bit
    // ones modulo 0xffff (2^16 = 1 mod 0xffff), and halves the additions:
    // this runs on every forwarded packet's IPv4 header.
    let mut acc: u64 = 0;
    let mut quads = data.chunks_exact(4);
    for w in &mut quads {
        acc += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    let mut pairs = quads.remainder().chunks_exact(2);
    for w in &mut pairs {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = pairs.remainder() {
        acc += u64::from(*last) << 8;
    }
    fold64(acc)
}

/// [`data`] of a 20-byte IPv4 header (one without options), always
/// inlined and unrolled: the forwarding fast path checks one per packet,
/// and must not depend on the compiler's mood about inlining [`data`].
#[inline(always)]
pub fn header20(h: &[u8; 20]) -> u16 {
    let w = |i: usize| u64::from(u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]));
    fold64(w(0) + w(4) + w(8) + w(12) + w(16))
}

/// Native-endian partial sum of `b` (a fixed size, a multiple of 8 bytes),
/// for [`finish_ne`]. The one's-complement sum does not depend on byte
/// order (RFC 1071 §2(B)): words are added as they lie in memory, eight
/// bytes per load and no byte swap each, and the result is swapped once.
/// Partial sums of several blocks, and [`ne_word`]s, add up.
#[inline(always)]
pub fn partial_ne<const N: usize>(b: &[u8; N]) -> u64 {
    const { assert!(N % 8 == 0) };
    let mut acc = 0u64;
    for c in b.chunks_exact(8) {
        let x = u64::from_ne_bytes(<[u8; 8]>::try_from(c).unwrap_or([0; 8]));
        acc += (x & 0xffff_ffff) + (x >> 32);
    }
    acc
}

/// A big-endian 16-bit word (a pseudo-header's length or protocol) as a
/// term of a native-endian partial sum.
#[inline(always)]
pub const fn ne_word(be: u16) -> u64 {
    u16::from_ne_bytes(be.to_be_bytes()) as u64
}

/// The 16-bit sum ([`data`]'s convention, big-endian) of a native-endian
/// partial sum.
#[inline(always)]
pub const fn finish_ne(acc: u64) -> u16 {
    u16::from_be(fold64(acc))
}

/// Folds a 64-bit accumulator (of 16- or 32-bit words) into a 16-bit
/// one's-complement sum: 0 only for 0.
///
/// Two end-around-carry additions (high half plus low half, plus the
/// carry), without a loop: this runs on every forwarded IPv4 packet and
/// twice per neighbour solicitation answered, and the shift-and-add loop
/// was a long dependency chain with a branch.
#[inline(always)]
pub const fn fold64(acc: u64) -> u16 {
    // A carry out leaves room for itself: (a + b) mod 2^32 <= 2^32 - 2
    // when a + b carried.
    let (s, c) = (acc as u32).overflowing_add((acc >> 32) as u32);
    fold(s + c as u32)
}

/// Folds a 32-bit accumulator into a 16-bit one's-complement sum (see
/// [`fold64`]).
#[inline(always)]
pub const fn fold(acc: u32) -> u16 {
    let (s, c) = (acc as u16).overflowing_add((acc >> 16) as u16);
    s + c as u16
}

/// One's-complement sum of several partial sums.
#[inline]
pub fn combine(parts: &[u16]) -> u16 {
    fold(parts.iter().map(|&p| u32::from(p)).sum())
}

/// Sum of the IPv4 pseudo-header (RFC 768): addresses, protocol, length.
#[inline]
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u16) -> u16 {
    combine(&[
        data(&src.octets()),
        data(&dst.octets()),
        u16::from(protocol),
        length,
    ])
}

/// Sum of the IPv6 pseudo-header (RFC 8200 §8.1): addresses, upper-layer
/// length, next header.
#[inline]
pub fn pseudo_header_v6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, length: u32) -> u16 {
    combine(&[
        data(&src.octets()),
        data(&dst.octets()),
        fold(length),
        u16::from(next_header),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 16-bit-word sum of RFC 1071, as the reference.
    fn data_by_words(data: &[u8]) -> u16 {
        let mut acc: u32 = 0;
        let mut chunks = data.chunks_exact(2);
        for w in &mut chunks {
            acc += u32::from(u16::from_be_bytes([w[0], w[1]]));
        }
        if let [last] = chunks.remainder() {
            acc += u32::from(*last) << 8;
        }
        fold(acc)
    }

    #[test]
    fn word_sum_matches_the_16_bit_reference() {
        let mut x: u32 = 0x1234_5678;
        for len in 0..200usize {
            for fill in [0u8, 0xff, 0x5a] {
                let v: Vec<u8> = (0..len)
                    .map(|i| {
                        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                        if i % 3 == 0 {
                            fill
                        } else {
                            (x >> 24) as u8
                        }
                    })
                    .collect();
                assert_eq!(data(&v), data_by_words(&v), "len {len}");
                if let Ok(h) = <&[u8; 20]>::try_from(&v[..]) {
                    assert_eq!(header20(h), data_by_words(&v), "header, fill {fill}");
                }
                let same = vec![fill; len];
                assert_eq!(data(&same), data_by_words(&same), "len {len} fill {fill}");
                if let Ok(h) = <&[u8; 20]>::try_from(&same[..]) {
                    assert_eq!(header20(h), data_by_words(&same), "header, all {fill}");
                }
            }
        }
    }

    /// Folding by shifts and adds until 16 bits are left, as the reference.
    fn fold_by_loop(mut acc: u64) -> u16 {
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc as u16
    }

    #[test]
    fn folding_matches_the_reference() {
        let mut next = crate::wire::tests_rng(0x2545_f491_4f6c_dd1d);
        let edges = [
            0,
            1,
            0xffff,
            0x1_0000,
            0x1_fffe,
            0xffff_ffff,
            0x1_0000_0000,
            0xffff_0000_ffff,
            0xffff_ffff_ffff_ffff,
            0x8000_0000_8000_0000,
            0xffff_ffff_0000_0001,
        ];
        for i in 0..100_000 {
            let x = next();
            let acc = edges.get(i).copied().unwrap_or(x >> (i % 48));
            assert_eq!(fold64(acc), fold_by_loop(acc), "{acc:#x}");
            let small = acc as u32;
            assert_eq!(fold(small), fold_by_loop(u64::from(small)), "{small:#x}");
        }
    }

    #[test]
    fn native_endian_sums_match_the_reference() {
        let mut next = crate::wire::tests_rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..2000 {
            let mut b = [0u8; 64];
            for (i, v) in b.iter_mut().enumerate() {
                // Some all-ones and all-zero blocks: the carries' edge cases.
                *v = match round % 5 {
                    0 => 0xff,
                    1 if i % 2 == 0 => 0,
                    _ => next() as u8,
                };
            }
            let (lo, hi) = b.split_at(32);
            let (lo, hi) = (
                <&[u8; 32]>::try_from(lo).unwrap(),
                <&[u8; 32]>::try_from(hi).unwrap(),
            );
            let word = next() as u16;
            let want = combine(&[data_by_words(&b), word]);
            assert_eq!(finish_ne(partial_ne(&b) + ne_word(word)), want);
            assert_eq!(
                finish_ne(partial_ne(lo) + partial_ne(hi) + ne_word(word)),
                want
            );
        }
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the sum of 0001 f203 f4f5 f6f7 is 0xddf2.
        assert_eq!(
            data(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0xddf2
        );
        // Odd length pads with a zero byte.
        assert_eq!(data(&[0x12]), 0x1200);
        assert_eq!(data(&[]), 0);
    }
}
