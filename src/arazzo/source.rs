//! `sourceDescriptions`: the OpenAPI files an Arazzo file's steps call,
//! read once, and the operations in them by `operationId` and by path.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use crate::chain::spans::{join_index, join_key};
use crate::diagnostic::Source;
use crate::files::{MAX_INPUT, read_text};

/// The HTTP methods an OpenAPI path item may have.
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One OpenAPI description, read.
#[derive(Debug)]
struct Described {
    name: String,
    /// As written in the Arazzo file.
    url: String,
    doc: Value,
}

/// Every source description of an Arazzo file.
#[derive(Debug, Default)]
pub(super) struct Sources {
    all: Vec<Described>,
    /// Other Arazzo files, by name: as read, with positions.
    arazzo: Vec<(String, Arc<Source>, Value, crate::chain::spans::SpanMap)>,
}

/// Where an operation's requests go.
#[derive(Debug, Clone)]
pub(super) struct Server {
    /// The source description it comes from.
    pub source: String,
    /// Its first server's URL, when that is absolute.
    pub url: Option<String>,
}

/// An operation a step calls.
#[derive(Debug, Clone)]
pub(super) struct Operation {
    pub method: String,
    /// `None` for `x-operation`, whose `url` is whole.
    pub server: Option<Server>,
    /// The path (`/pets/{petId}`), or `x-operation`'s URL.
    pub path: String,
    /// The source description it is in.
    pub source: Option<String>,
    /// Where the step names it in the Arazzo file (empty: the step's key).
    pub at: String,
}

