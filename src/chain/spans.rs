//! Where each value of a chain file sits in its text.
//!
//! Diagnostics need positions for errors found *after* parsing (a bad
//! template, a duplicate name), so each reader — [`super::yaml`] and
//! [`read_json`] below — gives a tree of positions with the data, searched
//! by a value's path (`steps[1].url`, the same spelling
//! `serde_path_to_error` uses) for where its key and its value start.

use std::sync::Arc;

use serde_json::Value;

use crate::diagnostic::Loc;

/// Positions of every value (and every map key) in a chain file.
///
/// Kept as a tree shaped like the document and searched by path when a
/// diagnostic asks: building a map of every path up front cost more than
/// parsing the file (a 1000-step chain has ~4000 of them).
#[derive(Debug, Default, Clone)]
pub struct SpanMap {
    root: Option<Arc<PosNode>>,
}

/// Where one value starts, and the positions inside it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct PosNode {
    pub(super) loc: Loc,
    pub(super) kids: Kids,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Kids {
    Leaf,
    Seq(Vec<PosNode>),
    /// Key, where the key starts, the value's positions.
    Map(Vec<(Box<str>, Loc, PosNode)>),
}

impl PosNode {
    pub(super) fn leaf(loc: Loc) -> Self {
        PosNode {
            loc,
            kids: Kids::Leaf,
        }
    }

    /// The node at `path` (relative to this one) and, when the last step was
    /// a map key, where that key starts.
    fn find(&self, path: &str) -> Option<(Option<Loc>, &PosNode)> {
        if path.is_empty() {
            return Some((None, self));
        }
        match &self.kids {
            Kids::Leaf => None,
            Kids::Seq(items) => {
                let inner = path.strip_prefix('[')?;
                let close = inner.find(']')?;
                let i: usize = inner[..close].parse().ok()?;
                let rest = &inner[close + 1..];
                let rest = rest.strip_prefix('.').unwrap_or(rest);
                items.get(i)?.find(rest)
            }
            Kids::Map(entries) => {
                // A key may itself contain `.` or `[`: try every key the path
                // starts with, so `headers.X.Y` still finds the key `X.Y`.
                entries.iter().find_map(|(key, kloc, node)| {
                    let rest = path.strip_prefix(&**key)?;
                    if rest.is_empty() {
                        return Some((Some(*kloc), node));
                    }
                    let rest = match rest.strip_prefix('.') {
                        Some(r) => r,
                        None if rest.starts_with('[') => rest,
                        None => return None,
                    };
                    node.find(rest)
                })
            }
        }
    }
}

impl SpanMap {
    pub(super) fn new(root: PosNode) -> Self {
        SpanMap {
            root: Some(Arc::new(root)),
        }
    }

    fn find(&self, path: &str) -> Option<(Option<Loc>, &PosNode)> {
        self.root.as_deref()?.find(path)
    }

