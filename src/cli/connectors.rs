//! `pytopus connectors list|show|test|new|import`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::args::{ConnectorsCommand, ImportArgs, NewAuth, NewConnectorArgs};
use super::fail::{Fail, Outcome};
use super::{Exit, print_diagnostics, print_stdout};
use crate::chain;
use crate::connector::{self, Connector, Library};
use crate::diagnostic::{Diagnostic, Diagnostics, Source};
use crate::engine::{Cancel, StepStatus};
use crate::report::to_stderr;
use crate::secret::Redactor;
use crate::session::{Jar, Run, Session};

pub async fn run(cmd: ConnectorsCommand) -> Outcome {
    match cmd {
        ConnectorsCommand::List => list(),
        ConnectorsCommand::Show { name } => show(&name),
        ConnectorsCommand::Test { name } => test(&name).await,
        ConnectorsCommand::New(args) => new(args),
        ConnectorsCommand::Import(args) => import(args),
    }
}

fn load(lib: &Library, name: &str) -> Result<Arc<Connector>, Fail> {
    lib.get(name)
        .map_err(|errors| Fail::Usage(Diagnostics(errors)))
}

fn rate(c: &Connector) -> String {
    match &c.file.rate_limit {
        Some(r) => {
            let per = humantime::format_duration(r.per.0).to_string();
            match r.burst {
                Some(b) => format!("{}/{per} (burst {b})", r.requests),
                None => format!("{}/{per}", r.requests),
            }
        }
        None => "-".into(),
    }
}

fn list() -> Outcome {
    let lib = Library::standalone();
    let mut rows = vec![[
        "NAME".to_string(),
        "SOURCE".into(),
        "AUTH".into(),
        "ENDPOINTS".into(),
        "RATE LIMIT".into(),
    ]];
    let mut exit = Exit::Success;
    for name in lib.names() {
        match lib.get(&name) {
            Ok(c) => rows.push([
                c.name.clone(),
                c.origin.to_string(),
                c.auth_kind().to_string(),
                c.file.endpoints.len().to_string(),
                rate(&c),
            ]),
            // Said now, each connector's problems on their own; the table
            // of the others still follows.
            Err(errors) => exit = Fail::Usage(Diagnostics(errors)).report(),
        }
    }
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    print_stdout(&out)?;
    Ok(exit)
}

fn show(name: &str) -> Outcome {
    let lib = Library::standalone();
    let c = load(&lib, name)?;
    let f = &c.file;
    let mut out = match &f.description {
        Some(d) => format!("{} — {d}\n", c.name),
        None => format!("{}\n", c.name),
    };
    let field = |out: &mut String, k: &str, v: &str| out.push_str(&format!("{k:<11} {v}\n"));
    field(&mut out, "source:", &c.origin.to_string());
    field(
        &mut out,
        "base_url:",
        &format!(
            "{}   ({} replaces it)",
            c.base_url,
            connector::base_url_var(&c.name)
        ),
    );
    let secrets = c.secret_names();
    let auth = if secrets.is_empty() {
        c.auth_kind().to_string()
    } else {
        format!("{} (secrets: {})", c.auth_kind(), secrets.join(", "))
    };
    field(&mut out, "auth:", &auth);
    field(&mut out, "rate limit:", &rate(&c));
    if let Some(d) = &f.docs {
        field(&mut out, "docs:", d);
    }
    if let Some(t) = &f.test {
        let what = match (&t.endpoint, &t.path) {
            (Some(e), _) => format!("endpoint {e}"),
            (None, Some(p)) => format!("{} {p}", t.method.as_deref().unwrap_or("GET")),
            _ => String::new(),
        };
        field(&mut out, "test:", &what);
    }
    if f.endpoints.is_empty() {
        out.push_str("\nno endpoints: steps use `url: /path`\n");
    } else {
        out.push_str("\nendpoints:\n");
        let width = f.endpoints.keys().map(String::len).max().unwrap_or(0);
        for (name, e) in &f.endpoints {
            let method = e.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
            out.push_str(&format!("  {name:<width$}  {method:<6} {}\n", e.path));
            if let Some(d) = &e.description {
                out.push_str(&format!("  {:width$}  {d}\n", ""));
            }
            let params = e.parameters();
            if !params.is_empty() {
                let list: Vec<String> = params.iter().map(ToString::to_string).collect();
                out.push_str(&format!("  {:width$}  params: {}\n", "", list.join(", ")));
            }
        }
    }
    print_stdout(&out)
}

