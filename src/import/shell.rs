//! A command line as a shell would split it into words, for the two
//! flavours browsers copy commands in: bash (POSIX quoting plus `$'…'`,
//! which Chrome, Firefox and Safari use for text with quotes or control
//! characters) and Windows cmd (`^` escapes, then the C runtime's rules
//! for `"` and `\`). Nothing is expanded or run: a `$VAR`, a command
//! substitution, a pipe or a second command is an error that names it.
//!
//! Written here rather than taken from a crate: the word-splitting crates
//! (shlex, shell-words) know neither `$'…'` nor cmd's rules.

/// Why a command could not be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellError(pub String);

impl std::fmt::Display for ShellError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which shell the command was written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Bash,
    Cmd,
}

/// Guesses the flavour: cmd's line continuation (`^` at the end of a
/// line), its escaped quote (`^"`), `curl.exe`, or `""` (a quote inside
/// quotes, as Firefox wrote them) in a command without single quotes say
/// cmd; anything else is bash.
pub fn flavour(text: &str) -> Flavour {
    let continued = text
        .lines()
        .any(|l| l.trim_end().ends_with('^') && !l.trim_end().ends_with("\\^"));
    let doubled = text.contains("\"\"") && !text.contains('\'');
    if continued || doubled || text.contains("^\"") || text.trim_start().starts_with("curl.exe ") {
        Flavour::Cmd
    } else {
        Flavour::Bash
    }
}

/// The words of `text` as `flavour` would pass them to a program.
pub fn split(text: &str, flavour: Flavour) -> Result<Vec<String>, ShellError> {
    if text.contains('\0') {
        return Err(ShellError(
            "the command holds a NUL byte, which no shell can pass to curl".into(),
        ));
    }
    match flavour {
        Flavour::Bash => bash(text),
        Flavour::Cmd => cmd(text),
    }
}

/// Line and column (1-based) of byte `at` in `text`, for messages.
fn place(text: &str, at: usize) -> String {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}")
}

/// A word being built: bytes, since `$'\xHH'` can make any byte.
#[derive(Default)]
struct Word {
    bytes: Vec<u8>,
    /// Something (even `''`) was written: an empty quoted word is a word.
    started: bool,
}

impl Word {
    fn byte(&mut self, b: u8) {
        self.bytes.push(b);
        self.started = true;
    }

    fn char(&mut self, c: char) {
        let mut buf = [0; 4];
        self.bytes
            .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        self.started = true;
    }

    /// The word as text: UTF-8, or else each byte as the character of
    /// that code (Firefox writes `é` as `$'\xe9'`).
    fn finish(&mut self, out: &mut Vec<String>) {
        if self.started {
            let bytes = std::mem::take(&mut self.bytes);
            out.push(match String::from_utf8(bytes) {
                Ok(s) => s,
                Err(e) => e.into_bytes().iter().map(|&b| b as char).collect(),
            });
        }
        self.started = false;
    }
}

/// Starts a `$NAME`, `${…}` or `$(…)` expansion.
fn expands(b: Option<&u8>) -> bool {
    b.is_some_and(|b| matches!(b, b'{' | b'(' | b'_') || b.is_ascii_alphanumeric())
}

fn not_run(text: &str, at: usize, what: &str) -> ShellError {
    ShellError(format!(
        "the command uses {what} at {}: import does not run shell code; write the value in the command",
        place(text, at)
    ))
}

/// The bytes after `$` as a message shows them.
fn after_dollar(b: &[u8], at: usize) -> String {
    let end = (at + 2..b.len().min(at + 12))
        .find(|&i| !(b[i].is_ascii_alphanumeric() || b[i] == b'_'))
        .unwrap_or(b.len().min(at + 12));
    format!(
        "`{}`",
        String::from_utf8_lossy(&b[at..end.max(at + 2).min(b.len())])
    )
}

