//! `JsonBody`: a JSON object parsed once into its top-level members as raw byte ranges, so the
//! gateway can rewrite `model` (and only what must change) and forward every other byte as received.

use std::{borrow::Cow, ops::Range};

use bytes::{BufMut, Bytes, BytesMut};
use serde::{
    Deserialize, Deserializer,
    de::{MapAccess, Visitor},
};
use serde_json::value::RawValue;

use crate::error::GatewayError;

/// A request body: the original bytes plus the span of each top-level member's value.
#[derive(Debug, Clone)]
pub struct JsonBody {
    raw: Bytes,
    members: Vec<Member>,
}

#[derive(Debug, Clone)]
struct Member {
    key: Box<str>,
    value: Range<usize>,
}

/// What to change on the way upstream.
#[derive(Debug, Default)]
pub struct Rewrite<'a> {
    /// New value for `model` (a plain string).
    pub model: Option<&'a str>,
    /// Top-level members to drop (gateway controls such as `cache`, `agent`; params a vendor rejects).
    pub remove: &'a [&'a str],
    /// Set `stream_options: {"include_usage": true}` so usage can be counted on streams.
    pub include_usage: bool,
}

struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

#[derive(Deserialize)]
struct Key<'a>(#[serde(borrow)] Cow<'a, str>);

// === impl JsonBody ===

impl JsonBody {
    /// Parses `raw` as a JSON object. Bad JSON or a non-object is a 400.
    pub fn parse(raw: Bytes) -> Result<Self, GatewayError> {
        let members = {
            let parsed: Members<'_> =
                serde_json::from_slice(&raw).map_err(|e| GatewayError::InvalidRequest {
                    message: format!("The request body is not valid JSON: {e}"),
                    param: None,
                    code: "invalid_json",
                })?;
            let base = raw.as_ptr() as usize;
            parsed
                .0
                .into_iter()
                .map(|(key, value)| {
                    // The raw value borrows from `raw`: its offset is a pointer difference.
                    let start = value.get().as_ptr() as usize - base;
                    Member {
                        key: key.into(),
                        value: start..start + value.get().len(),
                    }
                })
                .collect()
        };
        Ok(Self { raw, members })
    }

    /// The original bytes.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The raw JSON text of top-level member `key` (the last one if repeated).
    pub fn get(&self, key: &str) -> Option<&str> {
        let m = self.members.iter().rev().find(|m| &*m.key == key)?;
        std::str::from_utf8(&self.raw[m.value.clone()]).ok()
    }

    /// Member `key` deserialised as `T`; `None` when absent or `null`.
    pub fn field<'a, T: Deserialize<'a>>(
        &'a self,
        key: &str,
    ) -> Result<Option<T>, serde_json::Error> {
        match self.get(key) {
            None | Some("null") => Ok(None),
            Some(text) => serde_json::from_str(text).map(Some),
        }
    }

    /// Whether member `key` is present.
    pub fn has(&self, key: &str) -> bool {
        self.members.iter().any(|m| &*m.key == key)
    }