    /// Positions for a document made from another one (an Arazzo workflow
    /// turned into a chain): every value of `doc` gets the position
    /// `locate` gives its path, else its parent's.
    pub fn mapped(doc: &Value, locate: &dyn Fn(&str) -> Option<Loc>) -> SpanMap {
        fn node(
            v: &Value,
            path: &str,
            parent: Loc,
            locate: &dyn Fn(&str) -> Option<Loc>,
        ) -> PosNode {
            let loc = locate(path).unwrap_or(parent);
            let kids = match v {
                Value::Object(m) => Kids::Map(
                    m.iter()
                        .map(|(k, v)| {
                            let p = join_key(path, k);
                            let kid = node(v, &p, loc, locate);
                            (k.as_str().into(), kid.loc, kid)
                        })
                        .collect(),
                ),
                Value::Array(items) => Kids::Seq(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| node(v, &join_index(path, i), loc, locate))
                        .collect(),
                ),
                _ => Kids::Leaf,
            };
            PosNode { loc, kids }
        }
        SpanMap::new(node(doc, "", Loc::new(1, 1), locate))
    }

    /// Where the value at `path` starts.
    pub fn value(&self, path: &str) -> Option<Loc> {
        self.find(path).map(|(_, n)| n.loc)
    }

    /// The positions under `prefix`, with paths relative to it (for a
    /// document written inside another, like an inline connector).
    pub fn under(&self, prefix: &str) -> SpanMap {
        match self.find(prefix) {
            Some((_, node)) => SpanMap::new(node.clone()),
            None => SpanMap::default(),
        }
    }

    /// Which of `keys` the map at `path` has written in it: one walk from
    /// the root for all of them, and no path string built for each.
    pub fn has_keys<const N: usize>(&self, path: &str, keys: [&str; N]) -> [bool; N] {
        let mut found = [false; N];
        if let Some((
            _,
            PosNode {
                kids: Kids::Map(entries),
                ..
            },
        )) = self.find(path)
        {
            for (k, _, _) in entries {
                for (i, key) in keys.iter().enumerate() {
                    found[i] |= **k == **key;
                }
            }
        }
        found
    }

    /// Where the key of the map entry at `path` starts (falls back to the value).
    pub fn key(&self, path: &str) -> Option<Loc> {
        self.find(path).map(|(k, n)| k.unwrap_or(n.loc))
    }

    /// The nearest known position at `path` or above it.
    pub fn nearest(&self, path: &str) -> Option<Loc> {
        let mut p = path;
        loop {
            if let Some(loc) = self.key(p) {
                return Some(loc);
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => return self.value(""),
            }
        }
    }
}

/// Appends a map key to a path: `steps[0]` + `url` → `steps[0].url`.
pub fn join_key(path: &str, key: &str) -> String {
    if path.is_empty() {
        return key.to_string();
    }
    // Built by hand: `format!` costs several times more, and validation
    // builds a few of these for every step.
    let mut out = String::with_capacity(path.len() + 1 + key.len());
    out.push_str(path);
    out.push('.');
    out.push_str(key);
    out
}

/// Appends a sequence index to a path.
pub fn join_index(path: &str, i: usize) -> String {
    // By hand too: `write!` through the formatter cost four times more, and
    // validation builds one of these for every step.
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(i);
    let mut out = String::with_capacity(path.len() + digits.len() + 2);
    out.push_str(path);
    out.push('[');
    out.push_str(digits);
    out.push(']');
    out
}

/// A syntax error (YAML or JSON) with its position.
#[derive(Debug)]
pub struct SyntaxError {
    pub message: String,
    pub loc: Option<Loc>,
}

// ---------------------------------------------------------------- JSON

/// Reads JSON into data plus positions. serde_json checks the syntax (and
/// reports its errors); a small scanner then walks the text, which is known
/// to be valid, to note where each value starts and to refuse duplicate keys.
pub fn read_json(text: &str) -> Result<(Value, SpanMap), SyntaxError> {
    // A byte-order mark is no part of the document (editors on Windows add one).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let value: Value = serde_json::from_str(text).map_err(|e| SyntaxError {
        message: json_message(&e),
        loc: (e.line() > 0).then(|| Loc::new(e.line(), e.column().max(1))),
    })?;
    let mut scanner = JsonScanner {
        text,
        pos: 0,
        line: 1,
        col: 1,
    };
    let pos = scanner.value()?;
    Ok((value, SpanMap::new(pos)))
}

fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

struct JsonScanner<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    col: usize,
}

