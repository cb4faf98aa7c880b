//! `--data F`: the rows of a data-driven run, each a map of variables.
//!
//! - CSV (`.csv`) with a header row: the header names the variables, and each
//!   cell is typed like a `--var` value (`42` a number, `007` text);
//! - JSON (`.json`): an array of objects, values kept as they are;
//! - JSON Lines (`.jsonl`, `.ndjson`): one object per line, blank lines skipped.
//!
//! Other names (and `-`, standard input) are told apart by their first
//! character: `[` JSON, `{` JSON Lines, anything else CSV.

use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use super::inputs::typed_value;
use crate::chain;
use crate::chain::model::is_identifier as is_var_name;
use crate::diagnostic::{Diagnostic, Loc, Source};

/// One row: the variables of one run of the chain.
#[derive(Debug, Clone)]
pub struct Row {
    /// 1-based position among the file's rows (the header is not a row).
    pub number: usize,
    /// The line of the file where the row starts (1-based).
    pub line: usize,
    pub vars: IndexMap<String, Value>,
}

/// A data file, read.
#[derive(Debug)]
pub struct Data {
    /// What the user called it (`rows.csv`, or `<stdin>`).
    pub name: String,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Json,
    Lines,
}

impl Format {
    fn detect(name: &str, text: &str) -> Format {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".csv") {
            Format::Csv
        } else if lower.ends_with(".json") {
            Format::Json
        } else if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
            Format::Lines
        } else {
            match text.trim_start().chars().next() {
                Some('[') => Format::Json,
                Some('{') => Format::Lines,
                _ => Format::Csv,
            }
        }
    }
}

/// Reads the rows of `path` (`-`: standard input).
pub fn read(path: &Path) -> Result<Data, Diagnostic> {
    let source = read_source(path)?;
    let rows = parse(&source)?;
    Ok(Data {
        name: source.name.clone(),
        rows,
    })
}

fn read_source(path: &Path) -> Result<Arc<Source>, Diagnostic> {
    let (name, text) = if path.as_os_str() == "-" {
        let text = crate::files::read_text(None, crate::files::MAX_DATA)
            .map_err(|e| Diagnostic::new(format!("cannot read --data from standard input: {e}")))?;
        ("<stdin>".to_string(), text)
    } else {
        let name = path.display().to_string();
        let text = crate::files::read_text(Some(path), crate::files::MAX_DATA).map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_string(),
                std::io::ErrorKind::InvalidData => "it is not UTF-8 text".to_string(),
                _ => e.to_string(),
            };
            Diagnostic::new(format!("cannot read data file `{name}`: {why}"))
        })?;
        (name, text)
    };
    // Spreadsheets like to start CSV files with a byte-order mark.
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    };
    Ok(Arc::new(Source { name, text }))
}

/// The rows of a data file's text.
fn parse(source: &Arc<Source>) -> Result<Vec<Row>, Diagnostic> {
    match Format::detect(&source.name, &source.text) {
        Format::Csv => parse_csv(source),
        Format::Json => parse_json(source),
        Format::Lines => parse_lines(source),
    }
}

/// Where `needle` first appears on line `line` (1-based), as a position.
fn find_on_line(source: &Source, line: usize, needle: &str) -> Loc {
    let text = source
        .text
        .lines()
        .nth(line.saturating_sub(1))
        .unwrap_or("");
    let column = text
        .find(needle)
        .map_or(1, |at| text[..at].chars().count() + 1);
    Loc::new(line, column)
}

fn bad_name(source: &Arc<Source>, what: String, loc: Loc) -> Diagnostic {
    Diagnostic::new(what).at(source, Some(loc)).note(
        "help: each field becomes a variable: letters, digits and `_`, not starting with a digit",
    )
}

fn parse_csv(source: &Arc<Source>) -> Result<Vec<Row>, Diagnostic> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::Headers)
        .from_reader(source.text.as_bytes());
    let headers = reader.headers().map_err(|e| csv_error(source, &e))?.clone();
    let header_line = headers.position().map_or(1, |p| p.line() as usize);
    let mut names: Vec<String> = Vec::with_capacity(headers.len());
    for (i, name) in headers.iter().enumerate() {
        if name.is_empty() {
            return Err(bad_name(
                source,
                format!("column {} of the CSV header has no name", i + 1),
                Loc::new(header_line, 1),
            ));
        }
        if !is_var_name(name) {
            return Err(bad_name(
                source,
                format!("CSV column `{name}` is not a valid variable name"),
                find_on_line(source, header_line, name),
            ));
        }
        if names.iter().any(|n| n == name) {
            return Err(
                Diagnostic::new(format!("CSV column `{name}` appears twice"))
                    .at(source, Some(Loc::new(header_line, 1))),
            );
        }
        names.push(name.to_string());
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(source, &e))?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let vars = names
            .iter()
            .zip(record.iter())
            .map(|(k, v)| (k.clone(), typed_value(v)))
            .collect();
        rows.push(Row {
            number: rows.len() + 1,
            line,
            vars,
        });
    }
    Ok(rows)
}

fn csv_error(source: &Arc<Source>, e: &csv::Error) -> Diagnostic {
    let (message, line) = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => {
            let fields = |n: u64| if n == 1 { "field" } else { "fields" };
            (
                format!(
                    "invalid CSV: this row has {len} {}, the header has {expected_len}",
                    fields(*len)
                ),
                pos.as_ref().map(|p| p.line() as usize),
            )
        }
        csv::ErrorKind::Utf8 { pos, .. } => (
            "invalid CSV: a field is not UTF-8 text".to_string(),
            pos.as_ref().map(|p| p.line() as usize),
        ),
        _ => (
            format!("invalid CSV: {e}"),
            e.position().map(|p| p.line() as usize),
        ),
    };
    Diagnostic::new(message)
        .at(source, line.map(|l| Loc::new(l, 1)))
        .note("help: quote a field that holds a comma, a quote or a line break: \"Smith, J\", \"say \"\"hi\"\"\"")
}