impl Sources {
    /// Reads each `sourceDescriptions` entry of type `openapi`; problems go
    /// to `error` with the path of the entry.
    /// A description given by URL is fetched with `fetch`.
    pub(super) fn read(
        doc: &Value,
        dir: &Path,
        fetch: &dyn Fn(&str) -> Result<String, String>,
        error: &mut dyn FnMut(&str, String),
    ) -> Sources {
        let mut all = Vec::new();
        let mut arazzo = Vec::new();
        let list = doc
            .get("sourceDescriptions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if list.is_empty() {
            error(
                "sourceDescriptions",
                "an Arazzo file needs `sourceDescriptions`, with at least one".into(),
            );
        }
        for (i, s) in list.iter().enumerate() {
            let at = join_index("sourceDescriptions", i);
            let name = s.get("name").and_then(Value::as_str).unwrap_or("");
            let url = s.get("url").and_then(Value::as_str).unwrap_or("");
            if name.is_empty() || url.is_empty() {
                error(&at, "a source description needs `name` and `url`".into());
                continue;
            }
            let kind = s.get("type").and_then(Value::as_str).unwrap_or("openapi");
            match kind {
                "openapi" | "arazzo" => {}
                other => {
                    error(
                        &join_key(&at, "type"),
                        format!("`type: {other}`: a source description is openapi or arazzo"),
                    );
                    continue;
                }
            }
            let remote = url.starts_with("http://") || url.starts_with("https://");
            let (shown, read) = if remote {
                (url.to_string(), fetch(url))
            } else {
                let path = dir.join(url.strip_prefix("file://").unwrap_or(url));
                let read = read_text(Some(&path), MAX_INPUT)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()));
                (path.display().to_string(), read)
            };
            let text = match read {
                Ok(t) => t,
                Err(e) => {
                    error(&join_key(&at, "url"), e);
                    continue;
                }
            };
            let source = Arc::new(Source { name: shown, text });
            let path = Path::new(&source.name);
            let (value, spans) = match crate::chain::parse::read_document(&source) {
                Ok(read) => read,
                Err(d) => {
                    error(&join_key(&at, "url"), d.message.clone());
                    continue;
                }
            };
            if kind == "arazzo" {
                if !super::is_arazzo(&value) {
                    error(
                        &join_key(&at, "url"),
                        format!(
                            "{} is not an Arazzo file (it has no `arazzo` key)",
                            source.name
                        ),
                    );
                    continue;
                }
                all.push(Described {
                    name: name.to_string(),
                    url: url.to_string(),
                    doc: Value::Null,
                });
                arazzo.push((name.to_string(), Arc::clone(&source), value, spans));
                continue;
            }
            if value.get("openapi").is_none() && value.get("swagger").is_none() {
                error(
                    &join_key(&at, "url"),
                    format!(
                        "{} is not an OpenAPI description (it has no `openapi` key)",
                        path.display()
                    ),
                );
                continue;
            }
            all.push(Described {
                name: name.to_string(),
                url: url.to_string(),
                doc: value,
            });
        }
        Sources { all, arazzo }
    }

    /// Another Arazzo file by its name, as read.
    pub(super) fn arazzo(
        &self,
        name: &str,
    ) -> Option<(Arc<Source>, Value, crate::chain::spans::SpanMap)> {
        self.arazzo
            .iter()
            .find(|(n, ..)| n == name)
            .map(|(_, s, v, spans)| (Arc::clone(s), v.clone(), spans.clone()))
    }

    /// `$sourceDescriptions.NAME.url`.
    pub(super) fn url(&self, name: &str) -> Option<&str> {
        self.all
            .iter()
            .find(|d| d.name == name)
            .map(|d| d.url.as_str())
    }

    /// An operation by `operationId`, plain or `$sourceDescriptions.NAME.ID`.
    pub(super) fn by_id(&self, id: &str) -> Result<Operation, String> {
        let (within, id) = match id.strip_prefix("$sourceDescriptions.") {
            Some(rest) => match rest.split_once('.') {
                Some((s, i)) => (Some(s), i),
                None => return Err(format!("`{id}` names no operation after the source")),
            },
            None => (None, id),
        };
        let mut found = Vec::new();
        for d in self
            .all
            .iter()
            .filter(|d| within.is_none_or(|w| w == d.name))
        {
            for (path, item) in d
                .doc
                .get("paths")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                for m in METHODS {
                    if item
                        .pointer(&format!("/{m}/operationId"))
                        .and_then(Value::as_str)
                        == Some(id)
                    {
                        found.push(operation(d, path, m));
                    }
                }
            }
        }
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(match within {
                Some(s) if self.url(s).is_none() => format!("there is no source description `{s}`"),
                _ => format!("no operation has `operationId: {id}` in the source descriptions"),
            }),
            _ => Err(format!(
                "`{id}` is the operationId of operations in several source descriptions: write `$sourceDescriptions.NAME.{id}`"
            )),
        }
    }

    /// An operation by `operationPath`:
    /// `{$sourceDescriptions.NAME.url}#/paths/~1pets~1{petId}/get`.
    pub(super) fn by_path(&self, p: &str) -> Result<Operation, String> {
        let (head, pointer) = p
            .split_once('#')
            .ok_or_else(|| format!("`{p}` has no `#/paths/…` pointer"))?;
        let name = head
            .strip_prefix("{$sourceDescriptions.")
            .and_then(|r| r.strip_suffix(".url}"))
            .or_else(|| {
                self.all
                    .iter()
                    .find(|d| d.url == head)
                    .map(|d| d.name.as_str())
            })
            .ok_or_else(|| format!("`{head}` is not `{{$sourceDescriptions.NAME.url}}`"))?;
        let d = self
            .all
            .iter()
            .find(|d| d.name == name)
            .ok_or_else(|| format!("there is no source description `{name}`"))?;
        let tokens: Vec<String> = pointer
            .strip_prefix("/paths/")
            .ok_or_else(|| format!("`#{pointer}` does not point under `paths`"))?
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        let [path, method] = tokens.as_slice() else {
            return Err(format!("`#{pointer}` is not `#/paths/PATH/METHOD`"));
        };
        let method = method.to_ascii_lowercase();
        if d.doc
            .get("paths")
            .and_then(|ps| ps.get(path))
            .and_then(|i| i.get(&method))
            .is_none()
        {
            return Err(format!(
                "`{}` has no `{method}` operation at `{path}`",
                d.url
            ));
        }
        Ok(operation(d, path, &method))
    }

    /// A security scheme by name, in `source` or else the first description.
    pub(super) fn scheme(&self, source: Option<&str>, name: &str) -> Option<Value> {
        let d = match source {
            Some(s) => self.all.iter().find(|d| d.name == s)?,
            None => self.all.first()?,
        };
        d.doc
            .pointer(&format!("/components/securitySchemes/{name}"))
            .or_else(|| d.doc.pointer(&format!("/securityDefinitions/{name}")))
            .cloned()
    }
}

