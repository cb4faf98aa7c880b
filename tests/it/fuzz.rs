//! Bounded fuzzing on stable Rust, run by `cargo test` (and so by CI): a
//! deterministic mutation loop over every chain of the repository through
//! the chain reader, `fmt`'s reordering and validation, random templates through the compiler
//! and renderer, and mutated headers through every webhook signature
//! scheme. Nothing may panic; everything gives an answer. A failure prints
//! the input, and the seed reproduces it (`PYTOPUS_FUZZ_SEED`, and
//! `PYTOPUS_FUZZ_ROUNDS` to run longer).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;

use pytopus::diagnostic::Source;

fn seed() -> u64 {
    std::env::var("PYTOPUS_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2026)
}

fn rounds(default: usize) -> usize {
    std::env::var("PYTOPUS_FUZZ_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Every chain file under `examples/`, `tests/chains/` and the docs' YAML
/// blocks, as text.
fn corpus() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    let mut stack = vec![root.join("examples"), root.join("tests/chains")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path
                .extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
                && !path.to_string_lossy().ends_with(".tape.json")
                && let Ok(text) = std::fs::read_to_string(&path)
            {
                out.push((path.display().to_string(), text));
            }
        }
    }
    for doc in ["docs/reference.md", "docs/serve.md", "README.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap_or_default();
        for (i, block) in text.split("```yaml\n").skip(1).enumerate() {
            let body = block.split("```").next().unwrap_or("");
            out.push((format!("{doc}#{i}.yaml"), body.to_string()));
        }
    }
    out.sort();
    assert!(out.len() > 20, "the corpus is the repository's chains");
    out
}

/// Pieces a mutation splices in: YAML and JSON syntax, template syntax,
/// numbers at the edges, odd characters.
const PIECES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ": ",
    "- ",
    "\n",
    "\n  ",
    "  ",
    "\t",
    "#",
    "&a ",
    "*a",
    "!!str ",
    "!!binary ",
    "---\n",
    "...\n",
    "'",
    "\"",
    "\\",
    "|\n",
    ">-\n",
    "? ",
    ",",
    "~",
    "null",
    "true",
    "-1",
    "0x1F",
    "0b101",
    "1_000",
    "9223372036854775808",
    "99999999999999999999999999",
    "1e999",
    "-0",
    ".nan",
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "{{ x }}",
    "{{ steps.A.status }}",
    "{{ secret('x') }}",
    "{{ 1/0 }}",
    "{{ range(10**9) }}",
    "{% for i in range(99999999) %}x{% endfor %}",
    "\u{0}",
    "\u{1b}",
    "\u{feff}",
    "é",
    "\u{202e}",
    "😀",
    "steps",
    "name",
    "url",
    "for_each",
    "paginate",
    "chain",
    "with",
    "retry",
    "expect",
    "extract",
    "auth",
    "tls",
    "trigger",
    "schedule",
    "$..*",
    "$[",
    "header:",
    "https://",
    "ftp://",
    "http://[::1",
    "\r\n",
];

