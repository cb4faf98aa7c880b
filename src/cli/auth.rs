//! `pytopus auth set|list|delete` (SPEC §5): the secrets in the OS keyring.
//! Values go in through a hidden prompt or standard input and never come
//! out: no command prints one.
//!
//! Decisions:
//! - `set` asks once on a terminal (no confirmation: the value is never
//!   shown, so a typo is fixed by running `set` again);
//! - `list` prints the keyring's names only; `PYTOPUS_SECRET_*` variables
//!   are mentioned on stderr, because the variable's name cannot be mapped
//!   back to the secret's (case and `-`/`.` are lost);
//! - a bad name or an empty value is bad usage (exit 2), a keyring that
//!   fails or a secret that is not there a failure (exit 1).

use std::io::{IsTerminal, Read};
use std::sync::Arc;

use super::Exit;
use super::args::AuthCommand;
use super::fail::{Fail, Outcome};
use crate::auth::oauth2::{CachedToken, TOKEN_PREFIX};
use crate::report::to_stderr;
use crate::secret::{self, Secret, SecretStore, StoreError, check_name, env_var_name};

/// Opens the secret store: the OS keyring, or a fake in tests.
type Open<'a> = &'a dyn Fn() -> Result<Arc<dyn SecretStore>, StoreError>;

pub fn run(cmd: AuthCommand) -> Outcome {
    let open: Open = &secret::open_default;
    let done = match &cmd {
        AuthCommand::Set { name } => set(name, open, read_value)?,
        AuthCommand::List => list(open, &env_secret_vars())?,
        AuthCommand::Logout { name } => logout(name.as_deref(), open)?,
        AuthCommand::Delete { name } => delete(name, open)?,
        // Dispatched to `login` by the caller: it is async.
        AuthCommand::Login(_) => return Ok(Exit::Usage),
    };
    to_stderr(&done.stderr);
    if done.stdout.is_empty() {
        Ok(Exit::Success)
    } else {
        super::print_stdout(&done.stdout)
    }
}

/// What a command that worked prints: data on stdout, messages on stderr.
#[derive(Debug, Default)]
struct Done {
    stdout: String,
    stderr: String,
}

/// A failure (exit 1) and, on the line under it, `help: …` (this
/// command's own layout, not a diagnostic's `= help:` note).
fn failed_with_help(message: &str, help: Option<String>) -> Fail {
    match help {
        Some(help) => Fail::failed(format!("{message}\nhelp: {help}")),
        None => Fail::failed(message),
    }
}

/// The keyring failed: the environment is the other way in.
fn store_failed(message: String, name: Option<&str>) -> Fail {
    let var = name.map_or_else(|| "PYTOPUS_SECRET_<NAME>".to_string(), env_var_name);
    failed_with_help(
        &message,
        Some(format!(
            "pytopus reads a secret from the environment variable {var} before the keyring; set that instead where no keyring can be used"
        )),
    )
}

fn open_store(open: Open, name: Option<&str>) -> Result<Arc<dyn SecretStore>, Fail> {
    open().map_err(|e| store_failed(format!("cannot open the OS keyring: {e}"), name))
}

fn set(
    name: &str,
    open: Open,
    read: impl FnOnce(&str) -> Result<String, Fail>,
) -> Result<Done, Fail> {
    check_name(name).map_err(Fail::usage)?;
    // Before asking for the value: no one should type a secret for nothing.
    let store = open_store(open, Some(name))?;
    let value = read(name)?;
    if value.is_empty() {
        return Err(Fail::usage(format!(
            "the value for secret `{name}` is empty: nothing stored"
        )));
    }
    store
        .set(name, &Secret::new(value))
        .map_err(|e| store_failed(format!("cannot store secret `{name}`: {e}"), Some(name)))?;
    let mut stderr = format!("stored secret {name} in {}\n", store.describe());
    if std::env::var_os(env_var_name(name)).is_some() {
        stderr.push_str(&format!(
            "note: {} is set in this environment, and overrides the keyring\n",
            env_var_name(name)
        ));
    }
    Ok(Done {
        stdout: String::new(),
        stderr,
    })
}