/// Rate-limit headers servers send, in the order they are shown.
const RATE_HEADERS: &[&str] = &[
    "ratelimit",
    "ratelimit-policy",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-used",
    "x-rate-limit-limit",
    "x-rate-limit-remaining",
    "x-rate-limit-reset",
    "retry-after",
];

async fn test(name: &str) -> Outcome {
    let lib = Library::standalone();
    let c = load(&lib, name)?;
    let Some(t) = &c.file.test else {
        return Err(
            Diagnostic::new(format!("connector `{name}` has no `test` request"))
                .note("help: add `test: {endpoint: NAME}` or `test: {path: /something}` to it")
                .into(),
        );
    };
    // The test request is an ordinary one-step chain, so it goes through
    // exactly what a chain would: auth, secrets, redaction, retries.
    let mut step = serde_json::json!({
        "name": "test",
        "connector": name,
        "retry": {"attempts": 1},
        "expect": {"status": ["1xx", "2xx", "3xx", "4xx", "5xx"]},
    });
    match (&t.endpoint, &t.path) {
        (Some(e), _) => {
            step["endpoint"] = Value::from(e.clone());
            if !t.params.is_empty() {
                step["params"] = serde_json::to_value(&t.params).unwrap_or_default();
            }
        }
        (None, Some(p)) => {
            step["url"] = Value::from(p.clone());
            if let Some(m) = &t.method {
                step["method"] = Value::from(m.clone());
            }
            if !t.query.is_empty() {
                step["query_params"] = serde_json::to_value(&t.query).unwrap_or_default();
            }
        }
        // Not reached: a connector's `test` names an endpoint or a path.
        _ => return Ok(Exit::Usage),
    }
    let text = serde_json::json!({"name": format!("connectors test {name}"), "steps": [step]});
    let source = Arc::new(Source {
        name: "<connectors test>".into(),
        text: text.to_string(),
    });
    let chain = chain::parse(source)
        .map_err(Diagnostics::from)
        .and_then(|p| crate::compile::validate(p, Default::default()))?;
    // Run as any chain is, through the run session: no history, no report.
    let redactor = Redactor::default();
    let secrets = crate::session::secrets_for_run(&redactor);
    let route = Arc::new(crate::session::live().map_err(Fail::failed)?);
    let session = Session::new(
        redactor.clone(),
        secrets,
        route,
        Jar::Shared,
        Cancel::never(),
    )
    .notify(Arc::new(|m: &str| to_stderr(&format!("{m}\n"))));
    let report = session.run(Run::new(&chain)).await.report;
    let outcome = &report.steps[0];
    let mut out = String::new();
    let request = outcome
        .request
        .as_ref()
        .map(|r| format!("{} {}", r.method, r.url))
        .unwrap_or_default();
    let exit = match (&outcome.status, &outcome.response) {
        (StepStatus::Passed, Some(resp)) => {
            out.push_str(&format!(
                "{name}: {request} → {} ({} ms)\n",
                crate::engine::check::status_text(resp.status),
                outcome.elapsed.as_millis()
            ));
            let secrets = c.secret_names();
            let auth = c.auth_kind();
            let (verdict, exit) = match resp.status {
                200..=399 if auth == "none" => (
                    "no auth configured; the API answered".to_string(),
                    Exit::Success,
                ),
                200..=399 => (format!("ok ({auth})"), Exit::Success),
                401 | 403 => (
                    format!(
                        "rejected ({}) — check the credentials{}",
                        resp.status,
                        if secrets.is_empty() {
                            String::new()
                        } else {
                            format!(" in secret {}", secrets.join(", "))
                        }
                    ),
                    Exit::StepFailed,
                ),
                s => (
                    format!("unknown: the test request failed with {s}"),
                    Exit::StepFailed,
                ),
            };
            out.push_str(&format!("auth:       {verdict}\n"));
            let found: Vec<String> = RATE_HEADERS
                .iter()
                .filter_map(|h| {
                    resp.headers
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(h))
                        .map(|(k, v)| format!("{}: {v}", k.to_ascii_lowercase()))
                })
                .collect();
            if found.is_empty() {
                out.push_str("rate limit: the server sent no rate-limit headers");
                if c.file.rate_limit.is_some() {
                    out.push_str(&format!(" (pytopus keeps to {})", rate(&c)));
                }
                out.push('\n');
            } else {
                out.push_str(&format!("rate limit: {}\n", found.join(", ")));
            }
            exit
        }
        _ => {
            let why = outcome
                .error
                .as_ref()
                .map(|e| e.summary())
                .unwrap_or_else(|| "no answer".into());
            out.push_str(&format!("{name}: {request} failed: {why}\n"));
            Exit::StepFailed
        }
    };
    to_stderr(&redactor.redact(&out));
    Ok(exit)
}