fn mutate(rng: &mut fastrand::Rng, text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..rng.usize(1..=4) {
        let at = if bytes.is_empty() {
            0
        } else {
            rng.usize(0..=bytes.len())
        };
        match rng.u8(0..6) {
            // Delete a run.
            0 if !bytes.is_empty() => {
                let end = (at + rng.usize(1..=16)).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            // Duplicate a run (nesting, repeats).
            1 if !bytes.is_empty() => {
                let start = rng.usize(0..bytes.len());
                let end = (start + rng.usize(1..=64)).min(bytes.len());
                let run = bytes[start..end].to_vec();
                for _ in 0..rng.usize(1..=3) {
                    bytes.splice(at..at, run.iter().copied());
                }
            }
            // Flip a byte.
            2 if !bytes.is_empty() => {
                let i = rng.usize(0..bytes.len());
                bytes[i] ^= 1 << rng.u8(0..8);
            }
            _ => {
                let piece = PIECES[rng.usize(0..PIECES.len())];
                bytes.splice(at..at, piece.bytes());
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Reads and validates `text` as a chain named `name`; a panic is the
/// failure.
fn read_chain(name: &str, text: &str) -> Result<(), String> {
    let source = Arc::new(Source {
        name: name.to_string(),
        text: text.to_string(),
    });
    catch_unwind(AssertUnwindSafe(|| {
        // `fmt`'s reordering reads any text without panicking.
        let orders = pytopus::chain::reorder::Orders {
            chain: &["name", "vars", "defaults", "steps", "finally"],
            defaults: &["headers", "auth", "timeout"],
            step: &[
                "name", "when", "method", "url", "headers", "body", "expect", "extract",
            ],
        };
        let _ = pytopus::chain::reorder::reorder(text, &orders);
        if let Ok(parsed) = pytopus::chain::parse(source) {
            let vars = parsed.chain.vars.clone();
            let _ = pytopus::compile::validate(parsed, vars).map_err(|d| d.render(false));
        }
    }))
    .map_err(|_| format!("panicked on a mutation of {name}:\n{text:?}"))
}

#[test]
fn the_chain_reader_survives_mutated_chains() {
    let corpus = corpus();
    let mut rng = fastrand::Rng::with_seed(seed());
    let mut failures = Vec::new();
    for (name, text) in &corpus {
        // Names ending `.json` are read as JSON, others as YAML: both readers.
        failures.extend(read_chain(name, text).err());
    }
    for _ in 0..rounds(4000) {
        let (name, text) = &corpus[rng.usize(0..corpus.len())];
        let mutated = mutate(&mut rng, text);
        if let Err(e) = read_chain(name, &mutated) {
            failures.push(e);
        }
        if failures.len() > 3 {
            break;
        }
    }
    assert!(
        failures.is_empty(),
        "seed {}:\n{}",
        seed(),
        failures.join("\n\n")
    );
}

#[test]
fn templates_compile_and_render_without_panicking() {
    use pytopus::template::{Templates, from_json};
    let ctx = from_json(&serde_json::json!({
        "x": 1, "s": "text", "list": [1, 2, 3], "m": {"a": {"b": null}},
        "steps": {"A": {"status": 200, "headers": {"content-type": "x"}}},
        "big": 9_223_372_036_854_775_807i64, "neg": -1, "f": 1.5, "u": "é😀\u{1b}",
    }));
    let exprs = [
        "x",
        "s",
        "list",
        "m.a.b",
        "steps.A.status",
        "big + 1",
        "big * big",
        "neg // 0",
        "x / 0",
        "x % 0",
        "s * 99999999",
        "list | length",
        "s | b64encode",
        "s | b64decode",
        "u | urlencode",
        "list | tojson | fromjson",
        "m | jsonpath('$..b')",
        "m | jsonpath('$[')",
        "s | int",
        "f | round(99)",
        "range(5) | list",
        "now()",
        "uuid()",
        "secret('missing')",
        "undefined_name",
        "s[999]",
        "s[1:-1]",
        "list[-99]",
        "m['a']['b']['c']",
        "x is defined",
        "x | default(2)",
        "'%s' % x",
        "s ~ x",
        "s.startswith('t')",
        "m.items() | list",
        "\"\\u0000\"",
        "99999999999999999999",
        "s | replace('', 'x')",
        "[s] * 1000 | join",
        "s | path_segment",
    ];
    let mut rng = fastrand::Rng::with_seed(seed());
    let mut failures = Vec::new();
    for i in 0..rounds(3000) {
        let mut source = String::new();
        for _ in 0..rng.usize(1..=3) {
            match rng.u8(0..4) {
                0 => source.push_str(PIECES[rng.usize(0..PIECES.len())]),
                1 => source.push_str("text "),
                _ => {
                    let e = exprs[rng.usize(0..exprs.len())];
                    let e = if i % 3 == 0 {
                        mutate(&mut rng, e)
                    } else {
                        e.to_string()
                    };
                    source.push_str(&format!("{{{{ {e} }}}}"));
                }
            }
        }
        let ran = catch_unwind(AssertUnwindSafe(|| {
            let mut t = Templates::new();
            if let Ok(tmpl) = t.compile_str(&source) {
                let _ = t.render(&tmpl, &ctx);
                let _ = t.render_string(&tmpl, &ctx);
                let _ = tmpl.origin_roots();
            }
        }));
        if ran.is_err() {
            failures.push(format!("{source:?}"));
            if failures.len() > 3 {
                break;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "seed {}: panicked on\n{}",
        seed(),
        failures.join("\n")
    );
}

#[test]
fn every_signature_scheme_survives_mutated_headers() {
    use pytopus::chain::model::SignatureScheme;
    use pytopus::serve::signature::{Verifier, sign_hex};
    const SECRET: &[u8] = b"fuzz-secret";
    let now = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    let body = b"{\"a\":1}";
    let sig = sign_hex(SECRET, body);
    let stamped = sign_hex(SECRET, b"1700000000.{\"a\":1}");
    let slack = sign_hex(SECRET, b"v0:1700000000:{\"a\":1}");
    let cases: Vec<(SignatureScheme, Vec<(&str, String)>)> = vec![
        (
            SignatureScheme::Github,
            vec![("x-hub-signature-256", format!("sha256={sig}"))],
        ),
        (SignatureScheme::HmacSha256, vec![("x-sig", sig.clone())]),
        (
            SignatureScheme::Stripe,
            vec![("stripe-signature", format!("t=1700000000,v1={stamped}"))],
        ),
        (
            SignatureScheme::Slack,
            vec![
                ("x-slack-request-timestamp", "1700000000".into()),
                ("x-slack-signature", format!("v0={slack}")),
            ],
        ),
    ];
    let mut rng = fastrand::Rng::with_seed(seed());
    let mut failures = Vec::new();
    for _ in 0..rounds(4000) {
        let (scheme, headers) = &cases[rng.usize(0..cases.len())];
        let mut headers = headers.clone();
        let i = rng.usize(0..headers.len());
        headers[i].1 = mutate(&mut rng, &headers[i].1);
        let verifier = Verifier {
            scheme: *scheme,
            secret: SECRET,
            header: Some("x-sig"),
            tolerance: std::time::Duration::from_secs(300),
        };
        let ran = catch_unwind(AssertUnwindSafe(|| {
            let lookup = |n: &str| {
                headers
                    .iter()
                    .find(|(k, _)| *k == n)
                    .map(|(_, v)| v.as_str())
            };
            verifier
                .verify(lookup, body, now)
                .map_err(|e| e.to_string())
        }));
        match ran {
            Err(_) => failures.push(format!("{scheme:?} {headers:?}")),
            // A mutated header may still be valid (a flipped bit in unused
            // text); what it says when not must be short and printable.
            Ok(Err(message)) if message.len() > 300 || message.contains('\u{1b}') => {
                failures.push(format!("{scheme:?} {headers:?}: {message}"))
            }
            Ok(_) => {}
        }
        if failures.len() > 3 {
            break;
        }
    }
    assert!(
        failures.is_empty(),
        "seed {}:\n{}",
        seed(),
        failures.join("\n")
    );
}
