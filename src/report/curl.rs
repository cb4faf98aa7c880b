//! `run --curl`: every request as a curl command on stderr — one per
//! request sent (each attempt, poll, page and `for_each` item), or in a dry
//! run one per request rendered — that sends what pytopus sent.
//!
//! Secrets are written as references to their `PYTOPUS_SECRET_*`
//! variables (`-H 'Authorization: Bearer '"$PYTOPUS_SECRET_TOKEN"`), never as
//! values. What pytopus computed from a secret (an OAuth2 token it obtained,
//! a JWT it signed, an encoded secret) has no variable: it is written `***`,
//! as every other output shows it, and a `# note:` line says once what the
//! user must supply. Words are quoted for POSIX shells: single quotes around
//! literal text, double quotes only around a `$VAR` reference.

use std::collections::BTreeSet;

use base64::Engine as _;

use crate::auth::AuthSpec;
use crate::engine::{Event, Observer, StepStatus};
use crate::plan::ValidStep;
use crate::secret::{Redactor, SHORTEST, Secrets, env_var_name, header_value, sensitive_header};
use crate::transport::HttpRequest;

/// Writes each request of a run as a curl command.
pub struct CurlLog {
    redactor: Redactor,
    secrets: Option<Secrets>,
    /// Before each command's title: a `--data` row's `[row 3] `.
    label: String,
    /// The notes already given, each said once.
    said: BTreeSet<String>,
    out: Box<dyn FnMut(&str)>,
}

impl CurlLog {
    /// Writes to stderr.
    pub fn new(redactor: Redactor, secrets: Option<Secrets>, label: &str) -> Self {
        Self::to(redactor, secrets, label, Box::new(super::to_stderr))
    }

    /// Writes to `out` (tests read what it was given).
    pub fn to(
        redactor: Redactor,
        secrets: Option<Secrets>,
        label: &str,
        out: Box<dyn FnMut(&str)>,
    ) -> Self {
        CurlLog {
            redactor,
            secrets,
            label: label.to_string(),
            said: BTreeSet::new(),
            out,
        }
    }

    /// One request: its title, the command, then any note not given yet.
    fn show(&mut self, title: &str, step: &ValidStep, req: &HttpRequest) {
        let refs = Refs::new(self.secrets.as_ref(), &self.redactor);
        let mut w = Words::new(&refs, &self.redactor);
        let command = w.command(req);
        let mut text = format!("# {}{title}\n{command}\n", self.label);
        let mut notes = Vec::new();
        for var in &w.vars {
            notes.push(format!(
                "set {var} to the secret's value before running these commands (pytopus reads it from there too)"
            ));
        }
        if w.masked {
            notes.push(masked_note(step));
        }
        for note in notes {
            if self.said.insert(note.clone()) {
                text.push_str(&format!("# note: {note}\n"));
            }
        }
        (self.out)(&text);
    }

    /// A note given once, outside a command.
    fn note(&mut self, note: String) {
        if self.said.insert(note.clone()) {
            (self.out)(&format!("# note: {note}\n"));
        }
    }
}

/// What to say when part of a command is `***`.
fn masked_note(step: &ValidStep) -> String {
    match step.auth.as_deref() {
        Some(AuthSpec::OAuth2(_)) => "the OAuth2 token pytopus obtained is shown as ***: fetch one and pass it yourself (-H 'Authorization: Bearer TOKEN')".into(),
        Some(AuthSpec::Jwt(_)) => "the JWT pytopus signed is shown as ***: make one and pass it yourself (-H 'Authorization: Bearer JWT')".into(),
        _ => "*** stands for a credential that is not a secret's value as it is (computed from a secret, or written in the chain or sent back by a server): put it in yourself".into(),
    }
}