fn operation(d: &Described, path: &str, method: &str) -> Operation {
    Operation {
        method: method.to_string(),
        server: Some(Server {
            source: d.name.clone(),
            url: server_url(&d.doc),
        }),
        path: path.to_string(),
        source: Some(d.name.clone()),
        at: String::new(),
    }
}

/// The first server's URL, its variables at their defaults, when absolute.
fn server_url(doc: &Value) -> Option<String> {
    if let Some(host) = doc.get("host").and_then(Value::as_str) {
        let scheme = doc
            .pointer("/schemes/0")
            .and_then(Value::as_str)
            .unwrap_or("https");
        let base = doc.get("basePath").and_then(Value::as_str).unwrap_or("");
        return Some(format!("{scheme}://{host}{}", base.trim_end_matches('/')));
    }
    let server = doc.pointer("/servers/0")?;
    let mut url = server.get("url")?.as_str()?.to_string();
    if let Some(vars) = server.get("variables").and_then(Value::as_object) {
        for (k, v) in vars {
            if let Some(d) = v.get("default").and_then(Value::as_str) {
                url = url.replace(&format!("{{{k}}}"), d);
            }
        }
    }
    (url.starts_with("http://") || url.starts_with("https://"))
        .then(|| url.trim_end_matches('/').to_string())
}

/// Fetches a description given by URL: one GET through the transport every
/// request goes through (its redirect policy, size limit and decoding),
/// with the input limit of a chain file and a 30-second deadline. The
/// file is read while the chain is, outside any run: on a thread and
/// runtime of its own.
pub fn fetch(url: &str) -> Result<String, String> {
    use crate::transport::{Added, BodySink, Client, HttpRequest, LiveOptions, LiveTransport};
    let get = || -> Result<String, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot fetch {url}: {e}"))?;
        runtime.block_on(async {
            let live = LiveTransport::new(&LiveOptions::default())
                .map_err(|e| format!("cannot fetch {url}: {e}"))?;
            let client = Client::new(Arc::new(live), crate::secret::Redactor::default());
            let request = HttpRequest {
                method: "GET".into(),
                url: url.to_string(),
                parsed_url: None,
                headers: vec![(
                    "Accept".into(),
                    "application/yaml, application/json;q=0.9, */*;q=0.5".into(),
                )],
                body: None,
                timeout: std::time::Duration::from_secs(30),
                follow_redirects: true,
                tls: None,
                body_limit: MAX_INPUT,
            };
            let response = client
                .send(&request, &BodySink::Memory, &Added::default())
                .await
                .map_err(|e| format!("cannot fetch {url}: {e}"))?;
            if !(200..300).contains(&response.status) {
                return Err(format!(
                    "cannot fetch {url}: the server answered {}",
                    response.status
                ));
            }
            String::from_utf8(response.body).map_err(|_| format!("{url} is not UTF-8 text"))
        })
    };
    std::thread::scope(|s| match s.spawn(get).join() {
        Ok(r) => r,
        Err(_) => Err(format!("cannot fetch {url}")),
    })
}
