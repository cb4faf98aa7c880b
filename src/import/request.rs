//! One request, as an importer read it, becomes a step: what it sends is
//! kept — the method, URL, headers, and the body (JSON as a YAML map, a
//! form as `form:` when pytopus would encode it to the same bytes, a
//! multipart form as `multipart:`, anything else as text with its content
//! type). Credentials never reach the output: a user and password, an
//! `Authorization` header, other credential headers, session cookies and
//! password-like fields become `auth:` or `{{ secret('NAME') }}`, and a
//! note says which secret to store. Used by `import curl` and `import har`.

use std::collections::BTreeSet;

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::secret::{env_var_name, sensitive_header};

/// Why something could not be imported (exit 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError(pub String);

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) fn fail<T>(message: impl Into<String>) -> Result<T, ImportError> {
    Err(ImportError(message.into()))
}

/// The chain, and what the user must do before it runs.
#[derive(Debug)]
pub struct Imported {
    /// The chain as YAML.
    pub yaml: String,
    /// One line each: which secrets to store.
    pub notes: Vec<String>,
    /// The credentials it held, by the secret name the chain
    /// reads them under (never printed: for whoever stores them, and tests).
    pub secrets: Vec<(String, crate::secret::Secret)>,
}

/// One request as an importer read it (a curl command's options, a HAR
/// entry), before it becomes a step.
#[derive(Debug, Default)]
pub(crate) struct Request {
    pub(crate) url: Option<String>,
    pub(crate) method: Option<String>,
    pub(crate) head: bool,
    pub(crate) get: bool,
    pub(crate) headers: Vec<(String, String)>,
    /// Each data option's text, and whether it was `--json`.
    pub(crate) data: Vec<(String, bool)>,
    /// Each `-F`: the flag, its `name=value`, and whether it is `--form-string`.
    pub(crate) form: Vec<(String, String, bool)>,
    pub(crate) user: Option<String>,
    pub(crate) cookies: Vec<String>,
    pub(crate) insecure: bool,
    pub(crate) max_time: Option<String>,
    pub(crate) ca_cert: Option<String>,
    pub(crate) cert: Option<String>,
    pub(crate) key: Option<String>,
    /// Every text is a template already (Postman's `{{var}}` translated),
    /// not text to send as written: it is not escaped, and a credential a
    /// template gives (`Bearer {{ token }}`) is kept as it is.
    pub(crate) templated: bool,
    /// With `templated`: the URL with its variables' values, to name the
    /// step and its secrets and check the scheme (`None`: a template
    /// decides the scheme and host).
    pub(crate) resolved_url: Option<String>,
    /// The step's `auth:` as the importer decided it.
    pub(crate) auth: Option<Value>,
    /// A URL-encoded form as fields (name, value), in order.
    pub(crate) fields: Vec<(String, String)>,
    /// Where the tool read files to upload from, for the note on paths
    /// (`None`: curl, "the current one").
    pub(crate) files_from: Option<String>,
}

/// A word as a message shows it: at most 60 characters.
pub(crate) fn shown(word: &str) -> String {
    let mut s: String = word.chars().take(60).collect();
    if word.chars().count() > 60 {
        s.push('…');
    }
    s
}

/// Text as a template that renders to it: `{{`, `{%` and `{#` would start
/// template syntax, so their `{` is written `{{ '{' }}`.
pub(crate) fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '{' && matches!(chars.peek(), Some('{' | '%' | '#')) {
            out.push_str("{{ '{' }}");
        } else {
            out.push(c);
        }
    }
    out
}

/// `text` as a template: written as [`literal`] unless it is one already.
fn as_template(templated: bool, text: &str) -> String {
    if templated {
        text.to_string()
    } else {
        literal(text)
    }
}

/// Whether a template reads anything (a variable, a secret, a step)
/// beyond the `{{ '{' }}` that [`literal`] writes.
pub(crate) fn reads_something(template: &str) -> bool {
    template.replace("{{ '{' }}", "").contains("{{")
}

/// The text a template without variables renders to (undoes [`literal`]).
fn unliteral(template: &str) -> String {
    template.replace("{{ '{' }}", "{")
}

/// Every string in a JSON value as [`literal`] text.
pub(crate) fn literal_json(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(literal(&s)),
        Value::Array(a) => Value::Array(a.into_iter().map(literal_json).collect()),
        Value::Object(m) => {
            Value::Object(m.into_iter().map(|(k, v)| (k, literal_json(v))).collect())
        }
        other => other,
    }
}

