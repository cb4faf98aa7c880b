//! The redactor: replaces every known secret value with `***`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

/// Replaces known secret values with `***`. Cheap to clone; clones share the set.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Arc<RwLock<Vec<String>>>,
    /// Secrets too short to redact were seen (see [`Redactor::add`]).
    short: Arc<AtomicBool>,
}

/// Secrets shorter than this are not redacted: hiding every "ab" would make
/// output unreadable and protect nothing. [`Redactor::short_secrets`] says
/// one was seen, so the user can be warned.
pub const SHORTEST: usize = 4;

/// A cut-off secret this long before a `…` is redacted as `***…`.
const CUT_PREFIX: usize = 3;

impl Redactor {
    /// Adds a value to redact from now on, with the forms it takes on its
    /// way out: in a URL or form (`%40`, `+`), inside JSON text (`\"`,
    /// `\\`), and inside JSON text that is itself in a JSON string.
    pub fn add(&self, secret: &str) {
        if secret.len() < SHORTEST {
            // `***` is what a tape recorded of a secret: nothing to warn of.
            if !secret.trim().is_empty() && !secret.chars().all(|c| c == '*') {
                self.short.store(true, Ordering::Relaxed);
            }
            return;
        }
        let percent: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        let json = json_escaped(secret);
        let double = json_escaped(&json);
        for variant in [
            percent.as_str(),
            &percent.replace('+', "%20"),
            &json,
            &double,
        ] {
            if variant != secret {
                self.add_one(variant);
            }
        }
        self.add_one(secret);
    }

    /// A secret shorter than [`SHORTEST`] was given, and is not redacted.
    pub fn short_secrets(&self) -> bool {
        self.short.load(Ordering::Relaxed)
    }

