//! `Form`: a `multipart/form-data` body (`/v1/audio/transcriptions`) split into its parts as byte
//! ranges, so the gateway can read the text fields and forward the body as received, with only
//! the `model` field's value replaced when the upstream name differs.

use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};
use memchr::memmem;
use serde_json::{Map, Value};

use super::JsonBody;
use crate::error::GatewayError;

/// At most this many parts; a form with more is refused (the OpenAI forms have a handful).
const MAX_PARTS: usize = 256;

/// A parsed multipart form: the original bytes, the boundary and where each part lies.
#[derive(Debug, Clone)]
pub struct Form {
    raw: Bytes,
    boundary: String,
    parts: Vec<FormPart>,
}

/// One part: its field name, whether it is a file, and the span of its content.
#[derive(Debug, Clone)]
struct FormPart {
    name: String,
    filename: Option<String>,
    content: Range<usize>,
}

// === impl Form ===

impl Form {
    /// Parses `raw` as a `multipart/form-data` body whose `content-type` is `content_type`.
    /// A missing boundary or a malformed body is a 400.
    pub fn parse(content_type: &str, raw: Bytes) -> Result<Self, GatewayError> {
        let boundary = boundary(content_type).ok_or_else(|| {
            GatewayError::invalid(
                "expected a multipart/form-data body with a boundary (the `file` and `model` fields)",
                None,
            )
        })?;
        let bad = |why: &str| {
            GatewayError::invalid(format!("malformed multipart/form-data body: {why}"), None)
        };
        let delimiter = format!("--{boundary}");
        let finder = memmem::Finder::new(delimiter.as_bytes());
        let mut at = finder.find(&raw).ok_or_else(|| bad("no boundary found"))? + delimiter.len();
        let mut parts = Vec::new();
        loop {
            let rest = &raw[at..];
            if rest.starts_with(b"--") {
                break;
            }
            if !rest.starts_with(b"\r\n") {
                return Err(bad("a boundary is not followed by a line break"));
            }
            let head_start = at + 2;
            let head_len = memmem::find(&raw[head_start..], b"\r\n\r\n")
                .ok_or_else(|| bad("a part has no end of headers"))?;
            let head = std::str::from_utf8(&raw[head_start..head_start + head_len])
                .map_err(|_| bad("part headers are not UTF-8"))?;
            let content_start = head_start + head_len + 4;
            let end = finder
                .find(&raw[content_start..])
                .map(|i| content_start + i)
                .ok_or_else(|| bad("the closing boundary is missing"))?;
            // The CRLF before a delimiter belongs to the delimiter.
            let content_end = if raw[..end].ends_with(b"\r\n") {
                end - 2
            } else {
                return Err(bad("a boundary is not preceded by a line break"));
            };
            let (name, filename) = disposition(head).ok_or_else(|| {
                bad("a part has no `Content-Disposition: form-data; name=...` header")
            })?;
            parts.push(FormPart {
                name,
                filename,
                content: content_start..content_end,
            });
            if parts.len() > MAX_PARTS {
                return Err(bad("too many parts"));
            }
            at = end + delimiter.len();
        }
        Ok(Self {
            raw,
            boundary: boundary.to_owned(),
            parts,
        })
    }

    /// The text fields as a JSON object of strings (`stream` and numbers as JSON values when they
    /// parse as such); a file field appears with its file name, so `file` can be checked present.
    pub fn fields(&self) -> Result<JsonBody, GatewayError> {
        let mut map = Map::new();
        for part in &self.parts {
            // A file's bytes are never copied into the fields; `file` is a file part even
            // when a client leaves out its file name.
            let value = match &part.filename {
                Some(name) => Value::String(name.clone()),
                None if part.name == "file" => Value::String(String::new()),
                None => {
                    let text = String::from_utf8_lossy(&self.raw[part.content.clone()]);
                    match part.name.as_str() {
                        "model" | "prompt" | "language" | "response_format" => {
                            Value::String(text.into_owned())
                        }
                        _ => serde_json::from_str::<Value>(&text)
                            .ok()
                            .filter(|v| !v.is_object() && !v.is_array())
                            .unwrap_or_else(|| Value::String(text.into_owned())),
                    }
                }
            };
            // A field repeated (`timestamp_granularities[]`) keeps its last value here; the
            // forwarded body keeps them all.
            map.insert(part.name.clone(), value);
        }
        let json = serde_json::to_vec(&Value::Object(map))
            .map_err(|e| GatewayError::Internal(format!("serialising form fields: {e}")))?;
        JsonBody::parse(Bytes::from(json))
    }