/// `env_vars`: the `PYTOPUS_SECRET_*` variables set, by name.
fn list(open: Open, env_vars: &[String]) -> Result<Done, Fail> {
    let store = open_store(open, None)?;
    let names = store
        .list()
        .map_err(|e| store_failed(format!("cannot list the secrets: {e}"), None))?;
    let (tokens, secrets): (Vec<&String>, Vec<&String>) =
        names.iter().partition(|n| n.starts_with(TOKEN_PREFIX));
    let mut done = Done::default();
    for name in &secrets {
        done.stdout.push_str(name);
        done.stdout.push('\n');
    }
    if secrets.is_empty() {
        done.stderr = format!("no secrets stored in {}\n", store.describe());
    }
    if !tokens.is_empty() {
        done.stderr.push_str(
            "cached OAuth2 tokens (not secrets you stored; `pytopus auth logout` forgets them):\n",
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        for name in tokens {
            let cached = store
                .get(name)
                .ok()
                .flatten()
                .and_then(|v| CachedToken::from_json(v.expose()));
            let line = match cached {
                Some(t) => {
                    let when = match t.expires_at {
                        Some(at) if at > now => {
                            format!(
                                "expires in {}",
                                crate::engine::show_duration(std::time::Duration::from_secs(
                                    at - now
                                ),)
                            )
                        }
                        Some(_) => "expired".to_string(),
                        None => "no expiry given".to_string(),
                    };
                    format!("  {name}: {} ({when})\n", t.about)
                }
                None => format!("  {name}: written by an older pytopus (not used)\n"),
            };
            done.stderr.push_str(&line);
        }
    }
    if !env_vars.is_empty() {
        done.stderr.push_str(&format!(
            "note: also set in this environment, overriding the keyring: {}\n",
            env_vars.join(", ")
        ));
    }
    Ok(done)
}

/// `auth logout [NAME]`: forgets one cached token, or all of them.
fn logout(name: Option<&str>, open: Open) -> Result<Done, Fail> {
    let store = open_store(open, None)?;
    let names = store
        .list()
        .map_err(|e| store_failed(format!("cannot list the cached tokens: {e}"), None))?;
    let chosen: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with(TOKEN_PREFIX) && name.is_none_or(|want| want == n.as_str()))
        .collect();
    if let Some(want) = name
        && chosen.is_empty()
    {
        return Err(failed_with_help(
            &format!("there is no cached token `{want}`"),
            Some("`pytopus auth list` shows the cached tokens on stderr".into()),
        ));
    }
    for n in &chosen {
        store
            .delete(n)
            .map_err(|e| store_failed(format!("cannot forget `{n}`: {e}"), None))?;
    }
    let count = chosen.len();
    Ok(Done {
        stdout: String::new(),
        stderr: format!(
            "forgot {count} cached OAuth2 token{} in {}; the next run fetches {}\n",
            if count == 1 { "" } else { "s" },
            store.describe(),
            if count == 1 { "a new one" } else { "new ones" }
        ),
    })
}

fn delete(name: &str, open: Open) -> Result<Done, Fail> {
    check_name(name).map_err(Fail::usage)?;
    let store = open_store(open, Some(name))?;
    let deleted = store
        .delete(name)
        .map_err(|e| store_failed(format!("cannot delete secret `{name}`: {e}"), Some(name)))?;
    let still_in_env = std::env::var_os(env_var_name(name)).is_some();
    if !deleted {
        return Err(failed_with_help(
            &format!("there is no secret `{name}` in {}", store.describe()),
            still_in_env.then(|| {
                format!(
                    "{} is set in this environment; `auth delete` does not touch that",
                    env_var_name(name)
                )
            }),
        ));
    }
    let mut stderr = format!("deleted secret {name} from {}\n", store.describe());
    if still_in_env {
        stderr.push_str(&format!(
            "note: {} is still set in this environment\n",
            env_var_name(name)
        ));
    }
    Ok(Done {
        stdout: String::new(),
        stderr,
    })
}

