//! One request, as an importer read it, becomes a step: what it sends is
//! kept — the method, URL, headers, and the body (JSON as a YAML map, a
//! form as `form:` when pytopus would encode it to the same bytes, a
//! multipart form as `multipart:`, anything else as text with its content
//! type). Credentials never reach the output: a user and password, an
//! `Authorization` header, other credential headers, session cookies and
//! password-like fields become `auth:` or `{{ secret('NAME') }}`, and a
//! note says which secret to store. Used by `import curl`, `import har`
//! and `import postman`.

use serde_json::{Map, Value};

use crate::secret::sensitive_header;

mod credentials;
mod forms;
mod text;

pub(crate) use credentials::*;
use forms::*;
pub(crate) use text::*;

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
