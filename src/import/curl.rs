//! `pytopus import curl`: a curl command, as browsers' "Copy as cURL" write
//! it (bash or cmd), as a chain with one step.
//!
//! What the command sends is kept: the method, URL, headers, and the body
//! (JSON as a YAML map, a form as `form:` when pytopus would encode it to
//! the same bytes, anything else as text with its content type).
//! Credentials never reach the output: `-u`, an `Authorization` header,
//! other credential headers, session cookies and password-like fields
//! become `auth:` or `{{ secret('NAME') }}`, and a note says which secret
//! to store. Options that change nothing about the request (`-s`, `-i`,
//! `--compressed`, `-L`…) are read and dropped; an option import does not
//! know is an error naming it.

pub use super::request::{ImportError, Imported};
use super::request::{Request, Secrets, fail, shown};
use super::shell::{self, Flavour};

/// Imports a command as text, in the flavour it looks written for.
pub fn import(text: &str, name: Option<&str>) -> Result<Imported, ImportError> {
    let words = shell::split(text, shell::flavour(text)).map_err(|e| ImportError(e.to_string()))?;
    import_words(&words, name)
}

/// Imports a command already split into words (as a shell passed them).
pub fn import_words(words: &[String], name: Option<&str>) -> Result<Imported, ImportError> {
    let curl = parse(words)?;
    let mut secrets = Secrets::new("the command");
    let step = super::request::step(curl, name, "the command's", &mut secrets)?;
    super::request::chain(vec![step], secrets)
}

/// Imports a command split as `flavour` would.
pub fn import_as(
    text: &str,
    flavour: Flavour,
    name: Option<&str>,
) -> Result<Imported, ImportError> {
    let words = shell::split(text, flavour).map_err(|e| ImportError(e.to_string()))?;
    import_words(&words, name)
}

/// How a data option treats its value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Data {
    /// `-d`, `--data`, `--data-ascii`: `@FILE` reads a file.
    Plain,
    /// `--data-raw`: as written.
    Raw,
    /// `--data-binary`: `@FILE` reads a file.
    Binary,
    /// `--data-urlencode`.
    UrlEncode,
    /// `--json`.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Opt {
    Request,
    Header,
    Data(Data),
    /// `-F` (`@file`, `<file` and `;type=` read), `--form-string` (`true`: as written).
    Form(bool),
    User,
    Cookie,
    UserAgent,
    Referer,
    Url,
    Get,
    Head,
    Insecure,
    MaxTime,
    CaCert,
    Cert,
    Key,
    /// Changes nothing about the request (`-s`, `--compressed`, `-L`…).
    Noise,
    /// Takes a value and changes nothing about the request (`-o FILE`).
    NoiseValue,
}

impl Opt {
    fn takes_value(self) -> bool {
        !matches!(self, Opt::Get | Opt::Head | Opt::Insecure | Opt::Noise)
    }
}

fn long(name: &str) -> Option<Opt> {
    Some(match name {
        "request" => Opt::Request,
        "header" => Opt::Header,
        "data" | "data-ascii" => Opt::Data(Data::Plain),
        "data-raw" => Opt::Data(Data::Raw),
        "data-binary" => Opt::Data(Data::Binary),
        "data-urlencode" => Opt::Data(Data::UrlEncode),
        "json" => Opt::Data(Data::Json),
        "form" => Opt::Form(false),
        "form-string" => Opt::Form(true),
        "user" => Opt::User,
        "cookie" => Opt::Cookie,
        "user-agent" => Opt::UserAgent,
        "referer" => Opt::Referer,
        "url" => Opt::Url,
        "get" => Opt::Get,
        "head" => Opt::Head,
        "insecure" => Opt::Insecure,
        "max-time" => Opt::MaxTime,
        "cacert" => Opt::CaCert,
        "cert" => Opt::Cert,
        "key" => Opt::Key,
        // pytopus asks for compressed answers, follows redirects, fails on
        // an error status and picks the HTTP version itself.
        "compressed"
        | "location"
        | "location-trusted"
        | "silent"
        | "show-error"
        | "include"
        | "verbose"
        | "fail"
        | "fail-with-body"
        | "globoff"
        | "http1.0"
        | "http1.1"
        | "http2"
        | "http2-prior-knowledge"
        | "http3"
        | "no-buffer"
        | "path-as-is"
        | "progress-bar"
        | "raw"
        | "no-keepalive"
        | "tcp-nodelay"
        | "ipv4"
        | "ipv6"
        | "ssl-no-revoke"
        | "no-progress-meter"
        | "basic"
        | "no-sessionid"
        | "styled-output"
        | "tr-encoding" => Opt::Noise,
        "output" | "connect-timeout" | "max-redirs" | "write-out" | "dump-header"
        | "cookie-jar" | "stderr" | "trace" | "trace-ascii" => Opt::NoiseValue,
        _ => return None,
    })
}

