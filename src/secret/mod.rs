//! Secrets (SPEC §5): the [`Secret`] type, where secrets come from
//! (`PYTOPUS_SECRET_<NAME>`, then the OS keyring behind [`SecretStore`]), and
//! the [`Redactor`] that keeps every secret value out of everything pytopus
//! writes.

mod keyring;
mod redact;

use std::sync::{Arc, Mutex};

#[cfg(target_os = "linux")]
pub use keyring::open_keyutils;
pub use keyring::{check_name, open_default};
pub use redact::{Redactor, SHORTEST, header_value, sensitive_header};

/// A secret value. `Debug` never shows it and there is no `Display`: the one
/// way to the text is [`Secret::expose`], so every use is easy to find.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret's text. Whoever calls this must keep it out of outputs
    /// (or make sure the value is known to the run's [`Redactor`]).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// Why a secret store could not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where secrets are kept between runs: the OS keyring, or a fake in tests.
pub trait SecretStore: Send + Sync {
    fn get(&self, name: &str) -> Result<Option<Secret>, StoreError>;
    fn set(&self, name: &str, value: &Secret) -> Result<(), StoreError>;
    /// Whether there was something to delete.
    fn delete(&self, name: &str) -> Result<bool, StoreError>;
    /// Names of the stored secrets (keyrings cannot enumerate: stores keep an index).
    fn list(&self) -> Result<Vec<String>, StoreError>;
    /// Which store this is, for messages ("Linux kernel keyutils").
    fn describe(&self) -> String;
}

/// A store in memory: for tests, and for runs where no keyring is wanted.
#[derive(Default)]
pub struct MemoryStore(Mutex<std::collections::BTreeMap<String, Secret>>);

impl SecretStore for MemoryStore {
    fn get(&self, name: &str) -> Result<Option<Secret>, StoreError> {
        Ok(self
            .0
            .lock()
            .map_err(|_| StoreError("poisoned".into()))?
            .get(name)
            .cloned())
    }
    fn set(&self, name: &str, value: &Secret) -> Result<(), StoreError> {
        self.0
            .lock()
            .map_err(|_| StoreError("poisoned".into()))?
            .insert(name.to_string(), value.clone());
        Ok(())
    }
    fn delete(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .0
            .lock()
            .map_err(|_| StoreError("poisoned".into()))?
            .remove(name)
            .is_some())
    }
    fn list(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .0
            .lock()
            .map_err(|_| StoreError("poisoned".into()))?
            .keys()
            .cloned()
            .collect())
    }
    fn describe(&self) -> String {
        "memory".into()
    }
}

/// The environment variable that overrides the keyring for `name`:
/// `PYTOPUS_SECRET_` + the name in upper case, other characters as `_`.
pub fn env_var_name(name: &str) -> String {
    let upper: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("PYTOPUS_SECRET_{upper}")
}

/// A secret that could not be found, or a store that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretError {
    Missing { name: String },
    Store { name: String, error: StoreError },
}

impl std::fmt::Display for SecretError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretError::Missing { name } => write!(
                f,
                "secret `{name}` is not set: store it with `pytopus auth set {name}`, or set the environment variable {}",
                env_var_name(name)
            ),
            SecretError::Store { name, error } => write!(
                f,
                "cannot read secret `{name}` from the keyring ({error}); set the environment variable {} instead",
                env_var_name(name)
            ),
        }
    }
}

/// The store once opened, or why it could not be.
type Opened = Result<Arc<dyn SecretStore>, StoreError>;

/// Resolves secrets for a run: the environment first (the CI path), then the
/// store, opened only when a secret is first needed. Every value found is
/// added to the run's redactor before it is handed out.
#[derive(Clone)]
pub struct Secrets {
    store: Arc<dyn Fn() -> Result<Arc<dyn SecretStore>, StoreError> + Send + Sync>,
    opened: Arc<Mutex<Option<Opened>>>,
    /// Values already read this run: a secret used by every request is
    /// looked up once, not once per request.
    found: Arc<Mutex<std::collections::HashMap<String, Secret>>>,
    redactor: Redactor,
}

