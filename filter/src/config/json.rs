//! A small JSON reader for the config's wire types, without serde.
//!
//! The filter's .wasm is built with this reader instead of serde_json (about 75 KB smaller).
//! It accepts exactly the documents that serde_json with the derived `Deserialize` impls of
//! [`super::wire`] accepts, produces the same values, and reports the first error as serde_json
//! would: the same position (`at line L column C`, column in bytes as serde_json counts it),
//! the same field path as `serde_path_to_error` (`services[0].split.v2`, `$` for the document),
//! and serde's wording except for a few details (a number that is not an integer is quoted as
//! written, e.g. `floating point `5e3``, where serde_json prints `5000.0`).
//!
//! Mirrored serde behaviour worth knowing: every struct refuses unknown and repeated fields;
//! a struct may also be written as an array of its field values in declaration order (serde
//! accepts `["v1", "cluster-a"]` for a variant); `null` is accepted only where the field is an
//! `Option` (not for a rule's `split`); integers must be written without fraction or exponent
//! and fit their type (`-0` is a float to serde_json); containers nest at most 127 deep.
//!
//! Never panics: every byte access is checked, arithmetic is checked or saturating.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::problems::{Problem, Problems};
use super::wire::WireConfig;

/// Reads a config document into the wire model. The document must be a JSON object.
pub fn decode(text: &str) -> Result<WireConfig, Problems> {
    // serde would also read the config from an array of its fields; a config is an object.
    // (Leading Unicode whitespace passes this check, as in `wire_from_json`, and is then
    // refused as JSON.)
    if !text.trim_start().starts_with('{') {
        return Err(not_an_object());
    }
    let mut d = Decoder {
        b: text.as_bytes(),
        i: 0,
        depth: 128,
        path: String::new(),
        problem: None,
    };
    let result = WireConfig::decode(&mut d).and_then(|w| match d.peek() {
        None => Ok(w),
        Some(_) => Err(d.peek_err("trailing characters")),
    });
    result.map_err(|Fail| {
        Problems(vec![d.problem.take().unwrap_or_else(|| Problem {
            path: "$".to_owned(),
            message: "invalid JSON".to_owned(),
        })])
    })
}

/// The error for a document that is not a JSON object.
pub(crate) fn not_an_object() -> Problems {
    Problems(vec![Problem {
        path: "$".to_owned(),
        message: "the config must be a JSON object ({\"services\": [...]})".to_owned(),
    }])
}

/// A failure; the problem itself is kept in the decoder (a small error type keeps the code
/// small: every `?` moves one byte, not a whole `Problem`).
pub(crate) struct Fail;

pub(crate) type R<T> = Result<T, Fail>;

const EOF_VALUE: &str = "EOF while parsing a value";
const EOF_STRING: &str = "EOF while parsing a string";

/// A struct of the wire model, as [`super::wire`]'s declarations produce it: its name as serde
/// expects it, its fields' JSON keys in declaration order, and which of them are required (have
/// no `#[serde(default)]`).
pub(crate) struct Shape {
    pub(crate) expecting: &'static str,
    pub(crate) fields: &'static [&'static str],
    pub(crate) required: &'static [bool],
}

impl Shape {
    fn is_required(&self, k: usize) -> bool {
        self.required.get(k).copied().unwrap_or(false)
    }
}

