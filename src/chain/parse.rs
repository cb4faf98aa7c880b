//! Text → [`Chain`]: picks JSON or YAML, reads positions, and turns serde's
//! errors into diagnostics that point at the key or value in the file.

use std::sync::Arc;

use serde::Deserialize as _;
use serde_json::Value;

use super::model::Chain;
use super::spans::{self, SpanMap, SyntaxError, join_key};
use crate::diagnostic::{Diagnostic, Source, suggest};

/// The two formats a chain file can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
}

impl Format {
    /// By extension (`.json`, `.yaml`, `.yml`), else by the first character.
    pub fn detect(name: &str, text: &str) -> Format {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".json") {
            Format::Json
        } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            Format::Yaml
        } else {
            match text
                .trim_start_matches('\u{feff}')
                .trim_start()
                .chars()
                .next()
            {
                Some('{') | Some('[') => Format::Json,
                _ => Format::Yaml,
            }
        }
    }
}

/// A chain as written, with everything diagnostics need to point into it.
#[derive(Debug, Clone)]
pub struct ParsedChain {
    pub chain: Chain,
    pub spans: SpanMap,
    pub source: Arc<Source>,
}

/// Reads any JSON or YAML document with positions (also used for `--vars-file`).
pub fn read_document(source: &Arc<Source>) -> Result<(Value, SpanMap), Diagnostic> {
    let read = match Format::detect(&source.name, &source.text) {
        Format::Json => spans::read_json(&source.text),
        Format::Yaml => super::yaml::read_yaml(&source.text),
    };
    read.map_err(|SyntaxError { message, loc }| {
        let d = Diagnostic::new(format!("invalid {}: {message}", format_name(source)));
        match loc.and_then(|l| unquoted_template(&source.text, l.line)) {
            Some(line) => d.at(source, loc).note(format!(
                "help: quote a value that starts with `{{{{`, or YAML reads it as a map: {line}"
            )),
            None => d.at(source, loc),
        }
    })
}

/// Line `line` (1-based) with its value quoted, when that value is a
/// template written without quotes (`url: {{ base }}/x`).
fn unquoted_template(text: &str, line: usize) -> Option<String> {
    let l = text.lines().nth(line.checked_sub(1)?)?;
    let body = l.trim_start();
    let indent = &l[..l.len() - body.len()];
    let (lead, value) = match body.strip_prefix("- ") {
        Some(rest) if rest.trim_start().starts_with("{{") => ("- ".to_string(), rest.trim_start()),
        _ => {
            let (key, value) = body.split_once(": ")?;
            (format!("{key}: "), value.trim_start())
        }
    };
    if !value.starts_with("{{") {
        return None;
    }
    let value = value.trim_end();
    let quoted = format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""));
    Some(format!("`{}{lead}{quoted}`", indent.trim_start()))
}

fn format_name(source: &Source) -> &'static str {
    match Format::detect(&source.name, &source.text) {
        Format::Json => "JSON",
        Format::Yaml => "YAML",
    }
}

/// Parses a chain file.
pub fn parse(source: Arc<Source>) -> Result<ParsedChain, Diagnostic> {
    if source.text.trim().is_empty() {
        return Err(Diagnostic::new("the chain file is empty")
            .at(&source, None)
            .note("help: a chain needs at least `steps:` with one step"));
    }
    let (value, spans) = read_document(&source)?;
    from_document(source, value, spans)
}

/// A chain from a document already read (see [`parse`]).
pub fn from_document(
    source: Arc<Source>,
    value: Value,
    spans: SpanMap,
) -> Result<ParsedChain, Diagnostic> {
    if !value.is_object() {
        return Err(
            Diagnostic::new("a chain file must be a map with a `steps:` list")
                .at(&source, spans.value(""))
                .note("help: start with `name:` and `steps:`; see docs/reference.md"),
        );
    }
    // The document is read once; a chain that does not fit is deserialized
    // again from it, with its path tracked for the message.
    let chain: Chain = match Chain::deserialize(&value) {
        Ok(chain) => chain,
        Err(_) => serde_path_to_error::deserialize(&value)
            .map_err(|e| shape_error(&source, &spans, &value, e, "the chain"))?,
    };
    Ok(ParsedChain {
        chain,
        spans,
        source,
    })
}