/// The value to store: a hidden prompt on a terminal, else standard input.
fn read_value(name: &str) -> Result<String, Fail> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return rpassword::prompt_password(format!("value for secret {name} (not shown): "))
            .map_err(|e| Fail::failed(format!("cannot read the value from the terminal: {e}")));
    }
    let mut bytes = Vec::new();
    stdin
        .lock()
        .read_to_end(&mut bytes)
        .map_err(|e| Fail::failed(format!("cannot read the value from standard input: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Fail::usage("the value on standard input is not UTF-8 text"))?;
    Ok(without_one_newline(text))
}

/// `echo "$TOKEN" |` adds a newline that is not part of the secret; only
/// one is dropped, so a value that really ends in newlines can be stored.
fn without_one_newline(mut text: String) -> String {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    text
}

/// Names of the `PYTOPUS_SECRET_*` variables set, sorted.
fn env_secret_vars() -> Vec<String> {
    let mut vars: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| k.starts_with("PYTOPUS_SECRET_"))
        .collect();
    vars.sort();
    vars
}

/// `pytopus auth login NAME …`: the browser flow, then the refresh token into the keyring.
pub async fn login(args: crate::cli::args::LoginArgs) -> Outcome {
    check_name(&args.name).map_err(Fail::usage)?;
    let redactor = secret::Redactor::default();
    let secrets = crate::session::secrets_for_run(&redactor);
    let client_secret = match &args.client_secret_from {
        Some(n) => Some(
            secrets
                .get(n)
                .map_err(|e| Fail::usage(e.to_string()))?
                .expose()
                .to_string(),
        ),
        None => None,
    };
    let transport = crate::transport::LiveTransport::new(&crate::transport::LiveOptions::default())
        .map_err(|e| Fail::failed(format!("cannot start the HTTP client: {e}")))?;
    // Without the URLs and client, NAME is a connector that knows them.
    let from_connector = if args.authorize_url.is_none()
        || args.token_url.is_none()
        || args.client_id.is_none()
    {
        Some(connector_login(&args.name, &secrets).map_err(|e| Fail::usage(redactor.redact(&e)))?)
    } else {
        None
    };
    let pick = |flag: Option<String>, field: fn(&ConnectorLogin) -> Option<String>| {
        flag.or_else(|| from_connector.as_ref().and_then(field))
    };
    let (Some(authorize_url), Some(token_url), Some(client_id)) = (
        pick(args.authorize_url.clone(), |c| c.authorize_url.clone()),
        pick(args.token_url.clone(), |c| Some(c.token_url.clone())),
        pick(args.client_id.clone(), |c| Some(c.client_id.clone())),
    ) else {
        return Err(Fail::usage(format!(
            "connector `{}` has no `authorize_url`; pass --authorize-url",
            args.name
        )));
    };
    let client_secret = client_secret.or_else(|| {
        from_connector
            .as_ref()
            .and_then(|c| c.client_secret.clone())
    });
    let store_as = from_connector
        .as_ref()
        .map_or_else(|| args.name.clone(), |c| c.store_as.clone());
    let cfg = crate::auth::login::LoginConfig {
        authorize_url,
        token_url,
        client_id,
        client_secret,
        scope: pick(args.scope.clone(), |c| c.scope.clone()),
        port: args.port,
        wait: args.wait,
    };
    let tell = |m: &str| to_stderr(&format!("{m}\n"));
    let tokens = crate::auth::login::login(
        &cfg,
        &crate::transport::Client::new(std::sync::Arc::new(transport), redactor.clone()),
        &tell,
    )
    .await
    .map_err(|e| Fail::failed(format!("login failed: {}", redactor.redact(&e))))?;
    let Some(refresh) = tokens.refresh_token else {
        return Err(Fail::failed(
            "the server gave no refresh token, so there is nothing to keep; ask for offline access (e.g. scope `offline_access`)",
        ));
    };
    let where_ = secrets
        .store()
        .and_then(|store| {
            store
                .set(&store_as, &Secret::new(refresh))
                .map(|()| store.describe())
        })
        .map_err(|e| Fail::failed(format!("cannot store the refresh token: {e}")))?;
    match from_connector {
        Some(_) => {
            to_stderr(&format!(
                "logged in; stored the refresh token as secret {store_as} in {where_}\nsteps with `connector: {}` use it from now on\n",
                args.name
            ));
        }
        None => {
            to_stderr(&format!(
                "logged in; stored the refresh token as secret {} in {where_}\nuse it with: auth: {{type: oauth2, grant: authorization_code, token_url: …, client_id: …, refresh_token: \"{{{{ secret('{}') }}}}\"}}\n",
                store_as, store_as
            ));
        }
    }
    Ok(Exit::Success)
}

/// What `auth login CONNECTOR` takes from a connector's OAuth2 auth.
struct ConnectorLogin {
    authorize_url: Option<String>,
    token_url: String,
    client_id: String,
    client_secret: Option<String>,
    scope: Option<String>,
    /// The secret its `refresh_token` reads.
    store_as: String,
}

fn connector_login(name: &str, secrets: &crate::secret::Secrets) -> Result<ConnectorLogin, String> {
    use crate::chain::model::{Auth, OAuthGrant};
    let lib = crate::connector::Library::standalone();
    let c = lib.get(name).map_err(|_| {
        format!(
            "`{name}` is not a connector; give --authorize-url, --token-url and --client-id to log in by hand"
        )
    })?;
    let Some(Auth::Oauth2 {
        grant: OAuthGrant::AuthorizationCode,
        token_url,
        client_id,
        client_secret,
        scope,
        refresh_token,
        authorize_url,
        ..
    }) = &c.file.auth
    else {
        return Err(format!(
            "connector `{name}` does not log in with OAuth2 (`grant: authorization_code`)"
        ));
    };
    // Its fields are templates (`{{ secret('google_client_id') }}`).
    let mut templates = crate::template::Templates::new();
    templates.set_secrets(secrets.clone());
    let mut render = |field: &str, text: &str| -> Result<String, String> {
        let t = templates
            .compile_str(text)
            .map_err(|e| format!("connector `{name}`, `auth.{field}`: {}", e.message))?;
        templates
            .render_string(&t, &minijinja::Value::from(()))
            .map_err(|e| format!("connector `{name}`, `auth.{field}`: {}", e.message))
    };
    let store_as = refresh_token
        .as_deref()
        .and_then(|r| crate::template::secret_names(r).into_iter().next())
        .ok_or_else(|| {
            format!("connector `{name}` has no `refresh_token: \"{{{{ secret('NAME') }}}}\"` to store the login in")
        })?;
    Ok(ConnectorLogin {
        authorize_url: authorize_url.clone(),
        token_url: render("token_url", token_url)?,
        client_id: render("client_id", client_id)?,
        client_secret: client_secret
            .as_deref()
            .map(|s| render("client_secret", s))
            .transpose()?,
        scope: scope.as_deref().map(|s| render("scope", s)).transpose()?,
        store_as,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::MemoryStore;

    fn memory() -> impl Fn() -> Result<Arc<dyn SecretStore>, StoreError> {
        let store: Arc<dyn SecretStore> = Arc::new(MemoryStore::default());
        move || Ok(store.clone())
    }

    fn value(v: &str) -> impl FnOnce(&str) -> Result<String, Fail> {
        let v = v.to_string();
        move |_| Ok(v)
    }

    #[test]
    fn set_list_delete_round_trip_without_printing_the_value() {
        let open = memory();
        let done = set("api.key-1", &open, value("hunter22")).unwrap();
        assert_eq!(done.stderr, "stored secret api.key-1 in memory\n");
        assert!(done.stdout.is_empty());
        set("B", &open, value("x")).unwrap();

        let listed = list(&open, &[]).unwrap();
        assert_eq!(listed.stdout, "B\napi.key-1\n");
        assert!(!listed.stdout.contains("hunter22") && !listed.stderr.contains("hunter22"));

        assert!(delete("api.key-1", &open).is_ok());
        let again = delete("api.key-1", &open).unwrap_err();
        assert_eq!(again.exit(), Exit::StepFailed);
        assert_eq!(
            again.render(false),
            "error: there is no secret `api.key-1` in memory\n"
        );
        assert_eq!(list(&open, &[]).unwrap().stdout, "B\n");
    }

    #[test]
    fn bad_names_and_empty_values_are_usage_errors() {
        let open = memory();
        for bad in ["a b", "", "x/y", "__pytopus_index__"] {
            assert_eq!(
                set(bad, &open, value("v")).unwrap_err().exit(),
                Exit::Usage,
                "{bad}"
            );
            assert_eq!(delete(bad, &open).unwrap_err().exit(), Exit::Usage, "{bad}");
        }
        let empty = set("ok", &open, value("")).unwrap_err();
        assert_eq!(empty.exit(), Exit::Usage);
        assert!(empty.render(false).contains("empty"), "{empty:?}");
    }

    #[test]
    fn an_unusable_keyring_names_the_variable_to_use_instead() {
        let broken = || Err(StoreError("Linux kernel keyutils: access denied".into()));
        let asked = std::cell::Cell::new(false);
        let e = set("gh", &broken, |_| {
            asked.set(true);
            Ok("v".into())
        })
        .unwrap_err();
        assert!(
            !asked.get(),
            "the value is asked for only once the keyring is open"
        );
        assert_eq!(e.exit(), Exit::StepFailed);
        let text = e.render(false);
        assert!(
            text.starts_with(
                "error: cannot open the OS keyring: Linux kernel keyutils: access denied\n"
            ),
            "{text}"
        );
        // The help is this command's own `help:` line, under the error.
        assert!(
            text.contains(
                "\nhelp: pytopus reads a secret from the environment variable PYTOPUS_SECRET_GH "
            ),
            "{text}"
        );
        let e = list(&broken, &[]).unwrap_err();
        assert!(e.render(false).contains("PYTOPUS_SECRET_<NAME>"));
    }

    #[test]
    fn list_mentions_environment_secrets_on_stderr_only() {
        let open = memory();
        let done = list(&open, &["PYTOPUS_SECRET_GH".into()]).unwrap();
        assert_eq!(done.stdout, "");
        assert!(done.stderr.contains("PYTOPUS_SECRET_GH"), "{}", done.stderr);
    }

    #[test]
    fn cached_tokens_are_listed_apart_and_logout_forgets_them() {
        let store: Arc<dyn SecretStore> = Arc::new(crate::secret::MemoryStore::default());
        let open = {
            let store = Arc::clone(&store);
            move || Ok(Arc::clone(&store))
        };
        store.set("github", &Secret::new("ghp_value")).unwrap();
        let token = r#"{"access_token":"tok-canary-1","expires_at":null,"refresh_token":null,"credentials":"h","about":"client credentials for client `c` at https://auth.test/token"}"#;
        store.set("oauth2-token-00aa", &Secret::new(token)).unwrap();
        let done = list(&open, &[]).unwrap();
        assert_eq!(done.stdout, "github\n");
        assert!(
            done.stderr.contains("  oauth2-token-00aa: client credentials for client `c` at https://auth.test/token (no expiry given)\n"),
            "{}",
            done.stderr
        );
        assert!(!done.stderr.contains("tok-canary-1"));
        let missing = logout(Some("oauth2-token-ffff"), &open).unwrap_err();
        assert_eq!(missing.exit(), Exit::StepFailed);
        let done = logout(None, &open).unwrap();
        assert!(
            done.stderr.starts_with("forgot 1 cached OAuth2 token in"),
            "{}",
            done.stderr
        );
        assert_eq!(store.list().unwrap(), ["github"]);
    }

    #[test]
    fn one_trailing_newline_is_dropped() {
        assert_eq!(without_one_newline("tok\n".into()), "tok");
        assert_eq!(without_one_newline("tok\r\n".into()), "tok");
        assert_eq!(without_one_newline("tok\n\n".into()), "tok\n");
        assert_eq!(without_one_newline("tok".into()), "tok");
    }
}
