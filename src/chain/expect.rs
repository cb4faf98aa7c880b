//! `expect:` — the statuses, values, headers and texts a response must
//! have, and beyond them: checks on one value (`expect.assert`, a header written as a map),
//! bounds on the response time and the body size, and a JSON Schema.
//!
//! The checks are read twice: from the chain as written, to say at
//! `validate` what is wrong and where, and again after their templates are
//! rendered, when the value they compare with is known.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::values::{DurationSpec, OneOrMany, parse_size};

/// `"2xx"` → 2.
pub fn status_class(s: &str) -> Option<u16> {
    let b = s.as_bytes();
    if b.len() == 3 && (b'1'..=b'5').contains(&b[0]) && b[1..].eq_ignore_ascii_case(b"xx") {
        Some(u16::from(b[0] - b'0'))
    } else {
        None
    }
}

/// `expect:` — every given check must pass.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// A code (200), a class ("2xx"), or a list of them. Default "2xx".
    #[serde(default)]
    pub status: Option<StatusSpec>,
    /// JSONPath → expected value (a template; `"{{ x }}"` compares natively).
    #[serde(default)]
    pub json: IndexMap<String, Value>,
    /// Header name → text the header's value must contain, or checks on
    /// the value (`{matches: "^v[0-9]+$"}`, `{exists: false}`).
    #[serde(default)]
    #[schemars(with = "IndexMap<String, HeaderExpectSchema>")]
    pub headers: IndexMap<String, Value>,
    /// JSONPath → checks on what it selects (`{gt: 0}`, `{count: 3}`,
    /// `{every: {matches: "^[a-z]+$"}}`…).
    #[serde(default)]
    #[schemars(with = "IndexMap<String, super::expect::Checks>")]
    pub assert: IndexMap<String, Value>,
    /// Bounds on the response time (`{lt: 500ms}`).
    #[serde(default)]
    pub duration: Option<super::expect::DurationBounds>,
    /// Bounds on the body's size in bytes (`{le: 1MiB}`).
    #[serde(default)]
    pub body_size: Option<super::expect::Bounds<super::expect::ByteCount>>,
    /// A JSON Schema the body must match: a file (relative to the chain
    /// file) or the schema itself.
    #[serde(default)]
    #[schemars(with = "Option<SchemaSource>")]
    pub schema: Option<Value>,
    /// Text (or list of texts) the body must contain.
    #[serde(default)]
    pub body_contains: Option<OneOrMany>,
    /// Templates that must each be true over the response: they read
    /// `response` (`status`, `headers`, `body`, `url`, `method`) and
    /// everything before the step. `"{{ response.body.total > 0 }}"`.
    #[serde(default)]
    pub that: Vec<String>,
}

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum HeaderExpectSchema {
    Contains(String),
    Number(f64),
    Checks(Box<super::expect::Checks>),
}

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum SchemaSource {
    File(String),
    Inline(serde_json::Map<String, Value>),
    Bool(bool),
}

/// One status pattern, or several.
#[derive(Debug, Clone, JsonSchema)]
#[serde(untagged)]
pub enum StatusSpec {
    One(StatusPattern),
    Many(Vec<StatusPattern>),
}

