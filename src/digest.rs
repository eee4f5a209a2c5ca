//! SHA-256 (FIPS 180-4), for the content hash that names a policy in audit logs and bundles.
//!
//! Written here rather than taken from a crate: it runs once per compile over the policy text
//! (far below the parser's cost), needs no speed beyond that, and keeps the library free of
//! dependencies. The unit tests hold it to the standard's test vectors.

use std::fmt;

/// The SHA-256 hash of a policy's source text: what every answer can name as the policy it
/// came from ([`crate::Engine::policy_hash`]), and what a bundle records of its source.
///
/// It identifies content; it is not a signature. Its `Display` is 64 lowercase hex digits,
/// the same as `sha256sum` prints for the policy file.
///
/// ```
/// let engine = entitle::Engine::from_source("p", "policy \"p\"\n")?;
/// assert_eq!(engine.policy_hash(), entitle::PolicyHash::of(b"policy \"p\"\n"));
/// assert_eq!(engine.policy_hash().to_string().len(), 64);
/// # Ok::<(), entitle::Diagnostics>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PolicyHash(pub(crate) [u8; 32]);

impl PolicyHash {
    /// The SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> PolicyHash {
        PolicyHash(sha256(bytes))
    }

    /// The hash's 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The hash with these 32 bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> PolicyHash {
        PolicyHash(bytes)
    }
}

impl fmt::Display for PolicyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for PolicyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PolicyHash({self})")
    }
}

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
    0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
    0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
    0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
];

const INITIAL: [u32; 8] =
    [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut state = INITIAL;
    let mut blocks = bytes.chunks_exact(64);
    for block in blocks.by_ref() {
        compress(&mut state, block);
    }
    // The padding: a 1 bit, zeros, and the message length in bits, in one or two blocks.
    let rest = blocks.remainder();
    let mut tail = [0u8; 128];
    let used = if rest.len() < 56 { 64 } else { 128 };
    for (slot, byte) in tail.iter_mut().zip(rest) {
        *slot = *byte;
    }
    if let Some(marker) = tail.get_mut(rest.len()) {
        *marker = 0x80;
    }
    let bits = (bytes.len() as u64).wrapping_mul(8).to_be_bytes();
    if let Some(length) = tail.get_mut(used - 8..used) {
        length.copy_from_slice(&bits);
    }
    for block in tail.get(..used).unwrap_or_default().chunks_exact(64) {
        compress(&mut state, block);
    }
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// One round of the compression function over a 64-byte block.
#[expect(
    clippy::indexing_slicing,
    reason = "`t` runs over 16..64, so `t - 16` and `t - 2` stay inside the 64-word schedule, and `chunks_exact(4)` yields four bytes"
)]
fn compress(state: &mut [u32; 8], block: &[u8]) {
    let mut w = [0u32; 64];
    for (word, bytes) in w.iter_mut().zip(block.chunks_exact(4)) {
        *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    for t in 16..64 {
        let (w15, w2) = (w[t - 15], w[t - 2]);
        let s0 = w15.rotate_right(7) ^ w15.rotate_right(18) ^ (w15 >> 3);
        let s1 = w2.rotate_right(17) ^ w2.rotate_right(19) ^ (w2 >> 10);
        w[t] = w[t - 16].wrapping_add(s0).wrapping_add(w[t - 7]).wrapping_add(s1);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    for (k, w) in K.iter().zip(w) {
        let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
        let choice = (e & f) ^ (!e & g);
        let t1 = h.wrapping_add(s1).wrapping_add(choice).wrapping_add(*k).wrapping_add(w);
        let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
        let majority = (a & b) ^ (a & c) ^ (b & c);
        let t2 = s0.wrapping_add(majority);
        (h, g, f, e, d, c, b, a) = (g, f, e, d.wrapping_add(t1), c, b, a, t1.wrapping_add(t2));
    }
    for (word, add) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *word = word.wrapping_add(add);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vectors of FIPS 180-4's examples and NIST's byte-oriented test suite, and the
    /// block-boundary lengths where the padding moves into a second block.
    #[test]
    fn matches_the_standard_vectors() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
            ),
            (
                b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
                "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(PolicyHash::of(input).to_string(), *expected, "{}", String::from_utf8_lossy(input));
        }
        let million_a = vec![b'a'; 1_000_000];
        assert_eq!(
            PolicyHash::of(&million_a).to_string(),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
    }

    #[test]
    fn every_length_around_a_block_boundary_differs() {
        let hashes: std::collections::HashSet<PolicyHash> = (50..140).map(|n| PolicyHash::of(&vec![b'x'; n])).collect();
        assert_eq!(hashes.len(), 90);
    }
}