    /// The `content-type` to forward (the same boundary).
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The body to send upstream: as received, with the `model` field's value set to `model`
    /// (the original bytes are reused when it already is).
    pub fn with_model(&self, model: &str) -> Bytes {
        let Some(part) = self
            .parts
            .iter()
            .find(|p| p.name == "model" && p.filename.is_none())
        else {
            return self.raw.clone();
        };
        if &self.raw[part.content.clone()] == model.as_bytes() {
            return self.raw.clone();
        }
        let mut out = BytesMut::with_capacity(self.raw.len() + model.len());
        out.put_slice(&self.raw[..part.content.start]);
        out.put_slice(model.as_bytes());
        out.put_slice(&self.raw[part.content.end..]);
        out.freeze()
    }

    /// The content of the first part named `name`.
    pub fn part(&self, name: &str) -> Option<&[u8]> {
        self.parts
            .iter()
            .find(|p| p.name == name)
            .map(|p| &self.raw[p.content.clone()])
    }
}

/// The `boundary` parameter of a `multipart/form-data` content type.
fn boundary(content_type: &str) -> Option<&str> {
    let mut params = content_type.split(';');
    let kind = params.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let v = v.trim().trim_matches('"');
        (!v.is_empty() && v.len() <= 200).then_some(v)
    })
}

/// `name` and `filename` from a part's `Content-Disposition: form-data` header.
fn disposition(head: &str) -> Option<(String, Option<String>)> {
    let line = head.split("\r\n").find(|l| {
        l.split_once(':')
            .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("content-disposition"))
    })?;
    let (_, value) = line.split_once(':')?;
    let mut name = None;
    let mut filename = None;
    for param in value.split(';').skip(1) {
        let Some((k, v)) = param.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').to_owned();
        match k.trim().to_ascii_lowercase().as_str() {
            "name" => name = Some(v),
            "filename" => filename = Some(v),
            _ => {}
        }
    }
    Some((name?, filename))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &str = "multipart/form-data; boundary=XyZ";

    fn body(model: &str) -> Bytes {
        Bytes::from(format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFF\r\nbinary\r\n--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n{model}\r\n--XyZ\r\ncontent-disposition: form-data; name=\"temperature\"\r\n\r\n0.5\r\n--XyZ--\r\n"
        ))
    }

    #[test]
    fn reads_fields_and_rewrites_only_the_model() {
        let form = Form::parse(CT, body("whisper-1")).unwrap();
        let fields = form.fields().unwrap();
        assert_eq!(fields.get("model"), Some("\"whisper-1\""));
        assert_eq!(fields.get("file"), Some("\"a.wav\""));
        assert_eq!(fields.get("temperature"), Some("0.5"));
        assert_eq!(form.part("file"), Some(&b"RIFF\r\nbinary"[..]));
        let same = form.with_model("whisper-1");
        assert_eq!(same.as_ptr(), form.raw.as_ptr());
        assert_eq!(
            form.with_model("up/whisper-large"),
            body("up/whisper-large")
        );
    }

    #[test]
    fn refuses_what_is_not_a_form() {
        assert!(Form::parse("application/json", body("m")).is_err());
        assert!(Form::parse("multipart/form-data", body("m")).is_err());
        assert!(Form::parse(CT, Bytes::from_static(b"nothing")).is_err());
        let unclosed =
            Bytes::from_static(b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx");
        assert!(Form::parse(CT, unclosed).is_err());
        let quoted = "multipart/form-data; boundary=\"XyZ\"";
        assert!(Form::parse(quoted, body("m")).is_ok());
    }
}
