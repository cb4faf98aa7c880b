//! `pytopus import har`: a browser's capture (HAR 1.2, as Chrome, Firefox
//! and Safari save it) as a chain, one step per request kept.
//!
//! What is kept: requests to the hosts asked for (all by default), without
//! static assets, CORS preflights, and the requests a redirect made (the
//! chain follows redirects itself). Each request becomes a step through the
//! same builder as `import curl` (credentials become secrets), minus what a
//! browser adds by itself (`sec-*`, `User-Agent`, conditional headers…)
//! and the cookies an earlier response set (the run's cookie jar sends
//! them).
//!
//! The data flow: a value an earlier response's JSON body gave (a token,
//! an id, a next-page URL) that a later request sends — in its URL, a
//! header or its body — is read from that step (`{{ Login.token }}`)
//! instead of being the recorded text. Each link is said on stderr.

use std::collections::{BTreeSet, HashMap};

use serde::Deserialize;
use serde_json::{Map, Value};

use super::request::{self, ImportError, Imported, LINK_CLOSE, LINK_OPEN, Request, Secrets, fail};

/// Which requests of the capture become steps.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Hosts to keep (a host, or any of its subdomains); empty: all.
    pub hosts: Vec<String>,
    /// Methods to keep (any case); empty: all but `OPTIONS` preflights.
    pub methods: Vec<String>,
    /// Keep scripts, styles, images, fonts and media too.
    pub include_static: bool,
}

#[derive(Deserialize)]
struct Har {
    log: Log,
}

#[derive(Deserialize)]
struct Log {
    #[serde(default)]
    entries: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    request: HarRequest,
    #[serde(default)]
    response: Option<HarResponse>,
    #[serde(default, rename = "_resourceType")]
    resource_type: Option<String>,
}

#[derive(Deserialize)]
struct HarRequest {
    method: String,
    url: String,
    #[serde(default)]
    headers: Vec<NameValue>,
    #[serde(default, rename = "postData")]
    post_data: Option<PostData>,
}

#[derive(Deserialize)]
struct NameValue {
    name: String,
    #[serde(default)]
    value: String,
}

#[derive(Deserialize)]
struct PostData {
    #[serde(default, rename = "mimeType")]
    mime_type: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    params: Vec<Param>,
}

#[derive(Deserialize)]
struct Param {
    name: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default, rename = "fileName")]
    file_name: Option<String>,
}

#[derive(Deserialize)]
struct HarResponse {
    #[serde(default)]
    status: i64,
    #[serde(default)]
    headers: Vec<NameValue>,
    #[serde(default)]
    content: Option<Content>,
    #[serde(default, rename = "redirectURL")]
    redirect_url: String,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default, rename = "mimeType")]
    mime_type: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    encoding: Option<String>,
}

/// Headers a browser adds by itself, which a chain leaves to pytopus (or
/// which would make a replay differ: conditional requests answer 304).
fn browser_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with(':')
        || n.starts_with("sec-")
        || matches!(
            n.as_str(),
            "host"
                | "connection"
                | "content-length"
                | "accept-encoding"
                | "accept-language"
                | "user-agent"
                | "upgrade-insecure-requests"
                | "priority"
                | "te"
                | "keep-alive"
                | "dnt"
                | "pragma"
                | "cache-control"
                | "referer"
                | "origin"
                | "if-none-match"
                | "if-modified-since"
                | "if-match"
                | "if-unmodified-since"
                | "purpose"
                | "x-client-data"
        )
}

/// Scripts, styles, images, fonts, media: by the browser's resource type,
/// else the response's type, else the URL's extension.
fn static_asset(e: &Entry, url: &url::Url) -> bool {
    if let Some(t) = &e.resource_type {
        return matches!(
            t.to_ascii_lowercase().as_str(),
            "script" | "stylesheet" | "image" | "font" | "media" | "manifest" | "texttrack"
        );
    }
    let mime = e
        .response
        .as_ref()
        .and_then(|r| r.content.as_ref())
        .map(|c| c.mime_type.to_ascii_lowercase())
        .unwrap_or_default();
    if mime.starts_with("image/")
        || mime.starts_with("font/")
        || mime.starts_with("video/")
        || mime.starts_with("audio/")
        || mime.starts_with("text/css")
        || mime.contains("javascript")
    {
        return true;
    }
    let path = url.path().to_ascii_lowercase();
    [
        ".js", ".mjs", ".css", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".ico", ".woff",
        ".woff2", ".ttf", ".otf", ".map", ".mp4", ".webm", ".mp3",
    ]
    .iter()
    .any(|x| path.ends_with(x))
}