fn bash(text: &str) -> Result<Vec<String>, ShellError> {
    let b = text.as_bytes();
    let mut words = Vec::new();
    let mut w = Word::default();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' | b'\n' | b'\r' => {
                w.finish(&mut words);
                i += 1;
            }
            b'#' if !w.started => {
                // A comment, to the end of the line.
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'\\' => match b.get(i + 1) {
                Some(b'\n') => i += 2,
                Some(b'\r') if b.get(i + 2) == Some(&b'\n') => i += 3,
                Some(&next) => {
                    w.byte(next);
                    i += 2;
                }
                None => i += 1,
            },
            b'\'' => {
                let open = i;
                w.started = true;
                match b[i + 1..].iter().position(|&c| c == b'\'') {
                    Some(n) => {
                        w.bytes.extend_from_slice(&b[i + 1..i + 1 + n]);
                        i += n + 2;
                    }
                    None => return Err(unclosed(text, open, '\'')),
                }
            }
            b'"' => i = double_quoted(text, i, &mut w)?,
            b'$' => match b.get(i + 1) {
                Some(b'\'') => i = ansi_c(text, i + 1, &mut w)?,
                // `$"…"` is a translated string: the text as written.
                Some(b'"') => i = double_quoted(text, i + 1, &mut w)?,
                n if expands(n) => return Err(not_run(text, i, &after_dollar(b, i))),
                _ => {
                    w.byte(b'$');
                    i += 1;
                }
            },
            b'`' => return Err(not_run(text, i, "a command substitution (`…`)")),
            c @ (b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')') => {
                return Err(ShellError(format!(
                    "`{}` at {} is shell syntax (a second command, a pipe, a redirection): import takes one curl command",
                    c as char,
                    place(text, i)
                )));
            }
            c => {
                w.byte(c);
                i += 1;
            }
        }
    }
    w.finish(&mut words);
    Ok(words)
}

fn unclosed(text: &str, at: usize, quote: char) -> ShellError {
    ShellError(format!(
        "the quote {quote} opened at {} is never closed (was the command cut short when it was copied?)",
        place(text, at)
    ))
}

/// `"…"` from the quote at `open`: `\` escapes only `$`, `` ` ``, `"`, `\`
/// and a newline; returns the index after the closing quote.
fn double_quoted(text: &str, open: usize, w: &mut Word) -> Result<usize, ShellError> {
    let b = text.as_bytes();
    let mut i = open + 1;
    w.started = true;
    loop {
        match b.get(i) {
            None => return Err(unclosed(text, open, '"')),
            Some(b'"') => return Ok(i + 1),
            Some(b'\\') => match b.get(i + 1) {
                Some(b'\n') => i += 2,
                Some(&c @ (b'$' | b'`' | b'"' | b'\\')) => {
                    w.byte(c);
                    i += 2;
                }
                _ => {
                    w.byte(b'\\');
                    i += 1;
                }
            },
            Some(b'$') if expands(b.get(i + 1)) => {
                return Err(not_run(text, i, &after_dollar(b, i)));
            }
            Some(b'`') => return Err(not_run(text, i, "a command substitution (`…`)")),
            Some(&c) => {
                w.byte(c);
                i += 1;
            }
        }
    }
}