impl Secrets {
    /// `open` is called at most once, when a secret is not in the environment.
    pub fn new(
        open: impl Fn() -> Result<Arc<dyn SecretStore>, StoreError> + Send + Sync + 'static,
        redactor: Redactor,
    ) -> Self {
        Secrets {
            store: Arc::new(open),
            opened: Arc::new(Mutex::new(None)),
            found: Arc::default(),
            redactor,
        }
    }

    /// Secrets from the environment only (and a store that is always empty).
    pub fn env_only(redactor: Redactor) -> Self {
        Secrets::new(
            || Ok(Arc::new(MemoryStore::default()) as Arc<dyn SecretStore>),
            redactor,
        )
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// The store, opened on first use.
    pub fn store(&self) -> Result<Arc<dyn SecretStore>, StoreError> {
        let mut slot = self
            .opened
            .lock()
            .map_err(|_| StoreError("poisoned".into()))?;
        if slot.is_none() {
            *slot = Some((self.store)());
        }
        slot.clone()
            .unwrap_or_else(|| Err(StoreError("no store".into())))
    }

    /// The secret called `name`, redacted from now on.
    pub fn get(&self, name: &str) -> Result<Secret, SecretError> {
        if let Some(s) = self.found.lock().ok().and_then(|f| f.get(name).cloned()) {
            return Ok(s);
        }
        let s = self.lookup(name)?;
        if let Ok(mut f) = self.found.lock() {
            f.insert(name.to_string(), s.clone());
        }
        Ok(s)
    }

    /// The secrets read so far this run, by name: `run --curl` writes a
    /// reference to each one's variable where its value would be.
    pub fn found(&self) -> Vec<(String, Secret)> {
        self.found
            .lock()
            .map(|f| f.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    fn lookup(&self, name: &str) -> Result<Secret, SecretError> {
        if let Ok(v) = std::env::var(env_var_name(name)) {
            self.redactor.add(&v);
            return Ok(Secret(v));
        }
        let store = self.store().map_err(|error| SecretError::Store {
            name: name.to_string(),
            error,
        })?;
        match store.get(name) {
            Ok(Some(s)) => {
                self.redactor.add(s.expose());
                Ok(s)
            }
            Ok(None) => Err(SecretError::Missing {
                name: name.to_string(),
            }),
            Err(error) => Err(SecretError::Store {
                name: name.to_string(),
                error,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        assert_eq!(format!("{:?}", Secret::new("hunter22")), "Secret(redacted)");
    }

    #[test]
    fn env_names() {
        assert_eq!(env_var_name("github_token"), "PYTOPUS_SECRET_GITHUB_TOKEN");
        assert_eq!(env_var_name("my-api.key"), "PYTOPUS_SECRET_MY_API_KEY");
    }

    #[test]
    fn store_values_are_redacted_once_read_and_missing_ones_say_how_to_set_them() {
        let store = Arc::new(MemoryStore::default());
        store
            .set("pytopus_test_tok", &Secret::new("s3cr3t-value"))
            .unwrap();
        let redactor = Redactor::default();
        let s = {
            let store = Arc::clone(&store);
            Secrets::new(
                move || Ok(store.clone() as Arc<dyn SecretStore>),
                redactor.clone(),
            )
        };
        assert_eq!(s.get("pytopus_test_tok").unwrap().expose(), "s3cr3t-value");
        assert_eq!(redactor.redact("x s3cr3t-value y"), "x *** y");
        let e = s.get("pytopus_test_missing").unwrap_err().to_string();
        assert!(e.contains("pytopus auth set pytopus_test_missing"), "{e}");
        assert!(e.contains("PYTOPUS_SECRET_PYTOPUS_TEST_MISSING"), "{e}");
    }
}