/// A wire type the decoder can read. Implemented here for the field types and, by the
/// declarations in [`super::wire`], for every wire struct.
pub(crate) trait Decode: Sized {
    fn decode(d: &mut Decoder<'_>) -> R<Self>;
}

impl Decode for String {
    fn decode(d: &mut Decoder<'_>) -> R<Self> {
        d.string()
    }
}

impl Decode for bool {
    fn decode(d: &mut Decoder<'_>) -> R<Self> {
        d.boolean()
    }
}

impl Decode for u64 {
    fn decode(d: &mut Decoder<'_>) -> R<Self> {
        d.u64()
    }
}

impl Decode for i64 {
    fn decode(d: &mut Decoder<'_>) -> R<Self> {
        d.i64()
    }
}

/// `null` is None, as serde's `Option`.
impl<T: Decode> Decode for Option<T> {
    fn decode(d: &mut Decoder<'_>) -> R<Self> {
        Ok(if d.null()? { None } else { Some(T::decode(d)?) })
    }
}

impl<T: Decode> Decode for Vec<T> {
    fn decode(d: &mut Decoder<'_>) -> R<Self> {
        let mut v = Vec::new();
        d.seq(&mut |d| {
            v.push(T::decode(d)?);
            Ok(())
        })?;
        Ok(v)
    }
}

impl<T: Decode> Decode for Box<T> {
    fn decode(d: &mut Decoder<'_>) -> R<Self> {
        T::decode(d).map(Box::new)
    }
}

/// A split (`unique_keys::map` in serde's terms): each variant once.
impl Decode for BTreeMap<String, i64> {
    fn decode(d: &mut Decoder<'_>) -> R<Self> {
        d.split()
    }
}

/// A rule's split (`unique_keys::option`): a map, never `null`.
pub(crate) fn some_split(d: &mut Decoder<'_>) -> R<Option<BTreeMap<String, i64>>> {
    d.split().map(Some)
}

/// What a number turned out to be, as serde_json classifies it.
enum Num {
    /// Non-negative integer that fits a u64.
    Pos(u64),
    /// Negative integer, magnitude in `1..=2^63`.
    Neg(u64),
    /// Anything else (fraction, exponent, `-0`, too large); starts at this byte.
    Float(usize),
}

pub(crate) struct Decoder<'a> {
    b: &'a [u8],
    i: usize,
    /// Containers that may still be entered (serde_json's recursion limit).
    depth: u8,
    /// Path of the value being read, `.field` and `[index]` segments.
    path: String,
    /// What went wrong, once something did.
    problem: Option<Problem>,
}

