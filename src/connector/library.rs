//! Where connectors are found (the chain's `connectors:`, `connectors/`
//! beside it, the user's directory, the built-ins) and how an inline entry
//! overlays one found further down.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use indexmap::IndexMap;
use serde_json::Value;

use crate::chain::parse::{read_document, shape_error};
use crate::chain::spans::{SpanMap, join_key};
use crate::diagnostic::{Diagnostic, Source, suggest};

use super::*;

/// `<config>/pytopus/connectors`, the user's own connectors.
pub fn user_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "pytopus").map(|d| d.config_dir().join("connectors"))
}

/// A connector document as read: its value and where its keys are.
#[derive(Debug, Clone)]
pub(super) struct Document {
    pub(super) value: Value,
    pub(super) spans: SpanMap,
    pub(super) source: Arc<Source>,
    pub(super) origin: Origin,
}

/// Reads and shape-checks a connector document.
pub(super) fn read(source: Arc<Source>, origin: Origin) -> Result<Document, Diagnostic> {
    let (value, spans) = read_document(&source)?;
    if !value.is_object() {
        return Err(Diagnostic::new("a connector file must be a map")
            .at(&source, spans.value(""))
            .note("help: see docs/connectors.md"));
    }
    serde_path_to_error::deserialize::<_, ConnectorFile>(&value)
        .map_err(|e| shape_error(&source, &spans, &value, e, "the connector"))?;
    Ok(Document {
        value,
        spans,
        source,
        origin,
    })
}

pub(super) fn read_file(path: &Path, origin: Origin) -> Result<Document, Diagnostic> {
    let text = crate::files::read_text(Some(path), crate::files::MAX_INPUT).map_err(|e| {
        Diagnostic::new(format!(
            "cannot read connector file {}: {e}",
            path.display()
        ))
    })?;
    let source = Arc::new(Source {
        name: path.display().to_string(),
        text,
    });
    read(source, origin)
}

pub(super) fn built_in(name: &str) -> Option<Document> {
    let (file, text) = BUILT_IN.iter().find(|(n, _)| *n == name)?;
    let source = Arc::new(Source {
        name: format!("<built-in connectors/{file}.yaml>"),
        text: (*text).to_string(),
    });
    // The built-ins are checked by tests; a broken one is a bug, not input.
    read(source, Origin::BuiltIn).ok()
}

/// Every place connectors are looked up for one chain.
#[derive(Debug)]
pub struct Library {
    /// From the chain's `connectors:`, by name.
    chain: IndexMap<String, Document>,
    /// `connectors/` beside the chain.
    beside: Option<PathBuf>,
    user: Option<PathBuf>,
    cache: Mutex<HashMap<String, Arc<Connector>>>,
}

