//! The redactor: replaces every known secret value with `***`.

use std::sync::{Arc, RwLock};

/// Replaces known secret values with `***`. Cheap to clone; clones share the set.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Arc<RwLock<Vec<String>>>,
}

impl Redactor {
    /// Adds a value to redact from now on. Very short values are ignored:
    /// redacting every "a" would make output unreadable and protect nothing.
    pub fn add(&self, secret: &str) {
        if secret.len() < 4 {
            return;
        }
        // The forms a secret takes on its way out: in a URL or form
        // (`%40`, `+`), and inside JSON text (`\"`, `\\`).
        let percent: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        let quoted = serde_json::to_string(secret).unwrap_or_default();
        let json = quoted
            .get(1..quoted.len().saturating_sub(1))
            .unwrap_or(secret);
        for variant in [percent.as_str(), &percent.replace('+', "%20"), json] {
            if variant != secret {
                self.add_one(variant);
            }
        }
        self.add_one(secret);
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

    /// `text` with every known secret replaced by `***`.
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
    fn redacts_longest_first() {
        let r = Redactor::default();
        r.add("abcd");
        r.add("abcdefgh");
        assert_eq!(r.redact("x abcdefgh y abcd"), "x *** y ***");
        r.add("ab");
        assert_eq!(r.redact("ab"), "ab");
    }
}
