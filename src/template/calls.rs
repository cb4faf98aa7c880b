//! The filters and tests a template names (`| intt`, `is evenn`), found
//! before anything is sent: minijinja looks them up only when it renders,
//! after earlier steps have already been sent.

/// A name a template applies as a filter or a test.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Call {
    Filter(String),
    Test(String),
}

/// Filter names offered as suggestions (each is checked to exist by a
/// test; an unknown one is suggested from those the environment has).
pub(super) const FILTER_NAMES: &[&str] = &[
    "abs",
    "attr",
    "b64decode",
    "b64encode",
    "batch",
    "bool",
    "capitalize",
    "chain",
    "count",
    "d",
    "datetimeformat",
    "dateformat",
    "default",
    "dictsort",
    "e",
    "escape",
    "filesizeformat",
    "first",
    "float",
    "format",
    "fromjson",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "jsonpath",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "path_segment",
    "pluralize",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "split",
    "string",
    "striptags",
    "sum",
    "timeformat",
    "title",
    "tojson",
    "trim",
    "truncate",
    "unique",
    "upper",
    "urlencode",
    "zip",
];

/// Test names offered as suggestions.
pub(super) const TEST_NAMES: &[&str] = &[
    "boolean",
    "defined",
    "endingwith",
    "eq",
    "even",
    "false",
    "filter",
    "float",
    "ge",
    "gt",
    "in",
    "integer",
    "iterable",
    "le",
    "lower",
    "lt",
    "mapping",
    "ne",
    "none",
    "number",
    "odd",
    "sameas",
    "sequence",
    "startingwith",
    "string",
    "test",
    "true",
    "undefined",
    "upper",
];

/// The filters and tests `source` names, in order, each once. Text outside
/// `{{ … }}` and `{% … %}`, comments, raw blocks and string literals are
/// skipped.
pub fn calls(source: &str) -> Vec<Call> {
    let mut out: Vec<Call> = Vec::new();
    let mut rest = source;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = match after.as_bytes().first() {
            Some(b'{') => "}}",
            Some(b'%') => "%}",
            Some(b'#') => {
                rest = after.find("#}").map_or("", |e| &after[e + 2..]);
                continue;
            }
            _ => {
                rest = after;
                continue;
            }
        };
        let (block, tail) = split_block(&after[1..], close);
        let tokens = tokens(block);
        if close == "%}" && tokens.first() == Some(&Token::Ident("raw")) {
            rest = tail
                .find("endraw")
                .and_then(|e| tail[e..].find("%}").map(|c| &tail[e + c + 2..]))
                .unwrap_or("");
            continue;
        }
        for call in calls_in(&tokens, close == "%}") {
            if !out.contains(&call) {
                out.push(call);
            }
        }
        rest = tail;
    }
    out
}

/// The block's text up to `close` (outside strings) and what follows it.
fn split_block<'a>(text: &'a str, close: &str) -> (&'a str, &'a str) {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(_) if b == b'\\' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if bytes[i..].starts_with(close.as_bytes()) => {
                return (&text[..i], &text[i + 2..]);
            }
            None => {}
        }
        i += 1;
    }
    (text, "")
}

#[derive(Debug, PartialEq, Eq)]
enum Token<'a> {
    Ident(&'a str),
    Pipe,
    Dot,
    Other,
}

fn tokens(block: &str) -> Vec<Token<'_>> {
    let bytes = block.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_alphabetic() || b == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            out.push(Token::Ident(&block[start..i]));
            continue;
        }
        match b {
            b'"' | b'\'' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                out.push(Token::Other);
            }
            b'|' => out.push(Token::Pipe),
            b'.' => out.push(Token::Dot),
            b if b.is_ascii_whitespace() || b == b'-' && out.is_empty() => {}
            _ => out.push(Token::Other),
        }
        i += 1;
    }
    out
}

fn calls_in(tokens: &[Token<'_>], statement: bool) -> Vec<Call> {
    let mut out = Vec::new();
    // `{% filter upper %}…{% endfilter %}`
    if statement
        && tokens.first() == Some(&Token::Ident("filter"))
        && let Some(Token::Ident(name)) = tokens.get(1)
    {
        out.push(Call::Filter(name.to_string()));
    }
    for (i, t) in tokens.iter().enumerate() {
        let before_dot = i > 0 && tokens[i - 1] == Token::Dot;
        match t {
            Token::Pipe => {
                if let Some(Token::Ident(name)) = tokens.get(i + 1) {
                    out.push(Call::Filter(name.to_string()));
                }
            }
            Token::Ident("is") if !before_dot => {
                let mut j = i + 1;
                if tokens.get(j) == Some(&Token::Ident("not")) {
                    j += 1;
                }
                if let Some(Token::Ident(name)) = tokens.get(j) {
                    out.push(Call::Test(name.to_string()));
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(n: &str) -> Call {
        Call::Filter(n.into())
    }
    fn t(n: &str) -> Call {
        Call::Test(n.into())
    }

    #[test]
    fn finds_filters_and_tests_in_blocks_only() {
        assert_eq!(
            calls("a | b {{ x | intt | upper(1) }} and {% if y is not evenn %}z{% endif %}"),
            [f("intt"), f("upper"), t("evenn")]
        );
        assert_eq!(calls("{{ 'a | b' ~ \"is c\" }}"), []);
        assert_eq!(calls("{# x | nope #}{{ a|b }}"), [f("b")]);
        assert_eq!(
            calls("{% raw %}{{ x | nope }}{% endraw %}{{ y | ok }}"),
            [f("ok")]
        );
        assert_eq!(calls("{% filter upperr %}x{% endfilter %}"), [f("upperr")]);
        // A method named `is`, a filter written twice.
        assert_eq!(calls("{{ a.is(b) | c }}{{ d | c }}"), [f("c")]);
        assert_eq!(
            calls("{{ x | default('}}') | lower }}"),
            [f("default"), f("lower")]
        );
    }

    #[test]
    fn unclosed_and_odd_text_does_not_panic() {
        for s in [
            "{{",
            "{{ x |",
            "{% filter",
            "{{ 'abc",
            "{#",
            "{{ x is",
            "{{ \\",
            "{",
        ] {
            let _ = calls(s);
        }
    }
}