/// `$'…'` from the quote at `open`, with bash's escapes; returns the index
/// after the closing quote.
fn ansi_c(text: &str, open: usize, w: &mut Word) -> Result<usize, ShellError> {
    let b = text.as_bytes();
    let mut i = open + 1;
    w.started = true;
    // Up to `max` digits of `radix` from `from`: the value and how many.
    let digits = |from: usize, radix: u32, max: usize| {
        let mut value: u32 = 0;
        let mut n = 0;
        while n < max
            && let Some(d) = b.get(from + n).and_then(|c| (*c as char).to_digit(radix))
        {
            value = value.saturating_mul(radix).saturating_add(d);
            n += 1;
        }
        (value, n)
    };
    loop {
        let Some(&c) = b.get(i) else {
            return Err(unclosed(text, open - 1, '\''));
        };
        if c == b'\'' {
            return Ok(i + 1);
        }
        if c != b'\\' {
            w.byte(c);
            i += 1;
            continue;
        }
        let Some(&e) = b.get(i + 1) else {
            return Err(unclosed(text, open - 1, '\''));
        };
        i += 2;
        let simple = match e {
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'e' | b'E' => Some(0x1b),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(0x0b),
            b'\\' | b'\'' | b'"' | b'?' => Some(e),
            _ => None,
        };
        if let Some(s) = simple {
            w.byte(s);
            continue;
        }
        match e {
            b'0'..=b'7' => {
                let (v, n) = digits(i - 1, 8, 3);
                w.byte((v & 0xff) as u8);
                i += n - 1;
            }
            b'x' => {
                let (v, n) = digits(i, 16, 2);
                if n == 0 {
                    w.bytes.extend_from_slice(b"\\x");
                } else {
                    w.byte(v as u8);
                    i += n;
                }
            }
            b'u' | b'U' => {
                let (v, n) = digits(i, 16, if e == b'u' { 4 } else { 8 });
                match char::from_u32(v).filter(|_| n > 0) {
                    Some(ch) => w.char(ch),
                    None => {
                        return Err(ShellError(format!(
                            "`\\{}` at {} is not a character",
                            e as char,
                            place(text, i - 2)
                        )));
                    }
                }
                i += n;
            }
            b'c' => {
                let Some(&ctl) = b.get(i) else {
                    return Err(unclosed(text, open - 1, '\''));
                };
                w.byte(ctl & 0x1f);
                i += 1;
            }
            other => {
                // Unknown escapes stay as written.
                w.byte(b'\\');
                w.byte(other);
            }
        }
    }
}

/// cmd.exe first (`^` escapes the next character, a `^` before a line end
/// continues the line, `"` toggles where `^` is plain text), then the C
/// runtime's splitting of what cmd passes on.
fn cmd(text: &str) -> Result<Vec<String>, ShellError> {
    let b = text.as_bytes();
    let mut line: Vec<u8> = Vec::with_capacity(b.len());
    let mut quoted = false;
    let mut i = 0;
    // The length of a line end at `at`: `\r\n`, `\n` or `\r`.
    let line_end = |at: usize| match (b.get(at), b.get(at + 1)) {
        (Some(b'\r'), Some(b'\n')) => 2,
        (Some(b'\n' | b'\r'), _) => 1,
        _ => 0,
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' => {
                quoted = !quoted;
                line.push(c);
                i += 1;
            }
            b'^' if !quoted => {
                let end = line_end(i + 1);
                if end > 0 {
                    // The line goes on; what starts the next line is taken
                    // as it is (Chrome writes a newline in a value as `^`
                    // and two line ends).
                    i += 1 + end;
                    let next = line_end(i);
                    if next > 0 {
                        line.push(b'\n');
                        i += next;
                    } else if let Some(&n) = b.get(i) {
                        line.push(n);
                        i += 1;
                    }
                } else if let Some(&n) = b.get(i + 1) {
                    line.push(n);
                    i += 2;
                } else {
                    i += 1;
                }
            }
            b'\r' | b'\n' if !quoted => {
                if !text[i..].trim().is_empty() {
                    return Err(ShellError(format!(
                        "the command goes on after the end of a line at {} (cmd continues a line only after `^`): import takes one curl command",
                        place(text, i)
                    )));
                }
                break;
            }
            b'&' | b'|' | b'<' | b'>' if !quoted => {
                return Err(ShellError(format!(
                    "`{}` at {} is cmd syntax (a second command, a pipe, a redirection): import takes one curl command",
                    c as char,
                    place(text, i)
                )));
            }
            c => {
                line.push(c);
                i += 1;
            }
        }
    }
    if quoted {
        return Err(ShellError(
            "a double quote is never closed (was the command cut short when it was copied?)".into(),
        ));
    }
    Ok(crt_split(&line))
}