fn parse_json(source: &Arc<Source>) -> Result<Vec<Row>, Diagnostic> {
    let (value, spans) = chain::read_document(source)?;
    let Value::Array(items) = value else {
        return Err(
            Diagnostic::new("a JSON data file must be an array of objects, one per row")
                .at(source, spans.value(""))
                .note("help: for one object per line, name the file `.jsonl`"),
        );
    };
    let mut rows = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let path = format!("[{i}]");
        let Value::Object(map) = item else {
            return Err(
                Diagnostic::new(format!("row {} is not an object of variables", i + 1))
                    .at(source, spans.value(&path)),
            );
        };
        for key in map.keys() {
            if !is_var_name(key) {
                return Err(bad_name(
                    source,
                    format!("`{key}` in row {} is not a valid variable name", i + 1),
                    spans
                        .key(&format!("{path}.{key}"))
                        .or(spans.value(&path))
                        .unwrap_or_default(),
                ));
            }
        }
        rows.push(Row {
            number: i + 1,
            line: spans.value(&path).map_or(0, |l| l.line),
            vars: map.into_iter().collect(),
        });
    }
    Ok(rows)
}

fn parse_lines(source: &Arc<Source>) -> Result<Vec<Row>, Diagnostic> {
    let mut rows = Vec::new();
    for (i, text) in source.text.lines().enumerate() {
        let line = i + 1;
        if text.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(text).map_err(|e| {
            Diagnostic::new(format!("invalid JSON Lines: {e}"))
                .at(source, Some(Loc::new(line, e.column().max(1))))
                .note("help: JSON Lines has one JSON object per line")
        })?;
        let Value::Object(map) = value else {
            return Err(
                Diagnostic::new("each line of a JSON Lines data file must be an object")
                    .at(source, Some(find_on_line(source, line, text.trim_start()))),
            );
        };
        for key in map.keys() {
            if !is_var_name(key) {
                return Err(bad_name(
                    source,
                    format!("`{key}` is not a valid variable name"),
                    find_on_line(source, line, &format!("\"{key}\"")),
                ));
            }
        }
        rows.push(Row {
            number: rows.len() + 1,
            line,
            vars: map.into_iter().collect(),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(name: &str, text: &str) -> Result<Vec<Row>, Diagnostic> {
        parse(&Arc::new(Source {
            name: name.into(),
            text: text.into(),
        }))
    }

    fn vars(rows: &[Row]) -> Vec<Value> {
        rows.iter()
            .map(|r| Value::Object(r.vars.clone().into_iter().collect()))
            .collect()
    }

    #[test]
    fn csv_cells_are_typed_like_var_values_and_quotes_work() {
        let r = rows(
            "r.csv",
            "id, name ,note\n007,\"Smith, J\",\"say \"\"hi\"\"\"\n42,,\"two\nlines\"\n",
        )
        .unwrap();
        assert_eq!(
            vars(&r),
            [
                serde_json::json!({"id": "007", "name": "Smith, J", "note": "say \"hi\""}),
                serde_json::json!({"id": 42, "name": "", "note": "two\nlines"}),
            ]
        );
        assert_eq!((r[0].number, r[0].line), (1, 2));
        assert_eq!((r[1].number, r[1].line), (2, 3));
    }

    #[test]
    fn formats_are_told_apart_by_name_then_first_character() {
        assert_eq!(Format::detect("a.CSV", "[1]"), Format::Csv);
        assert_eq!(Format::detect("a.ndjson", "[1]"), Format::Lines);
        assert_eq!(Format::detect("<stdin>", " [{}]"), Format::Json);
        assert_eq!(Format::detect("<stdin>", "{\"a\": 1}"), Format::Lines);
        assert_eq!(Format::detect("<stdin>", "a,b"), Format::Csv);
    }

    #[test]
    fn json_and_lines_keep_values_and_name_bad_rows() {
        let r = rows("r.json", "[{\"a\": \"1\", \"b\": [1]}, {\"a\": 2}]").unwrap();
        assert_eq!(r[0].vars["a"], Value::from("1"));
        assert_eq!(r[1].vars["a"], Value::from(2));
        let e = rows("r.json", "[{\"a\": 1},\n 3]").unwrap_err();
        assert!(e.message.contains("row 2"), "{}", e.message);
        assert_eq!(e.loc.map(|l| l.line), Some(2));
        let r = rows("r.jsonl", "{\"a\": 1}\n\n{\"a\": 2}\n").unwrap();
        assert_eq!((r[1].number, r[1].line), (2, 3));
        let e = rows("r.jsonl", "{\"a\": 1}\n{\"a\": }\n").unwrap_err();
        assert_eq!(e.loc.map(|l| l.line), Some(2));
        let e = rows("r.jsonl", "{\"a-b\": 1}\n").unwrap_err();
        assert!(e.message.contains("`a-b`"), "{}", e.message);
    }

    #[test]
    fn csv_errors_point_at_the_line() {
        let e = rows("r.csv", "a,b\n1,2\n3,4,5\n").unwrap_err();
        assert_eq!(e.loc.map(|l| l.line), Some(3));
        assert!(e.message.contains("3 fields"), "{}", e.message);
        let e = rows("r.csv", "a,user-id\n1,2\n").unwrap_err();
        assert_eq!(e.loc, Some(Loc::new(1, 3)));
        assert!(rows("r.csv", "a,a\n").is_err());
        assert!(rows("r.csv", "a,\n1,2\n").is_err());
        assert!(rows("r.csv", "").unwrap().is_empty());
    }
}