/// Asks `question` on stderr and reads one line of stdin; `None` at the end of input.
fn ask(question: &str, default: Option<&str>) -> Option<String> {
    let shown = match default {
        Some(d) => format!("{question} [{d}]: "),
        None => format!("{question}: "),
    };
    let mut err = std::io::stderr();
    let _ = err.write_all(shown.as_bytes());
    let _ = err.flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => {
            let answer = line.trim().to_string();
            match (answer.is_empty(), default) {
                (true, Some(d)) => Some(d.to_string()),
                _ => Some(answer),
            }
        }
    }
}

/// Asks until `accept` takes the answer; on a terminal a bad answer is asked
/// again, otherwise it is an error.
fn ask_until<T>(
    question: &str,
    default: Option<&str>,
    accept: impl Fn(&str) -> Result<T, String>,
) -> Result<T, Fail> {
    let terminal = std::io::stdin().is_terminal();
    loop {
        let Some(answer) = ask(question, default) else {
            // Ends the question's line; the error goes on the next.
            to_stderr("\n");
            return Err(Diagnostic::new(format!(
                "no answer for \"{question}\" (standard input ended)"
            ))
            .note("help: give it as a flag; see `pytopus connectors new --help`")
            .into());
        };
        match accept(&answer) {
            Ok(v) => return Ok(v),
            Err(why) if terminal => to_stderr(&format!("  {why}\n")),
            Err(why) => return Err(Fail::usage(why)),
        }
    }
}

fn check_name(n: &str) -> Result<String, String> {
    if connector::valid_name(n) {
        Ok(n.to_string())
    } else {
        Err(format!(
            "`{n}` is not a valid connector name: lowercase letters, digits, `_` and `-`, starting with a letter"
        ))
    }
}

fn check_url(u: &str) -> Result<String, String> {
    match url::Url::parse(u) {
        Ok(p) if matches!(p.scheme(), "http" | "https") => Ok(u.trim_end_matches('/').to_string()),
        _ => Err(format!(
            "`{u}` is not an absolute http(s) URL (e.g. https://api.example.com)"
        )),
    }
}

fn check_auth(a: &str) -> Result<NewAuth, String> {
    use clap::ValueEnum;
    NewAuth::from_str(a, true)
        .map_err(|_| format!("`{a}` is not one of: none, bearer, basic, api-key, oauth2"))
}

fn new(args: NewConnectorArgs) -> Outcome {
    let name = match &args.name {
        Some(n) => check_name(n).map_err(Fail::usage)?,
        None => ask_until("Connector name", None, check_name)?,
    };
    let base_url = match &args.base_url {
        Some(u) => check_url(u).map_err(Fail::usage)?,
        None => ask_until("Base URL", None, check_url)?,
    };
    let auth = match args.auth {
        Some(a) => a,
        None => ask_until(
            "Auth (none, bearer, basic, api-key, oauth2)",
            Some("bearer"),
            check_auth,
        )?,
    };
    let path = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from("connectors").join(format!("{name}.yaml")));
    let text = new_file_text(&name, &base_url, auth);
    write_new(&path, &text, args.force)?;
    to_stderr(&format!(
        "wrote {}\n  use it in a step with `connector: {name}` and `url: /path`, or add endpoints to the file\n",
        path.display()
    ));
    Ok(Exit::Success)
}

fn new_file_text(name: &str, base_url: &str, auth: NewAuth) -> String {
    let auth_block = match auth {
        NewAuth::None => String::new(),
        NewAuth::Bearer => {
            format!("auth:\n  type: bearer\n  token: \"{{{{ secret('{name}_token') }}}}\"\n")
        }
        NewAuth::Basic => format!(
            "auth:\n  type: basic\n  username: \"{{{{ secret('{name}_username') }}}}\"\n  password: \"{{{{ secret('{name}_password') }}}}\"\n"
        ),
        NewAuth::ApiKey => format!(
            "auth:\n  type: api_key\n  in: header\n  name: X-API-Key\n  key: \"{{{{ secret('{name}_key') }}}}\"\n"
        ),
        NewAuth::Oauth2 => format!(
            "auth:\n  type: oauth2\n  grant: client_credentials\n  token_url: {base_url}/oauth/token   # check the API's docs\n  client_id: \"{{{{ secret('{name}_client_id') }}}}\"\n  client_secret: \"{{{{ secret('{name}_client_secret') }}}}\"\n"
        ),
    };
    let secrets = match auth {
        NewAuth::None => String::new(),
        NewAuth::Bearer => format!("#   pytopus auth set {name}_token\n"),
        NewAuth::Basic => {
            format!("#   pytopus auth set {name}_username\n#   pytopus auth set {name}_password\n")
        }
        NewAuth::ApiKey => format!("#   pytopus auth set {name}_key\n"),
        NewAuth::Oauth2 => format!(
            "#   pytopus auth set {name}_client_id\n#   pytopus auth set {name}_client_secret\n"
        ),
    };
    let store = if secrets.is_empty() {
        String::new()
    } else {
        format!("# Store the credentials once (or set PYTOPUS_SECRET_<NAME> in CI):\n{secrets}")
    };
    format!(
        "# Connector written by `pytopus connectors new`; format: docs/connectors.md\n{store}name: {name}\ndescription: {name} API\nbase_url: {base_url}\n{auth_block}headers:\n  Accept: application/json\n# rate_limit: {{requests: 60, per: 1m}}\nendpoints: {{}}\n  # get_item:\n  #   description: Get one item\n  #   path: /items/{{id}}\ntest:\n  path: /\n"
    )
}

