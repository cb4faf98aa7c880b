//! The OS keyring behind [`SecretStore`] (SPEC §5): keyring-core with one
//! store crate per platform, and an index of names, since keyrings cannot
//! list what they hold.
//!
//! Which store: the Keychain on macOS, the Credential Manager on Windows; on
//! Linux the Secret Service when a D-Bus session bus is there and a Secret
//! Service answers on it, otherwise the kernel keyutils store (see the
//! `keyutils` module below for the session keyring that store needs).

use std::collections::BTreeSet;
use std::sync::Arc;

use keyring_core::{CredentialStore, Entry, Error as KeyringError};

use super::{Secret, SecretStore, StoreError};

/// The keyring service every pytopus secret is stored under (SPEC §5).
pub const SERVICE: &str = "pytopus";

/// The entry (user name under [`SERVICE`]) that holds the JSON list of the
/// stored names. Not a valid secret name, so no secret can overwrite it.
pub const INDEX_ENTRY: &str = "__pytopus_index__";

/// Checks a secret name: ASCII letters, digits, `_`, `-` and `.`, so that
/// every name maps to one readable `PYTOPUS_SECRET_<NAME>` variable and
/// means the same in every keyring.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a secret name cannot be empty".into());
    }
    if name == INDEX_ENTRY {
        return Err(format!(
            "`{INDEX_ENTRY}` is reserved for pytopus's own index of names"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(format!(
            "`{name}` is not a valid secret name ({c:?} is not allowed): use ASCII letters, digits, `_`, `-` and `.`"
        ));
    }
    Ok(())
}

/// Opens the OS keyring of this platform (see the module docs for which).
pub fn open_default() -> Result<Arc<dyn SecretStore>, StoreError> {
    Ok(Arc::new(open_platform()?))
}

/// Opens the Linux kernel keyutils store, whatever the session bus offers.
/// `open_default` picks it when there is no Secret Service; tests use it to
/// check the store itself.
#[cfg(target_os = "linux")]
pub fn open_keyutils() -> Result<Arc<dyn SecretStore>, StoreError> {
    Ok(Arc::new(keyutils::open(None)?))
}

#[cfg(target_os = "linux")]
fn open_platform() -> Result<KeyringStore, StoreError> {
    // No bus: keyutils, and nothing to explain. A bus without a Secret
    // Service (a server reached over ssh, a container) is not a reason to
    // fail: keyutils works there, and `describe` says why it was chosen.
    let why_not_secret_service = if session_bus_present() {
        match zbus_secret_service_keyring_store::Store::new() {
            Ok(store) => {
                return Ok(KeyringStore {
                    store,
                    backend: Backend::SecretService,
                    description: "the Secret Service (D-Bus)".into(),
                });
            }
            Err(e) => Some(explain(&e)),
        }
    } else {
        None
    };
    keyutils::open(why_not_secret_service)
}

/// Whether a D-Bus session bus is there, found the way D-Bus clients find it.
#[cfg(target_os = "linux")]
fn session_bus_present() -> bool {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|a| !a.is_empty()) {
        return true;
    }
    std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|d| !d.is_empty())
        .is_some_and(|d| std::path::Path::new(&d).join("bus").exists())
}

#[cfg(target_os = "macos")]
fn open_platform() -> Result<KeyringStore, StoreError> {
    let store = apple_native_keyring_store::keychain::Store::new()
        .map_err(|e| StoreError(format!("macOS Keychain: {}", explain(&e))))?;
    Ok(KeyringStore {
        store,
        backend: Backend::Other,
        description: "the macOS Keychain".into(),
    })
}

#[cfg(target_os = "windows")]
fn open_platform() -> Result<KeyringStore, StoreError> {
    let store = windows_native_keyring_store::Store::new()
        .map_err(|e| StoreError(format!("Windows Credential Manager: {}", explain(&e))))?;
    Ok(KeyringStore {
        store,
        backend: Backend::Other,
        description: "the Windows Credential Manager".into(),
    })
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn open_platform() -> Result<KeyringStore, StoreError> {
    Err(StoreError(
        "pytopus knows no OS keyring on this platform (it has one for Linux, macOS and Windows)"
            .into(),
    ))
}

/// Which store crate is behind a [`KeyringStore`]: some need a step before
/// each use or take other entry modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    #[cfg(target_os = "linux")]
    Keyutils,
    #[cfg(target_os = "linux")]
    SecretService,
    #[cfg(any(target_os = "macos", target_os = "windows"))]
    Other,
}

