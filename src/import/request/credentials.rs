//! Which values are credentials and the secrets they become: names,
//! notes, auth from headers and cookies, fields of forms and JSON.

use std::collections::BTreeSet;

use base64::Engine as _;
use serde_json::Value;

use crate::secret::env_var_name;

use super::*;

/// Chooses secret names and says what to store.
pub(crate) struct Secrets {
    /// What the values came from, in notes: "the command".
    pub(super) source: String,
    /// What the secrets of the request at hand are named after (its API).
    pub(super) base: String,
    pub(super) used: BTreeSet<String>,
    pub(crate) notes: Vec<String>,
    pub(crate) values: Vec<(String, crate::secret::Secret)>,
}

impl Secrets {
    /// No secrets yet; the values come from `source` ("the command").
    pub(crate) fn new(source: &str) -> Secrets {
        Secrets {
            source: source.to_string(),
            base: String::new(),
            used: BTreeSet::new(),
            notes: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Names the secrets that follow after `base` (an API's word).
    pub(crate) fn set_base(&mut self, base: &str) {
        self.base = base.to_string();
    }

    /// A credential `value` as the step writes it: a template that reads
    /// something (with `templated`) is kept, anything else is a secret.
    pub(crate) fn credential(
        &mut self,
        templated: bool,
        what: &str,
        from: &str,
        value: &str,
    ) -> String {
        if !templated {
            self.placeholder(what, from, value)
        } else if reads_something(value) {
            value.to_string()
        } else {
            self.placeholder(what, from, &unliteral(value))
        }
    }

    /// A new secret whose value the source does not hold (an empty
    /// variable): its template, and a note to store it.
    pub(crate) fn unknown(&mut self, what: &str, from: &str) -> String {
        let name = self.fresh(what);
        self.notes.push(format!(
            "{from} now reads secret('{name}'): {} has no value for it; store one with `pytopus auth set {name}` (or set {})",
            self.source,
            env_var_name(&name)
        ));
        format!("{{{{ secret('{name}') }}}}")
    }

    /// An unused secret name for `what`.
    pub(super) fn fresh(&mut self, what: &str) -> String {
        let base = if self.base.is_empty() {
            "api"
        } else {
            &self.base
        };
        let mut name = format!("{base}_{}", slug(what));
        if self.used.contains(&name) {
            let mut n = 2;
            while self.used.contains(&format!("{name}_{n}")) {
                n += 1;
            }
            name = format!("{name}_{n}");
        }
        self.used.insert(name.clone());
        name
    }

    /// A new secret for `what` (a word for its name) and the template that
    /// reads it; a value seen before reads the secret it got then.
    pub(crate) fn placeholder(&mut self, what: &str, from: &str, value: &str) -> String {
        // A value an earlier response gave is read from it, not stored.
        if value.contains(LINK_OPEN) {
            return value.to_string();
        }
        if let Some((name, _)) = self.values.iter().find(|(_, v)| v.expose() == value) {
            return format!("{{{{ secret('{name}') }}}}");
        }
        let name = self.fresh(what);
        self.values
            .push((name.clone(), crate::secret::Secret::new(value)));
        self.notes.push(format!(
            "{from} now reads secret('{name}'): store the value from {} with `pytopus auth set {name}` (or set {})",
            self.source,
            env_var_name(&name)
        ));
        format!("{{{{ secret('{name}') }}}}")
    }
}

/// Lower case, ASCII letters and digits, other runs as one `_`.
pub(crate) fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let out = out.trim_end_matches('_').to_string();
    if out.is_empty() { "value".into() } else { out }
}

/// What secrets of this API are named after: the host's name without its
/// subdomain and suffix (`api.github.com` → `github`), `api` for an address.
pub(crate) fn secret_base(url: Option<&url::Url>) -> String {
    let Some(url::Host::Domain(host)) = url.and_then(|u| u.host()) else {
        return "api".into();
    };
    let labels: Vec<&str> = host.split('.').filter(|l| !l.is_empty()).collect();
    let pick = match labels.len() {
        0 => None,
        1 => labels.first(),
        n => {
            let second = labels[n - 2];
            if n >= 3 && matches!(second, "co" | "com" | "org" | "net" | "gov" | "ac" | "edu") {
                labels.get(n - 3)
            } else {
                labels.get(n - 2)
            }
        }
    };
    pick.map(|l| slug(l))
        .filter(|s| s != "value" && s != "localhost")
        .unwrap_or_else(|| "api".into())
}

/// A cookie that looks like a session or other credential, by its name
/// or its value (a JWT, a long random token).
pub(crate) fn session_cookie(name: &str, value: &str) -> bool {
    let n = name.to_ascii_lowercase();
    let by_name = [
        "sess", "sid", "token", "auth", "jwt", "login", "remember", "csrf", "xsrf", "secret",
        "pass", "key", "cred",
    ]
    .iter()
    .any(|w| n.contains(w));
    let random = value.len() >= 32
        && !value.contains('.')
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_%+/=".contains(c))
        && value.chars().any(|c| c.is_ascii_digit())
        && value.chars().any(|c| c.is_ascii_alphabetic());
    by_name || random || value.starts_with("eyJ")
}

/// A form or JSON field whose value is a credential.
pub(crate) fn secret_field(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "api_key",
        "apikey",
        "api-key",
        "credential",
    ]
    .iter()
    .any(|w| n.contains(w))
        || n == "pass"
        || n == "pwd"
}

/// What the step will be, as it is put together.
pub(super) struct Step<'s> {
    pub(super) auth: Option<Value>,
    pub(super) headers: Vec<(String, String)>,
    pub(super) secrets: &'s mut Secrets,
    /// Whose values these are, in notes: "the command's".
    pub(super) whose: &'s str,
    /// The request's texts are templates already (see [`Request::templated`]).
    pub(super) templated: bool,
}