impl Library {
    /// The library for a chain file: `connectors` is its `connectors:` value,
    /// `dir` the chain's directory. Errors point into the chain or the files it names.
    pub fn for_chain(
        connectors: Option<&Value>,
        dir: &Path,
        chain_source: &Arc<Source>,
        chain_spans: &SpanMap,
    ) -> Result<Library, Vec<Diagnostic>> {
        let mut lib = Library {
            chain: IndexMap::new(),
            beside: Some(dir.join("connectors")),
            user: user_dir(),
            cache: Mutex::new(HashMap::new()),
        };
        let mut errors = Vec::new();
        let entries: Vec<(String, Option<String>, &Value)> = match connectors {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (crate::chain::spans::join_index("connectors", i), None, v))
                .collect(),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| (join_key("connectors", k), Some(k.clone()), v))
                .collect(),
            Some(_) => {
                errors.push(
                    Diagnostic::new(
                        "`connectors` must be a list of files, or a map of names to files or definitions",
                    )
                    .at(chain_source, chain_spans.value("connectors")),
                );
                return Err(errors);
            }
        };
        for (path, key, value) in entries {
            let doc = match value {
                Value::String(file) => {
                    let p = dir.join(file);
                    read_file(&p, Origin::File(p.clone())).map_err(|d| {
                        // A file that cannot be read: point at where the chain names it.
                        if d.source.is_none() {
                            d.at(chain_source, chain_spans.value(&path))
                        } else {
                            d
                        }
                    })
                }
                Value::Object(_) => {
                    // An inline definition: a document of its own, written
                    // inside the chain.
                    let spans = chain_spans.under(&path);
                    match serde_path_to_error::deserialize::<_, ConnectorFile>(value) {
                        Ok(_) => Ok(Document {
                            value: value.clone(),
                            spans,
                            source: Arc::clone(chain_source),
                            origin: Origin::Inline,
                        }),
                        Err(e) => Err(shape_error(
                            chain_source,
                            &spans,
                            value,
                            e,
                            &format!("`{path}`"),
                        )),
                    }
                }
                _ => Err(Diagnostic::new(format!(
                    "`{path}` must be a file path or a connector definition"
                ))
                .at(chain_source, chain_spans.value(&path))),
            };
            let doc = match doc {
                Ok(d) => d,
                Err(d) => {
                    errors.push(d);
                    continue;
                }
            };
            let name = key.or_else(|| {
                doc.value
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
            match name {
                Some(n) => {
                    lib.chain.insert(n, doc);
                }
                None => errors.push(
                    Diagnostic::new("this connector has no `name`")
                        .at(&doc.source, doc.spans.value(""))
                        .note("help: give it `name:`, or list it under a name in `connectors:`"),
                ),
            }
        }
        if errors.is_empty() {
            Ok(lib)
        } else {
            Err(errors)
        }
    }

    /// A library without a chain: `./connectors`, the user's, the built-ins.
    pub fn standalone() -> Library {
        Library {
            chain: IndexMap::new(),
            beside: Some(PathBuf::from("connectors")),
            user: user_dir(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The directories searched for `<name>.yaml|.yml|.json`, in order.
    fn dirs(&self) -> impl Iterator<Item = &PathBuf> {
        self.beside.iter().chain(self.user.iter())
    }

    /// The first connector document named `name` below the chain's own entries.
    fn find_below_chain(&self, name: &str) -> Result<Option<Document>, Diagnostic> {
        for dir in self.dirs() {
            for ext in ["yaml", "yml", "json"] {
                let p = dir.join(format!("{name}.{ext}"));
                if p.is_file() {
                    return read_file(&p, Origin::File(p.clone())).map(Some);
                }
            }
        }
        Ok(built_in(name))
    }

    /// Finds, merges and checks the connector `name`.
    pub fn get(&self, name: &str) -> Result<Arc<Connector>, Vec<Diagnostic>> {
        if let Some(c) = self.cache.lock().ok().and_then(|c| c.get(name).cloned()) {
            return Ok(c);
        }
        let doc = match self.chain.get(name) {
            Some(own) if own.origin == Origin::Inline => {
                match self.find_below_chain(name).map_err(|d| vec![d])? {
                    Some(base) => Document {
                        value: overlay(&base.value, &own.value),
                        // Errors in the merged document are most likely the
                        // overlay's; both are checked on their own first.
                        origin: Origin::Overlay(Box::new(base.origin)),
                        ..own.clone()
                    },
                    None => own.clone(),
                }
            }
            Some(own) => own.clone(),
            None => match self.find_below_chain(name).map_err(|d| vec![d])? {
                Some(d) => d,
                None => return Err(vec![self.unknown(name)]),
            },
        };
        let connector = Arc::new(check(name, &doc)?);
        if let Ok(mut c) = self.cache.lock() {
            c.insert(name.to_string(), Arc::clone(&connector));
        }
        Ok(connector)
    }

    fn unknown(&self, name: &str) -> Diagnostic {
        let names = self.names();
        let mut d = Diagnostic::new(format!("there is no connector named `{name}`"));
        match suggest(name, names.iter().map(String::as_str)) {
            Some(best) => d = d.note(format!("help: did you mean `{best}`?")),
            None => d = d.note(format!("help: known connectors: {}", names.join(", "))),
        }
        d
    }

    /// Every connector name this library can find, first the chain's.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.chain.keys().cloned().collect();
        for dir in self.dirs() {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut found: Vec<String> = entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let p = e.path();
                    let ext = p.extension()?.to_str()?;
                    if !matches!(ext, "yaml" | "yml" | "json") {
                        return None;
                    }
                    Some(p.file_stem()?.to_str()?.to_string())
                })
                .collect();
            found.sort();
            names.extend(found);
        }
        names.extend(BUILT_IN.iter().map(|(n, _)| n.to_string()));
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(n.clone()));
        names
    }
}

/// `base` with `over`'s keys; `headers` and `endpoints` merged key by key.
pub(super) fn overlay(base: &Value, over: &Value) -> Value {
    let (Value::Object(b), Value::Object(o)) = (base, over) else {
        return over.clone();
    };
    let mut out = b.clone();
    for (k, v) in o {
        match (k.as_str(), out.get_mut(k), v) {
            ("headers" | "endpoints", Some(Value::Object(mine)), Value::Object(theirs)) => {
                for (hk, hv) in theirs {
                    mine.insert(hk.clone(), hv.clone());
                }
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}
