//! Names for Redis keys derived from secrets and requests.

/// A name for `bytes` in Redis keys: 32 hex digits of their XXH3-128. The algorithm is specified,
/// so every replica names the same entry alike whatever toolchain built it (std's
/// `DefaultHasher` promises no such thing).
pub fn digest(bytes: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(bytes))
}

#[cfg(test)]
mod tests {
    use super::digest;

    #[test]
    fn digests_are_xxh3_128_whatever_the_toolchain() {
        // XXH3-128 of the empty input, from the algorithm's reference implementation.
        assert_eq!(digest(b""), "99aa06d3014798d86001c324468d497f");
        let d = digest(b"sk-team");
        assert_eq!(d.len(), 32);
        assert_ne!(d, digest(b"sk-team2"));
    }
}
