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
use crate::report::to_stderr;
use crate::secret::{self, Secret, SecretStore, StoreError, check_name, env_var_name};

/// Opens the secret store: the OS keyring, or a fake in tests.
type Open<'a> = &'a dyn Fn() -> Result<Arc<dyn SecretStore>, StoreError>;

pub fn run(cmd: AuthCommand) -> Exit {
    let open: Open = &secret::open_default;
    let outcome = match &cmd {
        AuthCommand::Set { name } => set(name, open, read_value),
        AuthCommand::List => list(open, &env_secret_vars()),
        AuthCommand::Delete { name } => delete(name, open),
        // Dispatched to `login` by the caller: it is async.
        AuthCommand::Login(_) => return Exit::Usage,
    };
    match outcome {
        Ok(done) => {
            to_stderr(&done.stderr);
            if done.stdout.is_empty() {
                Exit::Success
            } else {
                super::print_stdout(&done.stdout)
            }
        }
        Err(failure) => {
            let mut text = format!("error: {}\n", failure.message);
            if let Some(help) = &failure.help {
                text.push_str(&format!("help: {help}\n"));
            }
            to_stderr(&text);
            failure.exit
        }
    }
}

/// What a command that worked prints: data on stdout, messages on stderr.
#[derive(Debug, Default)]
struct Done {
    stdout: String,
    stderr: String,
}

/// Why a command did not work, and what to do about it.
#[derive(Debug)]
struct Failure {
    message: String,
    help: Option<String>,
    exit: Exit,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            help: None,
            exit: Exit::Usage,
        }
    }

    /// The keyring failed: the environment is the other way in.
    fn store(message: String, name: Option<&str>) -> Self {
        let var = name.map_or_else(|| "PYTOPUS_SECRET_<NAME>".to_string(), env_var_name);
        Failure {
            message,
            help: Some(format!(
                "pytopus reads a secret from the environment variable {var} before the keyring; set that instead where no keyring can be used"
            )),
            exit: Exit::StepFailed,
        }
    }
}

fn open_store(open: Open, name: Option<&str>) -> Result<Arc<dyn SecretStore>, Failure> {
    open().map_err(|e| Failure::store(format!("cannot open the OS keyring: {e}"), name))
}

