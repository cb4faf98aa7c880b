//! JSONPath (RFC 9535) through jsonpath-rust: compiled once at validation,
//! applied to response bodies by `extract`, `expect` and the `jsonpath` filter.

use jsonpath_rust::parser::model::{JpQuery, Segment, Selector};
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::Value;

/// A parsed JSONPath query.
#[derive(Debug, Clone)]
pub struct JsonPath {
    source: String,
    query: JpQuery,
}

impl JsonPath {
    /// Parses `text`; the error says what is wrong with it.
    ///
    /// Chains repeat the same few paths (`$.id` in every step), and the
    /// parser is slow (13% of validating a 50-step chain), so the parses of
    /// this thread are remembered, up to a bound.
    pub fn compile(text: &str) -> Result<JsonPath, String> {
        thread_local! {
            static PARSED: std::cell::RefCell<std::collections::HashMap<String, Result<JpQuery, String>>> =
                std::cell::RefCell::default();
        }
        const REMEMBERED: usize = 4096;
        let query = PARSED.with(|cache| {
            if let Some(hit) = cache.borrow().get(text) {
                return hit.clone();
            }
            let parsed = parse_json_path(text).map_err(|e| describe_error(text, &e.to_string()));
            let mut cache = cache.borrow_mut();
            if cache.len() >= REMEMBERED {
                cache.clear();
            }
            cache.insert(text.to_string(), parsed.clone());
            parsed
        })?;
        Ok(JsonPath {
            source: text.to_string(),
            query,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// RFC 9535 §2.3.5.1: a singular query has only name and index selectors,
    /// one per segment, and no descendant segments. It selects at most one node.
    pub fn is_singular(&self) -> bool {
        self.query.segments.iter().all(|s| {
            matches!(
                s,
                Segment::Selector(Selector::Name(_)) | Segment::Selector(Selector::Index(_))
            )
        })
    }

    /// A singular query's names and indexes, in order (`$.a[0]` → `a`,
    /// `0`); `None` for any other query, or one with a negative index.
    pub fn singular_segments(&self) -> Option<Vec<String>> {
        self.query
            .segments
            .iter()
            .map(|s| match s {
                Segment::Selector(Selector::Name(n)) => Some(unquote(n)),
                Segment::Selector(Selector::Index(i)) if *i >= 0 => Some(i.to_string()),
                _ => None,
            })
            .collect()
    }

    /// Every node the query selects, in document order.
    pub fn select<'a>(&self, doc: &'a Value) -> Result<Vec<&'a Value>, String> {
        js_path_process(&self.query, doc)
            .map(|refs| refs.into_iter().map(|r| r.val).collect())
            .map_err(|e| e.to_string())
    }

    /// Every node the query selects, with where it is (`$['a'][0]`).
    pub fn select_located<'a>(&self, doc: &'a Value) -> Result<Vec<(String, &'a Value)>, String> {
        js_path_process(&self.query, doc)
            .map(|refs| refs.into_iter().map(|r| (r.path, r.val)).collect())
            .map_err(|e| e.to_string())
    }

    /// SPEC §3: a singular path yields its value (an error when nothing is
    /// there); any other path yields the list of matches, possibly empty.
    pub fn extract(&self, doc: &Value) -> Result<Value, String> {
        let found = self.select(doc)?;
        if self.is_singular() {
            found
                .into_iter()
                .next()
                .cloned()
                .ok_or_else(|| format!("`{}` matched nothing in the response", self.source))
        } else {
            Ok(Value::Array(found.into_iter().cloned().collect()))
        }
    }
}

/// jsonpath-rust's errors are pest reports drawn for a terminal; keep the
/// column and what was expected, and let our diagnostic draw the rest.
fn describe_error(text: &str, report: &str) -> String {
    let column = report
        .split("--> ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|pos| pos.split(':').nth(1))
        .and_then(|c| c.parse::<usize>().ok());
    let expected = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("= "))
        .map(|e| e.replace('_', " "));
    let mut msg = format!("`{text}` is not a valid JSONPath");
    if let Some(c) = column {
        msg.push_str(&format!(" (at character {c}"));
        if let Some(e) = expected {
            msg.push_str(&format!(": {e}"));
        }
        msg.push(')');
    } else if let Some(first) = report.lines().next().filter(|l| !l.trim().is_empty()) {
        msg.push_str(&format!(": {}", first.trim()));
    }
    if !text.starts_with('$') {
        msg.push_str("; a JSONPath starts with `$`");
    }
    msg
}

/// A name selector as the parser keeps it, without its quotes.
fn unquote(name: &str) -> String {
    let quoted = name.len() >= 2
        && ((name.starts_with('\'') && name.ends_with('\''))
            || (name.starts_with('"') && name.ends_with('"')));
    if quoted {
        name[1..name.len() - 1].to_string()
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn singular_paths_yield_values_others_lists() {
        let doc = json!({"a": [{"b": 1}, {"b": 2}]});
        let p = JsonPath::compile("$.a[1].b").unwrap();
        assert!(p.is_singular());
        assert_eq!(p.extract(&doc).unwrap(), json!(2));
        let p = JsonPath::compile("$.a[*].b").unwrap();
        assert!(!p.is_singular());
        assert_eq!(p.extract(&doc).unwrap(), json!([1, 2]));
        let p = JsonPath::compile("$.a[5].b").unwrap();
        assert!(p.extract(&doc).unwrap_err().contains("matched nothing"));
        assert_eq!(JsonPath::compile("$").unwrap().extract(&doc).unwrap(), doc);
    }

    #[test]
    fn invalid_paths_are_errors() {
        assert!(JsonPath::compile("$.a[").is_err());
        assert!(JsonPath::compile("a.b").is_err());
    }

    #[test]
    fn singular_paths_give_their_segments() {
        let seg = |p: &str| JsonPath::compile(p).unwrap().singular_segments();
        assert_eq!(
            seg("$.a[0].b"),
            Some(vec!["a".into(), "0".into(), "b".into()])
        );
        assert_eq!(seg("$['a b'][\"c\"]"), Some(vec!["a b".into(), "c".into()]));
        assert_eq!(seg("$"), Some(vec![]));
        assert_eq!(seg("$[*].id"), None);
        assert_eq!(seg("$[-1]"), None);
    }
}