fn short(c: char) -> Option<Opt> {
    Some(match c {
        'X' => Opt::Request,
        'H' => Opt::Header,
        'd' => Opt::Data(Data::Plain),
        'F' => Opt::Form(false),
        'u' => Opt::User,
        'b' => Opt::Cookie,
        'A' => Opt::UserAgent,
        'e' => Opt::Referer,
        'G' => Opt::Get,
        'I' => Opt::Head,
        'k' => Opt::Insecure,
        'm' => Opt::MaxTime,
        'E' => Opt::Cert,
        's' | 'S' | 'i' | 'v' | 'L' | 'f' | 'g' | 'N' | '#' | '0' | '4' | '6' => Opt::Noise,
        'o' | 'D' | 'c' | 'w' => Opt::NoiseValue,
        _ => return None,
    })
}

fn parse(words: &[String]) -> Result<Request, ImportError> {
    let Some(first) = words.first() else {
        return fail("the command is empty: give a curl command, as copied from a browser");
    };
    let program = first.rsplit(['/', '\\']).next().unwrap_or(first);
    if !program.eq_ignore_ascii_case("curl") && !program.eq_ignore_ascii_case("curl.exe") {
        return fail(format!(
            "not a curl command: it starts with `{}`",
            shown(first)
        ));
    }
    let mut c = Request::default();
    let mut unknown = Vec::new();
    let mut i = 1;
    let mut options_end = false;
    while i < words.len() {
        let word = &words[i];
        i += 1;
        if options_end || !word.starts_with('-') || word == "-" {
            c.set_url(word)?;
            continue;
        }
        if word == "--" {
            options_end = true;
            continue;
        }
        // The options of this word, each with its value when it takes one.
        let mut found: Vec<(String, Opt, Option<String>)> = Vec::new();
        if let Some(name) = word.strip_prefix("--") {
            let (opt, negated) = match long(name) {
                Some(o) => (Some(o), false),
                None => (name.strip_prefix("no-").and_then(long), true),
            };
            match opt {
                Some(o) if negated && o.takes_value() => unknown.push(word.clone()),
                Some(o) if o.takes_value() => {
                    let Some(v) = words.get(i) else {
                        return fail(format!("`{word}` needs a value"));
                    };
                    i += 1;
                    found.push((word.clone(), o, Some(v.clone())));
                }
                // `--no-compressed` and such: nothing to undo.
                Some(_) if negated => {}
                Some(o) => found.push((word.clone(), o, None)),
                None => unknown.push(word.clone()),
            }
        } else {
            // Short options, possibly several (`-sSL`), the last one's
            // value attached (`-XPOST`) or in the next word.
            let chars: Vec<char> = word.chars().skip(1).collect();
            let mut k = 0;
            while k < chars.len() {
                let ch = chars[k];
                k += 1;
                match short(ch) {
                    Some(o) if o.takes_value() => {
                        let rest: String = chars[k..].iter().collect();
                        let value = if rest.is_empty() {
                            let Some(v) = words.get(i) else {
                                return fail(format!("`-{ch}` needs a value"));
                            };
                            i += 1;
                            v.clone()
                        } else {
                            rest
                        };
                        found.push((format!("-{ch}"), o, Some(value)));
                        break;
                    }
                    Some(o) => found.push((format!("-{ch}"), o, None)),
                    None => unknown.push(if chars.len() == 1 {
                        word.clone()
                    } else {
                        format!("-{ch} (in `{}`)", shown(word))
                    }),
                }
            }
        }
        for (flag, opt, value) in found {
            c.apply(&flag, opt, value.unwrap_or_default())?;
        }
    }
    if !unknown.is_empty() {
        let list: Vec<String> = unknown.iter().map(|u| format!("`{}`", shown(u))).collect();
        return fail(format!(
            "curl option{} that import does not know: {} (it takes -X, -H, -d/--data/--data-raw/--data-binary/--data-ascii/--data-urlencode, --json, -F/--form, --form-string, -u, -b, -A, -e, -G, -I, -k, -m, --url, --cacert, --cert, --key, and options that change nothing about the request such as -s, -i, -L, --compressed, --http2)",
            if unknown.len() > 1 { "s" } else { "" },
            list.join(", ")
        ));
    }
    Ok(c)
}

/// A file name given with `@`: import does not read files.
fn reads_file(flag: &str, value: &str) -> Result<(), ImportError> {
    if let Some(file) = value.strip_prefix('@') {
        return fail(format!(
            "`{flag} @{}` reads the file `{}`: import does not read files; put the content in the command",
            shown(file),
            shown(file)
        ));
    }
    Ok(())
}

impl Request {
    fn set_url(&mut self, url: &str) -> Result<(), ImportError> {
        if let Some(old) = &self.url {
            return fail(format!(
                "the command has more than one URL (`{}` and `{}`): a step sends one request",
                shown(old),
                shown(url)
            ));
        }
        self.url = Some(url.to_string());
        Ok(())
    }

