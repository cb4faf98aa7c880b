//! The templates an export can say in Arazzo: text, names with paths
//! (`{{ Login.token }}`, `{{ items[0]['id'] }}`) and `secret('NAME')`.

/// One piece of a template string.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Piece {
    Text(String),
    /// A name and the path after it (`Login.token` → `Login`, `[token]`).
    Path(String, Vec<String>),
    Secret(String),
}

/// The pieces of `s`, or `None` when it holds something else (filters,
/// operators, calls, `{% … %}`).
pub(super) fn pieces(s: &str) -> Option<Vec<Piece>> {
    if s.contains("{%") || s.contains("{#") {
        return None;
    }
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            out.push(Piece::Text(rest[..open].to_string()));
        }
        let close = rest[open..].find("}}")? + open;
        out.push(expression(rest[open + 2..close].trim())?);
        rest = &rest[close + 2..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest.to_string()));
    }
    Some(out)
}

fn expression(e: &str) -> Option<Piece> {
    if let Some(arg) = e
        .strip_prefix("secret(")
        .and_then(|a| a.strip_suffix(')'))
        .map(str::trim)
    {
        return quoted(arg).map(Piece::Secret);
    }
    let b = e.as_bytes();
    let mut i = 0;
    let ident = |i: &mut usize| -> Option<String> {
        let start = *i;
        while *i < b.len() && (b[*i].is_ascii_alphanumeric() || b[*i] == b'_') {
            *i += 1;
        }
        (*i > start && !b[start].is_ascii_digit()).then(|| e[start..*i].to_string())
    };
    let root = ident(&mut i)?;
    let mut rest = Vec::new();
    while i < b.len() {
        match b[i] {
            b'.' => {
                i += 1;
                rest.push(ident(&mut i)?);
            }
            b'[' => {
                let close = e[i..].find(']')? + i;
                let inner = e[i + 1..close].trim();
                if inner.bytes().all(|c| c.is_ascii_digit()) && !inner.is_empty() {
                    rest.push(inner.to_string());
                } else {
                    rest.push(quoted(inner)?);
                }
                i = close + 1;
            }
            _ => return None,
        }
    }
    Some(Piece::Path(root, rest))
}

/// `'text'` or `"text"` without escapes, as its text.
fn quoted(s: &str) -> Option<String> {
    let q = s.chars().next()?;
    if (q == '\'' || q == '"') && s.len() >= 2 && s.ends_with(q) {
        let inner = &s[1..s.len() - 1];
        (!inner.contains(q) && !inner.contains('\\')).then(|| inner.to_string())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_paths_and_secrets_are_pieces_the_rest_is_not() {
        assert_eq!(
            pieces("Bearer {{ Login.token }}"),
            Some(vec![
                Piece::Text("Bearer ".into()),
                Piece::Path("Login".into(), vec!["token".into()])
            ])
        );
        assert_eq!(
            pieces("{{ items[0]['id'] }}"),
            Some(vec![Piece::Path(
                "items".into(),
                vec!["0".into(), "id".into()]
            )])
        );
        assert_eq!(
            pieces("{{ secret('gh') }}"),
            Some(vec![Piece::Secret("gh".into())])
        );
        assert_eq!(pieces("plain"), Some(vec![Piece::Text("plain".into())]));
        assert_eq!(pieces("{{ a | upper }}"), None);
        assert_eq!(pieces("{{ a + 1 }}"), None);
        assert_eq!(pieces("{% if a %}x{% endif %}"), None);
        assert_eq!(pieces("{{ 1abc }}"), None);
    }
}