fn host_kept(filter: &Filter, url: &url::Url) -> bool {
    if filter.hosts.is_empty() {
        return true;
    }
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    filter.hosts.iter().any(|h| {
        let h = h.trim().trim_start_matches('.').to_ascii_lowercase();
        host == h || host.ends_with(&format!(".{h}"))
    })
}

/// The values worth linking in a JSON body: texts of 8 characters or more
/// without spaces, with a digit or 16 long (ids, tokens, URLs), and whole
/// numbers of 4 digits or more; each with the expression reading it.
fn harvest(v: &Value, expr: &str, out: &mut Vec<(Value, String)>, depth: usize) {
    if depth > 32 {
        return;
    }
    match v {
        Value::String(s)
            if s.chars().count() >= 8
                && !s.contains(char::is_whitespace)
                && (s.contains(|c: char| c.is_ascii_digit()) || s.chars().count() >= 16) =>
        {
            out.push((v.clone(), expr.to_string()));
        }
        Value::Number(n) if n.as_u64().is_some_and(|n| n >= 1000) => {
            out.push((v.clone(), expr.to_string()));
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate().take(1000) {
                harvest(item, &format!("{expr}[{i}]"), out, depth + 1);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let next = if is_identifier(k) {
                    format!("{expr}.{k}")
                } else {
                    format!("{expr}[{}]", serde_json::to_string(k).unwrap_or_default())
                };
                harvest(item, &next, out, depth + 1);
            }
        }
        _ => {}
    }
}

fn is_identifier(k: &str) -> bool {
    k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// What the responses so far gave, to the latest expression reading each.
#[derive(Default)]
struct Known {
    /// Texts without a [`boundary`] character (ids, tokens): found as
    /// whole tokens of a request's text, one lookup each.
    tokens: HashMap<String, usize>,
    /// Texts with one (URLs, base64): looked for anywhere, longest first;
    /// the most recent [`COMPLEX`] only.
    complex: Vec<(String, usize)>,
    /// Texts added to `complex` since it was last put in order.
    unsorted: bool,
    numbers: HashMap<u64, usize>,
}

/// The most texts with boundary characters remembered.
const COMPLEX: usize = 2_000;

/// Where a token of a request's text ends: what separates values in URLs,
/// headers, JSON and forms.
fn boundary(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '"' | '\''
                | '/'
                | '?'
                | '&'
                | '='
                | ','
                | ';'
                | ':'
                | '{'
                | '}'
                | '['
                | ']'
                | '('
                | ')'
                | '<'
                | '>'
                | '#'
                | '\\'
        )
}

impl Known {
    fn add_text(&mut self, text: String, n: usize) {
        if text.contains(boundary) {
            self.complex.push((text, n));
            self.unsorted = true;
        } else {
            self.tokens.insert(text, n);
        }
    }

    /// `complex` ready to look through: each text once, with its latest
    /// expression, the most recent [`COMPLEX`], longest first (a URL is
    /// linked before an id inside it).
    fn settle(&mut self) {
        if !self.unsorted {
            return;
        }
        self.unsorted = false;
        let mut latest: HashMap<&str, usize> = HashMap::new();
        for (t, n) in &self.complex {
            latest.insert(t, *n);
        }
        let mut kept: Vec<(String, usize)> = latest
            .into_iter()
            .map(|(t, n)| (t.to_string(), n))
            .collect();
        kept.sort_by_key(|k| std::cmp::Reverse(k.1));
        kept.truncate(COMPLEX);
        kept.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
        self.complex = kept;
    }
}

