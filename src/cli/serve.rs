//! `pytopus serve`: load and check every chain, the secrets and the address,
//! then hand over to [`crate::serve`] until Ctrl-C or SIGTERM.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Exit;
use super::args::{self, ServeArgs};
use super::fail::{Fail, Outcome};
use super::inputs::read_source;
use super::session::interrupted;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::engine::context::Context;
use crate::report::to_stderr;
use crate::secret::{Redactor, Secret, Secrets};
use crate::serve::schedule::SystemClock;
use crate::serve::{Log, LogFormat, ServedChain, Server};
use crate::session::secrets_for_run;

pub async fn serve(args: ServeArgs) -> Outcome {
    let redactor = Redactor::default();
    let secrets = secrets_for_run(&redactor);
    let chains = load_all(&args.paths, &secrets, true)?;
    let token = api_token(&args, &secrets)?;
    let remote = !args.listen.ip().is_loopback();
    check_remote(args.listen, args.allow_remote, token.is_some())?;
    let transport = crate::session::live().map_err(Fail::failed)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::AddrInUse => "the address is already in use".to_string(),
                std::io::ErrorKind::AddrNotAvailable => {
                    "no network interface has this address".to_string()
                }
                std::io::ErrorKind::PermissionDenied => {
                    "permission denied (ports below 1024 need privileges)".to_string()
                }
                _ => e.to_string(),
            };
            Fail::Failed(
                Diagnostic::new(format!("cannot listen on {}: {why}", args.listen))
                    .note("help: choose another address or port with --listen, e.g. --listen 127.0.0.1:8181")
                    .into(),
            )
        })?;
    let format = match args.log_format {
        args::LogFormat::Text => LogFormat::Text,
        args::LogFormat::Json => LogFormat::Json,
    };
    let log = Log::new(format, redactor.clone());
    let address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| args.listen.to_string());
    let names: Vec<String> = chains.iter().map(|c| c.route.clone()).collect();
    let scheduled: Vec<String> = chains
        .iter()
        .filter_map(|c| {
            c.chain
                .schedule
                .as_ref()
                .map(|s| format!("{} ({})", c.route, s.cron.expr()))
        })
        .collect();
    log.line(
        "listening",
        &[
            ("url", format!("http://{address}").into()),
            ("chains", names.join(",").into()),
            ("schedules", scheduled.join(", ").into()),
            ("token", token.is_some().into()),
        ],
    );
    // The same chains as MCP tools at `/mcp`, behind the same token and
    // `Host` checks (docs/mcp.md); loaded again, as the runs need chains of
    // their own.
    let history = !args.no_history && crate::history::enabled_by_env();
    let extra = if args.no_mcp {
        None
    } else {
        let tools = load_all(&args.paths, &secrets, false)?
            .into_iter()
            .map(|c| crate::mcp::ChainTool {
                name: c.route,
                chain: c.chain,
                endpoint: None,
            })
            .collect();
        let (handler, task) = crate::mcp::start(crate::mcp::Server {
            tools,
            opts: crate::mcp::Options {
                history,
                ..crate::mcp::Options::default()
            },
            transport: Arc::new(crate::session::live().map_err(Fail::failed)?),
            secrets: secrets.clone(),
            redactor: redactor.clone(),
        });
        Some(crate::serve::Extra {
            routes: crate::mcp::http_router(handler),
            task,
        })
    };
    let server = Server {
        chains,
        token,
        remote,
        body_limit: args.max_body,
        shutdown_grace: args.shutdown_timeout,
        log,
        transport: Arc::new(transport),
        secrets,
        redactor,
        clock: Arc::new(SystemClock),
        history,
        allowed_hosts: args.allow_host.clone(),
        ui: !args.no_ui,
    };
    crate::serve::serve_with(server, listener, interrupted(), extra)
        .await
        .map_err(|e| Fail::failed(format!("the server stopped: {e}")))?;
    Ok(Exit::Success)
}

/// Other machines are let in only when asked to, and only with a token.
fn check_remote(
    listen: std::net::SocketAddr,
    allow_remote: bool,
    has_token: bool,
) -> Result<(), Fail> {
    let remote = !listen.ip().is_loopback();
    if remote && !allow_remote {
        return Err(Diagnostic::new(format!(
            "refusing to listen on {listen}: it is not a loopback address"
        ))
        .note("help: add --allow-remote to accept connections from other machines (an API token is then required)")
        .into());
    }
    if remote && !has_token {
        return Err(Diagnostic::new("--allow-remote needs an API token")
            .note("help: set PYTOPUS_SERVE_TOKEN, or store one with `pytopus auth set NAME` and pass --token-from-secret NAME")
            .into());
    }
    Ok(())
}

