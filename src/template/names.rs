//! What a template reads: its names, the roots of those that decide a
//! URL's origin, the optional ones (`| default`), the secrets it names.

use std::collections::HashSet;

use serde_json::Value;

use super::{FUNCTIONS, find_open};

/// The template blocks (`{{ … }}`, `{% … %}`) of a URL template that come
/// before its path: before the first `/`, `\`, `?` or `#` of the literal text
/// that is not part of `://`.
pub(super) fn origin_blocks(source: &str) -> Vec<&str> {
    let mut blocks = Vec::new();
    let mut rest = source;
    loop {
        let open = find_open(rest, b"{%#").unwrap_or(rest.len());
        let text = &rest[..open];
        let mut from = 0;
        while let Some(i) = text[from..].find(['/', '\\', '?', '#']) {
            let at = from + i;
            if text[..at].ends_with(':') && text[at..].starts_with("//") {
                from = at + 2;
                continue;
            }
            return blocks;
        }
        if open == rest.len() {
            return blocks;
        }
        let close = match rest.as_bytes()[open + 1] {
            b'{' => "}}",
            b'%' => "%}",
            _ => "#}",
        };
        let Some(end) = find_short(&rest[open + 2..], close) else {
            // Not closed: all of it may be the origin.
            blocks.push(&rest[open..]);
            return blocks;
        };
        let end = open + 2 + end + 2;
        if close != "#}" {
            blocks.push(&rest[open..end]);
        }
        rest = &rest[end..];
    }
}

/// `name(` stands in `text` as a call (not a method: no `.` before it).
pub fn is_called(text: &str, name: &str) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].trim_end().chars().next_back();
        !before.is_some_and(|c| is_ident(c) || c == '.')
            && text[at + name.len()..].trim_start().starts_with('(')
    })
}

/// `word` stands in `text` as a whole identifier.
pub(super) fn has_word(text: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(i) = find_short(&text[from..], word) {
        let at = from + i;
        if !text[..at].chars().next_back().is_some_and(is_ident)
            && !text[at + word.len()..].chars().next().is_some_and(is_ident)
        {
            return true;
        }
        // The needle's first byte starts a character: so does the next one.
        from = at + word.chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// Where `needle` first stands in `hay`: for the short needles of template
/// names, where `str::find` spends more setting up its searcher than
/// searching.
fn find_short(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let (&first, rest) = n.split_first()?;
    let mut from = 0;
    while let Some(i) = h.get(from..)?.iter().position(|&b| b == first) {
        let at = from + i;
        if h[at + 1..].starts_with(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Splits a variable path from `undeclared_variables` into its first two segments.
pub fn root_and_child(path: &str) -> (&str, Option<&str>) {
    match path.split_once('.') {
        None => (path, None),
        Some((root, rest)) => (root, Some(rest.split_once('.').map_or(rest, |(c, _)| c))),
    }
}

/// Whether `template` reads `name` only behind a guard somewhere: `name |
/// default(…)`, `name | d(…)` or `name is [not] defined`. Such a variable is
/// optional, so validation must not demand that it exists.
pub fn is_guarded(template: &str, name: &str) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(pos) = template[from..].find(name) {
        let start = from + pos;
        let end = start + name.len();
        from = end;
        let before_ok = !template[..start].chars().next_back().is_some_and(is_ident);
        let after_ok = !template[end..].chars().next().is_some_and(is_ident);
        if !(before_ok && after_ok) {
            continue;
        }
        // Skip the rest of the path (`.a['b']`) and spaces.
        let rest = template[end..]
            .trim_start_matches(|c: char| is_ident(c) || matches!(c, '.' | '[' | ']' | '\'' | '"'))
            .trim_start();
        if let Some(filter) = rest.strip_prefix('|') {
            let filter = filter.trim_start();
            let word: String = filter.chars().take_while(|c| is_ident(*c)).collect();
            if word == "default" || word == "d" {
                return true;
            }
        } else if let Some(test) = rest.strip_prefix("is") {
            let test = test.trim_start();
            let test = test.strip_prefix("not").map_or(test, str::trim_start);
            let word: String = test.chars().take_while(|c| is_ident(*c)).collect();
            if matches!(word.as_str(), "defined" | "undefined" | "none") {
                return true;
            }
        }
    }
    false
}

/// Names passed literally to `secret(...)` in `template`: `secret("gh")`, `secret('gh')`.
pub fn secret_names(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find("secret(") {
        let before_ok = !rest[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        rest = &rest[i + "secret(".len()..];
        let arg = rest.trim_start();
        let Some(q) = arg.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            continue;
        };
        if let Some(end) = arg[1..].find(q)
            && before_ok
        {
            out.push(arg[1..1 + end].to_string());
        }
    }
    out
}

/// Names passed literally to `secret(...)` anywhere in a chain value.
pub fn collect_secret_names(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) if s.contains("secret") => out.extend(secret_names(s)),
        Value::Array(items) => items.iter().for_each(|v| collect_secret_names(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_secret_names(v, out)),
        _ => {}
    }
}

/// The set of function names, for validation.
pub fn function_names() -> HashSet<&'static str> {
    FUNCTIONS.iter().copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_found_whole_past_partial_matches() {
        assert!(has_word("{{ base_url ~ base }}", "base"));
        assert!(!has_word("{{ base_url ~ database }}", "base"));
        assert!(!has_word("{{ ébase }}", "base"));
        assert!(has_word("{{ é ~ base }}", "base"));
        assert!(has_word("{{ é }}", "é"));
        assert!(!has_word("", "base"));
        assert_eq!(find_short("a}}b}}", "}}"), Some(1));
        assert_eq!(find_short("a}b}", "}}"), None);
        assert_eq!(find_short("é}}", "}}"), Some(2));
    }
}