impl JsonScanner<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r' | '\u{feff}')) {
            self.bump();
        }
    }

    fn loc(&self) -> Loc {
        Loc::new(self.line, self.col)
    }

    /// Skips a string token and returns its decoded text.
    fn string(&mut self) -> String {
        let start = self.pos;
        self.bump(); // opening quote
        while let Some(c) = self.bump() {
            match c {
                '\\' => {
                    self.bump();
                }
                '"' => break,
                _ => {}
            }
        }
        serde_json::from_str(&self.text[start..self.pos]).unwrap_or_default()
    }

    fn value(&mut self) -> Result<PosNode, SyntaxError> {
        self.skip_ws();
        let loc = self.loc();
        let kids = match self.peek() {
            Some('{') => {
                self.bump();
                let mut entries: Vec<(Box<str>, Loc, PosNode)> = Vec::new();
                let mut seen = std::collections::HashSet::new();
                loop {
                    self.skip_ws();
                    match self.peek() {
                        Some('}') => {
                            self.bump();
                            break;
                        }
                        Some(',') => {
                            self.bump();
                        }
                        Some('"') => {
                            let kloc = self.loc();
                            let key = self.string();
                            if !seen.insert(key.clone()) {
                                return Err(SyntaxError {
                                    message: format!("duplicate key `{key}`"),
                                    loc: Some(kloc),
                                });
                            }
                            self.skip_ws();
                            self.bump(); // ':'
                            let node = self.value()?;
                            entries.push((key.into_boxed_str(), kloc, node));
                        }
                        _ => break,
                    }
                }
                Kids::Map(entries)
            }
            Some('[') => {
                self.bump();
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    match self.peek() {
                        Some(']') => {
                            self.bump();
                            break;
                        }
                        Some(',') => {
                            self.bump();
                        }
                        Some(_) => items.push(self.value()?),
                        None => break,
                    }
                }
                Kids::Seq(items)
            }
            Some('"') => {
                self.string();
                Kids::Leaf
            }
            _ => {
                while matches!(self.peek(), Some(c) if !matches!(c, ',' | '}' | ']' | ' ' | '\t' | '\n' | '\r'))
                {
                    self.bump();
                }
                Kids::Leaf
            }
        };
        Ok(PosNode { loc, kids })
    }
}

#[cfg(test)]
mod tests {
    use super::super::yaml::read_yaml;
    use super::*;

    #[test]
    fn json_positions_match_paths() {
        let text = "{\n  \"steps\": [\n    {\"name\": \"A\", \"url\": \"http://x\"}\n  ]\n}";
        let (value, spans) = read_json(text).unwrap();
        assert_eq!(value["steps"][0]["url"], "http://x");
        assert_eq!(spans.key("steps[0].url"), Some(Loc::new(3, 19)));
        assert_eq!(spans.value("steps[0].url"), Some(Loc::new(3, 26)));
        assert_eq!(spans.value("steps[0]"), Some(Loc::new(3, 5)));
    }

    #[test]
    fn keys_with_dots_and_brackets_are_found() {
        let text = "headers:\n  a: 1\n  a.b: 2\n  x[1]: 3\nlist:\n  - [p, q]\n";
        let (_, spans) = read_yaml(text).unwrap();
        assert_eq!(spans.key("headers.a.b"), Some(Loc::new(3, 3)));
        assert_eq!(spans.value("headers.a.b"), Some(Loc::new(3, 8)));
        assert_eq!(spans.key("headers.x[1]"), Some(Loc::new(4, 3)));
        assert_eq!(spans.value("list[0][1]"), Some(Loc::new(6, 9)));
        assert_eq!(spans.value("list[1]"), None);
        assert_eq!(spans.nearest("list[0][7].z"), Some(Loc::new(6, 5)));
        let inner = spans.under("headers");
        assert_eq!(inner.key("a"), Some(Loc::new(2, 3)));
        assert_eq!(inner.value(""), Some(Loc::new(2, 3)));
    }

    #[test]
    fn paths_are_joined_like_serde_path_to_error_writes_them() {
        assert_eq!(join_index("steps", 0), "steps[0]");
        assert_eq!(join_index("steps", 1234), "steps[1234]");
        assert_eq!(join_index("", usize::MAX), format!("[{}]", usize::MAX));
        assert_eq!(join_key(&join_index("steps", 7), "url"), "steps[7].url");
        assert_eq!(join_key("", "vars"), "vars");
    }

    #[test]
    fn json_duplicate_keys_are_refused() {
        let err = read_json("{\"a\": 1,\n \"a\": 2}").unwrap_err();
        assert_eq!(err.message, "duplicate key `a`");
        assert_eq!(err.loc, Some(Loc::new(2, 2)));
    }
}