/// A keyring-core store holding pytopus's secrets under [`SERVICE`], one
/// entry per name, plus the [`INDEX_ENTRY`].
struct KeyringStore {
    store: Arc<CredentialStore>,
    backend: Backend,
    description: String,
}

impl KeyringStore {
    fn entry(&self, name: &str) -> Result<Entry, StoreError> {
        #[cfg(target_os = "linux")]
        if self.backend == Backend::Keyutils {
            // Per call: the session keyring belongs to the thread's
            // credentials, and callers may come from any thread.
            keyutils::ensure_session().map_err(|e| self.error(&keyutils::explain(e)))?;
        }
        let built = match self.backend {
            #[cfg(target_os = "linux")]
            Backend::SecretService => {
                // What the desktop's keyring manager shows for the item.
                let label = format!("pytopus secret {name}");
                let modifiers = std::collections::HashMap::from([("label", label.as_str())]);
                self.store.build(SERVICE, name, Some(&modifiers))
            }
            _ => self.store.build(SERVICE, name, None),
        };
        built.map_err(|e| self.error(&explain(&e)))
    }

    fn error(&self, what: &str) -> StoreError {
        StoreError(format!("{}: {what}", self.description))
    }

    /// The value stored for `name`, as text.
    fn read(&self, name: &str) -> Result<Option<String>, StoreError> {
        match self.entry(name)?.get_password() {
            Ok(v) => Ok(Some(v)),
            Err(KeyringError::NoEntry) => Ok(None),
            Err(e) => Err(self.error(&explain(&e))),
        }
    }

    fn remove(&self, name: &str) -> Result<bool, StoreError> {
        match self.entry(name)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(KeyringError::NoEntry) => Ok(false),
            Err(e) => Err(self.error(&explain(&e))),
        }
    }

    fn index(&self) -> Result<BTreeSet<String>, StoreError> {
        match self.read(INDEX_ENTRY)? {
            None => Ok(BTreeSet::new()),
            Some(text) => serde_json::from_str(&text).map_err(|e| {
                self.error(&format!(
                    "the index of secret names (entry `{INDEX_ENTRY}` of service `{SERVICE}`) is not a JSON list of names ({e}); delete that entry with the keyring's own tool and store the secrets again"
                ))
            }),
        }
    }

    fn write_index(&self, names: &BTreeSet<String>) -> Result<(), StoreError> {
        if names.is_empty() {
            // Leave nothing behind once the last secret is gone.
            return self.remove(INDEX_ENTRY).map(|_| ());
        }
        let text = serde_json::to_string(names).map_err(|e| self.error(&e.to_string()))?;
        self.entry(INDEX_ENTRY)?.set_password(&text).map_err(|e| {
            self.error(&format!(
                "cannot update the index of names: {}",
                explain(&e)
            ))
        })
    }
}

impl SecretStore for KeyringStore {
    fn get(&self, name: &str) -> Result<Option<Secret>, StoreError> {
        Ok(self.read(name)?.map(Secret::new))
    }

    fn set(&self, name: &str, value: &Secret) -> Result<(), StoreError> {
        check_name(name).map_err(|e| self.error(&e))?;
        if value.expose().is_empty() {
            return Err(self.error("an empty value cannot be stored"));
        }
        self.entry(name)?
            .set_password(value.expose())
            .map_err(|e| self.error(&explain(&e)))?;
        let mut names = self.index()?;
        if names.insert(name.to_string()) {
            self.write_index(&names)?;
        }
        Ok(())
    }

    fn delete(&self, name: &str) -> Result<bool, StoreError> {
        let deleted = self.remove(name)?;
        let mut names = self.index()?;
        if names.remove(name) {
            self.write_index(&names)?;
        }
        Ok(deleted)
    }

