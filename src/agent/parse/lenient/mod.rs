//! A forgiving reader for the JSON small models write: everything JSON accepts, plus what they
//! get wrong in recorded transcripts — Python strings (`'…'`, `"""…"""`, `'''…'''`), string
//! concatenation (`"a" + "b"`, `"a" "b"`), raw newlines and tabs inside strings, bare keys,
//! trailing commas, `True`/`False`/`None`, the double-brace object `{{"name": …}}` of a chat
//! template, and closing braces missing at the end of the text (a cut reply). It reports which of
//! these it had to forgive, for the trace.

use std::fmt;

use serde_json::{Map, Number, Value};

/// Nesting deeper than this is refused (no stack overflow on hostile text).
const MAX_DEPTH: usize = 64;

/// What the reader had to forgive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Forgiven {
    /// `{{ … }}` around an object.
    pub double_brace: bool,
    /// `'…'`, `"""…"""` or `'''…'''` strings.
    pub python_strings: bool,
    /// `"a" + "b"` or `"a" "b"`.
    pub concatenation: bool,
    /// Raw newlines or tabs inside a string.
    pub raw_newlines: bool,
    /// Bare keys, trailing commas, `True`/`False`/`None`.
    pub loose_syntax: bool,
    /// Closing braces missing at the end of the text.
    pub unclosed: bool,
}

/// Why the text is not a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    /// What was wrong.
    pub message: String,
    /// Byte offset in the text.
    pub offset: usize,
    /// 1-based line and column.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    forgiven: Forgiven,
}

/// Reads one value starting at byte `start` of `text`: the value, the offset just past it, and
/// what had to be forgiven.
pub fn value_at(text: &str, start: usize) -> Result<(Value, usize, Forgiven), ReadError> {
    let mut r = Reader {
        text,
        bytes: text.as_bytes(),
        pos: start,
        forgiven: Forgiven::default(),
    };
    r.ws();
    let v = r.value(0)?;
    Ok((v, r.pos, r.forgiven))
}

// === impl Forgiven ===

impl Forgiven {
    /// Names of what was forgiven (empty for strict JSON).
    pub fn names(&self) -> Vec<&'static str> {
        [
            (self.double_brace, "double_brace"),
            (self.python_strings, "python_strings"),
            (self.concatenation, "string_concatenation"),
            (self.raw_newlines, "raw_newlines"),
            (self.loose_syntax, "loose_syntax"),
            (self.unclosed, "unclosed"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }
}

// === impl ReadError ===

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {}, column {}",
            self.message, self.line, self.column
        )
    }
}

// === impl Reader ===