/// The links found in one request, as markers in its text.
struct Linker<'a> {
    known: &'a Known,
    /// Which expressions this request used, for the notes.
    used: BTreeSet<usize>,
}

impl Linker<'_> {
    fn marker(&mut self, n: usize) -> String {
        self.used.insert(n);
        format!("{LINK_OPEN}{n}{LINK_CLOSE}")
    }

    /// Every known text in `text` replaced by its marker: the texts with
    /// boundary characters first, then each token that is a known one.
    fn text(&mut self, text: &str) -> String {
        let mut whole = text.to_string();
        for (value, n) in &self.known.complex {
            if whole.contains(value.as_str()) {
                let m = self.marker(*n);
                whole = whole.replace(value.as_str(), &m);
            }
        }
        let mut out = String::with_capacity(whole.len());
        let mut start = 0;
        for (i, c) in whole
            .char_indices()
            .chain(std::iter::once((whole.len(), ' ')))
        {
            if !boundary(c) {
                continue;
            }
            let token = &whole[start..i];
            match self.known.tokens.get(token) {
                Some(&n) if token.len() >= 8 => {
                    let m = self.marker(n);
                    out.push_str(&m);
                }
                _ => out.push_str(token),
            }
            if i < whole.len() {
                out.push(c);
            }
            start = i + c.len_utf8();
        }
        out
    }

    /// A URL: known texts anywhere, known numbers as whole path segments
    /// or query values.
    fn url(&mut self, url: &str) -> String {
        let text = self.text(url);
        let (before_query, query) = match text.split_once('?') {
            Some((b, q)) => (b.to_string(), Some(q.to_string())),
            None => (text.clone(), None),
        };
        let path: Vec<String> = before_query
            .split('/')
            .map(|seg| self.number_text(seg))
            .collect();
        let mut out = path.join("/");
        if let Some(q) = query {
            let pairs: Vec<String> = q
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, v)) => format!("{k}={}", self.number_text(v)),
                    None => pair.to_string(),
                })
                .collect();
            out.push('?');
            out.push_str(&pairs.join("&"));
        }
        out
    }

    fn number_text(&mut self, text: &str) -> String {
        match text
            .parse::<u64>()
            .ok()
            .and_then(|n| self.known.numbers.get(&n))
        {
            Some(&n) if !text.starts_with('0') => self.marker(n),
            _ => text.to_string(),
        }
    }

    /// A JSON body: texts inside its strings, numbers as whole values.
    fn json(&mut self, v: Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.text(&s)),
            Value::Number(n) => match n.as_u64().and_then(|x| self.known.numbers.get(&x)) {
                Some(&i) => Value::String(self.marker(i)),
                None => Value::Number(n),
            },
            Value::Array(a) => Value::Array(a.into_iter().map(|x| self.json(x)).collect()),
            Value::Object(m) => {
                Value::Object(m.into_iter().map(|(k, x)| (k, self.json(x))).collect())
            }
            other => other,
        }
    }
}

/// The body of a response as JSON, when it is.
fn response_json(r: &HarResponse) -> Option<Value> {
    let c = r.content.as_ref()?;
    let text = c.text.as_ref()?;
    let bytes = if c.encoding.as_deref() == Some("base64") {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok()?
    } else {
        text.as_bytes().to_vec()
    };
    let looks = c.mime_type.to_ascii_lowercase().contains("json")
        || bytes
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| matches!(b, b'{' | b'['));
    if !looks {
        return None;
    }
    serde_json::from_slice(&bytes).ok()
}