impl Observer for CurlLog {
    fn on_event(&mut self, event: &Event<'_>) {
        match event {
            Event::Exchange {
                step,
                request,
                item,
                attempt,
                response,
                ..
            } => {
                let mut title = step.name.clone();
                if let Some(i) = item {
                    title.push_str(&format!(" [{i}]"));
                }
                if *attempt > 1 {
                    title.push_str(&format!(" (attempt {attempt})"));
                }
                self.show(&title, step, request);
                if let Ok(r) = response
                    && r.headers.get("set-cookie").is_some()
                {
                    self.note("a server set cookies during this run: pytopus sends them back, these commands do not (use curl's -b/-c to keep them)".into());
                }
            }
            // A dry run sends nothing: the requests it rendered.
            Event::StepFinished { step, outcome, .. } => {
                if outcome.status == StepStatus::DryRun {
                    let prefix = if outcome.teardown { "finally " } else { "" };
                    if outcome.dry_requests.is_empty() {
                        if let Some(r) = &outcome.request {
                            self.show(&format!("{prefix}{}", step.name), step, r);
                        }
                    } else {
                        for (what, r) in &outcome.dry_requests {
                            self.show(&format!("{prefix}{}{what}", step.name), step, r);
                        }
                    }
                } else if step.sub.is_some() && outcome.status != StepStatus::Skipped {
                    self.note(format!(
                        "the requests of the sub-chain step `{}` are not shown (run its chain with --curl)",
                        step.name
                    ));
                }
            }
            _ => {}
        }
    }
}

/// A part of a word: text as it is, or a reference to a variable.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Var(String),
}

/// The secrets a command refers to by variable: each value with its
/// variable, longest value first (a secret inside another is not split).
struct Refs(Vec<(String, String)>);

impl Refs {
    fn new(secrets: Option<&Secrets>, redactor: &Redactor) -> Refs {
        let mut pairs: Vec<(String, String)> = secrets
            .map(|s| {
                s.found()
                    .into_iter()
                    .map(|(name, v)| (v.expose().to_string(), env_var_name(&name)))
                    .collect()
            })
            .unwrap_or_default();
        // `{{ env.PYTOPUS_SECRET_X }}` reads a secret without `secret()`.
        for (name, value) in std::env::vars_os() {
            let (Some(name), Some(value)) = (name.to_str(), value.to_str()) else {
                continue;
            };
            if name.starts_with("PYTOPUS_SECRET_")
                && redactor.contains_secret(value)
                && !pairs.iter().any(|(v, _)| v == value)
            {
                pairs.push((value.to_string(), name.to_string()));
            }
        }
        // Too short to redact is too short to look for.
        pairs.retain(|(v, _)| v.len() >= SHORTEST);
        pairs.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
        Refs(pairs)
    }

    /// `text` cut where a secret's value is, or where a dry run left
    /// `{{ secret('NAME') }}` unrendered (the secret was not at hand).
    fn pieces(&self, text: &str) -> Vec<Piece> {
        let mut out = Vec::new();
        // Where each value is next, looked for again only once passed: a
        // large body is read once per secret, not once per match.
        let mut next: Vec<Option<usize>> =
            self.0.iter().map(|(v, _)| text.find(v.as_str())).collect();
        let mut call = next_call(text, 0);
        let mut pos = 0;
        loop {
            for (k, (value, _)) in self.0.iter().enumerate() {
                if next[k].is_some_and(|at| at < pos) {
                    next[k] = text[pos..].find(value.as_str()).map(|i| pos + i);
                }
            }
            if call.as_ref().is_some_and(|(at, _, _)| *at < pos) {
                call = next_call(text, pos);
            }
            // The first match; at the same place the longest value wins
            // (the list is longest first).
            let mut best: Option<(usize, usize, String)> = None;
            for (k, (value, var)) in self.0.iter().enumerate() {
                if let Some(at) = next[k]
                    && best.as_ref().is_none_or(|(b, _, _)| at < *b)
                {
                    best = Some((at, value.len(), var.clone()));
                }
            }
            if let Some((at, len, name)) = &call
                && best.as_ref().is_none_or(|(b, _, _)| at < b)
            {
                best = Some((*at, *len, env_var_name(name)));
            }
            match best {
                Some((at, len, var)) => {
                    if at > pos {
                        out.push(Piece::Text(text[pos..at].to_string()));
                    }
                    out.push(Piece::Var(var));
                    pos = at + len;
                }
                None => {
                    if pos < text.len() {
                        out.push(Piece::Text(text[pos..].to_string()));
                    }
                    return out;
                }
            }
        }
    }
}