    fn add_one(&self, secret: &str) {
        if let Ok(mut list) = self.secrets.write()
            && !list.iter().any(|s| s == secret)
        {
            list.push(secret.to_string());
            // Longest first, so a secret containing another is replaced whole.
            list.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// `text` holds a known secret (in any of the forms [`Redactor::add`] knows).
    pub fn contains_secret(&self, text: &str) -> bool {
        self.secrets
            .read()
            .is_ok_and(|list| list.iter().any(|s| text.contains(s.as_str())))
    }

    /// `text` with every known secret replaced by `***`, and the start of
    /// one cut off by an excerpt's `…` too.
    pub fn redact(&self, text: &str) -> String {
        let Ok(list) = self.secrets.read() else {
            return text.to_string();
        };
        let mut out = text.to_string();
        for s in list.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
        if out.contains('…') {
            out = cut_secrets(&out, &list);
        }
        out
    }

    /// Redacts every string inside a JSON value.
    pub fn redact_json(&self, v: &serde_json::Value) -> serde_json::Value {
        if self.is_empty() {
            return v.clone();
        }
        match v {
            serde_json::Value::String(s) => serde_json::Value::String(self.redact(s)),
            serde_json::Value::Array(a) => {
                serde_json::Value::Array(a.iter().map(|x| self.redact_json(x)).collect())
            }
            serde_json::Value::Object(m) => serde_json::Value::Object(
                m.iter()
                    .map(|(k, x)| (self.redact(k), self.redact_json(x)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Like [`Redactor::redact_json`], but borrows `v` when it holds no
    /// known secret: a large result is printed or stored without a copy.
    pub fn redact_json_cow<'v>(
        &self,
        v: &'v serde_json::Value,
    ) -> std::borrow::Cow<'v, serde_json::Value> {
        if self.is_empty() || !self.json_contains_secret(v) {
            std::borrow::Cow::Borrowed(v)
        } else {
            std::borrow::Cow::Owned(self.redact_json(v))
        }
    }

    /// Whether a string (or key) inside `v` contains a known secret.
    fn json_contains_secret(&self, v: &serde_json::Value) -> bool {
        let Ok(list) = self.secrets.read() else {
            return true;
        };
        let hit = |s: &str| list.iter().any(|secret| s.contains(secret.as_str()));
        let mut stack = vec![v];
        while let Some(v) = stack.pop() {
            match v {
                serde_json::Value::String(s) if hit(s) => return true,
                serde_json::Value::Array(a) => stack.extend(a),
                serde_json::Value::Object(m) => {
                    for (k, x) in m {
                        if hit(k) {
                            return true;
                        }
                        stack.push(x);
                    }
                }
                _ => {}
            }
        }
        false
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.read().map(|l| l.is_empty()).unwrap_or(true)
    }
}

/// `s` as it reads inside a JSON string (without the quotes).
fn json_escaped(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    quoted
        .get(1..quoted.len().saturating_sub(1))
        .unwrap_or(s)
        .to_string()
}

/// `text` with the start of a secret that an excerpt cut off (the end of a
/// secret's first characters, right before `…`) replaced by `***`.
fn cut_secrets(text: &str, secrets: &[String]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('…') {
        let before = &rest[..at];
        let cut = secrets
            .iter()
            .filter_map(|s| {
                // The longest start of `s` that `before` ends with.
                (CUT_PREFIX..s.len())
                    .rev()
                    .filter(|&n| s.is_char_boundary(n))
                    .find(|&n| before.ends_with(&s[..n]))
            })
            .max();
        match cut {
            Some(n) => {
                out.push_str(&before[..before.len() - n]);
                out.push_str("***");
            }
            None => out.push_str(before),
        }
        out.push('…');
        rest = &rest[at + '…'.len_utf8()..];
    }
    out.push_str(rest);
    out
}

/// A header whose value is a credential whoever set it: `Authorization`,
/// `Proxy-Authorization`, `Cookie`, `Set-Cookie`, and any whose name says it
/// holds a token, secret, key, password or session (`X-Api-Key`,
/// `X-Gitlab-Token`). Every output shows its value as `***`.
pub fn sensitive_header(name: &str) -> bool {
    let name = name.as_bytes();
    [
        "authorization",
        "proxy-authorization",
        "cookie",
        "cookie2",
        "set-cookie",
    ]
    .iter()
    .any(|w| name.eq_ignore_ascii_case(w.as_bytes()))
        || names_a_secret(name)
}

/// Whether a header name contains `token`, `secret`, `api-key`, `apikey`,
/// `password` or `session`, whatever its case. Every header of every step
/// passes here: one walk over the name, comparing only where a word's
/// first letter stands, and no lower-cased copy.
fn names_a_secret(name: &[u8]) -> bool {
    let at = |rest: &[u8], word: &[u8]| {
        rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word)
    };
    (0..name.len()).any(|i| {
        let rest = &name[i..];
        match name[i].to_ascii_lowercase() {
            b't' => at(rest, b"token"),
            b's' => at(rest, b"secret") || at(rest, b"session"),
            b'a' => at(rest, b"api-key") || at(rest, b"apikey"),
            b'p' => at(rest, b"password"),
            _ => false,
        }
    })
}

/// A header's value as every output shows it: a sensitive header's value
/// as `***`, after its scheme for `Authorization` (`Bearer ***`).
pub fn header_value<'v>(name: &str, value: &'v str) -> std::borrow::Cow<'v, str> {
    if !sensitive_header(name) {
        return std::borrow::Cow::Borrowed(value);
    }
    let authorization = name.len() >= "authorization".len()
        && name.as_bytes()[name.len() - "authorization".len()..]
            .eq_ignore_ascii_case(b"authorization");
    let scheme = value.split_once(' ').map(|(s, _)| s).filter(|s| {
        authorization && !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    std::borrow::Cow::Owned(match scheme {
        Some(s) => format!("{s} ***"),
        None => "***".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_forms_are_redacted_too() {
        let r = Redactor::default();
        r.add("p@ss w/\"rd\"");
        assert_eq!(r.redact("a=p%40ss+w%2F%22rd%22&b"), "a=***&b");
        assert_eq!(r.redact("/x/p%40ss%20w%2F%22rd%22"), "/x/***");
        assert_eq!(r.redact(r#"{"k": "p@ss w/\"rd\""}"#), r#"{"k": "***"}"#);
    }

    #[test]
    fn json_is_borrowed_unless_a_secret_is_inside() {
        let r = Redactor::default();
        let clean = serde_json::json!({"a": ["x", {"b": "y"}]});
        assert!(matches!(
            r.redact_json_cow(&clean),
            std::borrow::Cow::Borrowed(_)
        ));
        r.add("s3cret-value");
        assert!(matches!(
            r.redact_json_cow(&clean),
            std::borrow::Cow::Borrowed(_)
        ));
        let dirty = serde_json::json!({"a": ["x", {"b": "token s3cret-value"}]});
        let red = r.redact_json_cow(&dirty);
        assert_eq!(*red, serde_json::json!({"a": ["x", {"b": "token ***"}]}));
        let in_key = serde_json::json!({"s3cret-value": 1});
        assert_eq!(*r.redact_json_cow(&in_key), serde_json::json!({"***": 1}));
    }

    #[test]
    fn cut_and_double_escaped_secrets_are_redacted() {
        let r = Redactor::default();
        r.add("abcdefghijklmnop-secret");
        // An excerpt that ends 14 characters into the secret.
        assert_eq!(r.redact("token: abcdefghijklmn…"), "token: ***…");
        assert_eq!(r.redact("x abc… y ab…"), "x ***… y ab…");
        assert_eq!(r.redact("plain … text"), "plain … text");
        r.add("q\"uote");
        let once = serde_json::to_string("q\"uote").unwrap();
        let twice = serde_json::to_string(&format!("{{\"v\": {once}}}")).unwrap();
        assert!(!r.redact(&twice).contains("uote"), "{}", r.redact(&twice));
    }

    #[test]
    fn short_secrets_are_noticed() {
        let r = Redactor::default();
        r.add("abcd");
        assert!(!r.short_secrets());
        r.add("abc");
        assert!(r.short_secrets());
        assert_eq!(r.redact("abc"), "abc");
    }

    #[test]
    fn sensitive_headers_whoever_set_them() {
        for name in [
            "Authorization",
            "set-cookie",
            "X-Api-Key",
            "x-gitlab-token",
            "Cookie",
        ] {
            assert!(sensitive_header(name), "{name}");
            assert_eq!(header_value(name, "v"), "***");
            assert_eq!(
                header_value(name, "a b"),
                if name == "Authorization" {
                    "a ***"
                } else {
                    "***"
                }
            );
        }
        // Each word, in any case and anywhere in the name; a word cut short
        // at the name's end is not one.
        for name in [
            "X-Auth-TOKEN",
            "client-Secret",
            "X-APIKEY-1",
            "db-password",
            "SessionId",
            "xtokenx",
        ] {
            assert!(sensitive_header(name), "{name}");
        }
        for name in [
            "content-type",
            "accept",
            "x-request-id",
            "keep-alive",
            "x-toke",
            "x-secre",
            "api-ke",
            "passwor",
            "sessio",
        ] {
            assert!(!sensitive_header(name), "{name}");
        }
    }

    #[test]
    fn redacts_longest_first() {
        let r = Redactor::default();
        r.add("abcd");
        r.add("abcdefgh");
        assert_eq!(r.redact("x abcdefgh y abcd"), "x *** y ***");
        r.add("ab");
        assert_eq!(r.redact("ab"), "ab");
    }
}