/// Around the number of a link in a request's text (`\u{E000}3\u{E001}`):
/// a value an earlier response gave, which [`links`] turns into the
/// template that reads it once the step is built. Private-use characters:
/// no capture holds them, and nothing escapes them.
pub(crate) const LINK_OPEN: char = '\u{E000}';
pub(crate) const LINK_CLOSE: char = '\u{E001}';

/// `v` with each link marker replaced by `{{ expression }}`.
pub(crate) fn links(v: Value, expressions: &[String]) -> Value {
    match v {
        Value::String(s) if s.contains(LINK_OPEN) => {
            let mut out = String::with_capacity(s.len());
            let mut rest = s.as_str();
            while let Some(i) = rest.find(LINK_OPEN) {
                out.push_str(&rest[..i]);
                let after = &rest[i + LINK_OPEN.len_utf8()..];
                match after.find(LINK_CLOSE).and_then(|j| {
                    let n: usize = after[..j].parse().ok()?;
                    Some((j, expressions.get(n)?))
                }) {
                    Some((j, expr)) => {
                        out.push_str(&format!("{{{{ {expr} }}}}"));
                        rest = &after[j + LINK_CLOSE.len_utf8()..];
                    }
                    None => {
                        out.push(LINK_OPEN);
                        rest = after;
                    }
                }
            }
            out.push_str(rest);
            Value::String(out)
        }
        Value::Array(a) => Value::Array(a.into_iter().map(|x| links(x, expressions)).collect()),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, x)| (k, links(x, expressions)))
                .collect(),
        ),
        other => other,
    }
}

