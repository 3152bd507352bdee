//! Numbers and booleans as LiteLLM reads them (PyYAML, YAML 1.1): `20_000`, `0x1F`, `1_000.5`,
//! `yes/no/on/off`. serde_norway speaks YAML 1.2, where those are strings, so the number and bool
//! fields of the raw config use these `deserialize_with` functions, which accept both spellings.
//! A value of another type still fails, and the caller names its key path.

use std::{fmt, marker::PhantomData};

use serde::de::{self, Deserializer, Unexpected, Visitor};

/// An optional integer field (`u64`, `u32`, `u16`, `usize`...).
pub(crate) fn opt_int<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i128>,
{
    d.deserialize_any(Int(PhantomData))
}

/// An optional floating-point field.
pub(crate) fn opt_float<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    d.deserialize_any(Float)
}

/// An optional boolean field.
pub(crate) fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    d.deserialize_any(Bool)
}

/// A boolean field that is `false` when absent or null.
pub(crate) fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(opt_bool(d)?.unwrap_or(false))
}

/// A YAML 1.1 integer: `[-+]` then decimal with `_`, `0x`, `0o`/leading-`0` octal, or `0b`.
pub(crate) fn parse_int(s: &str) -> Option<i128> {
    let s = s.trim();
    let (negative, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if clean.is_empty() || digits.starts_with('_') {
        return None;
    }
    let value = if let Some(hex) = clean.strip_prefix("0x") {
        i128::from_str_radix(hex, 16).ok()?
    } else if let Some(bin) = clean.strip_prefix("0b") {
        i128::from_str_radix(bin, 2).ok()?
    } else if let Some(oct) = clean.strip_prefix("0o") {
        i128::from_str_radix(oct, 8).ok()?
    } else if clean.len() > 1 && clean.starts_with('0') {
        i128::from_str_radix(&clean[1..], 8).ok()?
    } else if clean.bytes().all(|b| b.is_ascii_digit()) {
        clean.parse().ok()?
    } else {
        return None;
    };
    Some(if negative { -value } else { value })
}

/// A YAML 1.1 float: an integer, `1_000.5`, `6.0e+3`, `.inf`, `-.inf`.
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    if let Some(i) = parse_int(s) {
        return Some(i as f64);
    }
    let s = s.trim();
    match s {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    let clean: String = s.chars().filter(|c| *c != '_').collect();
    let ok = !clean.is_empty()
        && clean
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    ok.then(|| clean.parse().ok()).flatten()
}

/// A YAML 1.1 boolean (PyYAML's set; `y`/`n` are strings there too).
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Some(true),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

struct Int<T>(PhantomData<T>);
struct Float;
struct Bool;

// === impl Int ===

impl<T: TryFrom<i128>> Int<T> {
    fn fit<E: de::Error>(&self, v: i128) -> Result<Option<T>, E> {
        T::try_from(v).map(Some).map_err(|_| {
            E::invalid_value(
                Unexpected::Other(&format!("{v} (out of range)")),
                &"an integer in range",
            )
        })
    }
}

impl<'de, T: TryFrom<i128>> Visitor<'de> for Int<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer (YAML 1.1 forms such as 20_000 are accepted)")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.fit(v.into())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.fit(v.into())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if v.fract() == 0.0 && v.abs() < 1e30 {
            self.fit(v as i128)
        } else {
            Err(E::invalid_type(Unexpected::Float(v), &self))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        match parse_int(v) {
            Some(i) => self.fit(i),
            None => Err(E::invalid_type(Unexpected::Str(v), &self)),
        }
    }
}

// === impl Float ===

impl<'de> Visitor<'de> for Float {
    type Value = Option<f64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number (YAML 1.1 forms such as 1_000.5 are accepted)")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v as f64))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v as f64))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        parse_float(v)
            .map(Some)
            .ok_or_else(|| E::invalid_type(Unexpected::Str(v), &self))
    }
}

// === impl Bool ===

impl<'de> Visitor<'de> for Bool {
    type Value = Option<bool>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a boolean (true/false, yes/no, on/off)")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        parse_bool(v)
            .map(Some)
            .ok_or_else(|| E::invalid_type(Unexpected::Str(v), &self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_as_pyyaml_reads_them() {
        assert_eq!(parse_int("20_000"), Some(20_000));
        assert_eq!(parse_int("+1_0"), Some(10));
        assert_eq!(parse_int("-7"), Some(-7));
        assert_eq!(parse_int("0x1F"), Some(31));
        assert_eq!(parse_int("0b101"), Some(5));
        assert_eq!(parse_int("017"), Some(15));
        assert_eq!(parse_int("0"), Some(0));
        for bad in ["", "_1", "1.5", "lots", "0xZZ", "1e3"] {
            assert_eq!(parse_int(bad), None, "{bad}");
        }
    }

    #[test]
    fn floats_and_bools_as_pyyaml_reads_them() {
        assert_eq!(parse_float("1_000.5"), Some(1000.5));
        assert_eq!(parse_float("6.0e+3"), Some(6000.0));
        assert_eq!(parse_float(".inf"), Some(f64::INFINITY));
        assert_eq!(parse_float("ten"), None);
        assert_eq!(parse_bool("yes"), Some(true));
        assert_eq!(parse_bool("OFF"), Some(false));
        assert_eq!(parse_bool("y"), None);
    }
}