/// Writes a new file, refusing to replace one unless `force`.
fn write_new(path: &Path, text: &str, force: bool) -> Result<(), Fail> {
    if path.exists() && !force {
        return Err(
            Diagnostic::new(format!("{} already exists", path.display()))
                .note("help: pass --force to replace it")
                .into(),
        );
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Fail::usage(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(path, text)
        .map_err(|e| Fail::usage(format!("cannot write {}: {e}", path.display())))
}

fn import(args: ImportArgs) -> Outcome {
    let text = std::fs::read_to_string(&args.spec)
        .map_err(|e| Fail::usage(format!("cannot read {}: {e}", args.spec.display())))?;
    let mut imported = connector::openapi::import(&text, args.name.as_deref())
        .map_err(|e| Fail::usage(format!("{}: {e}", args.spec.display())))?;
    let written = imported
        .connector
        .get("base_url")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let relative = !written.contains("://");
    match &args.base_url {
        Some(given) => {
            let given = check_url(given).map_err(|e| Fail::usage(format!("--base-url: {e}")))?;
            // A relative server URL is relative to where the API lives.
            let base = if relative {
                format!("{given}/{}", written.trim_start_matches('/'))
            } else {
                given
            };
            imported.connector["base_url"] = Value::from(base.trim_end_matches('/'));
            imported
                .warnings
                .retain(|w| !w.starts_with("base_url is relative"));
        }
        None if relative => {
            return Err(Diagnostic::new(format!(
                "{}: the API's server URL is relative (`{written}`), so the document does not say where the API is",
                args.spec.display()
            ))
            .note(format!(
                "help: give its address: --base-url https://api.example.com (`{written}` is appended)"
            ))
            .into());
        }
        None => {}
    }
    for w in &imported.warnings {
        to_stderr(&format!("warning: {w}\n"));
    }
    let name = imported
        .connector
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("imported")
        .to_string();
    let yaml = connector::openapi::to_yaml(&imported.connector);
    let header = format!(
        "# Imported by `pytopus connectors import` from {}; format: docs/connectors.md\n",
        args.spec
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let text = format!("{header}{yaml}");
    // What was written must load: check it like any connector file.
    let source = Arc::new(Source {
        name: format!("<{name}.yaml as imported>"),
        text: text.clone(),
    });
    if let Err(errors) = connector::check_text(&name, source) {
        // The problems as any connector's (their own count and all), then
        // what it means here.
        print_diagnostics(&Diagnostics(errors));
        return Err(Fail::failed(
            "the imported connector does not load; nothing was written",
        ));
    }
    if args.output.as_deref() == Some(Path::new("-")) {
        return print_stdout(&text);
    }
    let path = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from("connectors").join(format!("{name}.yaml")));
    write_new(&path, &text, args.force)?;
    let n = imported
        .connector
        .get("endpoints")
        .and_then(Value::as_object)
        .map_or(0, |e| e.len());
    to_stderr(&format!(
        "wrote {} ({n} endpoints); see them with `pytopus connectors show {name}`\n",
        path.display()
    ));
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_does_not_replace_one_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("c.yaml");
        write_new(&path, "one\n", false).unwrap();
        let fail = write_new(&path, "two\n", false).unwrap_err();
        assert_eq!(fail.exit(), Exit::Usage);
        assert_eq!(
            fail.render(false),
            format!(
                "error: {} already exists\n  = help: pass --force to replace it\n",
                path.display()
            )
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\n");
        write_new(&path, "two\n", true).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
    }
}