/// Chooses secret names and says what to store.
pub(crate) struct Secrets {
    /// What the values came from, in notes: "the command".
    source: String,
    /// What the secrets of the request at hand are named after (its API).
    base: String,
    used: BTreeSet<String>,
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
    fn fresh(&mut self, what: &str) -> String {
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

/// The step's name: the method and the last meaningful path segment
/// (`POST /v1/users` → `PostUsers`).
pub(crate) fn step_name(method: &str, url: Option<&url::Url>) -> String {
    let mut name: String = method
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .enumerate()
        .map(|(i, c)| {
            if i == 0 {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name.insert_str(0, "Request");
    }
    let segment = url.and_then(|u| u.path_segments()).and_then(|segments| {
        segments.rev().find(|s| {
            s.chars().any(|c| c.is_ascii_alphabetic())
                && !s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        })
    });
    if let Some(s) = segment {
        for word in s.split(|c: char| !c.is_ascii_alphanumeric()) {
            let mut cs = word.chars();
            if let Some(first) = cs.next() {
                name.push(first.to_ascii_uppercase());
                name.extend(cs);
            }
        }
    }
    name
}

/// A valid step name: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn check_step_name(name: &str) -> Result<(), ImportError> {
    let ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        fail(format!(
            "`{}` is not a step name: use letters, digits and `_`, not starting with a digit",
            shown(name)
        ))
    }
}

/// The URL without `user:password@`, and what was there.
fn split_userinfo(url: &str) -> (String, Option<String>) {
    let Some(scheme_end) = url.find("://") else {
        return (url.to_string(), None);
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => (
            format!("{}{}", &url[..scheme_end + 3], &rest[at + 1..]),
            Some(rest[..at].to_string()),
        ),
        None => (url.to_string(), None),
    }
}

fn percent_decoded(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// What the step will be, as it is put together.
struct Step<'s> {
    auth: Option<Value>,
    headers: Vec<(String, String)>,
    secrets: &'s mut Secrets,
    /// Whose values these are, in notes: "the command's".
    whose: &'s str,
    /// The request's texts are templates already (see [`Request::templated`]).
    templated: bool,
}

impl Step<'_> {
    fn header_index(&self, name: &str) -> Option<usize> {
        self.headers
            .iter()
            .position(|(k, _)| k.eq_ignore_ascii_case(name))
    }

    fn take_header(&mut self, name: &str) -> Option<String> {
        self.header_index(name).map(|i| self.headers.remove(i).1)
    }

    /// `-u USER[:PASSWORD]` (or a URL's user info) as Basic auth.
    fn basic(&mut self, user: &str, from: &str) {
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

    fn authorization(&mut self, value: &str) {
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
    fn credential_header(&mut self, name: &str, value: &str) {
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
    fn cookies(&mut self, pairs: Vec<(String, String)>) {
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
fn cookie_pairs(text: &str) -> Vec<(String, String)> {
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

/// The step that sends `c`, named `name` (else from its method and URL);
/// its credentials become `secrets`, noted as `whose` ("the command's").
pub(crate) fn step(
    c: Request,
    name: Option<&str>,
    whose: &str,
    secrets: &mut Secrets,
) -> Result<Value, ImportError> {
    let Some(raw_url) = c.url.clone() else {
        return fail("the request has no URL");
    };
    // curl (and Postman) take `host/path` as http.
    let (raw_url, resolved) = if !c.templated {
        let u = if raw_url.contains("://") {
            raw_url
        } else {
            format!("http://{raw_url}")
        };
        (u.clone(), Some(u))
    } else {
        match &c.resolved_url {
            Some(r) if !r.contains("://") => {
                (format!("http://{raw_url}"), Some(format!("http://{r}")))
            }
            r => (raw_url, r.clone()),
        }
    };
    let (mut url_text, userinfo) = split_userinfo(&raw_url);
    let parsed = match resolved.as_deref().map(split_userinfo) {
        Some((checked, _)) => {
            let parsed = url::Url::parse(&checked)
                .map_err(|e| ImportError(format!("`{}` is not a URL: {e}", shown(&checked))))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return fail(format!("`{}` is not an http or https URL", shown(&checked)));
            }
            Some(parsed)
        }
        None => None,
    };
    if let (Some((flag, value, _)), false) = (c.form.first(), c.data.is_empty()) {
        return fail(format!(
            "`{flag} {}` makes a multipart form and the command also has a -d body: curl refuses that too; keep one",
            shown(value)
        ));
    }
    if let (Some((flag, value, _)), true) = (c.form.first(), c.get) {
        return fail(format!(
            "`{flag} {}` sends a multipart form and `-G` asks for no body: curl refuses that too; keep one",
            shown(value)
        ));
    }
    let mut body_text: Option<String> = None;
    let json_option = c.data.iter().any(|(_, j)| *j);
    if !c.data.is_empty() {
        let mut text = String::new();
        for (i, (part, json)) in c.data.iter().enumerate() {
            if i > 0 && !json {
                text.push('&');
            }
            text.push_str(part);
        }
        body_text = Some(text);
    }
    if c.get
        && let Some(q) = body_text.take()
    {
        let (base, fragment) = match url_text.split_once('#') {
            Some((b, f)) => (b.to_string(), Some(f.to_string())),
            None => (url_text.clone(), None),
        };
        let sep = if base.contains('?') { '&' } else { '?' };
        url_text = format!("{base}{sep}{q}");
        if let Some(f) = fragment {
            url_text = format!("{url_text}#{f}");
        }
    }
    let method = match &c.method {
        Some(m) => m.to_ascii_uppercase(),
        None if c.head => "HEAD".into(),
        None if body_text.is_some() || !c.form.is_empty() => "POST".into(),
        None => "GET".into(),
    };
    let step_name = match name {
        Some(n) => {
            check_step_name(n)?;
            n.to_string()
        }
        None => step_name(&method, parsed.as_ref()),
    };

    secrets.base = secret_base(parsed.as_ref());
    let templated = c.templated;
    // `auth: {type: none}` decided by the importer: credentials in the
    // headers still become the step's auth.
    let none = c
        .auth
        .as_ref()
        .is_some_and(|a| a.get("type").and_then(Value::as_str) == Some("none"));
    let mut step = Step {
        auth: c.auth.clone().filter(|_| !none),
        headers: Vec::new(),
        secrets,
        whose,
        templated,
    };
    // Headers: `-H 'Name:'` takes a header off (none to take off here);
    // the same name twice is one header.
    let mut cookie_text: Vec<String> = c.cookies.clone();
    let mut authorization = None;
    let mut credentials = Vec::new();
    for (name, value) in &c.headers {
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            // pytopus computes the length, and asks for the encodings it decodes.
            "content-length" | "accept-encoding" => continue,
            "cookie" => {
                cookie_text.push(value.clone());
                continue;
            }
            "authorization" if authorization.is_none() => {
                authorization = Some(value.clone());
                continue;
            }
            _ => {}
        }
        if sensitive_header(name) && !value.is_empty() {
            if !credentials
                .iter()
                .any(|(n, _): &(String, String)| n.eq_ignore_ascii_case(name))
            {
                credentials.push((name.clone(), value.clone()));
            }
            continue;
        }
        match step.header_index(name) {
            Some(i) => {
                let joined = format!("{}, {value}", step.headers[i].1);
                step.headers[i].1 = joined;
            }
            None => step.headers.push((name.clone(), value.clone())),
        }
    }
    for h in step.headers.iter_mut() {
        h.1 = as_template(templated, &h.1);
    }
    if let Some(user) = &c.user {
        step.basic(user, &format!("{whose} `-u` password"));
    }
    if let Some(a) = authorization {
        step.authorization(&a);
    }
    if let Some(info) = userinfo {
        if step.auth.is_none() {
            let info = if templated {
                info
            } else {
                percent_decoded(&info)
            };
            step.basic(&info, &format!("the password in {whose} URL"));
        } else {
            step.secrets.notes.push(
                format!("the user name and password in {whose} URL were dropped: the step has its credentials from elsewhere"),
            );
        }
    }
    for (name, value) in credentials {
        step.credential_header(&name, &value);
    }
    let pairs: Vec<(String, String)> = cookie_text.iter().flat_map(|t| cookie_pairs(t)).collect();
    if !pairs.is_empty() {
        step.cookies(pairs);
    }

    // The body: what its content type and text make it.
    let mut body: Option<(&str, Value)> = None;
    if let Some(text) = &body_text {
        let given = step
            .header_index("content-type")
            .map(|i| step.headers[i].1.clone());
        let ctype = given.clone().unwrap_or_else(|| {
            if json_option {
                "application/json".into()
            } else {
                "application/x-www-form-urlencoded".into()
            }
        });
        let lower = ctype.to_ascii_lowercase();
        let essence = lower.split(';').next().unwrap_or("").trim().to_string();
        if json_option && step.header_index("accept").is_none() {
            step.headers
                .push(("Accept".into(), "application/json".into()));
        }
        let json = (essence.ends_with("/json") || essence.ends_with("+json"))
            .then(|| serde_json::from_str::<Value>(text).ok())
            .flatten()
            .filter(|v| v.is_object() || v.is_array());
        let form = (essence == "application/x-www-form-urlencoded")
            .then(|| form_fields(text))
            .flatten();
        if let Some(v) = json {
            if lower.trim() == "application/json" {
                step.take_header("content-type");
            }
            let v = if templated { v } else { literal_json(v) };
            let v = secret_json(v, whose, templated, step.secrets);
            body = Some(("body", v));
        } else if let Some(fields) = form {
            if lower.trim() == "application/x-www-form-urlencoded" {
                step.take_header("content-type");
            }
            body = Some(("form", form_map(fields, whose, templated, step.secrets)));
        } else {
            if given.is_none() {
                step.headers.push(("Content-Type".into(), literal(&ctype)));
            }
            body = Some(("body", Value::String(as_template(templated, text))));
        }
    }

    if !c.fields.is_empty() {
        if let Some(i) = step.header_index("content-type")
            && step.headers[i]
                .1
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        {
            step.headers.remove(i);
        }
        let mut fields: indexmap::IndexMap<String, Vec<String>> = indexmap::IndexMap::new();
        for (k, v) in &c.fields {
            fields.entry(k.clone()).or_default().push(v.clone());
        }
        body = Some(("form", form_map(fields, whose, templated, step.secrets)));
    }

    if !c.form.is_empty() {
        // pytopus writes the boundary itself; another multipart type is kept.
        if let Some(i) = step.header_index("content-type")
            && step.headers[i]
                .1
                .to_ascii_lowercase()
                .trim_start()
                .starts_with("multipart/form-data")
        {
            step.headers.remove(i);
        }
        let files_from = c
            .files_from
            .as_deref()
            .unwrap_or("curl read them from the current one");
        body = Some((
            "multipart",
            multipart(&c.form, whose, templated, files_from, step.secrets)?,
        ));
    }

    let mut s = Map::new();
    s.insert("name".into(), Value::String(step_name));
    if method != "GET" {
        s.insert("method".into(), Value::String(method));
    }
    s.insert(
        "url".into(),
        Value::String(as_template(templated, &url_text)),
    );
    if !step.headers.is_empty() {
        let mut h = Map::new();
        for (k, v) in &step.headers {
            h.insert(k.clone(), Value::String(v.clone()));
        }
        s.insert("headers".into(), Value::Object(h));
    }
    if let Some(a) = step.auth.take().or(c.auth.filter(|_| none)) {
        s.insert("auth".into(), a);
    }
    if let Some((key, v)) = body {
        s.insert(key.into(), v);
    }
    let mut tls = Map::new();
    if c.insecure {
        tls.insert("verify".into(), Value::Bool(false));
    }
    if let Some(ca) = &c.ca_cert {
        tls.insert("ca_cert".into(), Value::String(ca.clone()));
    }
    if let Some(cert) = &c.cert {
        // `FILE:PASSWORD` (a `\:` is a colon of the name; `C:\` a drive).
        let (file, password) = split_cert(cert);
        tls.insert("client_cert".into(), Value::String(file));
        if let Some(pw) = password {
            let p =
                step.secrets
                    .placeholder("cert_password", &format!("{whose} --cert password"), &pw);
            tls.insert("password".into(), Value::String(p));
        }
    }
    if let Some(key) = &c.key {
        tls.insert("client_key".into(), Value::String(key.clone()));
    }
    if !tls.is_empty() {
        s.insert("tls".into(), Value::Object(tls));
    }
    if let Some(t) = &c.max_time {
        let v = t
            .parse::<u64>()
            .map(Value::from)
            .or_else(|_| t.parse::<f64>().map(Value::from))
            .unwrap_or(Value::Null);
        s.insert("timeout".into(), v);
    }
    Ok(Value::Object(s))
}

/// A chain of these steps, as YAML, with what `secrets` needs said.
pub(crate) fn chain(steps: Vec<Value>, secrets: Secrets) -> Result<Imported, ImportError> {
    let mut chain = Map::new();
    chain.insert("steps".into(), Value::Array(steps));
    yaml(Value::Object(chain), secrets)
}

/// A chain document as YAML, with what `secrets` needs said.
pub(crate) fn yaml(chain: Value, secrets: Secrets) -> Result<Imported, ImportError> {
    let yaml = serde_saphyr::to_string(&chain)
        .map_err(|e| ImportError(format!("cannot write the chain as YAML: {e}")))?;
    Ok(Imported {
        yaml,
        notes: secrets.notes,
        secrets: secrets.values,
    })
}

/// `FILE[:PASSWORD]` as curl reads `--cert`.
fn split_cert(text: &str) -> (String, Option<String>) {
    let bytes: Vec<char> = text.chars().collect();
    let mut file = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == '\\' && bytes.get(i + 1) == Some(&':') {
            file.push(':');
            i += 2;
            continue;
        }
        // `C:\…` or `C:/…` is a drive.
        if c == ':' && !(i == 1 && matches!(bytes.get(2), Some('\\' | '/'))) {
            return (file, Some(bytes[i + 1..].iter().collect()));
        }
        file.push(c);
        i += 1;
    }
    (file, None)
}

/// The `-F` options as a `multipart:` map: a part per option, in order,
/// one name given twice a list. curl's forms read: `name=text`,
/// `name=@file` (uploaded), with `;type=` and `;filename=` after the value,
/// and a value in double quotes holding `;` or `"` (`\\"`); `--form-string`
/// takes its value as written. `name=<file` (a field read from a file) and
/// `;headers=` are errors naming the option: import does not read files,
/// and a part's own headers have no place in `multipart:`.
fn multipart(
    form: &[(String, String, bool)],
    whose: &str,
    templated: bool,
    files_from: &str,
    secrets: &mut Secrets,
) -> Result<Value, ImportError> {
    let mut parts: Vec<(String, Value)> = Vec::new();
    let mut files = false;
    for (flag, text, as_written) in form {
        let whole = || format!("`{flag} {}`", shown(text));
        let Some((name, content)) = text.split_once('=') else {
            return fail(format!("{} is not `name=value`", whole()));
        };
        if name.is_empty() {
            return fail(format!("{} has no part name before `=`", whole()));
        }
        let (value, params) = if *as_written {
            (content.to_string(), Vec::new())
        } else {
            form_value(content).map_err(|why| ImportError(format!("{}: {why}", whole())))?
        };
        let mut content_type = None;
        let mut filename = None;
        for (key, v) in params {
            match key.as_str() {
                "type" => content_type = Some(v),
                "filename" => filename = Some(v),
                other => {
                    return fail(format!(
                        "{}: `;{other}=` is not imported (a part's own headers or encoding have no place in `multipart:`)",
                        whole()
                    ));
                }
            }
        }
        let file = (!as_written).then(|| value.strip_prefix('@')).flatten();
        if !as_written && value.starts_with('<') {
            return fail(format!(
                "{} reads the field's text from the file `{}`: import does not read files; put the text in the command",
                whole(),
                shown(&value[1..])
            ));
        }
        let part = if let Some(path) = file {
            if path.is_empty() {
                return fail(format!("{} names no file after `@`", whole()));
            }
            files = true;
            if content_type.is_none() && filename.is_none() {
                Value::String(format!("@{path}"))
            } else {
                let mut m = Map::new();
                m.insert("file".into(), Value::String(path.to_string()));
                if let Some(f) = filename {
                    m.insert("filename".into(), Value::String(as_template(templated, &f)));
                }
                if let Some(t) = content_type {
                    m.insert(
                        "content_type".into(),
                        Value::String(as_template(templated, &t)),
                    );
                }
                Value::Object(m)
            }
        } else {
            let text = if secret_field(name) && !value.is_empty() {
                secrets.credential(
                    templated,
                    name,
                    &format!("{whose} form field `{name}`"),
                    &value,
                )
            } else {
                as_template(templated, &value)
            };
            if content_type.is_none() && filename.is_none() {
                // `@` starts a file in `multipart:`; `@@` stands for a text `@`.
                Value::String(if text.starts_with('@') {
                    format!("@{text}")
                } else {
                    text
                })
            } else {
                let mut m = Map::new();
                m.insert("value".into(), Value::String(text));
                if let Some(f) = filename {
                    m.insert("filename".into(), Value::String(as_template(templated, &f)));
                }
                if let Some(t) = content_type {
                    m.insert(
                        "content_type".into(),
                        Value::String(as_template(templated, &t)),
                    );
                }
                Value::Object(m)
            }
        };
        match parts.iter_mut().find(|(n, _)| n == name) {
            Some((_, Value::Array(list))) => list.push(part),
            Some((_, first)) => *first = Value::Array(vec![first.take(), part]),
            None => parts.push((name.to_string(), part)),
        }
    }
    if files {
        secrets.notes.push(
            format!("the files to upload are read relative to the chain file's directory ({files_from}): save the chain beside them or fix the paths"),
        );
    }
    Ok(Value::Object(parts.into_iter().collect()))
}

/// A `-F` value after `name=`: the value (unquoted), and the `;key=value`
/// parameters after it, keys lowercased.
fn form_value(content: &str) -> Result<(String, Vec<(String, String)>), String> {
    let (value, mut rest) = if let Some(quoted) = content.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("the value's opening `\"` is never closed".into()),
                Some((i, '"')) => break i + 1,
                Some((_, '\\')) => match chars.next() {
                    Some((_, c)) => value.push(c),
                    None => return Err("the value ends in `\\`".into()),
                },
                Some((_, c)) => value.push(c),
            }
        };
        (value, &quoted[end..])
    } else {
        let end = param_start(content).unwrap_or(content.len());
        (content[..end].to_string(), &content[end..])
    };
    let mut params = Vec::new();
    while !rest.is_empty() {
        let Some(after) = rest.strip_prefix(';') else {
            return Err(format!(
                "`{}` after the quoted value is not `;key=value`",
                shown(rest)
            ));
        };
        let after = after.trim_start();
        let Some((key, tail)) = after.split_once('=') else {
            return Err(format!("`;{}` is not `;key=value`", shown(after)));
        };
        let (v, next) = match tail.strip_prefix('"') {
            Some(q) => match q.find('"') {
                Some(i) => (q[..i].to_string(), &q[i + 1..]),
                None => return Err(format!("`;{key}=` opens a `\"` it never closes")),
            },
            None => {
                let end = param_start(tail).unwrap_or(tail.len());
                (tail[..end].to_string(), &tail[end..])
            }
        };
        params.push((key.trim().to_ascii_lowercase(), v));
        rest = next;
    }
    Ok((value, params))
}

/// Where the first `;type=`, `;filename=`, `;headers=` or `;encoder=` of a
/// `-F` value starts: a `;` before anything else is part of the value.
fn param_start(text: &str) -> Option<usize> {
    text.match_indices(';').map(|(i, _)| i).find(|&i| {
        let after = text[i + 1..].trim_start().to_ascii_lowercase();
        ["type=", "filename=", "headers=", "encoder="]
            .iter()
            .any(|k| after.starts_with(k))
    })
}

/// The fields of a form body, when pytopus's `form:` would send the same
/// bytes (same encoding, same order); else `None` and the body stays text.
fn form_fields(text: &str) -> Option<indexmap::IndexMap<String, Vec<String>>> {
    if text.is_empty() {
        return None;
    }
    let mut fields: indexmap::IndexMap<String, Vec<String>> = indexmap::IndexMap::new();
    for (k, v) in url::form_urlencoded::parse(text.as_bytes()) {
        fields
            .entry(k.into_owned())
            .or_default()
            .push(v.into_owned());
    }
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, values) in &fields {
        for v in values {
            ser.append_pair(k, v);
        }
    }
    (ser.finish() == text).then_some(fields)
}

