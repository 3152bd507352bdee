//! Amounts of money.

/// Micro-dollars as a USD decimal with six places (`1234` -> `0.001234`): exact, so the sum of
/// the headers of a key's answers is its recorded spend.
pub fn usd(micros: u64) -> String {
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::usd;

    #[test]
    fn usd_is_exact() {
        assert_eq!(usd(0), "0.000000");
        assert_eq!(usd(1234), "0.001234");
        assert_eq!(usd(12_000_001), "12.000001");
    }
}