fn set(
    name: &str,
    open: Open,
    read: impl FnOnce(&str) -> Result<String, Failure>,
) -> Result<Done, Failure> {
    check_name(name).map_err(Failure::usage)?;
    // Before asking for the value: no one should type a secret for nothing.
    let store = open_store(open, Some(name))?;
    let value = read(name)?;
    if value.is_empty() {
        return Err(Failure::usage(format!(
            "the value for secret `{name}` is empty: nothing stored"
        )));
    }
    store
        .set(name, &Secret::new(value))
        .map_err(|e| Failure::store(format!("cannot store secret `{name}`: {e}"), Some(name)))?;
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
fn list(open: Open, env_vars: &[String]) -> Result<Done, Failure> {
    let store = open_store(open, None)?;
    let names = store
        .list()
        .map_err(|e| Failure::store(format!("cannot list the secrets: {e}"), None))?;
    let mut done = Done::default();
    for name in &names {
        done.stdout.push_str(name);
        done.stdout.push('\n');
    }
    if names.is_empty() {
        done.stderr = format!("no secrets stored in {}\n", store.describe());
    }
    if !env_vars.is_empty() {
        done.stderr.push_str(&format!(
            "note: also set in this environment, overriding the keyring: {}\n",
            env_vars.join(", ")
        ));
    }
    Ok(done)
}

fn delete(name: &str, open: Open) -> Result<Done, Failure> {
    check_name(name).map_err(Failure::usage)?;
    let store = open_store(open, Some(name))?;
    let deleted = store
        .delete(name)
        .map_err(|e| Failure::store(format!("cannot delete secret `{name}`: {e}"), Some(name)))?;
    let still_in_env = std::env::var_os(env_var_name(name)).is_some();
    if !deleted {
        return Err(Failure {
            message: format!("there is no secret `{name}` in {}", store.describe()),
            help: still_in_env.then(|| {
                format!(
                    "{} is set in this environment; `auth delete` does not touch that",
                    env_var_name(name)
                )
            }),
            exit: Exit::StepFailed,
        });
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
fn read_value(name: &str) -> Result<String, Failure> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return rpassword::prompt_password(format!("value for secret {name} (not shown): "))
            .map_err(|e| Failure {
                message: format!("cannot read the value from the terminal: {e}"),
                help: None,
                exit: Exit::StepFailed,
            });
    }
    let mut bytes = Vec::new();
    stdin.lock().read_to_end(&mut bytes).map_err(|e| Failure {
        message: format!("cannot read the value from standard input: {e}"),
        help: None,
        exit: Exit::StepFailed,
    })?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Failure::usage("the value on standard input is not UTF-8 text"))?;
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
pub async fn login(args: crate::cli::args::LoginArgs) -> Exit {
    if let Err(f) = check_name(&args.name) {
        to_stderr(&format!("error: {f}\n"));
        return Exit::Usage;
    }
    let redactor = secret::Redactor::default();
    let secrets = crate::cli::run::secrets_for_run(&redactor);
    let client_secret = match &args.client_secret_from {
        Some(n) => match secrets.get(n) {
            Ok(s) => Some(s.expose().to_string()),
            Err(e) => {
                to_stderr(&format!("error: {e}\n"));
                return Exit::Usage;
            }
        },
        None => None,
    };
    let transport =
        match crate::transport::LiveTransport::new(&crate::transport::LiveOptions::default()) {
            Ok(t) => t,
            Err(e) => {
                to_stderr(&format!("error: cannot start the HTTP client: {e}\n"));
                return Exit::StepFailed;
            }
        };
    // Without the URLs and client, NAME is a connector that knows them.
    let from_connector =
        if args.authorize_url.is_none() || args.token_url.is_none() || args.client_id.is_none() {
            match connector_login(&args.name, &secrets) {
                Ok(c) => Some(c),
                Err(e) => {
                    to_stderr(&format!(
                        "error: {}
",
                        redactor.redact(&e)
                    ));
                    return Exit::Usage;
                }
            }
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
        to_stderr(&format!(
            "error: connector `{}` has no `authorize_url`; pass --authorize-url\n",
            args.name
        ));
        return Exit::Usage;
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
    let tokens = match crate::auth::login::login(
        &cfg,
        &crate::transport::Client::new(std::sync::Arc::new(transport), redactor.clone()),
        &tell,
    )
    .await
    {
        Ok(t) => t,
        Err(e) => {
            to_stderr(&format!("error: login failed: {}\n", redactor.redact(&e)));
            return Exit::StepFailed;
        }
    };
    let Some(refresh) = tokens.refresh_token else {
        to_stderr(
            "error: the server gave no refresh token, so there is nothing to keep; ask for offline access (e.g. scope `offline_access`)\n",
        );
        return Exit::StepFailed;
    };
    let stored = secrets.store().and_then(|store| {
        store
            .set(&store_as, &Secret::new(refresh))
            .map(|()| store.describe())
    });
    match stored {
        Ok(where_) if from_connector.is_some() => {
            to_stderr(&format!(
                "logged in; stored the refresh token as secret {store_as} in {where_}\nsteps with `connector: {}` use it from now on\n",
                args.name
            ));
            Exit::Success
        }
        Ok(where_) => {
            to_stderr(&format!(
                "logged in; stored the refresh token as secret {} in {where_}\nuse it with: auth: {{type: oauth2, grant: authorization_code, token_url: …, client_id: …, refresh_token: \"{{{{ secret('{}') }}}}\"}}\n",
                store_as, store_as
            ));
            Exit::Success
        }
        Err(e) => {
            to_stderr(&format!("error: cannot store the refresh token: {e}\n"));
            Exit::StepFailed
        }
    }
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

    fn value(v: &str) -> impl FnOnce(&str) -> Result<String, Failure> {
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
        assert_eq!(again.exit, Exit::StepFailed);
        assert_eq!(again.message, "there is no secret `api.key-1` in memory");
        assert_eq!(list(&open, &[]).unwrap().stdout, "B\n");
    }

    #[test]
    fn bad_names_and_empty_values_are_usage_errors() {
        let open = memory();
        for bad in ["a b", "", "x/y", "__pytopus_index__"] {
            assert_eq!(
                set(bad, &open, value("v")).unwrap_err().exit,
                Exit::Usage,
                "{bad}"
            );
            assert_eq!(delete(bad, &open).unwrap_err().exit, Exit::Usage, "{bad}");
        }
        let empty = set("ok", &open, value("")).unwrap_err();
        assert_eq!(empty.exit, Exit::Usage);
        assert!(empty.message.contains("empty"), "{}", empty.message);
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
        assert_eq!(e.exit, Exit::StepFailed);
        assert!(
            e.message.contains("Linux kernel keyutils: access denied"),
            "{}",
            e.message
        );
        assert!(e.help.unwrap().contains("PYTOPUS_SECRET_GH"));
        let e = list(&broken, &[]).unwrap_err();
        assert!(e.help.unwrap().contains("PYTOPUS_SECRET_<NAME>"));
    }

    #[test]
    fn list_mentions_environment_secrets_on_stderr_only() {
        let open = memory();
        let done = list(&open, &["PYTOPUS_SECRET_GH".into()]).unwrap();
        assert_eq!(done.stdout, "");
        assert!(done.stderr.contains("PYTOPUS_SECRET_GH"), "{}", done.stderr);
    }

    #[test]
    fn one_trailing_newline_is_dropped() {
        assert_eq!(without_one_newline("tok\n".into()), "tok");
        assert_eq!(without_one_newline("tok\r\n".into()), "tok");
        assert_eq!(without_one_newline("tok\n\n".into()), "tok\n");
        assert_eq!(without_one_newline("tok".into()), "tok");
    }
}