/// The next `{{ secret('NAME') }}` from `from` on: where, how long, the name.
fn next_call(text: &str, from: usize) -> Option<(usize, usize, String)> {
    let mut from = from;
    while let Some(i) = text[from..].find("{{") {
        let at = from + i;
        if let Some((len, name)) = secret_call(&text[at..]) {
            return Some((at, len, name));
        }
        from = at + 2;
    }
    None
}

/// `{{ secret('NAME') }}` at the start of `s`: its length and the name.
fn secret_call(s: &str) -> Option<(usize, String)> {
    let after = s.strip_prefix("{{")?;
    let t = after.trim_start();
    let t = t.strip_prefix("secret")?.trim_start().strip_prefix('(')?;
    let t = t.trim_start();
    let quote = t.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let t = &t[1..];
    let end = t.find(quote)?;
    let name = &t[..end];
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return None;
    }
    let t = t[end + 1..].trim_start().strip_prefix(')')?.trim_start();
    let t = t.strip_prefix("}}")?;
    Some((s.len() - t.len(), name.to_string()))
}

/// Builds one command: the words, what they refer to, whether anything
/// had to be written `***`.
struct Words<'a> {
    refs: &'a Refs,
    redactor: &'a Redactor,
    /// The variables the command reads.
    vars: BTreeSet<String>,
    /// Something is `***`.
    masked: bool,
}

impl<'a> Words<'a> {
    fn new(refs: &'a Refs, redactor: &'a Redactor) -> Self {
        Words {
            refs,
            redactor,
            vars: BTreeSet::new(),
            masked: false,
        }
    }

    /// `text` in pieces, each literal one redacted.
    fn pieces(&mut self, text: &str) -> Vec<Piece> {
        self.refs
            .pieces(text)
            .into_iter()
            .map(|p| match p {
                Piece::Text(t) => {
                    let r = self.redactor.redact(&t);
                    if r != t {
                        self.masked = true;
                    }
                    Piece::Text(r)
                }
                var => var,
            })
            .collect()
    }

    /// The pieces as one shell word.
    fn word(&mut self, pieces: &[Piece]) -> String {
        let mut out = String::new();
        let mut open = false;
        for p in pieces {
            match p {
                Piece::Text(t) if t.is_empty() => {}
                Piece::Text(t) => {
                    if !open {
                        out.push('\'');
                    }
                    out.push_str(&t.replace('\'', r"'\''"));
                    open = true;
                }
                Piece::Var(v) => {
                    if open {
                        out.push('\'');
                        open = false;
                    }
                    self.vars.insert(v.clone());
                    out.push_str(&format!("\"${v}\""));
                }
            }
        }
        if open {
            out.push('\'');
        }
        if out.is_empty() {
            out.push_str("''");
        }
        out
    }

