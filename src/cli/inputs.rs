//! Loading what a command needs: chain files (or stdin) and variables.

use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use super::args::VarArgs;
use crate::chain;
use crate::diagnostic::{Diagnostic, Diagnostics, Source};
use crate::plan::ValidChain;

/// Reads a chain file, or stdin for `-`.
pub fn read_source(arg: &str) -> Result<Arc<Source>, Diagnostic> {
    if arg == "-" {
        let text = crate::files::read_text(None, crate::files::MAX_INPUT).map_err(|e| {
            Diagnostic::new(format!("cannot read the chain from standard input: {e}"))
        })?;
        return Ok(Arc::new(Source {
            name: "<stdin>".into(),
            text,
        }));
    }
    let text =
        crate::files::read_text(Some(arg.as_ref()), crate::files::MAX_INPUT).map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_string(),
                std::io::ErrorKind::InvalidData => "it is not UTF-8 text".to_string(),
                _ => e.to_string(),
            };
            Diagnostic::new(format!("cannot read chain file `{arg}`: {why}"))
        })?;
    Ok(Arc::new(Source {
        name: arg.to_string(),
        text,
    }))
}

/// `--var k=v`: numbers, booleans and null are typed; anything else is a string.
pub fn parse_var(arg: &str) -> Result<(String, Value), Diagnostic> {
    let Some((k, v)) = arg.split_once('=') else {
        return Err(Diagnostic::new(format!("--var `{arg}` has no `=`"))
            .note("help: write --var NAME=VALUE"));
    };
    let k = k.trim();
    if k.is_empty() {
        return Err(Diagnostic::new(format!(
            "--var `{arg}` has no name before `=`"
        )));
    }
    if !crate::chain::model::is_identifier(k) {
        return Err(
            Diagnostic::new(format!("--var `{arg}`: `{k}` is not a valid variable name")).note(
                "help: variable names are letters, digits and `_`, not starting with a digit",
            ),
        );
    }
    Ok((k.to_string(), typed_value(v)))
}

/// A value given as text (`--var`, a CSV cell): a number, `true`, `false` or
/// `null` when it reads as one, else the text itself.
pub(crate) fn typed_value(v: &str) -> Value {
    match v {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Null,
        // A number only when it reads back exactly as written: `1.10` (a
        // version) and 23-digit ids stay text instead of being rewritten.
        _ => match serde_json::from_str::<Value>(v) {
            Ok(Value::Number(n)) if n.to_string() == v => Value::Number(n),
            _ => Value::String(v.to_string()),
        },
    }
}

/// The chain's `vars`, overridden by `--vars-file`, overridden by `--var`.
pub fn merge_vars(
    chain_vars: &IndexMap<String, Value>,
    args: &VarArgs,
) -> Result<IndexMap<String, Value>, Diagnostic> {
    Ok(VarOverrides::read(args)?.merge(chain_vars, &IndexMap::new()))
}

/// `--vars-file` and `--var`, read once, to lay over each run's variables.
pub(crate) struct VarOverrides {
    file: IndexMap<String, Value>,
    cli: Vec<(String, Value)>,
}

impl VarOverrides {
    pub(crate) fn read(args: &VarArgs) -> Result<Self, Diagnostic> {
        let file = match &args.vars_file {
            Some(path) => read_vars_file(path)?,
            None => IndexMap::new(),
        };
        let cli = args
            .vars
            .iter()
            .map(|a| parse_var(a))
            .collect::<Result<_, _>>()?;
        Ok(VarOverrides { file, cli })
    }

    /// The chain's `vars` < `--vars-file` < `row` (a `--data` row) < `--var`.
    pub(crate) fn merge(
        &self,
        chain_vars: &IndexMap<String, Value>,
        row: &IndexMap<String, Value>,
    ) -> IndexMap<String, Value> {
        let mut vars = chain_vars.clone();
        vars.extend(self.file.iter().map(|(k, v)| (k.clone(), v.clone())));
        vars.extend(row.iter().map(|(k, v)| (k.clone(), v.clone())));
        vars.extend(self.cli.iter().cloned());
        vars
    }
}

fn read_vars_file(path: &Path) -> Result<IndexMap<String, Value>, Diagnostic> {
    let name = path.display().to_string();
    let text = crate::files::read_text(Some(path), crate::files::MAX_INPUT)
        .map_err(|e| Diagnostic::new(format!("cannot read vars file `{name}`: {e}")))?;
    let source = Arc::new(Source { name, text });
    let (value, spans) = chain::read_document(&source)?;
    match value {
        Value::Object(map) => Ok(map.into_iter().collect()),
        _ => Err(
            Diagnostic::new("a vars file must be a map of variable names to values")
                .at(&source, spans.value("")),
        ),
    }
}

