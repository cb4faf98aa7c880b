//! The examples in the documentation are run, so they stay true.
//!
//! In docs/*.md and README.md, an HTML comment `<!-- test: KIND -->` marks
//! the fenced block after it:
//! - `valid`: the chain passes `pytopus validate -`;
//! - `invalid`: the chain fails validation, and the next fenced block is the exact stderr;
//! - `dry-run`: the next fenced block is the exact stdout of `pytopus run - --dry-run`
//!   (a multipart boundary, which is random, written `pytopus-…`);
//! - `graph`: the next fenced block is the exact stdout of `pytopus validate --graph -`;
//! - `file PATH`: the block is exactly the file PATH of the repository (a
//!   fixture the tests run);
//! - `import-postman`: the block is a Postman collection; the next one is the exact
//!   stdout of `pytopus import postman -` (a chain `validate` accepts), the one after it
//!   the exact stderr (its notes).

use crate::support::{pytopus, run_cmd};

/// Fenced code blocks of a Markdown file, each with the test marker before it (if any).
fn blocks(text: &str) -> Vec<(Option<String>, String)> {
    let mut out = Vec::new();
    let mut marker = None;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let t = line.trim();
        if let Some(kind) = t
            .strip_prefix("<!-- test:")
            .and_then(|r| r.strip_suffix("-->"))
        {
            marker = Some(kind.trim().to_string());
        } else if t.starts_with("```") {
            let mut body = String::new();
            for l in lines.by_ref() {
                if l.trim_start().starts_with("```") {
                    break;
                }
                body.push_str(l);
                body.push('\n');
            }
            out.push((marker.take(), body));
        }
    }
    out
}

/// A multipart boundary is random: the docs show it as `pytopus-…`.
fn without_boundaries(text: &str) -> String {
    const MARK: &str = "boundary=pytopus-";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(MARK) {
        let after = &rest[i + MARK.len()..];
        let random = after
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(after.len());
        out.push_str(&rest[..i + MARK.len()]);
        out.push('…');
        rest = &after[random..];
    }
    out.push_str(rest);
    out
}

fn check_file(rel: &str) -> usize {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let all = blocks(&text);
    let mut checked = 0;
    for (i, (marker, chain)) in all.iter().enumerate() {
        let Some(kind) = marker else { continue };
        let expected = all.get(i + 1).map(|(_, b)| b.as_str());
        match kind.as_str() {
            "valid" => {
                let out = run_cmd(
                    pytopus()
                        .args(["validate", "-"])
                        .write_stdin(chain.as_str()),
                );
                assert_eq!(
                    out.code,
                    0,
                    "{rel}: example {} should be valid:\n{}",
                    i + 1,
                    out.stderr
                );
            }
            "invalid" => {
                let out = run_cmd(
                    pytopus()
                        .args(["validate", "-"])
                        .write_stdin(chain.as_str()),
                );
                assert_eq!(out.code, 2, "{rel}: example {} should be invalid", i + 1);
                assert_eq!(
                    Some(out.stderr.as_str()),
                    expected,
                    "{rel}: error shown after example {} is stale",
                    i + 1
                );
            }
            "dry-run" | "graph" => {
                let args: &[&str] = if kind == "graph" {
                    &["validate", "--graph", "-"]
                } else {
                    &["run", "-", "--dry-run", "-q"]
                };
                let out = run_cmd(pytopus().args(args).write_stdin(chain.as_str()));
                assert_eq!(
                    out.code,
                    0,
                    "{rel}: example {} failed:\n{}",
                    i + 1,
                    out.stderr
                );
                assert_eq!(
                    Some(without_boundaries(&out.stdout).as_str()),
                    expected,
                    "{rel}: output shown after example {} is stale",
                    i + 1
                );
            }
            "import-postman" => {
                let out = run_cmd(
                    pytopus()
                        .args(["import", "postman", "-"])
                        .write_stdin(chain.as_str()),
                );
                assert_eq!(
                    out.code,
                    0,
                    "{rel}: example {} failed:\n{}",
                    i + 1,
                    out.stderr
                );
                assert_eq!(
                    Some(out.stdout.as_str()),
                    expected,
                    "{rel}: chain shown after example {} is stale",
                    i + 1
                );
                assert_eq!(
                    Some(out.stderr.as_str()),
                    all.get(i + 2).map(|(_, b)| b.as_str()),
                    "{rel}: notes shown after example {} are stale",
                    i + 1
                );
                let valid = run_cmd(
                    pytopus()
                        .args(["validate", "-"])
                        .write_stdin(out.stdout.as_str()),
                );
                assert_eq!(
                    valid.code,
                    0,
                    "{rel}: example {}'s chain:\n{}",
                    i + 1,
                    valid.stderr
                );
            }
            file if file.starts_with("file ") => {
                // The block shows a file the tests use, as it is.
                let shown = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(&file[5..]);
                let text = std::fs::read_to_string(&shown)
                    .unwrap_or_else(|e| panic!("{rel}: {}: {e}", shown.display()));
                assert_eq!(
                    chain.trim_end(),
                    text.trim_end(),
                    "{rel}: example {} is not {}",
                    i + 1,
                    &file[5..]
                );
            }
            other => panic!("{rel}: unknown test marker `{other}`"),
        }
        checked += 1;
    }
    checked
}

#[test]
fn arazzo_examples_hold() {
    assert!(check_file("docs/arazzo.md") > 0);
}

#[test]
fn reference_examples_hold() {
    assert!(check_file("docs/reference.md") >= 4);
}

#[test]
fn connector_examples_hold() {
    assert!(check_file("docs/connectors.md") >= 3);
}

#[test]
fn readme_examples_hold() {
    assert!(check_file("README.md") >= 1);
}

#[test]
fn serve_examples_hold() {
    assert!(check_file("docs/serve.md") >= 2);
}