impl Step<'_> {
    pub(super) fn header_index(&self, name: &str) -> Option<usize> {
        self.headers
            .iter()
            .position(|(k, _)| k.eq_ignore_ascii_case(name))
    }

    pub(super) fn take_header(&mut self, name: &str) -> Option<String> {
        self.header_index(name).map(|i| self.headers.remove(i).1)
    }

    /// `-u USER[:PASSWORD]` (or a URL's user info) as Basic auth.
    pub(super) fn basic(&mut self, user: &str, from: &str) {
        let (username, password) = user.split_once(':').unwrap_or((user, ""));
        let password = self
            .secrets
            .credential(self.templated, "password", from, password);
        self.auth = Some(serde_json::json!({
            "type": "basic",
            "username": as_template(self.templated, username),
            "password": password,
        }));
    }

    pub(super) fn authorization(&mut self, value: &str) {
        let (scheme, credential) = match value.split_once(' ') {
            Some((s, c)) => (s.to_string(), c.trim().to_string()),
            None => (String::new(), value.to_string()),
        };
        let from = format!(
            "{} `Authorization{}` header",
            self.whose,
            if scheme.is_empty() {
                String::new()
            } else {
                format!(": {scheme} …")
            }
        );
        if self.auth.is_none() {
            if scheme.eq_ignore_ascii_case("bearer") {
                let token = self
                    .secrets
                    .credential(self.templated, "token", &from, &credential);
                self.auth = Some(serde_json::json!({"type": "bearer", "token": token}));
                return;
            }
            if scheme.eq_ignore_ascii_case("basic")
                && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(&credential)
                && let Ok(pair) = String::from_utf8(bytes)
                && pair.contains(':')
            {
                self.basic(&pair, &from);
                return;
            }
        }
        let secret = self
            .secrets
            .credential(self.templated, "token", &from, &credential);
        let templated = if scheme.is_empty() {
            secret
        } else {
            format!("{} {secret}", as_template(self.templated, &scheme))
        };
        if self.auth.is_none() {
            self.auth = Some(serde_json::json!({
                "type": "headers",
                "headers": {"Authorization": templated},
            }));
        } else {
            self.headers.push(("Authorization".into(), templated));
        }
    }

    /// A header named like a credential (`X-Api-Key`): `auth: api_key`, or
    /// a secret in the header when the step has its auth already.
    pub(super) fn credential_header(&mut self, name: &str, value: &str) {
        let from = format!("{} `{name}` header", self.whose);
        let secret = self.secrets.credential(self.templated, name, &from, value);
        if self.auth.is_none() {
            self.auth = Some(serde_json::json!({
                "type": "api_key", "in": "header", "name": name, "key": secret,
            }));
        } else {
            self.headers.push((name.to_string(), secret));
        }
    }

    /// The cookies: those that look like a session become secrets (the
    /// only one, with no other auth, `auth: api_key` in a cookie).
    pub(super) fn cookies(&mut self, pairs: Vec<(String, String)>) {
        let sessions = pairs.iter().filter(|(n, v)| session_cookie(n, v)).count();
        let mut kept = Vec::new();
        for (name, value) in pairs {
            if !session_cookie(&name, &value) {
                kept.push(format!("{name}={}", as_template(self.templated, &value)));
                continue;
            }
            let from = format!("{} cookie `{name}`", self.whose);
            let secret = self
                .secrets
                .credential(self.templated, &name, &from, &value);
            if sessions == 1 && self.auth.is_none() {
                self.auth = Some(serde_json::json!({
                    "type": "api_key", "in": "cookie", "name": name, "key": secret,
                }));
            } else {
                kept.push(format!("{name}={secret}"));
            }
        }
        if !kept.is_empty() {
            self.headers.push(("Cookie".into(), kept.join("; ")));
        }
    }
}

/// `a=1; b=2` as pairs.
pub(super) fn cookie_pairs(text: &str) -> Vec<(String, String)> {
    text.split(';')
        .filter_map(|p| {
            let p = p.trim();
            if p.is_empty() {
                return None;
            }
            Some(match p.split_once('=') {
                Some((n, v)) => (n.trim().to_string(), v.trim().to_string()),
                None => (p.to_string(), String::new()),
            })
        })
        .collect()
}

/// A JSON body with the values of credential-named string fields replaced
/// by secrets.
pub(super) fn secret_json(v: Value, whose: &str, templated: bool, secrets: &mut Secrets) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) if secret_field(&k) && !s.is_empty() => {
                            let from = format!("{whose} JSON field `{k}`");
                            Value::String(secrets.credential(templated, &k, &from, &s))
                        }
                        other => secret_json(other, whose, templated, secrets),
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.into_iter()
                .map(|x| secret_json(x, whose, templated, secrets))
                .collect(),
        ),
        other => other,
    }
}