/// A form's fields as `form:` (a field given twice: a list), credential
/// fields as secrets.
fn form_map(
    fields: indexmap::IndexMap<String, Vec<String>>,
    whose: &str,
    templated: bool,
    secrets: &mut Secrets,
) -> Value {
    let mut map = Map::new();
    for (k, values) in fields {
        let mut values: Vec<Value> = values
            .into_iter()
            .map(|v| {
                if secret_field(&k) && !v.is_empty() {
                    Value::String(secrets.credential(
                        templated,
                        &k,
                        &format!("{whose} form field `{k}`"),
                        &v,
                    ))
                } else {
                    Value::String(as_template(templated, &v))
                }
            })
            .collect();
        let v = if values.len() == 1 {
            values.remove(0)
        } else {
            Value::Array(values)
        };
        map.insert(k, v);
    }
    Value::Object(map)
}

/// A JSON body with the values of credential-named string fields replaced
/// by secrets.
fn secret_json(v: Value, whose: &str, templated: bool, secrets: &mut Secrets) -> Value {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_and_their_parameters() {
        let p = |t: &str| form_value(t).unwrap();
        assert_eq!(p("plain"), ("plain".into(), vec![]));
        assert_eq!(p("a;b"), ("a;b".into(), vec![]));
        assert_eq!(
            p("@f.png;type=image/png;filename=x.png"),
            (
                "@f.png".into(),
                vec![
                    ("type".into(), "image/png".into()),
                    ("filename".into(), "x.png".into())
                ]
            )
        );
        assert_eq!(
            p(r#""a;type=b \"q\"";FileName="n;1""#),
            (
                r#"a;type=b "q""#.into(),
                vec![("filename".into(), "n;1".into())]
            )
        );
        assert!(form_value("\"open").is_err());
        assert!(form_value("\"x\"junk").is_err());
        assert!(form_value("x;type=\"open").is_err());
    }

    #[test]
    fn templates_and_names() {
        assert_eq!(
            literal("a {{b}} {% c %} {#d} {x}"),
            "a {{ '{' }}{b}} {{ '{' }}% c %} {{ '{' }}#d} {x}"
        );
        assert_eq!(
            step_name(
                "POST",
                url::Url::parse("https://x/v1/user-groups/42").ok().as_ref()
            ),
            "PostUserGroups"
        );
        assert_eq!(
            step_name("GET", url::Url::parse("https://x/").ok().as_ref()),
            "Get"
        );
        assert_eq!(
            secret_base(url::Url::parse("https://api.github.com/").ok().as_ref()),
            "github"
        );
        assert_eq!(
            secret_base(url::Url::parse("https://shop.example.co.uk/").ok().as_ref()),
            "example"
        );
        assert_eq!(
            secret_base(url::Url::parse("http://127.0.0.1:8/").ok().as_ref()),
            "api"
        );
        assert_eq!(
            split_cert(r"C:\certs\me.pem:pw"),
            (r"C:\certs\me.pem".into(), Some("pw".into()))
        );
        assert_eq!(split_cert(r"a\:b.pem"), ("a:b.pem".into(), None));
    }

    #[test]
    fn forms_are_kept_only_when_they_encode_the_same() {
        assert!(form_fields("a=1&b=x+y&a=2").is_none());
        assert!(form_fields("a=1&a=2&b=x+y").is_some());
        assert!(form_fields("a=%2a").is_none());
        assert!(form_fields("flag").is_none());
    }
}