/// The cookies a response sets: name → value.
fn set_cookies(r: &HarResponse) -> Vec<(String, String)> {
    r.headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("set-cookie"))
        .flat_map(|h| h.value.split('\n').map(str::to_string).collect::<Vec<_>>())
        .filter_map(|line| {
            let first = line.split(';').next()?.trim().to_string();
            let (n, v) = first.split_once('=')?;
            Some((n.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

/// Imports the capture `text` with `filter`.
pub fn import(text: &str, filter: &Filter) -> Result<Imported, ImportError> {
    let har: Har = serde_json::from_str(text).map_err(|e| {
        ImportError(format!(
            "not a HAR file (a browser's \"Save all as HAR\"): {e}"
        ))
    })?;
    let mut notes = Vec::new();
    let mut skipped: Vec<(&str, usize)> = vec![
        (
            "static assets (scripts, styles, images, fonts, media; --include-static keeps them)",
            0,
        ),
        ("CORS preflights (OPTIONS)", 0),
        ("requests to other hosts (--host)", 0),
        ("requests of other methods (--method)", 0),
        (
            "requests a redirect made (the chain follows redirects itself)",
            0,
        ),
        ("requests that are not http or https", 0),
    ];
    let mut kept: Vec<(&Entry, url::Url)> = Vec::new();
    let mut redirect_to: Option<String> = None;
    for e in &har.log.entries {
        let Ok(url) = url::Url::parse(&e.request.url) else {
            skipped[5].1 += 1;
            continue;
        };
        if !matches!(url.scheme(), "http" | "https") {
            skipped[5].1 += 1;
            continue;
        }
        let followed = redirect_to.take();
        if followed.as_deref() == Some(url.as_str()) && e.request.method.eq_ignore_ascii_case("GET")
        {
            skipped[4].1 += 1;
            continue;
        }
        let method = e.request.method.to_ascii_uppercase();
        let preflight = method == "OPTIONS"
            && e.request
                .headers
                .iter()
                .any(|h| h.name.eq_ignore_ascii_case("access-control-request-method"));
        if preflight && filter.methods.is_empty() {
            skipped[1].1 += 1;
            continue;
        }
        if !filter.methods.is_empty()
            && !filter
                .methods
                .iter()
                .any(|m| m.eq_ignore_ascii_case(&method))
        {
            skipped[3].1 += 1;
            continue;
        }
        if !host_kept(filter, &url) {
            skipped[2].1 += 1;
            continue;
        }
        if !filter.include_static && static_asset(e, &url) {
            skipped[0].1 += 1;
            continue;
        }
        if let Some(r) = &e.response
            && (300..400).contains(&r.status)
            && !r.redirect_url.is_empty()
        {
            redirect_to = url.join(&r.redirect_url).ok().map(|u| u.to_string());
        }
        kept.push((e, url));
    }
    if kept.is_empty() {
        return fail(format!(
            "no request of the capture is left to import ({} in all{})",
            har.log.entries.len(),
            skipped
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(what, n)| format!("; {n} {what}"))
                .collect::<String>()
        ));
    }

    // The origin most requests go to becomes `base_url`.
    let mut origins: Vec<(String, usize)> = Vec::new();
    for (_, url) in &kept {
        let o = url.origin().ascii_serialization();
        match origins.iter_mut().find(|(x, _)| *x == o) {
            Some((_, n)) => *n += 1,
            None => origins.push((o, 1)),
        }
    }
    let base = origins
        .iter()
        .max_by_key(|(_, n)| *n)
        .map(|(o, _)| o.clone())
        .unwrap_or_default();

    let mut secrets = Secrets::new("the capture");
    let mut steps = Vec::new();
    let mut names: BTreeSet<String> = BTreeSet::new();
    let mut expressions: Vec<String> = Vec::new();
    // Which step gave each expression's value.
    let mut given: Vec<String> = Vec::new();
    // Known values: texts (longest first) and numbers, to the latest
    // expression reading them.
    let mut known = Known::default();
    let mut jar: HashMap<String, String> = HashMap::new();

    for (e, url) in &kept {
        let method = e.request.method.to_ascii_uppercase();
        known.settle();
        let mut linker = Linker {
            known: &known,
            used: BTreeSet::new(),
        };
        // The builder reads the URL as recorded (a link may stand for all
        // of it); the step sends it linked, and is named without the ids
        // it links (`GetUsers`, not `GetUsr12345678`).
        let linked_url = linker.url(url.as_str());
        let unlinked: Vec<&str> = linked_url
            .split('?')
            .next()
            .unwrap_or_default()
            .split('/')
            .filter(|segment| !segment.contains(LINK_OPEN))
            .collect();
        let named = url::Url::parse(&unlinked.join("/")).unwrap_or_else(|_| url.clone());
        let mut name = request::step_name(&method, Some(&named));
        if names.contains(&name) {
            let mut n = 2;
            while names.contains(&format!("{name}{n}")) {
                n += 1;
            }
            name = format!("{name}{n}");
        }
        names.insert(name.clone());

        let mut req = Request {
            url: Some(url.to_string()),
            method: Some(method.clone()),
            ..Request::default()
        };
        let mut from_jar = Vec::new();
        for h in &e.request.headers {
            if browser_header(&h.name) {
                continue;
            }
            if h.name.eq_ignore_ascii_case("cookie") {
                // Cookies an earlier response set: the jar sends them.
                let own: Vec<String> = h
                    .value
                    .split(';')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .filter(|p| {
                        let (n, v) = p.split_once('=').unwrap_or((p, ""));
                        let set = jar.get(n.trim()).is_some_and(|x| x == v.trim());
                        if set {
                            from_jar.push(n.trim().to_string());
                        }
                        !set
                    })
                    .map(str::to_string)
                    .collect();
                if !own.is_empty() {
                    req.cookies.push(linker.text(&own.join("; ")));
                }
                continue;
            }
            req.headers.push((h.name.clone(), linker.text(&h.value)));
        }
        if let Some(pd) = &e.request.post_data {
            let body = match &pd.text {
                Some(t) => Some(t.clone()),
                None if !pd.params.is_empty() => {
                    if pd.params.iter().any(|p| p.file_name.is_some()) {
                        notes.push(format!(
                            "{name}: the capture holds no file contents for its multipart upload: the step sends the fields as a form; write its `multipart:` by hand"
                        ));
                    }
                    Some(
                        url::form_urlencoded::Serializer::new(String::new())
                            .extend_pairs(
                                pd.params
                                    .iter()
                                    .map(|p| (p.name.as_str(), p.value.as_deref().unwrap_or(""))),
                            )
                            .finish(),
                    )
                }
                None => None,
            };
            if let Some(body) = body {
                let json = serde_json::from_str::<Value>(&body)
                    .ok()
                    .filter(|v| v.is_object() || v.is_array());
                let linked = match json {
                    Some(v) => serde_json::to_string(&linker.json(v)).unwrap_or(body),
                    None => linker.text(&body),
                };
                req.data.push((linked, false));
                let has_type = req
                    .headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
                if !has_type && !pd.mime_type.is_empty() {
                    req.headers
                        .push(("Content-Type".into(), pd.mime_type.clone()));
                }
            }
        }

        let whose = format!("{name}'s");
        let mut step = request::step(req, Some(&name), &whose, &mut secrets)?;
        if let Value::Object(map) = &mut step {
            map.insert("url".into(), Value::String(request::literal(&linked_url)));
        }
        let mut step = request::links(step, &expressions);
        if let Value::Object(map) = &mut step {
            if let Some(Value::String(u)) = map.get_mut("url")
                && !base.is_empty()
                && let Some(rest) = u.strip_prefix(&base)
                && (rest.is_empty() || rest.starts_with(['/', '?', '#']))
            {
                *u = format!("{{{{ base_url }}}}{rest}");
            }
            if let Some(r) = &e.response {
                let redirected = (300..400).contains(&r.status) && !r.redirect_url.is_empty();
                if !(200..300).contains(&r.status) && !redirected && r.status > 0 {
                    let mut expect = Map::new();
                    expect.insert("status".into(), Value::from(r.status));
                    map.insert("expect".into(), Value::Object(expect));
                    notes.push(format!(
                        "{name}: the capture got {} here: the step expects it",
                        r.status
                    ));
                }
            }
        }
        if !linker.used.is_empty() {
            let reads: Vec<String> = linker
                .used
                .iter()
                .map(|n| format!("`{}`", expressions[*n]))
                .collect();
            let from: BTreeSet<&str> = linker.used.iter().map(|n| given[*n].as_str()).collect();
            notes.push(format!(
                "{name} reads {} (the capture sent what {} answered)",
                reads.join(", "),
                from.into_iter().collect::<Vec<_>>().join(" and ")
            ));
        }
        if !from_jar.is_empty() {
            notes.push(format!(
                "{name}: cookie{} {} left to the run's cookie jar (an earlier response set {})",
                if from_jar.len() > 1 { "s" } else { "" },
                from_jar
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if from_jar.len() > 1 { "them" } else { "it" }
            ));
        }
        steps.push(step);

        // What this response gives later requests.
        if let Some(r) = &e.response {
            for (n, v) in set_cookies(r) {
                jar.insert(n, v);
            }
            if let Some(body) = response_json(r) {
                let mut found = Vec::new();
                harvest(&body, &name, &mut found, 0);
                for (value, expression) in found.into_iter().take(10_000) {
                    let i = expressions.len();
                    expressions.push(expression);
                    given.push(name.clone());
                    match value {
                        Value::String(s) => known.add_text(s, i),
                        Value::Number(n) => {
                            if let Some(n) = n.as_u64() {
                                known.numbers.insert(n, i);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    for (what, n) in skipped {
        if n > 0 {
            notes.push(format!("left out: {n} {what}"));
        }
    }

    let mut chain = Map::new();
    if !base.is_empty() {
        let mut vars = Map::new();
        vars.insert("base_url".into(), Value::String(base.clone()));
        chain.insert("vars".into(), Value::Object(vars));
    }
    chain.insert("steps".into(), Value::Array(steps));
    let mut imported = request::yaml(Value::Object(chain), secrets)?;
    // Which secrets to store first, then what was linked and left out.
    imported.notes.extend(notes);
    if imported.yaml.len() > 64 << 20 {
        return fail(format!(
            "the chain would be {} MiB: import fewer requests (--host, --method)",
            imported.yaml.len() >> 20
        ));
    }
    Ok(imported)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_worth_linking() {
        let mut out = Vec::new();
        harvest(
            &json!({"token": "abc123def", "n": 42, "id": 123456, "short": "a1",
                    "words": "two words here 1", "items": [{"sku-id": "SKU-0001-X"}]}),
            "Login",
            &mut out,
            0,
        );
        let exprs: Vec<&str> = out.iter().map(|(_, e)| e.as_str()).collect();
        assert_eq!(
            exprs,
            ["Login.token", "Login.id", "Login.items[0][\"sku-id\"]"]
        );
    }

    #[test]
    fn numbers_link_as_whole_segments_only() {
        let mut known = Known::default();
        known.add_text("tok_12345678".into(), 0);
        known.numbers.insert(4711, 1);
        known.add_text("https://x.test/next?page=2".into(), 2);
        known.settle();
        let mut l = Linker {
            known: &known,
            used: BTreeSet::new(),
        };
        assert_eq!(
            l.text("Bearer tok_12345678, xtok_12345678 go https://x.test/next?page=2"),
            format!("Bearer {LINK_OPEN}0{LINK_CLOSE}, xtok_12345678 go {LINK_OPEN}2{LINK_CLOSE}")
        );
        assert_eq!(
            l.url("https://x.test/a/4711/b47110?id=4711&t=tok_12345678&v=04711"),
            format!(
                "https://x.test/a/{LINK_OPEN}1{LINK_CLOSE}/b47110?id={LINK_OPEN}1{LINK_CLOSE}&t={LINK_OPEN}0{LINK_CLOSE}&v=04711"
            )
        );
        assert_eq!(l.used.len(), 3);
    }

    #[test]
    fn not_a_har_and_nothing_left_are_errors() {
        assert!(
            import("{}", &Filter::default())
                .unwrap_err()
                .0
                .contains("not a HAR")
        );
        let only_css = json!({"log": {"entries": [{"request": {"method": "GET", "url": "https://x.test/a.css"}}]}});
        let e = import(&only_css.to_string(), &Filter::default())
            .unwrap_err()
            .0;
        assert!(e.contains("no request of the capture is left"), "{e}");
        assert!(e.contains("1 static assets"), "{e}");
    }
}