    fn command(&mut self, req: &HttpRequest) -> String {
        use crate::transport::Body;
        use crate::transport::upload::PartData;
        let mut args: Vec<String> = Vec::new();
        let body = match &req.body {
            Some(Body::Bytes(b)) => Some(b.as_slice()),
            _ => None,
        };
        let streamed = matches!(req.body, Some(Body::File(_) | Body::Multipart(_)));
        let multipart = matches!(req.body, Some(Body::Multipart(_)));
        let has = |name: &str| {
            req.headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case(name))
        };
        let value = |name: &str| {
            req.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_ascii_lowercase())
        };
        let method = req.method.to_ascii_uppercase();
        // `--json` sets both headers; used only when they are what was sent.
        let json = body.is_some()
            && method == "POST"
            && value("content-type").as_deref() == Some("application/json")
            && value("accept").as_deref() == Some("application/json")
            && body.is_some_and(|b| {
                std::str::from_utf8(b).is_ok_and(|t| plain(t) && !t.starts_with('@'))
            });
        match (method.as_str(), body.is_some() || streamed) {
            ("GET", false) | ("POST", true) => {}
            ("HEAD", false) => args.push("--head".into()),
            (m, _) => args.push(format!("-X {}", self.word(&[Piece::Text(m.to_string())]))),
        }
        let url = self.pieces(&req.url);
        let mut first = self.word(&url);
        // curl reads `[]{}` in a URL as a glob unless told not to.
        if req.url.contains(['[', ']', '{', '}']) {
            args.push("--globoff".into());
        }
        for (name, v) in &req.headers {
            if json
                && (name.eq_ignore_ascii_case("content-type")
                    || name.eq_ignore_ascii_case("accept"))
            {
                continue;
            }
            // curl writes the multipart content type with its own boundary.
            if multipart && name.eq_ignore_ascii_case("content-type") {
                continue;
            }
            args.extend(self.header(name, v));
        }
        match &req.body {
            Some(Body::File(f)) => {
                let path = f.path.display().to_string();
                args.push(format!(
                    "--data-binary {}",
                    self.word(&[Piece::Text(format!("@{path}"))])
                ));
            }
            Some(Body::Multipart(m)) => {
                for part in &m.parts {
                    let mut spec = format!("{}=", part.name);
                    let mut pieces = Vec::new();
                    match &part.data {
                        PartData::File(f) => {
                            spec.push('@');
                            spec.push_str(&f.path.display().to_string());
                            pieces.push(Piece::Text(spec));
                            if let Some(n) = &part.filename {
                                pieces.push(Piece::Text(format!(";filename={n}")));
                            }
                        }
                        PartData::Bytes(b) => {
                            pieces.push(Piece::Text(spec));
                            pieces.extend(self.pieces(&String::from_utf8_lossy(b)));
                        }
                    }
                    let file = matches!(part.data, PartData::File(_));
                    // A text value goes with `--form-string`, which reads no
                    // `@`, `<` or `;type=` in it, unless it has a type.
                    let option = match (&part.content_type, file) {
                        (Some(t), _) => {
                            pieces.push(Piece::Text(format!(";type={t}")));
                            "-F"
                        }
                        (None, true) => "-F",
                        (None, false) => "--form-string",
                    };
                    args.push(format!("{option} {}", self.word(&pieces)));
                }
            }
            _ => {}
        }
        let mut printf = None;
        if let Some(b) = body {
            // curl's `-d` would add a form content type.
            if !has("content-type") {
                args.push("-H 'Content-Type:'".into());
            }
            match std::str::from_utf8(b) {
                Ok(text) if plain(text) => {
                    let pieces = self.pieces(text);
                    // `@` first reads a file with --data-binary: not with --data-raw.
                    let option = match pieces.first() {
                        Some(Piece::Text(t)) if !t.starts_with('@') => {
                            if json {
                                "--json"
                            } else {
                                "--data-binary"
                            }
                        }
                        _ => "--data-raw",
                    };
                    args.push(format!("{option} {}", self.word(&pieces)));
                }
                // Control characters or bytes that are not text: from printf,
                // byte for byte.
                _ => {
                    printf = Some(self.printf(b));
                    args.push("--data-binary @-".into());
                }
            }
        }
        // pytopus always asks for gzip, deflate and br and decodes them.
        args.push("--compressed".into());
        if req.follow_redirects {
            args.push("--location".into());
        }
        if let Some(tls) = &req.tls {
            if !tls.verify {
                args.push("--insecure".into());
            }
            if let Some(ca) = &tls.ca_cert {
                args.push(format!("--cacert {}", self.path(ca)));
            }
            if let Some(cert) = &tls.client_cert {
                args.push(self.cert(cert, tls.password.as_ref().map(|p| p.0.as_str())));
            }
            if let Some(key) = &tls.client_key {
                args.push(format!("--key {}", self.path(key)));
            }
        }
        if first.is_empty() {
            first.push_str("''");
        }
        let mut text = printf.map(|p| format!("{p} | ")).unwrap_or_default();
        text.push_str("curl ");
        text.push_str(&first);
        for a in args {
            text.push_str(" \\\n  ");
            text.push_str(&a);
        }
        text
    }

    /// `-H` for one header, or `-u` for Basic credentials from secrets.
    fn header(&mut self, name: &str, value: &str) -> Vec<String> {
        if name.eq_ignore_ascii_case("authorization")
            && let Some(encoded) = strip_prefix_ci(value, "basic ")
            && let Some(user) = self.basic(encoded.trim())
        {
            return vec![format!("--user {user}")];
        }
        let mut pieces = self.pieces(value);
        if sensitive_header(name) && !credential_shape(&pieces) {
            // Not a secret's value as it is: as every output shows it.
            self.masked = true;
            pieces = vec![Piece::Text(header_value(name, value).into_owned())];
        }
        let empty = pieces
            .iter()
            .all(|p| matches!(p, Piece::Text(t) if t.is_empty()));
        let mut all = vec![Piece::Text(if empty {
            // `-H 'Name:'` would take the header off; `Name;` sends it empty.
            format!("{name};")
        } else {
            format!("{name}: ")
        })];
        if !empty {
            all.extend(pieces);
        }
        vec![format!("-H {}", self.word(&all))]
    }

    /// `USER:PASSWORD` for `--user`, when the password (or the user) is a
    /// secret's value and the rest is plain text.
    fn basic(&mut self, encoded: &str) -> Option<String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let raw = self.refs.pieces(&text);
        let colon_in_text = raw
            .iter()
            .find_map(|p| match p {
                Piece::Text(t) => t.contains(':').then_some(true),
                Piece::Var(_) => Some(false),
            })
            .unwrap_or(false);
        let any_var = raw.iter().any(|p| matches!(p, Piece::Var(_)));
        let clean = raw
            .iter()
            .all(|p| !matches!(p, Piece::Text(t) if self.redactor.redact(t) != *t));
        if !(colon_in_text && any_var && clean) {
            return None;
        }
        Some(self.word(&raw))
    }

    fn path(&mut self, p: &std::path::Path) -> String {
        self.word(&[Piece::Text(p.display().to_string())])
    }

    /// `--cert FILE[:PASSWORD]`, `:` and `\` in the file name escaped as curl reads them.
    fn cert(&mut self, file: &std::path::Path, password: Option<&str>) -> String {
        let name = file
            .display()
            .to_string()
            .replace('\\', r"\\")
            .replace(':', r"\:");
        let mut pieces = vec![Piece::Text(name)];
        let p12 = file
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("p12") || e.eq_ignore_ascii_case("pfx"));
        if let Some(pw) = password.filter(|p| !p.is_empty()) {
            pieces.push(Piece::Text(":".into()));
            match self.refs.pieces(pw).as_slice() {
                [Piece::Var(v)] => pieces.push(Piece::Var(v.clone())),
                _ => {
                    self.masked = true;
                    pieces.push(Piece::Text("***".into()));
                }
            }
        }
        let kind = if p12 { "--cert-type P12 " } else { "" };
        format!("{kind}--cert {}", self.word(&pieces))
    }

    /// `printf 'FORMAT' ARGS` that writes `body` byte for byte: literal
    /// bytes escaped in octal, each secret a `%s` of its variable.
    fn printf(&mut self, body: &[u8]) -> String {
        let pieces = match std::str::from_utf8(body) {
            Ok(text) => self.pieces(text),
            Err(_) => {
                let lossy = String::from_utf8_lossy(body);
                if self.redactor.contains_secret(&lossy) {
                    // Not text, with a secret inside: as other outputs show it.
                    self.masked = true;
                    vec![Piece::Text(self.redactor.redact(&lossy))]
                } else {
                    return format!("printf '{}'", printf_escape(body));
                }
            }
        };
        let mut format = String::new();
        let mut vars = String::new();
        for p in &pieces {
            match p {
                Piece::Text(t) => format.push_str(&printf_escape(t.as_bytes())),
                Piece::Var(v) => {
                    format.push_str("%s");
                    self.vars.insert(v.clone());
                    vars.push_str(&format!(" \"${v}\""));
                }
            }
        }
        format!("printf '{format}'{vars}")
    }
}