    fn apply(&mut self, flag: &str, opt: Opt, value: String) -> Result<(), ImportError> {
        match opt {
            Opt::Request => self.method = Some(value),
            Opt::Header => {
                reads_file(flag, &value)?;
                if let Some(h) = header(&value)? {
                    self.headers.push(h);
                }
            }
            Opt::Data(kind) => {
                let text = match kind {
                    Data::Plain | Data::Binary | Data::Json => {
                        reads_file(flag, &value)?;
                        value
                    }
                    Data::Raw => value,
                    Data::UrlEncode => url_encoded(flag, &value)?,
                };
                self.data.push((text, kind == Data::Json));
            }
            Opt::Form(string) => self.form.push((flag.to_string(), value, string)),
            Opt::User => self.user = Some(value),
            Opt::Cookie => {
                if !value.contains('=') {
                    return fail(format!(
                        "`{flag} {}` reads cookies from a file: import does not read files; put the cookies in the command (`-b 'name=value'`)",
                        shown(&value)
                    ));
                }
                self.cookies.push(value);
            }
            Opt::UserAgent => self.headers.push(("User-Agent".into(), value)),
            Opt::Referer => {
                let v = value.strip_suffix(";auto").unwrap_or(&value).to_string();
                if !v.is_empty() {
                    self.headers.push(("Referer".into(), v));
                }
            }
            Opt::Url => self.set_url(&value)?,
            Opt::Get => self.get = true,
            Opt::Head => self.head = true,
            Opt::Insecure => self.insecure = true,
            Opt::MaxTime => {
                if !value.parse::<f64>().is_ok_and(|v| v.is_finite() && v > 0.0) {
                    return fail(format!(
                        "`{flag} {}` is not a number of seconds",
                        shown(&value)
                    ));
                }
                self.max_time = Some(value);
            }
            Opt::CaCert => self.ca_cert = Some(value),
            Opt::Cert => self.cert = Some(value),
            Opt::Key => self.key = Some(value),
            Opt::Noise | Opt::NoiseValue => {}
        }
        Ok(())
    }
}

/// `Name: value` (or `Name;` for an empty value) as curl reads `-H`;
/// `None` for `Name:`, which takes off a header curl would add.
fn header(text: &str) -> Result<Option<(String, String)>, ImportError> {
    let (name, value) = match text.split_once(':') {
        Some((_, v)) if v.trim().is_empty() => return Ok(None),
        Some((n, v)) => (n, v.trim()),
        None => match text.strip_suffix(';') {
            Some(n) => (n, ""),
            None => {
                return fail(format!(
                    "`-H {}` is not a header: write `Name: value`",
                    shown(text)
                ));
            }
        },
    };
    let name = name.trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
    {
        return fail(format!(
            "`-H {}`: `{}` is not a header name",
            shown(text),
            shown(name)
        ));
    }
    Ok(Some((name.to_string(), value.to_string())))
}

/// `--data-urlencode`'s forms: `content`, `=content`, `name=content`
/// (`@file` and `name@file` read files).
fn url_encoded(flag: &str, value: &str) -> Result<String, ImportError> {
    let at = value.find(['=', '@']);
    match at.map(|i| (i, value.as_bytes()[i])) {
        Some((i, b'=')) => {
            let (name, content) = (&value[..i], &value[i + 1..]);
            Ok(if name.is_empty() {
                percent(content)
            } else {
                format!("{name}={}", percent(content))
            })
        }
        Some((i, _)) => fail(format!(
            "`{flag} {}` reads the file `{}`: import does not read files; put the content in the command",
            shown(value),
            shown(&value[i + 1..])
        )),
        None => Ok(percent(value)),
    }
}

/// Percent-encoding as curl's `--data-urlencode` does it: a space as `+`,
/// everything else but letters, digits and `-._~` as `%XX`.
fn percent(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b == b' ' {
            out.push('+');
        } else if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_and_values() {
        let w = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        let c = parse(&w(
            "curl -sSLXPUT -HX-A:1 --url http://h/ -d a=1 --data-urlencode b=x&y -k",
        ))
        .unwrap();
        assert_eq!(c.method.as_deref(), Some("PUT"));
        assert_eq!(c.headers, [("X-A".to_string(), "1".to_string())]);
        assert_eq!(c.data[1].0, "b=x%26y");
        assert!(c.insecure);
        let e = parse(&w("curl --frobnicate -Z http://h/")).unwrap_err().0;
        assert!(e.contains("`--frobnicate`") && e.contains("`-Z`"), "{e}");
        let e = parse(&w("curl -d @body.json http://h/")).unwrap_err().0;
        assert!(e.contains("reads the file `body.json`"), "{e}");
        let c = parse(&w("curl -F a=b --form-string c=@d http://h/")).unwrap();
        assert_eq!(
            c.form,
            [
                ("-F".to_string(), "a=b".to_string(), false),
                ("--form-string".to_string(), "c=@d".to_string(), true)
            ]
        );
        assert!(parse(&w("wget http://h/")).is_err());
        assert!(parse(&w("curl -H")).is_err());
        assert_eq!(percent("a b/é"), "a+b%2F%C3%A9");
    }
}