impl<'de> Deserialize<'de> for StatusSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StatusSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a status code (200), a class (\"2xx\") or a list of them")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusSpec, E> {
                use de::IntoDeserializer;
                StatusPattern::deserialize(v.into_deserializer()).map(StatusSpec::One)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusSpec, E> {
                use de::IntoDeserializer;
                StatusPattern::deserialize(v.into_deserializer()).map(StatusSpec::One)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusSpec, E> {
                use de::IntoDeserializer;
                StatusPattern::deserialize(v.into_deserializer()).map(StatusSpec::One)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<StatusSpec, A::Error> {
                let mut out = Vec::new();
                while let Some(p) = seq.next_element::<StatusPattern>()? {
                    out.push(p);
                }
                if out.is_empty() {
                    return Err(de::Error::custom("the list of statuses is empty"));
                }
                Ok(StatusSpec::Many(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A status code or a class such as `"2xx"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusPattern {
    Code(u16),
    Class(u16),
}

impl JsonSchema for StatusPattern {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "StatusPattern".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "anyOf": [
                {"type": "integer", "minimum": 100, "maximum": 599},
                {"type": "string", "pattern": "^[1-5][0-9xX]{2}$"}
            ]
        })
    }
}

impl<'de> Deserialize<'de> for StatusPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = StatusPattern;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a status code (200) or a class (\"2xx\")")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusPattern, E> {
                match u16::try_from(v) {
                    Ok(code @ 100..=599) => Ok(StatusPattern::Code(code)),
                    _ => Err(E::custom(format!("{v} is not an HTTP status code"))),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusPattern, E> {
                self.visit_u64(u64::try_from(v).map_err(|_| E::custom("negative status"))?)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusPattern, E> {
                if let Some(c) = status_class(v) {
                    Ok(StatusPattern::Class(c))
                } else if let Ok(n) = v.parse::<u64>() {
                    self.visit_u64(n)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Checks on one value; every one given must hold.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Checks {
    /// Equal to (`1` equals `1.0`).
    #[serde(default, deserialize_with = "present")]
    pub eq: Option<Value>,
    /// Not equal to.
    #[serde(default, deserialize_with = "present")]
    pub ne: Option<Value>,
    /// Less than (numbers, or texts in code-point order).
    #[serde(default, deserialize_with = "present")]
    pub lt: Option<Value>,
    /// Less than or equal to.
    #[serde(default, deserialize_with = "present")]
    pub le: Option<Value>,
    /// Greater than.
    #[serde(default, deserialize_with = "present")]
    pub gt: Option<Value>,
    /// Greater than or equal to.
    #[serde(default, deserialize_with = "present")]
    pub ge: Option<Value>,
    /// Text: holds this text. List: has an element equal to this. Map:
    /// has this key.
    #[serde(default, deserialize_with = "present")]
    pub contains: Option<Value>,
    /// Text that starts with this.
    #[serde(default)]
    pub starts_with: Option<String>,
    /// Text that ends with this.
    #[serde(default)]
    pub ends_with: Option<String>,
    /// Text (or a number, as written in JSON) a regular expression finds a
    /// match in; anchor it with `^…$` to match the whole.
    #[serde(default)]
    pub matches: Option<String>,
    /// `true`: the value is there; `false`: it is not.
    #[serde(default)]
    pub exists: Option<bool>,
    /// The JSON type.
    #[serde(default, rename = "type")]
    pub kind: Option<JsonType>,
    /// Equal to one of these.
    #[serde(default)]
    pub one_of: Option<Vec<Value>>,
    /// The number of elements (a list), keys (a map) or characters (a
    /// text): a number, or checks on it (`{ge: 1}`).
    #[serde(default)]
    pub count: Option<Count>,
    /// `true`: no elements, keys or characters (or `null`); `false`: some.
    #[serde(default)]
    pub is_empty: Option<bool>,
    /// Checks each element of a list (each value of a map) must pass; an
    /// empty list passes.
    #[serde(default)]
    pub every: Option<Box<Checks>>,
    /// Checks at least one element of a list (value of a map) must pass.
    #[serde(default)]
    pub some: Option<Box<Checks>>,
    /// Checks that must not all hold.
    #[serde(default)]
    pub not: Option<Box<Checks>>,
}

impl Checks {
    /// Whether no check is given (`{}`), which would pass anything.
    pub fn is_empty(&self) -> bool {
        *self == Checks::default()
    }

    /// Every `matches` pattern, nested ones too.
    pub fn patterns(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.matches.iter().map(String::as_str).collect();
        if let Some(Count::Checks(c)) = &self.count {
            out.extend(c.patterns());
        }
        for inner in [&self.every, &self.some, &self.not].into_iter().flatten() {
            out.extend(inner.patterns());
        }
        out
    }
}

/// A `matches` pattern compiled (the `regex` crate's syntax; its size is
/// bounded, so a pattern from a chain cannot take unbounded memory).
pub fn regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => {
                format!("the pattern `{pattern}` is too large")
            }
            other => format!(
                "`{pattern}` is not a valid regular expression: {}",
                other.to_string().lines().last().unwrap_or_default().trim()
            ),
        })
}

/// A value given, `null` included (serde reads a `null` as "not given").
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// The JSON types `type:` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum JsonType {
    String,
    Number,
    /// A number without a fractional part.
    Integer,
    Boolean,
    Array,
    Object,
    Null,
}

impl JsonType {
    pub fn name(self) -> &'static str {
        match self {
            JsonType::String => "a string",
            JsonType::Number => "a number",
            JsonType::Integer => "an integer",
            JsonType::Boolean => "a boolean",
            JsonType::Array => "a list",
            JsonType::Object => "a map",
            JsonType::Null => "null",
        }
    }

    pub fn holds(self, v: &Value) -> bool {
        match self {
            JsonType::String => v.is_string(),
            JsonType::Number => v.is_number(),
            JsonType::Integer => {
                v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            JsonType::Boolean => v.is_boolean(),
            JsonType::Array => v.is_array(),
            JsonType::Object => v.is_object(),
            JsonType::Null => v.is_null(),
        }
    }
}

/// `count:` — a number, a template that renders to one, or checks on it.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(with = "CountSchema")]
pub enum Count {
    Exactly(u64),
    /// A template, before it is rendered (or what it rendered to, when
    /// that is not a count: an error when checked).
    Text(String),
    Checks(Box<Checks>),
}

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum CountSchema {
    Exactly(u64),
    Text(String),
    Checks(Box<Checks>),
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n.as_u64().map(Count::Exactly).ok_or_else(|| {
                de::Error::custom(format!(
                    "`count: {n}`: a count is a whole number, 0 or more"
                ))
            }),
            Value::String(s) => Ok(Count::Text(s)),
            v @ Value::Object(_) => serde_json::from_value(v)
                .map(|c| Count::Checks(Box::new(c)))
                .map_err(|e| de::Error::custom(format!("in `count`: {e}"))),
            other => Err(de::Error::custom(format!(
                "`count: {other}`: give a number (3) or checks on the count ({{ge: 1}})"
            ))),
        }
    }
}

/// Bounds on a measure of the response (`duration`, `body_size`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bounds<T> {
    pub lt: Option<T>,
    pub le: Option<T>,
    pub gt: Option<T>,
    pub ge: Option<T>,
}

impl<T> Default for Bounds<T> {
    fn default() -> Self {
        Bounds {
            lt: None,
            le: None,
            gt: None,
            ge: None,
        }
    }
}

impl<T: Copy> Bounds<T> {
    /// Each bound with its operator.
    pub fn each(&self) -> impl Iterator<Item = (&'static str, T)> {
        [
            ("<", self.lt),
            ("<=", self.le),
            (">", self.gt),
            (">=", self.ge),
        ]
        .into_iter()
        .filter_map(|(op, v)| v.map(|v| (op, v)))
    }

    pub fn is_empty(&self) -> bool {
        self.each().next().is_none()
    }
}

impl<T: Copy + PartialOrd> Bounds<T> {
    /// The bounds `value` breaks, with their operators.
    pub fn broken(&self, value: T) -> Vec<(&'static str, T)> {
        self.each()
            .filter(|&(op, bound)| match op {
                "<" => value >= bound,
                "<=" => value > bound,
                ">" => value <= bound,
                _ => value < bound,
            })
            .collect()
    }
}

/// Bounds on the response time.
pub type DurationBounds = Bounds<DurationSpec>;

/// A number of bytes: a number, or text such as `"512KiB"`; 0 allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
#[schemars(with = "ByteCountSchema")]
pub struct ByteCount(pub u64);

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum ByteCountSchema {
    Bytes(u64),
    Text(String),
}

impl<'de> Deserialize<'de> for ByteCount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n.as_u64().map(ByteCount).ok_or_else(|| {
                de::Error::custom(format!("{n} is not a number of bytes (0 or more)"))
            }),
            Value::String(s) if s.trim() == "0" => Ok(ByteCount(0)),
            Value::String(s) => parse_size(&s).map(ByteCount).map_err(de::Error::custom),
            other => Err(de::Error::custom(format!(
                "{other} is not a size: write bytes, or a number with KiB, MiB or GiB"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_classes() {
        assert_eq!(status_class("2xx"), Some(2));
        assert_eq!(status_class("5XX"), Some(5));
        assert_eq!(status_class("6xx"), None);
        assert_eq!(status_class("200"), None);
    }

    #[test]
    fn a_null_is_a_value_to_compare_with_not_nothing() {
        let c: Checks = serde_json::from_value(json!({"eq": null})).unwrap();
        assert_eq!(c.eq, Some(Value::Null));
        assert!(!c.is_empty());
        assert!(
            serde_json::from_value::<Checks>(json!({}))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn unknown_checks_and_bad_counts_are_named() {
        let e = serde_json::from_value::<Checks>(json!({"equals": 1}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `equals`"), "{e}");
        let e = serde_json::from_value::<Checks>(json!({"count": -1}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("whole number"), "{e}");
        let c: Checks = serde_json::from_value(json!({"count": {"ge": 1}})).unwrap();
        assert!(matches!(c.count, Some(Count::Checks(_))));
        let c: Checks =
            serde_json::from_value(json!({"every": {"matches": "a"}, "matches": "b"})).unwrap();
        assert_eq!(c.patterns(), ["b", "a"]);
    }

    #[test]
    fn bounds_say_which_they_break() {
        let b: Bounds<ByteCount> = serde_json::from_value(json!({"le": "1KiB", "gt": 0})).unwrap();
        assert!(b.broken(ByteCount(1024)).is_empty());
        assert_eq!(b.broken(ByteCount(0)), [(">", ByteCount(0))]);
        assert_eq!(b.broken(ByteCount(1025)), [("<=", ByteCount(1024))]);
        let d: DurationBounds = serde_json::from_value(json!({"lt": "500ms"})).unwrap();
        assert_eq!(d.each().count(), 1);
    }
}