/// The C runtime's rules for a command line: spaces and tabs separate
/// words outside quotes; `"` toggles quoting (`""` inside quotes is one
/// `"`); backslashes are literal unless they come before a `"`, where each
/// pair is one backslash and an odd one makes the quote literal.
fn crt_split(line: &[u8]) -> Vec<String> {
    let mut words = Vec::new();
    let mut w = Word::default();
    let mut quoted = false;
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b' ' | b'\t' if !quoted => {
                w.finish(&mut words);
                i += 1;
            }
            b'\\' => {
                let n = line[i..].iter().take_while(|&&c| c == b'\\').count();
                let quote = line.get(i + n) == Some(&b'"');
                let kept = if quote { n / 2 } else { n };
                w.bytes.extend(std::iter::repeat_n(b'\\', kept));
                w.started = true;
                i += n;
                if quote && n % 2 == 1 {
                    w.byte(b'"');
                    i += 1;
                }
            }
            b'"' => {
                if quoted && line.get(i + 1) == Some(&b'"') {
                    w.byte(b'"');
                    i += 2;
                } else {
                    quoted = !quoted;
                    w.started = true;
                    i += 1;
                }
            }
            c => {
                w.byte(c);
                i += 1;
            }
        }
    }
    w.finish(&mut words);
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(text: &str) -> Vec<String> {
        split(text, Flavour::Bash).unwrap()
    }

    #[test]
    fn bash_quoting() {
        assert_eq!(
            b("curl 'a b' \"c \\\"d\\\" \\$e\" f\\ g \\\n  -H x''"),
            ["curl", "a b", "c \"d\" $e", "f g", "-H", "x"]
        );
        assert_eq!(b("x ''"), ["x", ""]);
        assert_eq!(
            b(r"$'it\'s\n\x41\u00e9\101\t' $'\xe9'"),
            ["it's\nAé\x41\t", "é"]
        );
        assert_eq!(b("a # comment\nb"), ["a", "b"]);
        assert_eq!(b("price=$ 5"), ["price=$", "5"]);
    }

    #[test]
    fn bash_refuses_what_it_would_run() {
        for bad in [
            "curl $URL",
            "curl \"${X}\"",
            "curl `x`",
            "curl a | jq",
            "curl a; rm b",
            "curl 'open",
            "curl \"open",
            "curl $'open",
            "a\0b",
        ] {
            let e = split(bad, Flavour::Bash).unwrap_err();
            assert!(!e.0.is_empty(), "{bad}");
        }
        assert!(
            split("curl 'x\n  y", Flavour::Bash)
                .unwrap_err()
                .0
                .contains("line 1, column 6")
        );
    }

    #[test]
    fn cmd_quoting() {
        let c = |t: &str| split(t, Flavour::Cmd).unwrap();
        assert_eq!(
            c("curl \"https://x/?a=1&b=2\" ^\n  -H \"accept: */*\""),
            ["curl", "https://x/?a=1&b=2", "-H", "accept: */*"]
        );
        // Chrome: ^"…^" with \^" for a quote, %^ before a name, ^ + two
        // line ends for a newline.
        assert_eq!(
            c("curl --data-raw ^\"^{^\\^\"a^\\^\":^\\^\"50%^25 x^\\^\"^}^\""),
            ["curl", "--data-raw", "{\"a\":\"50%25 x\"}"]
        );
        assert_eq!(
            c("curl --data-raw ^\"line1^\n\nline2^\""),
            ["curl", "--data-raw", "line1\nline2"]
        );
        // Firefox's older form: "" for a quote inside quotes.
        assert_eq!(c("curl \"say \"\"hi\"\"\""), ["curl", "say \"hi\""]);
        assert_eq!(
            crt_split(br#"curl "a\\b" "c\\\"d" e\\\\"f g""#),
            ["curl", r"a\\b", r#"c\"d"#, r"e\\f g"]
        );
        assert!(split("curl \"x\" & del y", Flavour::Cmd).is_err());
        assert!(split("curl \"x", Flavour::Cmd).is_err());
        assert!(split("curl x\ncurl y", Flavour::Cmd).is_err());
    }

    #[test]
    fn flavours() {
        assert_eq!(flavour("curl 'x' \\\n -H 'a'"), Flavour::Bash);
        assert_eq!(flavour("curl \"x\" ^\n -H \"a\""), Flavour::Cmd);
        assert_eq!(flavour("curl ^\"x^\""), Flavour::Cmd);
    }
}