impl Decoder<'_> {
    /// An error at byte offset `at`, with serde_json's position suffix.
    #[inline(never)]
    fn err_at(&mut self, at: usize, msg: &str) -> Fail {
        let upto = self.b.get(..at).unwrap_or(self.b);
        let start = upto
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |p| p.saturating_add(1));
        let line = upto
            .iter()
            .filter(|&&c| c == b'\n')
            .count()
            .saturating_add(1);
        let column = upto.len().saturating_sub(start);
        let mut message = String::from(msg);
        let _ = write!(message, " at line {line} column {column}");
        // serde_path_to_error writes the document as `.`, which `wire_from_json` shows as `$`;
        // an empty key at the top stays empty.
        let path = match self.path.strip_prefix('.') {
            _ if self.path.is_empty() => "$",
            Some(p) => p,
            None => &self.path,
        };
        self.problem = Some(Problem {
            path: path.to_owned(),
            message,
        });
        Fail
    }

    /// An error about the bytes already read (serde_json's `error`).
    fn err(&mut self, msg: &str) -> Fail {
        self.err_at(self.i, msg)
    }

    /// An error about the next byte (serde_json's `peek_error`).
    fn peek_err(&mut self, msg: &str) -> Fail {
        self.err_at(self.i.saturating_add(1).min(self.b.len()), msg)
    }

    /// An error raised by a struct or map visitor: serde_json places it after the closing
    /// bracket when that follows (it still reads the container's end before reporting).
    #[inline(never)]
    fn end_err(&mut self, close: u8, msg: &str) -> Fail {
        if self.peek() == Some(close) {
            self.bump();
        }
        self.err(msg)
    }

    fn bump(&mut self) {
        self.i = self.i.saturating_add(1);
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.b.get(self.i).copied();
        if c.is_some() {
            self.bump();
        }
        c
    }

    /// The next byte after whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.i) {
            self.bump();
        }
        self.b.get(self.i).copied()
    }

    fn peek_digit(&self) -> Option<u8> {
        self.b.get(self.i).filter(|c| c.is_ascii_digit()).copied()
    }

    /// The rest of a literal (`ull`, `rue`, `alse`) after its first byte.
    fn ident(&mut self, rest: &[u8]) -> R<()> {
        for &want in rest {
            match self.next() {
                None => return Err(self.err(EOF_VALUE)),
                Some(c) if c != want => return Err(self.err("expected ident")),
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Enters the container whose opening bracket is the next byte.
    fn enter(&mut self) -> R<()> {
        self.depth = self.depth.saturating_sub(1);
        if self.depth == 0 {
            return Err(self.peek_err("recursion limit exceeded"));
        }
        self.bump();
        Ok(())
    }

    /// Leaves a container whose closing bracket is the next byte.
    fn leave(&mut self) {
        self.bump();
        self.depth = self.depth.saturating_add(1);
    }

    /// The error for a value that is not of the expected type; reads the value to describe it.
    #[inline(never)]
    fn invalid_type(&mut self, expecting: &str) -> Fail {
        let what: String = match self.b.get(self.i).copied() {
            Some(c @ (b'n' | b't' | b'f')) => {
                self.bump();
                let (rest, what): (&[u8], _) = match c {
                    b'n' => (b"ull", "null"),
                    b't' => (b"rue", "boolean `true`"),
                    _ => (b"alse", "boolean `false`"),
                };
                if let Err(e) = self.ident(rest) {
                    return e;
                }
                what.to_owned()
            }
            Some(b'-' | b'0'..=b'9') => match self.number() {
                Ok(n) => self.describe(&n),
                Err(e) => return e,
            },
            Some(b'"') => {
                self.bump();
                match self.string_body() {
                    Ok(s) => {
                        format!("string {s:?}")
                    }
                    Err(e) => return e,
                }
            }
            Some(b'[') => "sequence".to_owned(),
            Some(b'{') => "map".to_owned(),
            _ => return self.peek_err("expected value"),
        };
        self.invalid("type", &what, expecting)
    }

    /// `invalid type: ...` or `invalid value: ...`, after the value.
    #[inline(never)]
    fn invalid(&mut self, kind: &str, what: &str, expecting: &str) -> Fail {
        let mut m = String::from("invalid ");
        m.push_str(kind);
        m.push_str(": ");
        m.push_str(what);
        m.push_str(", expected ");
        m.push_str(expecting);
        self.err(&m)
    }

    /// How serde describes a number it did not expect.
    #[inline(never)]
    fn describe(&self, n: &Num) -> String {
        match *n {
            Num::Pos(v) => format!("integer `{v}`"),
            Num::Neg(v) => format!("integer `-{v}`"),
            Num::Float(start) => {
                let text = self.b.get(start..self.i).unwrap_or_default();
                let mut w = String::from("floating point `");
                w.push_str(std::str::from_utf8(text).unwrap_or_default());
                w.push('`');
                w
            }
        }
    }

    /// A number, as serde_json's `parse_integer` reads it (the next byte is `-` or a digit).
    fn number(&mut self) -> R<Num> {
        let start = self.i;
        let neg = self.b.get(self.i) == Some(&b'-');
        if neg {
            self.bump();
        }
        let mut sig: u64 = 0;
        let mut float = false;
        let mut nonzero = false;
        match self.next() {
            None => return Err(self.err(EOF_VALUE)),
            Some(b'0') => {
                if self.peek_digit().is_some() {
                    return Err(self.peek_err("invalid number"));
                }
            }
            Some(c @ b'1'..=b'9') => {
                sig = u64::from(c - b'0');
                nonzero = true;
                while let Some(c) = self.peek_digit() {
                    self.bump();
                    match sig
                        .checked_mul(10)
                        .and_then(|s| s.checked_add(u64::from(c - b'0')))
                    {
                        Some(s) => sig = s,
                        None => float = true,
                    }
                }
            }
            Some(_) => return Err(self.err("invalid number")),
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.bump();
            float = true;
            let digits = self.i;
            while let Some(c) = self.peek_digit() {
                nonzero |= c != b'0';
                self.bump();
            }
            if self.i == digits {
                return Err(match self.b.get(self.i) {
                    Some(_) => self.peek_err("invalid number"),
                    None => self.peek_err(EOF_VALUE),
                });
            }
        }
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            self.bump();
            float = true;
            let positive = match self.b.get(self.i) {
                Some(b'-') => {
                    self.bump();
                    false
                }
                Some(b'+') => {
                    self.bump();
                    true
                }
                _ => true,
            };
            match self.next() {
                None => return Err(self.err(EOF_VALUE)),
                Some(c) if !c.is_ascii_digit() => return Err(self.err("invalid number")),
                Some(c) => {
                    let mut exp = i32::from(c - b'0');
                    let mut overflowed = false;
                    while let Some(c) = self.peek_digit() {
                        self.bump();
                        if overflowed {
                            continue;
                        }
                        match exp
                            .checked_mul(10)
                            .and_then(|e| e.checked_add(i32::from(c - b'0')))
                        {
                            Some(e) => exp = e,
                            None if nonzero && positive => {
                                return Err(self.err("number out of range"))
                            }
                            None => overflowed = true,
                        }
                    }
                }
            }
        }
        Ok(if float {
            Num::Float(start)
        } else if !neg {
            Num::Pos(sig)
        } else if sig == 0 || sig > 1 << 63 {
            // serde_json reads `-0` and integers below i64::MIN as floats.
            Num::Float(start)
        } else {
            Num::Neg(sig)
        })
    }

    /// A JSON number read for an integer field: `Ok(Some)` when it is an integer.
    fn integer(&mut self, expecting: &str) -> R<Num> {
        match self.peek() {
            None => Err(self.peek_err(EOF_VALUE)),
            Some(b'-' | b'0'..=b'9') => match self.number()? {
                n @ Num::Float(_) => {
                    let what = self.describe(&n);
                    Err(self.invalid("type", &what, expecting))
                }
                n => Ok(n),
            },
            Some(_) => Err(self.invalid_type(expecting)),
        }
    }

    fn u64(&mut self) -> R<u64> {
        match self.integer("u64")? {
            Num::Pos(v) => Ok(v),
            n => Err(self.out_of_range(&n, "u64")),
        }
    }

    fn i64(&mut self) -> R<i64> {
        let n = self.integer("i64")?;
        let v = match n {
            Num::Pos(v) => i64::try_from(v).ok(),
            Num::Neg(v) => 0i64.checked_sub_unsigned(v),
            Num::Float(_) => None,
        };
        v.ok_or_else(|| self.out_of_range(&n, "i64"))
    }

    #[inline(never)]
    fn out_of_range(&mut self, n: &Num, expecting: &str) -> Fail {
        let what = self.describe(n);
        self.invalid("value", &what, expecting)
    }

    fn boolean(&mut self) -> R<bool> {
        match self.peek() {
            None => Err(self.peek_err(EOF_VALUE)),
            Some(b't') => {
                self.bump();
                self.ident(b"rue").map(|()| true)
            }
            Some(b'f') => {
                self.bump();
                self.ident(b"alse").map(|()| false)
            }
            Some(_) => Err(self.invalid_type("a boolean")),
        }
    }

    fn string(&mut self) -> R<String> {
        match self.peek() {
            None => Err(self.peek_err(EOF_VALUE)),
            Some(b'"') => {
                self.bump();
                self.string_body()
            }
            Some(_) => Err(self.invalid_type("a string")),
        }
    }

    /// A string's contents after the opening quote, through the closing quote.
    fn string_body(&mut self) -> R<String> {
        let mut out = Vec::new();
        loop {
            let Some(c) = self.next() else {
                return Err(self.err(EOF_STRING));
            };
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.next() else {
                        return Err(self.err(EOF_STRING));
                    };
                    let plain = match e {
                        b'"' | b'\\' | b'/' => e,
                        b'b' => 8,
                        b'f' => 12,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => {
                            let ch = self.unicode_escape()?;
                            let mut buf = [0; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                            continue;
                        }
                        _ => return Err(self.err("invalid escape")),
                    };
                    out.push(plain);
                }
                0..=0x1f => {
                    return Err(self
                        .err("control character (\\u0000-\\u001F) found while parsing a string"))
                }
                _ => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| self.err("invalid unicode code point"))
    }

    /// The character of a `\u` escape (and its trailing surrogate), after `\u`.
    fn unicode_escape(&mut self) -> R<char> {
        const LONE: &str = "lone leading surrogate in hex escape";
        let hi = self.hex4()?;
        if (0xDC00..=0xDFFF).contains(&hi) {
            return Err(self.err(LONE));
        }
        let code = if (0xD800..=0xDBFF).contains(&hi) {
            for want in [b'\\', b'u'] {
                match self.b.get(self.i) {
                    None => return Err(self.err(EOF_STRING)),
                    Some(&c) => {
                        self.bump();
                        if c != want {
                            return Err(self.err("unexpected end of hex escape"));
                        }
                    }
                }
            }
            let lo = self.hex4()?;
            if !(0xDC00..=0xDFFF).contains(&lo) {
                return Err(self.err(LONE));
            }
            // Both in range (checked above): at most 0x10FFFF, no overflow.
            0x1_0000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
        } else {
            hi
        };
        char::from_u32(code).ok_or_else(|| self.err("invalid unicode code point"))
    }

    fn hex4(&mut self) -> R<u32> {
        let Some(digits) = self.b.get(self.i..self.i.saturating_add(4)) else {
            self.i = self.b.len();
            return Err(self.err(EOF_STRING));
        };
        self.i = self.i.saturating_add(4);
        let mut v = 0u32;
        for &c in digits {
            let Some(d) = char::from(c).to_digit(16) else {
                return Err(self.err("invalid escape"));
            };
            v = (v << 4) | d;
        }
        Ok(v)
    }

    /// serde_json's `has_next_element`: is there another element in this array?
    fn next_element(&mut self, first: &mut bool) -> R<bool> {
        match self.peek() {
            None => Err(self.peek_err("EOF while parsing a list")),
            Some(b']') => Ok(false),
            Some(_) if *first => {
                *first = false;
                Ok(true)
            }
            Some(b',') => {
                self.bump();
                match self.peek() {
                    Some(b']') => Err(self.peek_err("trailing comma")),
                    Some(_) => Ok(true),
                    None => Err(self.peek_err(EOF_VALUE)),
                }
            }
            Some(_) => Err(self.peek_err("expected `,` or `]`")),
        }
    }

    /// serde_json's `has_next_key`: is there another key in this object? Reads it if so.
    /// Errors here have an unknown key, `?` in the path.
    fn next_key(&mut self, first: &mut bool) -> R<Option<String>> {
        let mark = self.path.len();
        self.path.push_str(".?");
        let more = match self.peek() {
            None => return Err(self.peek_err("EOF while parsing an object")),
            Some(b'}') => false,
            Some(c) if *first => {
                *first = false;
                if c != b'"' {
                    return Err(self.peek_err("key must be a string"));
                }
                true
            }
            Some(b',') => {
                self.bump();
                match self.peek() {
                    Some(b'"') => true,
                    Some(b'}') => return Err(self.peek_err("trailing comma")),
                    Some(_) => return Err(self.peek_err("key must be a string")),
                    None => return Err(self.peek_err(EOF_VALUE)),
                }
            }
            Some(_) => return Err(self.peek_err("expected `,` or `}`")),
        };
        let key = if more {
            self.bump();
            Some(self.string_body()?)
        } else {
            None
        };
        self.path.truncate(mark);
        Ok(key)
    }

    /// The `:` between a key and its value.
    fn colon(&mut self) -> R<()> {
        match self.peek() {
            Some(b':') => {
                self.bump();
                Ok(())
            }
            Some(_) => Err(self.peek_err("expected `:`")),
            None => Err(self.peek_err("EOF while parsing an object")),
        }
    }

    fn push_index(&mut self, n: usize) -> usize {
        let mark = self.path.len();
        let _ = write!(self.path, "[{n}]");
        mark
    }

    /// Reads a `null` if one is next (an `Option` field's None).
    fn null(&mut self) -> R<bool> {
        if self.peek() == Some(b'n') {
            self.bump();
            self.ident(b"ull")?;
            return Ok(true);
        }
        Ok(false)
    }

    /// An array; `each` reads one element.
    fn seq(&mut self, each: &mut dyn FnMut(&mut Self) -> R<()>) -> R<()> {
        match self.peek() {
            None => return Err(self.peek_err(EOF_VALUE)),
            Some(b'[') => self.enter()?,
            Some(_) => return Err(self.invalid_type("a sequence")),
        }
        let mut first = true;
        let mut n = 0usize;
        while self.next_element(&mut first)? {
            let mark = self.push_index(n);
            each(self)?;
            self.path.truncate(mark);
            n = n.saturating_add(1);
        }
        self.leave();
        Ok(())
    }

    /// A struct of shape `shape`, as an object or as an array of field values; `each` reads
    /// the value of field number `k`.
    #[inline(never)]
    pub(crate) fn object(
        &mut self,
        shape: &Shape,
        each: &mut dyn FnMut(&mut Self, usize) -> R<()>,
    ) -> R<()> {
        match self.peek() {
            None => return Err(self.peek_err(EOF_VALUE)),
            Some(b'{') => self.enter()?,
            Some(b'[') => return self.object_seq(shape, each),
            Some(_) => return Err(self.invalid_type(shape.expecting)),
        }
        let mut seen = 0u32;
        let mut first = true;
        while let Some(key) = self.next_key(&mut first)? {
            let Some(k) = shape.fields.iter().position(|f| *f == key) else {
                let mut m = String::from("unknown field `");
                m.push_str(&key);
                m.push_str("`, expected ");
                push_one_of(&mut m, shape.fields);
                let mark = self.path.len();
                self.path.push('.');
                self.path.push_str(&key);
                let e = self.end_err(b'}', &m);
                self.path.truncate(mark);
                return Err(e);
            };
            let bit = bit(k);
            if seen & bit != 0 {
                let m = format!("duplicate field `{key}`");
                return Err(self.end_err(b'}', &m));
            }
            seen |= bit;
            self.colon()?;
            let mark = self.path.len();
            self.path.push('.');
            self.path.push_str(&key);
            each(self, k)?;
            self.path.truncate(mark);
        }
        self.leave();
        for (k, name) in shape.fields.iter().enumerate() {
            if shape.is_required(k) && seen & bit(k) == 0 {
                return Err(self.err(&format!("missing field `{name}`")));
            }
        }
        Ok(())
    }

    /// A struct written as an array of its field values, in declaration order.
    fn object_seq(
        &mut self,
        shape: &Shape,
        each: &mut dyn FnMut(&mut Self, usize) -> R<()>,
    ) -> R<()> {
        self.enter()?;
        let mut first = true;
        for k in 0..shape.fields.len() {
            if !self.next_element(&mut first)? {
                // serde fills the missing fields from their defaults, and fails on the first
                // required one, giving its position.
                if let Some(j) = (k..shape.fields.len()).find(|&j| shape.is_required(j)) {
                    let m = format!(
                        "invalid length {j}, expected {} with {} elements",
                        shape.expecting,
                        shape.fields.len()
                    );
                    return Err(self.end_err(b']', &m));
                }
                break;
            }
            let mark = self.push_index(k);
            each(self, k)?;
            self.path.truncate(mark);
        }
        match self.peek() {
            Some(b']') => {
                self.leave();
                Ok(())
            }
            Some(b',') => {
                self.bump();
                Err(if self.peek() == Some(b']') {
                    self.peek_err("trailing comma")
                } else {
                    self.peek_err("trailing characters")
                })
            }
            Some(_) => Err(self.peek_err("trailing characters")),
            None => Err(self.peek_err("EOF while parsing a list")),
        }
    }

    /// A split: variant name to weight, each name once.
    fn split(&mut self) -> R<BTreeMap<String, i64>> {
        match self.peek() {
            None => return Err(self.peek_err(EOF_VALUE)),
            Some(b'{') => self.enter()?,
            Some(_) => {
                return Err(self.invalid_type("a map of variant name to weight in basis points"))
            }
        }
        let mut map = BTreeMap::new();
        let mut first = true;
        while let Some(key) = self.next_key(&mut first)? {
            self.colon()?;
            let mark = self.path.len();
            self.path.push('.');
            self.path.push_str(&key);
            let v = self.i64()?;
            self.path.truncate(mark);
            if map.contains_key(&key) {
                let m = format!("variant {key:?} appears twice");
                return Err(self.end_err(b'}', &m));
            }
            map.insert(key, v);
        }
        self.leave();
        Ok(map)
    }
}

/// Field `k`'s bit in a set of seen fields (structs have at most 11 fields).
fn bit(k: usize) -> u32 {
    u32::try_from(k)
        .ok()
        .and_then(|k| 1u32.checked_shl(k))
        .unwrap_or(0)
}

/// serde's list of expected field names.
fn push_one_of(m: &mut String, names: &[&str]) {
    if names.len() > 2 {
        m.push_str("one of ");
    }
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            m.push_str(if names.len() == 2 { " or " } else { ", " });
        }
        m.push('`');
        m.push_str(name);
        m.push('`');
    }
}