    /// The body to send upstream. Without changes the original bytes are reused as is; otherwise
    /// the object is written back member by member from the raw slices (values byte for byte).
    pub fn rewrite(&self, rw: &Rewrite<'_>) -> Bytes {
        let model_changes = rw
            .model
            .is_some_and(|m| self.field::<&str>("model").ok().flatten() != Some(m));
        let removes = self.members.iter().any(|m| rw.remove.contains(&&*m.key));
        let usage = rw.include_usage && !self.asks_usage();
        if !model_changes && !removes && !usage {
            return self.raw.clone();
        }
        let mut out = BytesMut::with_capacity(self.raw.len() + 48);
        out.put_u8(b'{');
        let mut first = true;
        let mut sep = |out: &mut BytesMut| {
            if !std::mem::take(&mut first) {
                out.put_u8(b',');
            }
        };
        for m in &self.members {
            let key = &*m.key;
            if rw.remove.contains(&key) || (usage && key == "stream_options") {
                continue;
            }
            sep(&mut out);
            write_json_str(&mut out, key);
            out.put_u8(b':');
            match (key, rw.model) {
                ("model", Some(model)) => write_json_str(&mut out, model),
                _ => out.put_slice(&self.raw[m.value.clone()]),
            }
        }
        if usage {
            sep(&mut out);
            out.put_slice(br#""stream_options":{"include_usage":true}"#);
        }
        out.put_u8(b'}');
        out.freeze()
    }

    /// A copy without the members `remove`, with member `key` set to the JSON text `value`
    /// (last); every other member byte for byte.
    pub fn with_member(
        &self,
        remove: &[&str],
        key: &str,
        value: &[u8],
    ) -> Result<Self, GatewayError> {
        let mut out = BytesMut::with_capacity(self.raw.len() + value.len() + key.len() + 4);
        out.put_u8(b'{');
        for m in &self.members {
            if remove.contains(&&*m.key) || &*m.key == key {
                continue;
            }
            write_json_str(&mut out, &m.key);
            out.put_u8(b':');
            out.put_slice(&self.raw[m.value.clone()]);
            out.put_u8(b',');
        }
        write_json_str(&mut out, key);
        out.put_u8(b':');
        out.put_slice(value);
        out.put_u8(b'}');
        Self::parse(out.freeze())
    }

    /// A copy with `message` (a JSON object) appended to the `messages` array.
    pub fn with_message(&self, message: &str) -> Result<Self, GatewayError> {
        let m = self
            .members
            .iter()
            .rev()
            .find(|m| &*m.key == "messages")
            .ok_or_else(|| GatewayError::invalid("no messages", None))?;
        let array = &self.raw[m.value.clone()];
        let close = m.value.start
            + array
                .iter()
                .rposition(|&b| b == b']')
                .ok_or_else(|| GatewayError::invalid("messages is not an array", None))?;
        let empty = array[1..array.len() - 1]
            .iter()
            .all(u8::is_ascii_whitespace);
        let mut out = BytesMut::with_capacity(self.raw.len() + message.len() + 1);
        out.put_slice(&self.raw[..close]);
        if !empty {
            out.put_u8(b',');
        }
        out.put_slice(message.as_bytes());
        out.put_slice(&self.raw[close..]);
        Self::parse(out.freeze())
    }

    /// Whether the client asked for usage on a stream (`stream_options.include_usage: true`).
    pub fn asks_usage(&self) -> bool {
        #[derive(Deserialize)]
        struct StreamOptions {
            #[serde(default)]
            include_usage: Option<bool>,
        }
        matches!(
            self.field::<StreamOptions>("stream_options"),
            Ok(Some(StreamOptions {
                include_usage: Some(true)
            }))
        )
    }
}

fn write_json_str(out: &mut BytesMut, s: &str) {
    // Writing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(out.writer(), s);
}

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
                    let v: &'de RawValue = map.next_value()?;
                    out.push((k, v));
                }
                Ok(Members(out))
            }
        }
        de.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(s: &'static str) -> JsonBody {
        JsonBody::parse(Bytes::from_static(s.as_bytes())).unwrap()
    }

    #[test]
    fn unchanged_body_is_reused() {
        let b = body(r#"{"model":"m","messages":[]}"#);
        let out = b.rewrite(&Rewrite {
            model: Some("m"),
            ..Default::default()
        });
        assert_eq!(out.as_ptr(), b.raw().as_ptr());
    }

    #[test]
    fn rewrites_model_and_keeps_other_bytes() {
        let b = body(
            r#"{ "model" : "public", "temperature": 0.70, "x_vendor": {"a" : [1, 2]}, "agent": {} }"#,
        );
        let out = b.rewrite(&Rewrite {
            model: Some("org/up\"stream"),
            remove: &["agent"],
            include_usage: false,
        });
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"model":"org/up\"stream","temperature":0.70,"x_vendor":{"a" : [1, 2]}}"#
        );
    }

    #[test]
    fn adds_usage_option_replacing_existing_stream_options() {
        let b = body(r#"{"model":"m","stream":true,"stream_options":{"include_usage":false}}"#);
        let out = b.rewrite(&Rewrite {
            include_usage: true,
            ..Default::default()
        });
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["stream_options"]["include_usage"], true);
        assert!(!b.asks_usage());
        let asked = body(r#"{"model":"m","stream_options":{"include_usage":true}}"#);
        assert!(asked.asks_usage());
        assert_eq!(
            asked
                .rewrite(&Rewrite {
                    include_usage: true,
                    ..Default::default()
                })
                .as_ptr(),
            asked.raw().as_ptr()
        );
    }

    #[test]
    fn appends_a_message() {
        let b = body(r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"n":1}"#);
        let out = b
            .with_message(r#"{"role":"assistant","content":"Hel"}"#)
            .unwrap();
        assert_eq!(
            std::str::from_utf8(out.raw()).unwrap(),
            r#"{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"Hel"}],"n":1}"#
        );
        let empty = body(r#"{"messages":[ ]}"#).with_message("{}").unwrap();
        assert_eq!(
            std::str::from_utf8(empty.raw()).unwrap(),
            r#"{"messages":[ {}]}"#
        );
    }

    #[test]
    fn escaped_keys_and_errors() {
        let b = body(r#"{"mo\u0064el":"m"}"#);
        assert_eq!(b.get("model"), Some(r#""m""#));
        assert!(JsonBody::parse(Bytes::from_static(b"[1]")).is_err());
        assert!(JsonBody::parse(Bytes::from_static(b"{\"a\":")).is_err());
        assert!(JsonBody::parse(Bytes::from_static(b"")).is_err());
    }
}