/// `--token-from-secret NAME`, else `PYTOPUS_SERVE_TOKEN`.
fn api_token(args: &ServeArgs, secrets: &Secrets) -> Result<Option<Secret>, Diagnostic> {
    let token = match &args.token_from_secret {
        Some(name) => Some(
            secrets
                .get(name)
                .map_err(|e| Diagnostic::new(format!("--token-from-secret: {e}")))?,
        ),
        None => std::env::var("PYTOPUS_SERVE_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
            .map(Secret::new),
    };
    // Compared trimmed, as callers' tokens are.
    let token = token.map(|t| Secret::new(t.expose().trim()));
    if let Some(t) = &token {
        if t.expose().len() < 16 {
            return Err(Diagnostic::new("the API token is too short")
                .note("help: use at least 16 characters, e.g. `openssl rand -hex 32`"));
        }
        secrets.redactor().add(t.expose());
    }
    Ok(token)
}

/// The chain files named, directories expanded (their `*.yaml`, `*.yml` and
/// `*.json` files, tapes excepted, sorted).
fn chain_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Diagnostics> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        if p.is_dir() {
            let entries = match std::fs::read_dir(p) {
                Ok(e) => e,
                Err(e) => {
                    errors.push(Diagnostic::new(format!(
                        "cannot read directory `{}`: {e}",
                        p.display()
                    )));
                    continue;
                }
            };
            let mut found: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| f.is_file() && is_chain_file(f))
                .collect();
            found.sort();
            if found.is_empty() {
                errors.push(Diagnostic::new(format!(
                    "directory `{}` has no chain files (*.yaml, *.yml, *.json)",
                    p.display()
                )));
            }
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(Diagnostics(errors))
    }
}

fn is_chain_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    !name.ends_with(".tape.json")
        && [".json", ".yaml", ".yml"]
            .iter()
            .any(|ext| name.ends_with(ext))
}

/// Every chain validated, named and its webhook secret read; all problems
/// are reported together, each with its file; with `warn`, a secret not
/// set yet is said on stderr.
pub(super) fn load_all(
    paths: &[PathBuf],
    secrets: &Secrets,
    warn: bool,
) -> Result<Vec<ServedChain>, Diagnostics> {
    let files = chain_files(paths)?;
    let mut errors: Vec<Diagnostic> = Vec::new();
    let mut chains: Vec<ServedChain> = Vec::new();
    let mut routes: HashMap<String, String> = HashMap::new();
    for file in files {
        let shown = file.display().to_string();
        let loaded = read_source(&shown)
            .map_err(Diagnostics::from)
            .and_then(|s| crate::arazzo::parse_any(s, None))
            .and_then(|p| {
                let vars = p.chain.vars.clone();
                crate::compile::validate(p, vars)
            });
        let valid = match loaded {
            Ok(c) => c,
            Err(d) => {
                errors.extend(d.0);
                continue;
            }
        };
        let route = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        if route.is_empty()
            || !route
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            errors.push(
                Diagnostic::new(format!("{shown}: `{route}` cannot name a chain in URLs"))
                    .note("help: rename the file with letters, digits, `-`, `_` and `.` only"),
            );
            continue;
        }
        if let Some(first) = routes.get(&route) {
            errors.push(
                Diagnostic::new(format!(
                    "{shown} and {first} would both be served as `{route}`"
                ))
                .note(
                    "help: chains are named by their file name without the extension; rename one",
                ),
            );
            continue;
        }
        routes.insert(route.clone(), shown.clone());
        let webhook_secret = match webhook_secret(&valid, secrets) {
            Ok(s) => s,
            Err(msg) => {
                errors.push(
                    Diagnostic::new(format!("{shown}: cannot read `trigger.secret`: {msg}"))
                        .at(&valid.source, valid.spans.value("trigger.secret")),
                );
                continue;
            }
        };
        // Other secrets are looked up when a run needs them; say now if one
        // is missing rather than on the first webhook.
        for name in valid.secret_names.iter().filter(|_| warn) {
            if let Err(e) = secrets.get(name) {
                to_stderr(&format!(
                    "warning: {shown}: {e}; its runs will fail until it is set\n"
                ));
            }
        }
        chains.push(ServedChain {
            route,
            chain: valid,
            webhook_secret,
        });
    }
    if errors.is_empty() {
        Ok(chains)
    } else {
        Err(Diagnostics(errors))
    }
}

/// `trigger.secret` rendered with the chain's variables and secrets.
fn webhook_secret(
    chain: &crate::plan::ValidChain,
    secrets: &Secrets,
) -> Result<Option<Secret>, String> {
    let Some(tmpl) = chain.trigger.as_ref().and_then(|t| t.secret.as_ref()) else {
        return Ok(None);
    };
    chain.templates.set_secrets(secrets.clone());
    let ctx = Arc::new(Context::new(&chain.vars));
    let value = chain
        .templates
        .render_string(tmpl, &ctx.value())
        .map_err(|e| e.to_string())?;
    if value.is_empty() {
        return Err("it is empty".into());
    }
    secrets.redactor().add(&value);
    Ok(Some(Secret::new(value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_beyond_loopback_needs_the_flag_and_a_token() {
        let local: std::net::SocketAddr = "127.0.0.1:8181".parse().unwrap();
        let remote: std::net::SocketAddr = "0.0.0.0:8181".parse().unwrap();
        assert!(check_remote(local, false, false).is_ok());
        assert!(check_remote(remote, true, true).is_ok());
        let refused = check_remote(remote, false, true).unwrap_err();
        assert_eq!(refused.exit(), Exit::Usage);
        assert!(
            refused
                .render(false)
                .starts_with("error: refusing to listen on 0.0.0.0:8181: it is not a loopback address\n  = help: add --allow-remote"),
            "{}",
            refused.render(false)
        );
        let tokenless = check_remote(remote, true, false).unwrap_err();
        assert_eq!(tokenless.exit(), Exit::Usage);
        assert!(
            tokenless
                .render(false)
                .starts_with("error: --allow-remote needs an API token\n")
        );
    }
}