impl Reader<'_> {
    fn error(&self, message: impl Into<String>) -> ReadError {
        let offset = self.pos.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ReadError {
            message: message.into(),
            offset,
            line,
            column,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn starts(&self, s: &str) -> bool {
        self.bytes
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(s.as_bytes()))
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, ReadError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"' | b'\'') => self.strings().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => self.word(),
            None => Err(self.error("expected a value, found the end of the text")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, ReadError> {
        self.pos += 1; // {
        self.ws();
        if self.peek() == Some(b'{') {
            // `{{ … }}`: a template's escaped braces around one object.
            self.forgiven.double_brace = true;
            let inner = self.object(depth + 1)?;
            self.ws();
            self.close(b'}')?;
            return Ok(inner);
        }
        let mut map = Map::new();
        loop {
            self.ws();
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(map));
                }
                None => {
                    self.forgiven.unclosed = true;
                    return Ok(Value::Object(map));
                }
                _ => {}
            }
            let key = self.key()?;
            self.ws();
            if self.peek() != Some(b':') {
                return Err(self.error(format!("expected `:` after the key \"{key}\"")));
            }
            self.pos += 1;
            self.ws();
            let value = self.value(depth + 1)?;
            map.insert(key, value);
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.ws();
                    if self.peek() == Some(b'}') {
                        self.forgiven.loose_syntax = true;
                    }
                }
                Some(b'}') => {}
                None => {}
                Some(_) => return Err(self.error("expected `,` or `}` after a value")),
            }
        }
    }

    /// A closing bracket, or the end of the text (a cut reply).
    fn close(&mut self, bracket: u8) -> Result<(), ReadError> {
        match self.peek() {
            Some(b) if b == bracket => {
                self.pos += 1;
                Ok(())
            }
            None => {
                self.forgiven.unclosed = true;
                Ok(())
            }
            Some(_) => Err(self.error(format!("expected `{}`", bracket as char))),
        }
    }

    fn key(&mut self) -> Result<String, ReadError> {
        match self.peek() {
            Some(b'"' | b'\'') => self.strings(),
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    self.pos += 1;
                }
                self.forgiven.loose_syntax = true;
                Ok(self.text[start..self.pos].to_owned())
            }
            _ => Err(self.error("expected a key")),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, ReadError> {
        self.pos += 1; // [
        let mut items = Vec::new();
        loop {
            self.ws();
            match self.peek() {
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                None => {
                    self.forgiven.unclosed = true;
                    return Ok(Value::Array(items));
                }
                _ => {}
            }
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.ws();
                    if self.peek() == Some(b']') {
                        self.forgiven.loose_syntax = true;
                    }
                }
                Some(b']') | None => {}
                Some(_) => return Err(self.error("expected `,` or `]` after a value")),
            }
        }
    }

    /// One string, or several joined by `+` or written side by side.
    fn strings(&mut self) -> Result<String, ReadError> {
        let mut out = self.string()?;
        loop {
            let save = self.pos;
            self.ws();
            let plus = self.peek() == Some(b'+');
            if plus {
                self.pos += 1;
                self.ws();
            }
            if matches!(self.peek(), Some(b'"' | b'\'')) {
                self.forgiven.concatenation = true;
                out.push_str(&self.string()?);
            } else if plus {
                return Err(self.error("expected a string after `+`"));
            } else {
                self.pos = save;
                return Ok(out);
            }
        }
    }

    fn string(&mut self) -> Result<String, ReadError> {
        for triple in ["\"\"\"", "'''"] {
            if self.starts(triple) {
                // Taken as written (the code inside is the model's, backslashes included), less
                // the indentation every line shares, as code inside an indented call has.
                self.forgiven.python_strings = true;
                let body_start = self.pos + 3;
                let Some(len) = self.text[body_start..].find(triple) else {
                    return Err(self.error("unterminated triple-quoted string"));
                };
                self.pos = body_start + len + 3;
                return Ok(dedent(&self.text[body_start..body_start + len]));
            }
        }
        let quote = self.bytes[self.pos];
        if quote == b'\'' {
            self.forgiven.python_strings = true;
        }
        let opened = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut run_start = self.pos;
        loop {
            let Some(b) = self.peek() else {
                self.pos = opened;
                return Err(self.error("unterminated string"));
            };
            match b {
                b if b == quote => {
                    out.push_str(&self.text[run_start..self.pos]);
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(&self.text[run_start..self.pos]);
                    self.escape(&mut out)?;
                    run_start = self.pos;
                }
                b'\n' | b'\r' | b'\t' => {
                    self.forgiven.raw_newlines = true;
                    self.pos += 1;
                }
                _ => self.pos += 1,
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), ReadError> {
        self.pos += 1; // backslash
        let Some(b) = self.peek() else {
            return Err(self.error("unterminated string"));
        };
        self.pos += 1;
        match b {
            b'n' => out.push('\n'),
            b't' => out.push('\t'),
            b'r' => out.push('\r'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'"' | b'\'' | b'\\' | b'/' => out.push(b as char),
            b'\n' => {} // a line continuation
            b'u' => {
                let first = self.hex4()?;
                let c = if (0xD800..0xDC00).contains(&first) && self.starts("\\u") {
                    self.pos += 2;
                    let second = self.hex4()?;
                    char::from_u32(
                        0x10000 + ((first - 0xD800) << 10) + (second.wrapping_sub(0xDC00) & 0x3FF),
                    )
                } else {
                    char::from_u32(first)
                };
                out.push(c.unwrap_or('\u{FFFD}'));
            }
            _ => {
                // Python keeps an unknown escape as written.
                out.push('\\');
                self.pos -= 1;
            }
        }
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, ReadError> {
        let digits = self
            .text
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("a \\u escape needs four hex digits"))?;
        let v = u32::from_str_radix(digits, 16)
            .map_err(|_| self.error("a \\u escape needs four hex digits"))?;
        self.pos += 4;
        Ok(v)
    }

    fn number(&mut self) -> Result<Value, ReadError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        {
            self.pos += 1;
        }
        let text = &self.text[start..self.pos];
        if let Ok(n) = text.parse::<i64>() {
            return Ok(Value::Number(n.into()));
        }
        text.parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| {
                self.pos = start;
                self.error(format!("`{text}` is not a number"))
            })
    }

    fn word(&mut self) -> Result<Value, ReadError> {
        for (word, value, strict) in [
            ("true", Value::Bool(true), true),
            ("false", Value::Bool(false), true),
            ("null", Value::Null, true),
            ("True", Value::Bool(true), false),
            ("False", Value::Bool(false), false),
            ("None", Value::Null, false),
        ] {
            if self.starts(word) {
                self.pos += word.len();
                self.forgiven.loose_syntax |= !strict;
                return Ok(value);
            }
        }
        Err(self.error("expected a value"))
    }
}

/// `text` without the leading whitespace all its non-blank lines share.
fn dedent(text: &str) -> String {
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    if indent == 0 {
        return text.to_owned();
    }
    text.split_inclusive('\n')
        .map(|l| {
            if l.trim().is_empty() {
                l.trim_start_matches([' ', '\t'])
            } else {
                l.get(indent..).unwrap_or(l)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