/// Turns a serde error at a path into a diagnostic with a position and a hint.
pub(crate) fn shape_error(
    source: &Arc<Source>,
    spans: &SpanMap,
    root: &Value,
    e: serde_path_to_error::Error<serde_json::Error>,
    what: &str,
) -> Diagnostic {
    let path = e.path().to_string();
    let path = if path == "." { String::new() } else { path };
    let inner = e.inner().to_string();
    let at = if path.is_empty() {
        what.to_string()
    } else {
        format!("`{path}`")
    };

    if let Some(rest) = inner.strip_prefix("unknown field `") {
        let (key, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        // serde_path_to_error may or may not have pushed the key itself.
        let (parent, key_path) = if path.ends_with(key) {
            let parent = path[..path.len() - key.len()].trim_end_matches('.');
            (parent.to_string(), path.clone())
        } else {
            (path.clone(), join_key(&path, key))
        };
        let where_ = if parent.is_empty() {
            format!("in {what}")
        } else {
            format!("in `{parent}`")
        };
        let mut d = Diagnostic::new(format!("unknown key `{key}` {where_}")).at(
            source,
            spans.key(&key_path).or_else(|| spans.nearest(&parent)),
        );
        match suggest(key, candidates.iter().copied()) {
            Some(best) => d = d.note(format!("help: did you mean `{best}`?")),
            None if !candidates.is_empty() => {
                d = d.note(format!("help: valid keys are {}", candidates.join(", ")));
            }
            None => {}
        }
        return d;
    }
    if let Some(rest) = inner.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        let mut d = Diagnostic::new(format!("{at} is missing the required key `{field}`"))
            .at(source, spans.nearest(&path));
        if field == "steps" {
            d = d.note("help: list the HTTP calls under `steps:` (or `api_chain:`)");
        }
        if path.is_empty() && !root.is_object() {
            d = Diagnostic::new("a chain file must be a map with `steps:`")
                .at(source, spans.value(""));
        }
        return d;
    }
    let message = inner
        .rsplit_once(" at line ")
        .map_or(inner.as_str(), |(m, _)| m);
    let message = plain_types(message);
    Diagnostic::new(format!("{at}: {message}")).at(source, spans.nearest(&path))
}

/// serde names Rust types ("expected u32"); say what a chain author writes.
fn plain_types(message: &str) -> String {
    let mut m = message.to_string();
    for (rust, plain) in [
        ("u8", "a whole number from 0 to 255"),
        ("u16", "a whole number from 0 to 65535"),
        ("u32", "a whole number, 0 or more"),
        ("u64", "a whole number, 0 or more"),
        ("f64", "a number"),
        ("a boolean", "true or false"),
        ("a sequence", "a list"),
        ("a map", "a map of keys to values"),
    ] {
        m = m.replace(&format!("expected {rust}"), &format!("expected {plain}"));
    }
    m.replace("invalid type: sequence", "invalid type: list")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(name: &str, text: &str) -> Arc<Source> {
        Arc::new(Source {
            name: name.into(),
            text: text.into(),
        })
    }

    #[test]
    fn api_chain_is_an_alias_of_steps() {
        let p = parse(src(
            "c.json",
            r#"{"id": 0, "name": "x", "api_chain": [{"name": "A", "url": "http://h/"}]}"#,
        ))
        .unwrap();
        assert_eq!(p.chain.steps.len(), 1);
    }

    #[test]
    fn unknown_step_key_points_at_the_key_and_suggests() {
        let e = parse(src("c.yaml", "steps:\n  - name: A\n    urll: http://h/\n")).unwrap_err();
        assert_eq!(e.message, "unknown key `urll` in `steps[0]`");
        assert_eq!(e.loc, Some(crate::diagnostic::Loc::new(3, 5)));
        assert_eq!(e.notes, vec!["help: did you mean `url`?".to_string()]);
    }

    #[test]
    fn format_is_sniffed_for_stdin() {
        assert_eq!(Format::detect("<stdin>", "  {\"steps\": []}"), Format::Json);
        assert_eq!(Format::detect("<stdin>", "steps: []"), Format::Yaml);
    }
}