/// `bytes` for a single-quoted printf format: printable ASCII as it is
/// (`%` as `%%`, `\` as `\\`, `'` closing and reopening the quotes), a
/// newline as `\n`, every other byte in octal.
fn printf_escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        match b {
            b'\'' => out.push_str(r"'\''"),
            b'%' => out.push_str("%%"),
            b'\\' => out.push_str(r"\\"),
            b'\n' => out.push_str(r"\n"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out
}

/// Text a terminal shows as it is (see [`crate::diagnostic::printable`]):
/// it can go between single quotes.
fn plain(text: &str) -> bool {
    !text
        .chars()
        .any(|c| (c.is_control() && c != '\n' && c != '\t') || matches!(c, '\u{2028}' | '\u{2029}'))
}

fn strip_prefix_ci<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    text.get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(prefix))
        .map(|_| &text[prefix.len()..])
}

/// A sensitive header's value that is made of secrets' values and only the
/// syntax around them: a scheme (`Bearer `) before the first, `name=` and
/// `; ` between cookies. Anything else literal in it may be a credential.
fn credential_shape(pieces: &[Piece]) -> bool {
    if !pieces.iter().any(|p| matches!(p, Piece::Var(_))) {
        return false;
    }
    let token = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+.^_`|~-".contains(c))
    };
    pieces.iter().enumerate().all(|(i, p)| {
        let Piece::Text(t) = p else {
            return true;
        };
        let scheme = i == 0
            && t.strip_suffix(' ')
                .is_some_and(|s| token(s) && !s.contains('='));
        let rest = t.trim_start_matches([';', ' ']);
        let cookie_name = rest.strip_suffix('=').is_some_and(token);
        scheme || cookie_name || rest.is_empty()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(pairs: &[(&str, &str)]) -> Refs {
        Refs(
            pairs
                .iter()
                .map(|(v, n)| (v.to_string(), n.to_string()))
                .collect(),
        )
    }

    fn request(
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> HttpRequest {
        HttpRequest {
            method: method.into(),
            url: url.into(),
            parsed_url: None,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.map(|b| crate::transport::Body::Bytes(b.to_vec())),
            timeout: std::time::Duration::from_secs(30),
            follow_redirects: true,
            tls: None,
            body_limit: 1 << 20,
        }
    }

    #[test]
    fn secrets_become_references_and_quotes_are_safe() {
        let r = refs(&[("tok-12345", "PYTOPUS_SECRET_TOKEN")]);
        let red = Redactor::default();
        red.add("tok-12345");
        let mut w = Words::new(&r, &red);
        let req = request(
            "GET",
            "https://api.test/x?key=tok-12345",
            &[("Authorization", "Bearer tok-12345"), ("X-Note", "it's")],
            None,
        );
        assert_eq!(
            w.command(&req),
            "curl 'https://api.test/x?key='\"$PYTOPUS_SECRET_TOKEN\" \\\n  \
             -H 'Authorization: Bearer '\"$PYTOPUS_SECRET_TOKEN\" \\\n  \
             -H 'X-Note: it'\\''s' \\\n  --compressed \\\n  --location"
        );
        assert!(!w.masked);
        assert_eq!(w.vars.len(), 1);
    }

    #[test]
    fn what_is_not_a_secret_as_it_is_is_masked() {
        let r = refs(&[("pw-secret-1", "PYTOPUS_SECRET_PW")]);
        let red = Redactor::default();
        red.add("pw-secret-1");
        red.add("computed-token-xyz");
        let mut w = Words::new(&r, &red);
        let req = request(
            "PUT",
            "https://api.test/",
            &[
                ("authorization", "Bearer computed-token-xyz"),
                ("Cookie", "theme=dark; sid=abc"),
                ("X-Api-Key", "pw-secret-1"),
            ],
            Some(b"@x"),
        );
        let c = w.command(&req);
        assert!(c.contains("-X 'PUT'"), "{c}");
        assert!(c.contains("-H 'authorization: Bearer ***'"), "{c}");
        assert!(c.contains("-H 'Cookie: ***'"), "{c}");
        assert!(c.contains("-H 'X-Api-Key: '\"$PYTOPUS_SECRET_PW\""), "{c}");
        assert!(c.contains("-H 'Content-Type:'"), "{c}");
        assert!(c.contains("--data-raw '@x'"), "{c}");
        assert!(!c.contains("computed-token") && !c.contains("abc"), "{c}");
        assert!(w.masked);
    }

    #[test]
    fn basic_credentials_from_a_secret_become_user() {
        let r = refs(&[("hunter22", "PYTOPUS_SECRET_PW")]);
        let red = Redactor::default();
        red.add("hunter22");
        let b64 = base64::engine::general_purpose::STANDARD.encode("ann:hunter22");
        red.add(&b64);
        let mut w = Words::new(&r, &red);
        let req = request(
            "GET",
            "http://h/",
            &[("authorization", &format!("Basic {b64}"))],
            None,
        );
        let c = w.command(&req);
        assert!(c.contains("--user 'ann:'\"$PYTOPUS_SECRET_PW\""), "{c}");
        assert!(!w.masked);
        // A password written in the chain has no variable.
        let b64 = base64::engine::general_purpose::STANDARD.encode("ann:literal-pw");
        red.add(&b64);
        let mut w = Words::new(&r, &red);
        let req = request(
            "GET",
            "http://h/",
            &[("authorization", &format!("Basic {b64}"))],
            None,
        );
        let c = w.command(&req);
        assert!(c.contains("-H 'authorization: Basic ***'"), "{c}");
        assert!(w.masked);
    }

    #[test]
    fn bodies_that_are_not_plain_text_go_through_printf() {
        let r = refs(&[("s3cret-v", "PYTOPUS_SECRET_S")]);
        let red = Redactor::default();
        let mut w = Words::new(&r, &red);
        let body = "a\r\nb%s\\ 's3cret-v\0é".as_bytes();
        let req = request("POST", "http://h/", &[("content-type", "x/y")], Some(body));
        let c = w.command(&req);
        assert!(
            c.starts_with(
                r#"printf 'a\015\nb%%s\\ '\''%s\000\303\251' "$PYTOPUS_SECRET_S" | curl"#
            ),
            "{c}"
        );
        assert!(c.contains("--data-binary @-"), "{c}");
        // Bytes that are not UTF-8 are written as they are.
        let req = request(
            "POST",
            "http://h/",
            &[("content-type", "x/y")],
            Some(b"\xff\x00%"),
        );
        let c = w.command(&req);
        assert!(c.starts_with(r"printf '\377\000%%' | curl"), "{c}");
    }

    #[test]
    fn dry_run_placeholders_for_secrets_are_references() {
        let r = refs(&[]);
        assert_eq!(
            r.pieces("Bearer {{ secret('api.key') }}!"),
            vec![
                Piece::Text("Bearer ".into()),
                Piece::Var("PYTOPUS_SECRET_API_KEY".into()),
                Piece::Text("!".into())
            ]
        );
        assert_eq!(r.pieces("{{ x }} {{secret(\"t\")}}").len(), 2);
        assert_eq!(secret_call("{{ secret(x) }}"), None);
    }

    #[test]
    fn json_and_methods() {
        let r = refs(&[]);
        let red = Redactor::default();
        let mut w = Words::new(&r, &red);
        let req = request(
            "POST",
            "http://h/a[1]",
            &[
                ("content-type", "application/json"),
                ("accept", "application/json"),
            ],
            Some(b"{\"a\":1}"),
        );
        assert_eq!(
            w.command(&req),
            "curl 'http://h/a[1]' \\\n  --globoff \\\n  --json '{\"a\":1}' \\\n  --compressed \\\n  --location"
        );
        let req = request("HEAD", "http://h/", &[("x-empty", "")], None);
        let c = Words::new(&r, &red).command(&req);
        assert!(c.contains("--head") && c.contains("-H 'x-empty;'"), "{c}");
    }

    #[test]
    fn credential_shapes() {
        let v = |s: &str| Piece::Var(s.into());
        let t = |s: &str| Piece::Text(s.into());
        assert!(credential_shape(&[t("Bearer "), v("A")]));
        assert!(credential_shape(&[v("A")]));
        assert!(credential_shape(&[t("sid="), v("A"), t("; csrf="), v("B")]));
        assert!(!credential_shape(&[t("theme=dark; sid="), v("A")]));
        assert!(!credential_shape(&[t("Bearer x"), v("A")]));
        assert!(!credential_shape(&[t("Bearer abc")]));
    }
}