    /// The indexed names that still have a value: a secret removed by the
    /// keyring's own tools (or expired, with keyutils) is dropped from the
    /// index here.
    fn list(&self) -> Result<Vec<String>, StoreError> {
        let indexed = self.index()?;
        let mut present = BTreeSet::new();
        for name in &indexed {
            if self.read(name)?.is_some() {
                present.insert(name.clone());
            }
        }
        if present != indexed {
            self.write_index(&present)?;
        }
        Ok(present.into_iter().collect())
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

/// A keyring-core error in words, never with the stored bytes some variants
/// carry (they may be a secret).
fn explain(e: &KeyringError) -> String {
    match e {
        KeyringError::NoStorageAccess(inner) => format!("access denied ({inner})"),
        KeyringError::PlatformFailure(inner) => inner.to_string(),
        KeyringError::NoEntry => "no such entry".into(),
        KeyringError::BadEncoding(_) => "the stored value is not UTF-8 text".into(),
        KeyringError::BadDataFormat(_, _) => {
            "the stored value is not in the expected format".into()
        }
        KeyringError::TooLong(what, limit) => {
            format!("the {what} is longer than this store's limit of {limit}")
        }
        KeyringError::Invalid(what, why) => format!("invalid {what}: {why}"),
        KeyringError::Ambiguous(found) => {
            format!("{} entries match, expected one", found.len())
        }
        other => other.to_string(),
    }
}

/// The Linux kernel keyutils store, and the session keyring it needs.
///
/// The store adds each key to the caller's *session* keyring and links it
/// into the user's *persistent* keyring (persistent-keyring(7)), which is
/// what keeps it for later processes. A process started without a session
/// keyring of its own (CI, containers, `sudo`, ssh without pam_keyinit) reads
/// `@s` as the shared user-session keyring `_uid_ses.<uid>`, but asking for
/// the persistent keyring makes the kernel join a *new* session and link it
/// there; the key, added to `_uid_ses`, is then not possessed, and linking it
/// fails with EACCES. Joining a fresh session keyring first fixes that.
#[cfg(target_os = "linux")]
mod keyutils {
    use linux_keyutils::{KeyError, KeyRing, KeyRingIdentifier};

    use super::{Backend, KeyringStore, StoreError};

    /// The keyutils store, after checking it can be used.
    ///
    /// `why_not_secret_service`: set when a session bus was there but no
    /// Secret Service answered on it; `describe` says so.
    pub(super) fn open(why_not_secret_service: Option<String>) -> Result<KeyringStore, StoreError> {
        let name = "Linux kernel keyutils";
        let description = match why_not_secret_service {
            None => name.to_string(),
            Some(why) => format!("{name} (no Secret Service on the session bus: {why})"),
        };
        let joined = ensure_session().map_err(|e| StoreError(format!("{name}: {}", explain(e))))?;
        // A process of its own login session keeps secrets there even
        // without persistent keyrings; a session joined just now dies with
        // this process, and secrets with it.
        if let Err(e) = KeyRing::get_persistent(KeyRingIdentifier::Session)
            && joined
        {
            return Err(StoreError(format!(
                "{name}: no persistent keyring ({}), and this process has no session keyring to keep secrets in after it exits",
                explain(e)
            )));
        }
        let store = linux_keyutils_keyring_store::Store::new()
            .map_err(|e| StoreError(format!("{name}: {}", super::explain(&e))))?;
        Ok(KeyringStore {
            store,
            backend: Backend::Keyutils,
            description,
        })
    }

    /// Gives the calling thread a session keyring of its own when it has
    /// none, and says whether it joined one. Same effect as
    /// `KEYCTL_JOIN_SESSION_KEYRING` with no name (`keyctl session -`).
    ///
    /// Without a session keyring of its own, `@s` resolves to the shared
    /// user-session keyring (the two ids are equal); asking for `@s` with
    /// `create` set makes the kernel join a new anonymous session
    /// keyring, through the safe `KEYCTL_GET_KEYRING_ID` wrapper. A session
    /// keyring the thread already has (a desktop or ssh login with
    /// pam_keyinit) is kept: joining would replace it, and it works.
    pub fn ensure_session() -> Result<bool, KeyError> {
        let session = KeyRing::from_special_id(KeyRingIdentifier::Session, false)?;
        let user_session = KeyRing::from_special_id(KeyRingIdentifier::UserSession, false)?;
        if session != user_session {
            return Ok(false);
        }
        KeyRing::from_special_id(KeyRingIdentifier::Session, true)?;
        Ok(true)
    }

    pub(super) fn explain(e: KeyError) -> String {
        match e {
            KeyError::AccessDenied => "access denied to the session keyring".into(),
            KeyError::QuotaExceeded => {
                "the kernel's key quota for this user is full (see /proc/sys/kernel/keys/maxkeys)"
                    .into()
            }
            KeyError::OperationNotSupported => {
                "the kernel does not support this keyring operation".into()
            }
            other => format!("{other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn names_are_ascii_words_with_dashes_and_dots() {
        for ok in ["github", "GITHUB_TOKEN", "my-api.key", "a", "0"] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", "a b", "a/b", "ä", "a=b", "$x", "__pytopus_index__"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        let e = check_name("a b").unwrap_err();
        assert!(e.contains("`a b`") && e.contains("letters, digits"), "{e}");
    }
}
