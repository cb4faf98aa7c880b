//! Every file a chain needs, read once, before it is compiled: the
//! connectors it names (from its `connectors:`, `./connectors/`, the user's
//! directory and the built-ins), its sub-chains (parsed, and resolved in
//! turn), GraphQL query files, `expect.schema` files, JWT key files,
//! whether its certificate files exist, and whether the files it uploads
//! can be read (their bytes are read when the request is sent).
//! [`crate::compile`] then builds the plan from the chain and this, and
//! touches no file itself.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::chain::model::{Auth, Step, Tls};
use crate::chain::parse::ParsedChain;
use crate::connector::{Connector, Library};
use crate::diagnostic::{Diagnostic, Source};
use crate::files::{MAX_INPUT, read_text};

/// What [`resolve`] read for one chain file.
#[derive(Debug, Default)]
pub struct Resolved {
    /// The chain file's own path, resolved (to tell sub-chain cycles).
    pub here: PathBuf,
    /// The connector library, when the chain uses connectors: the library,
    /// or the problems of its `connectors:`.
    pub library: Option<Result<Library, Vec<Diagnostic>>>,
    /// Each connector a step names, as the library gives it.
    pub connectors: HashMap<String, Result<Arc<Connector>, Vec<Diagnostic>>>,
    /// Sub-chains, by their path as written joined to the chain's directory.
    pub sub_chains: HashMap<PathBuf, Result<SubChainFile, String>>,
    /// Text files (GraphQL queries, keys), by path; a read error as text.
    pub texts: HashMap<PathBuf, Result<String, String>>,
    /// Whether each certificate path names a file.
    pub exists: HashMap<PathBuf, bool>,
    /// Each file a step uploads (`multipart`, `body_file`): its size, or
    /// why it cannot be read. Only looked at: the bytes are read when the
    /// request is sent.
    pub uploads: HashMap<PathBuf, Result<u64, String>>,
}

/// A sub-chain file, read.
#[derive(Debug)]
pub struct SubChainFile {
    /// Its path, resolved.
    pub canonical: PathBuf,
    /// Its text, parsed.
    pub parsed: Result<ParsedChain, Diagnostic>,
    /// What it needs in turn; `None` when it is a chain already being
    /// resolved (a cycle, which compiling reports).
    pub resolved: Option<Box<Resolved>>,
}

impl Resolved {
    /// The text read from `path`.
    pub fn text(&self, path: &Path) -> Result<&str, String> {
        match self.texts.get(path) {
            Some(Ok(t)) => Ok(t),
            Some(Err(e)) => Err(e.clone()),
            None => Err(not_resolved(path)),
        }
    }

    /// Whether `path` names a file.
    pub fn is_file(&self, path: &Path) -> bool {
        self.exists.get(path).copied().unwrap_or(false)
    }

    /// The size of a file to upload, or why it cannot be sent.
    pub fn upload(&self, path: &Path) -> Result<u64, String> {
        match self.uploads.get(path) {
            Some(r) => r.clone(),
            None => Err(not_resolved(path)),
        }
    }
}

