//! Simple templates: most chain strings are text with a few `{{ step.field }}`
//! lookups, read here without minijinja's compiler and rendered by looking
//! the names up in the context the way minijinja does. Anything else, and
//! any lookup that does not find a plain value, is minijinja's (tests render
//! every template of the repository both ways).

use minijinja::Value as MjValue;

use super::TextTemplate;

/// A part of a simple text template.
#[derive(Debug, PartialEq)]
pub(super) enum Piece {
    /// Text of the source, from and to these byte offsets.
    Text(usize, usize),
    /// The value at the template's name with this index.
    Lookup(usize),
}

// ------------------------------------------------------- simple templates
//
// Most chain strings are text with a few `{{ step.field }}` lookups. Those
// are read here, without minijinja's compiler (which costs tens of
// microseconds and ~12 KB per template), and rendered by looking the names
// up in the context the way minijinja's `Lookup` and `GetAttr` instructions
// do. Whenever the result would not be a plain value found by that lookup,
// rendering falls back to minijinja, so output and errors stay minijinja's.

/// Words the expression syntax gives a meaning of their own.
pub(super) const RESERVED: &[&str] = &[
    "true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if", "else",
    "loop", "self", "super", "caller", "varargs", "kwargs",
];

/// `name(.attr)*` with ASCII identifiers and optional spaces around it:
/// the path without the spaces.
pub(super) fn simple_path(expr: &str) -> Option<&str> {
    let expr = expr.trim_matches(' ');
    // At the start of a segment; where the first segment ends.
    let mut start = true;
    let mut first_end = expr.len();
    for (i, b) in expr.bytes().enumerate() {
        if b == b'.' {
            if start {
                return None;
            }
            first_end = first_end.min(i);
            start = true;
        } else if start {
            if !(b.is_ascii_alphabetic() || b == b'_') {
                return None;
            }
            start = false;
        } else if !(b.is_ascii_alphanumeric() || b == b'_') {
            return None;
        }
    }
    if start || RESERVED.contains(&&expr[..first_end]) {
        return None;
    }
    Some(expr)
}

/// Where the first `{` followed by one of `next` is: `{{`, `{%` and `{#`
/// found in one pass over the text (validation compiles every string).
pub(super) fn find_open(s: &str, next: &[u8]) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut from = 0;
    while let Some(p) = s[from..].find('{') {
        let at = from + p;
        if bytes.get(at + 1).is_some_and(|b| next.contains(b)) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Splits `text {{ a.b }} text` into pieces and the names they read (each
/// once, in order), or `None` if anything in it needs the real template
/// engine (filters, blocks, comments, whitespace control).
pub(super) fn simple_pieces(s: &str) -> Option<(Vec<Piece>, Vec<String>)> {
    let mut pieces = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut at = 0;
    while let Some(open) = find_open(&s[at..], b"{%#") {
        let open = at + open;
        if s.as_bytes()[open + 1] != b'{' {
            // `{%` or `{#` before any further `{{`.
            return None;
        }
        if open > at {
            pieces.push(Piece::Text(at, open));
        }
        let after = &s[open + 2..];
        let close = after.find("}}")?;
        let inner = &after[..close];
        if inner.starts_with(['-', '+']) || inner.ends_with(['-', '+']) {
            return None;
        }
        let path = simple_path(inner)?;
        let index = match names.iter().position(|n| n == path) {
            Some(i) => i,
            None => {
                names.push(path.to_string());
                names.len() - 1
            }
        };
        pieces.push(Piece::Lookup(index));
        at = open + 2 + close + 2;
    }
    if at < s.len() {
        pieces.push(Piece::Text(at, s.len()));
    }
    Some((pieces, names))
}

/// The value at `path`, if every step of the way finds one.
pub(super) fn lookup(ctx: &MjValue, path: &str) -> Option<MjValue> {
    let mut segments = path.split('.');
    let mut v = ctx.get_attr(segments.next()?).ok()?;
    for seg in segments {
        if v.is_undefined() {
            return None;
        }
        v = v.get_attr(seg).ok()?;
    }
    (!v.is_undefined()).then_some(v)
}

/// Renders simple pieces the way minijinja prints values without
/// auto-escaping; `None` for anything else (minijinja then renders it).
pub(super) fn render_pieces(t: &TextTemplate, pieces: &[Piece], ctx: &MjValue) -> Option<String> {
    use minijinja::value::ValueKind;
    use std::fmt::Write as _;
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(from, to) => out.push_str(&t.source[*from..*to]),
            Piece::Lookup(i) => {
                let v = lookup(ctx, &t.names[*i])?;
                match v.kind() {
                    ValueKind::String => out.push_str(v.as_str()?),
                    ValueKind::Number | ValueKind::Bool | ValueKind::None => {
                        write!(out, "{v}").ok()?;
                    }
                    _ => return None,
                }
            }
        }
    }
    Some(out)
}