/// Reads, parses and validates one chain; a long one on a thread of its own.
///
/// Loading a long chain makes and frees many small allocations (a
/// 10,000-step chain: ~200,000, 60,000 of them freed). Made on the thread that then
/// runs the chain, the freed ones stay in glibc's lists, scattered over the
/// heap, and the run's own small allocations are served from them, cold,
/// one cache miss after another: the time per step grew with the chain's
/// length (bench/README.md, session 13). A thread's allocations come from
/// an arena of its own, so the run's heap starts small and stays hot. A
/// short chain leaves too little behind to matter, and starting the thread
/// and its arena costs more than it saves, so it is loaded where it is read.
pub fn load_chain(arg: &str, vars: &VarArgs) -> Result<ValidChain, Diagnostics> {
    load(read_source(arg)?, vars)
}

/// [`load_chain`] for a run: when the chain's text or a `--var` names an
/// `https://` address, the TLS library starts meanwhile
/// ([`crate::transport::warm_up_tls`]).
pub fn load_chain_to_run(arg: &str, vars: &VarArgs) -> Result<ValidChain, Diagnostics> {
    let source = read_source(arg)?;
    if names_https(&source.text, &vars.vars) {
        crate::transport::warm_up_tls();
    }
    load(source, vars)
}

/// Whether a chain's text or its `--var`s name an `https://` address (in
/// any case): a run of it will most likely speak TLS.
fn names_https(text: &str, vars: &[String]) -> bool {
    let has = |s: &str| {
        s.match_indices("://")
            .any(|(i, _)| i >= 5 && s.as_bytes()[i - 5..i].eq_ignore_ascii_case(b"https"))
    };
    has(text) || vars.iter().any(|v| has(v))
}

fn load(source: Arc<Source>, vars: &VarArgs) -> Result<ValidChain, Diagnostics> {
    if source.text.len() < THREAD_FROM_BYTES {
        return parse_and_validate(source, vars);
    }
    std::thread::scope(|scope| {
        let loader = std::thread::Builder::new()
            .name("load".into())
            // As much stack as the main thread has: parsing and validating
            // nest as deep as the file does.
            .stack_size(8 << 20)
            .spawn_scoped(scope, {
                let source = Arc::clone(&source);
                move || parse_and_validate(source, vars)
            });
        match loader {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            // No thread to be had: load here.
            Err(_) => parse_and_validate(Arc::clone(&source), vars),
        }
    })
}

/// Chain files at least this long are loaded on a thread of their own
/// (about where both ways cost the same; bench/README.md, session 13).
const THREAD_FROM_BYTES: usize = 64 << 10;

fn parse_and_validate(source: Arc<Source>, vars: &VarArgs) -> Result<ValidChain, Diagnostics> {
    let parsed = crate::arazzo::parse_any(source, vars.workflow.as_deref())?;
    let merged = merge_vars(&parsed.chain.vars, vars)?;
    crate::compile::validate(parsed, merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_that_names_https_starts_tls_early() {
        assert!(names_https("url: https://api.example.com/x", &[]));
        assert!(names_https("url: \"HTTPS://API.example.com\"", &[]));
        assert!(names_https(
            "url: \"{{ base }}/x\"",
            &["base=https://api.example.com".into()]
        ));
        assert!(!names_https(
            "url: http://127.0.0.1:8080/x",
            &["a=b".into()]
        ));
        assert!(!names_https("https:/", &[]));
    }

    #[test]
    fn var_values_are_typed_when_they_read_as_json_scalars() {
        assert_eq!(parse_var("a=1").unwrap().1, Value::from(1));
        assert_eq!(parse_var("a=1.5").unwrap().1, Value::from(1.5));
        assert_eq!(parse_var("a=true").unwrap().1, Value::Bool(true));
        assert_eq!(parse_var("a=007").unwrap().1, Value::from("007"));
        assert_eq!(parse_var("a=1.10").unwrap().1, Value::from("1.10"));
        assert_eq!(
            parse_var("a=12345678901234567890123").unwrap().1,
            Value::from("12345678901234567890123")
        );
        assert_eq!(parse_var("a=-3").unwrap().1, Value::from(-3));
        assert!(parse_var("a-b=1").is_err());
        assert_eq!(
            parse_var("a=x=y").unwrap(),
            ("a".into(), Value::from("x=y"))
        );
        assert_eq!(parse_var("a=").unwrap().1, Value::from(""));
        assert!(parse_var("novalue").is_err());
    }
}