impl Resolved {
    /// Every file this chain reads, its sub-chains' too: the chain itself,
    /// sub-chains, query and key files, certificates, and the `connectors/`
    /// directory beside each chain (for `run --watch`).
    pub fn files(&self) -> Vec<PathBuf> {
        let mut out = vec![self.here.clone()];
        if let Some(dir) = self.here.parent() {
            out.push(dir.join("connectors"));
        }
        out.extend(self.texts.keys().cloned());
        out.extend(self.exists.keys().cloned());
        for (path, sub) in &self.sub_chains {
            out.push(path.clone());
            if let Ok(SubChainFile {
                resolved: Some(r), ..
            }) = sub
            {
                out.extend(r.files());
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

fn not_resolved(path: &Path) -> String {
    format!(
        "{} was not read before the chain was checked (a bug in pytopus)",
        path.display()
    )
}

/// The directory a chain's relative paths start from.
pub fn chain_dir(source_name: &str) -> PathBuf {
    if source_name.starts_with('<') {
        return PathBuf::new();
    }
    Path::new(source_name)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Reads every file `parsed` needs.
pub fn resolve(parsed: &ParsedChain) -> Resolved {
    resolve_nested(parsed, &mut Vec::new())
}

fn resolve_nested(parsed: &ParsedChain, stack: &mut Vec<PathBuf>) -> Resolved {
    let source = &parsed.source;
    let chain = &parsed.chain;
    let dir = chain_dir(&source.name);
    let mut out = Resolved {
        here: std::fs::canonicalize(&source.name).unwrap_or_else(|_| source.name.clone().into()),
        ..Resolved::default()
    };
    if chain.connectors.is_some() || chain.steps.iter().any(|s| s.connector.is_some()) {
        let library = Library::for_chain(chain.connectors.as_ref(), &dir, source, &parsed.spans);
        if let Ok(lib) = &library {
            for name in chain
                .steps
                .iter()
                .filter_map(|s| s.connector.as_deref().and_then(Value::as_str))
            {
                if !out.connectors.contains_key(name) {
                    out.connectors.insert(name.to_string(), lib.get(name));
                }
            }
        }
        out.library = Some(library);
    }
    // A connector step stands for the step its endpoint makes: its files too.
    let mut expanded: Vec<Step> = Vec::new();
    for step in &chain.steps {
        if let Some(Ok(connector)) = step
            .connector
            .as_deref()
            .and_then(Value::as_str)
            .and_then(|n| out.connectors.get(n))
            && let Ok((step, _)) = crate::connector::expand_step(step, connector)
        {
            expanded.push(step);
        }
    }
    let steps: Vec<&Step> = chain.steps.iter().chain(&expanded).collect();
    stack.push(out.here.clone());
    for auth in chain
        .defaults
        .auth
        .iter()
        .chain(steps.iter().filter_map(|s| s.auth.as_deref()))
    {
        key_file(auth, &dir, &mut out);
    }
    for tls in chain
        .defaults
        .tls
        .iter()
        .chain(steps.iter().filter_map(|s| s.tls.as_deref()))
    {
        certificates(tls, &dir, &mut out);
    }
    for &step in &steps {
        if let Some(file) = step.graphql.as_ref().and_then(|g| g.query_file.as_ref()) {
            read_into(&dir.join(file), &mut out);
        }
        if let Some(Value::String(file)) = step.expect.as_ref().and_then(|e| e.schema.as_ref()) {
            read_into(&dir.join(file), &mut out);
        }
        for file in crate::chain::parts::files(step) {
            if let std::collections::hash_map::Entry::Vacant(e) = out.uploads.entry(dir.join(file))
            {
                let found = upload(e.key());
                e.insert(found);
            }
        }
        if let Some(file) = &step.chain {
            let path = dir.join(file);
            if let std::collections::hash_map::Entry::Vacant(e) = out.sub_chains.entry(path) {
                let sub = sub_chain(e.key(), stack);
                e.insert(sub);
            }
        }
    }
    // `notify.chain`: read like a sub-chain, run by the notifier.
    if let Some(file) = chain.notify.as_ref().and_then(|n| n.chain.as_ref()) {
        let path = dir.join(file);
        if let std::collections::hash_map::Entry::Vacant(e) = out.sub_chains.entry(path) {
            let sub = sub_chain(e.key(), stack);
            e.insert(sub);
        }
    }
    stack.pop();
    out
}

/// A sub-chain's file, read, parsed and resolved, unless it is one of the
/// chains being resolved already.
fn sub_chain(path: &Path, stack: &mut Vec<PathBuf>) -> Result<SubChainFile, String> {
    let canonical = std::fs::canonicalize(path).map_err(|e| e.to_string())?;
    let text = read_text(Some(&canonical), MAX_INPUT).map_err(|e| e.to_string())?;
    let parsed = crate::chain::parse::parse(Arc::new(Source {
        name: path.display().to_string(),
        text,
    }));
    let resolved = match &parsed {
        Ok(p) if !stack.contains(&canonical) => Some(Box::new(resolve_nested(p, stack))),
        _ => None,
    };
    Ok(SubChainFile {
        canonical,
        parsed,
        resolved,
    })
}

/// A JWT's private key given as a file (not PEM text, not a template).
fn key_file(auth: &Auth, dir: &Path, out: &mut Resolved) {
    if let Auth::Jwt {
        private_key: Some(key),
        ..
    } = auth
        && !key.contains("-----BEGIN")
        && !key.contains("{{")
    {
        read_into(&dir.join(key), out);
    }
}

fn certificates(tls: &Tls, dir: &Path, out: &mut Resolved) {
    for file in [&tls.client_cert, &tls.client_key, &tls.ca_cert]
        .into_iter()
        .flatten()
    {
        let path = dir.join(file);
        let is_file = path.is_file();
        out.exists.insert(path, is_file);
    }
}

fn read_into(path: &Path, out: &mut Resolved) {
    if !out.texts.contains_key(path) {
        let text = read_text(Some(path), MAX_INPUT).map_err(|e| e.to_string());
        out.texts.insert(path.to_path_buf(), text);
    }
}

/// A file to upload: a regular file that can be opened, and its size.
fn upload(path: &Path) -> Result<u64, String> {
    use crate::transport::upload::{FileRef, io_words};
    let file = FileRef::measure(path)?;
    std::fs::File::open(path).map_err(|e| io_words(&e))?;
    Ok(file.len)
}
