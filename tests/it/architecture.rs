//! The layers point one way (docs/architecture.md): this test reads every
//! file under `src/`, finds which top-level module names which
//! (`crate::engine::…`, `use crate::{chain, report}`), and fails on any
//! cycle, naming it, and on any edge the layering forbids.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`src/engine/render.rs` → `engine`),
/// `None` for `lib.rs` and `main.rs`.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    match first {
        "lib.rs" | "main.rs" => None,
        f => Some(f.trim_end_matches(".rs").to_string()),
    }
}

/// The top-level modules `text` names through `crate::`, without the test
/// modules (`#[cfg(test)] mod tests` at the end of a file may use anything).
fn named_modules(text: &str) -> BTreeSet<String> {
    let code = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (at, _) in code.match_indices("crate::") {
        // Not `pytopus_crate::`, not in a comment line.
        let line_start = code[..at].rfind('\n').map_or(0, |i| i + 1);
        if code[line_start..at].trim_start().starts_with("//") {
            continue;
        }
        if code[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name = ident(item.trim());
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(&src, f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let Some(from) = module_of(&src, file) else {
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        let edges = graph.entry(from.clone()).or_default();
        for to in named_modules(&text) {
            if to != from && modules.contains(&to) {
                edges.insert(to);
            }
        }
    }
    graph
}

/// A cycle through `start`, if there is one.
fn cycle_from(
    graph: &BTreeMap<String, BTreeSet<String>>,
    start: &str,
    at: &str,
    path: &mut Vec<String>,
    seen: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    for next in graph.get(at).into_iter().flatten() {
        if next == start {
            let mut cycle = path.clone();
            cycle.push(start.to_string());
            return Some(cycle);
        }
        if seen.insert(next.clone()) {
            path.push(next.clone());
            if let Some(c) = cycle_from(graph, start, next, path, seen) {
                return Some(c);
            }
            path.pop();
        }
    }
    None
}

#[test]
fn the_top_level_modules_form_no_cycle() {
    let graph = graph();
    let mut cycles = Vec::new();
    for start in graph.keys() {
        let mut path = vec![start.clone()];
        if let Some(c) = cycle_from(&graph, start, start, &mut path, &mut BTreeSet::new()) {
            cycles.push(c.join(" → "));
        }
    }
    assert!(
        cycles.is_empty(),
        "import cycles among src/'s top-level modules:\n  {}\n\nthe graph:\n{}",
        cycles.join("\n  "),
        graph
            .iter()
            .map(|(k, v)| format!(
                "  {k} → {}",
                v.iter().cloned().collect::<Vec<_>>().join(", ")
            ))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The layers of docs/architecture.md, lowest first.
const LAYERS: &[&[&str]] = &[
    &["diagnostic", "files", "jsonpath", "secret"],
    &["chain", "template", "transport"],
    &["arazzo", "auth", "connector", "import"],
    &["plan", "resolve"],
    &["compile", "export"],
    &["engine"],
    &["report"],
    &["history"],
    &["session"],
    &["mcp", "serve"],
    &["cli"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// A module uses only modules of a lower layer, and every module has a
/// layer (a new one is placed in docs/architecture.md and here).
#[test]
fn the_layers_point_one_way() {
    let graph = graph();
    let mut wrong = Vec::new();
    for (from, tos) in &graph {
        let Some(at) = layer_of(from) else {
            wrong.push(format!("{from} has no layer"));
            continue;
        };
        for to in tos {
            match layer_of(to) {
                Some(l) if l < at => {}
                Some(l) => wrong.push(format!("{from} (layer {at}) → {to} (layer {l})")),
                None => wrong.push(format!("{to} has no layer")),
            }
        }
    }
    assert!(wrong.is_empty(), "edges the layering forbids: {wrong:#?}");
}

/// The table in docs/architecture.md is the one this test enforces.
#[test]
fn the_documented_layers_are_the_checked_ones() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md"))
            .unwrap();
    for (n, modules) in LAYERS.iter().enumerate() {
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| {n} | ")))
            .unwrap_or_else(|| panic!("docs/architecture.md has no row for layer {n}"));
        let cell = row.split('|').nth(2).unwrap();
        let documented: BTreeSet<&str> = cell
            .split(',')
            .map(|m| m.trim().trim_matches('`'))
            .collect();
        let checked: BTreeSet<&str> = modules.iter().copied().collect();
        assert_eq!(documented, checked, "layer {n}");
    }
}

#[test]
fn the_scanner_finds_what_files_name() {
    let text = "use crate::{chain, report::x};\nfn f() { crate::engine::run(); }\n// crate::serve\nlet pytopus_crate::x;\n#[cfg(test)]\nmod tests { use crate::cli; }\n";
    let found: Vec<String> = named_modules(text).into_iter().collect();
    assert_eq!(found, ["chain", "engine", "report"]);
}

/// Compiling is pure: every file a chain needs is read by `resolve`, so
/// nothing under src/compile/ opens, reads or looks for a file.
#[test]
fn compile_reads_no_file() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/compile");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    assert!(!files.is_empty());
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for word in [
            "std::fs",
            "read_text",
            "File::open",
            "canonicalize",
            ".is_file()",
            ".exists()",
            "Library::for_chain",
        ] {
            if text.contains(word) {
                found.push(format!("{} uses {word}", file.display()));
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}
