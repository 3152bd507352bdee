//! `Secret`: a string that never prints itself (keys, tokens, passwords), and [`redact`], which
//! takes every configured secret out of text the gateway did not write (an upstream's error body
//! that quotes the deployment's key) before it is passed on or logged.

use std::{borrow::Cow, fmt};

use parking_lot::RwLock;

/// Every secret value this process has been configured with. Process-wide on purpose: a
/// secret must stay redacted wherever text flows, including answers still in flight on a
/// runtime that a reload replaced, so values are only ever added.
static KNOWN: RwLock<Vec<Box<str>>> = RwLock::new(Vec::new());

/// Values shorter than this are not searched for (they would redact ordinary words).
const MIN_REDACTED_LEN: usize = 6;

/// What a redacted secret becomes.
pub const REDACTED: &str = "[REDACTED]";

/// A secret value. `Debug` and `Display` print `***`; read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Box<str>);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<Box<str>>) -> Self {
        let value = value.into();
        remember(&value);
        Self(value)
    }

    /// The value, for the one place that must send or compare it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

fn remember(value: &str) {
    if value.len() < MIN_REDACTED_LEN || KNOWN.read().iter().any(|k| &**k == value) {
        return;
    }
    let mut known = KNOWN.write();
    if !known.iter().any(|k| &**k == value) {
        known.push(value.into());
    }
}

/// `text` with every configured secret replaced by `[REDACTED]` (borrowed when none occurs).
pub fn redact(text: &[u8]) -> Cow<'_, [u8]> {
    let known = KNOWN.read();
    let mut out: Cow<'_, [u8]> = Cow::Borrowed(text);
    for secret in known.iter() {
        let needle = secret.as_bytes();
        if memchr::memmem::find(&out, needle).is_none() {
            continue;
        }
        let mut replaced = Vec::with_capacity(out.len());
        let mut rest: &[u8] = &out;
        while let Some(i) = memchr::memmem::find(rest, needle) {
            replaced.extend_from_slice(&rest[..i]);
            replaced.extend_from_slice(REDACTED.as_bytes());
            rest = &rest[i + needle.len()..];
        }
        replaced.extend_from_slice(rest);
        out = Cow::Owned(replaced);
    }
    out
}

/// [`redact`] for a string.
pub fn redact_str(text: &str) -> Cow<'_, str> {
    match redact(text.as_bytes()) {
        Cow::Borrowed(_) => Cow::Borrowed(text),
        Cow::Owned(b) => Cow::Owned(String::from_utf8_lossy(&b).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::{Secret, redact};

    #[test]
    fn redacts_every_configured_secret_wherever_it_occurs() {
        let _a = Secret::new("sk-redact-me-AAAA");
        let _b = Secret::new("sk-redact-me-BBBB");
        let text = b"bad key sk-redact-me-AAAA (sk-redact-me-BBBB, sk-redact-me-AAAA) ok";
        assert_eq!(
            &*redact(text),
            b"bad key [REDACTED] ([REDACTED], [REDACTED]) ok"
        );
        assert!(matches!(
            redact(b"nothing here"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn never_prints_its_value() {
        let s = Secret::new("sk-very-secret");
        assert!(!format!("{s} {s:?} {s:#?}").contains("very"));
        assert_eq!(s.expose(), "sk-very-secret");
    }
}
