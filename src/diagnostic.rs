//! Diagnostics: an error with a position in a chain file, rendered in one place
//! as `error: … --> file:line:col` followed by the source line and a hint.

use std::fmt::Write as _;
use std::sync::Arc;

/// A chain file's text, kept so diagnostics can quote the offending line.
#[derive(Debug)]
pub struct Source {
    /// What the user called the file (`chain.yaml`, or `<stdin>`).
    pub name: String,
    pub text: String,
}

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Loc {
    pub line: usize,
    pub column: usize,
}

impl Loc {
    pub fn new(line: usize, column: usize) -> Self {
        Loc { line, column }
    }
}

/// One problem found in a chain file (or with the command line), as plain data.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub message: String,
    pub source: Option<Arc<Source>>,
    pub loc: Option<Loc>,
    /// Extra lines printed under the source excerpt (`= help: …`).
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            source: None,
            loc: None,
            notes: Vec::new(),
        }
    }

    pub fn at(mut self, source: &Arc<Source>, loc: Option<Loc>) -> Self {
        self.source = Some(Arc::clone(source));
        self.loc = loc;
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Renders the diagnostic for a terminal or a log. `color` adds ANSI styles.
    pub fn render(&self, color: bool) -> String {
        let (red, blue, bold, reset) = if color {
            ("\x1b[1;31m", "\x1b[1;34m", "\x1b[1m", "\x1b[0m")
        } else {
            ("", "", "", "")
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{red}error{reset}{bold}: {}{reset}",
            printable(&self.message)
        );
        if let Some(source) = &self.source {
            match self.loc {
                Some(loc) => {
                    let gutter = loc.line.to_string().len();
                    let pad = " ".repeat(gutter);
                    let _ = writeln!(
                        out,
                        "{pad}{blue}-->{reset} {}:{}:{}",
                        printable(&source.name),
                        loc.line,
                        loc.column
                    );
                    if let Some(text) = source.text.lines().nth(loc.line.saturating_sub(1)) {
                        let (text, column) = window(&printable(text.trim_end()), loc.column);
                        let loc = Loc::new(loc.line, column);
                        let text = text.as_str();
                        let _ = writeln!(out, "{pad} {blue}|{reset}");
                        let _ = writeln!(out, "{blue}{}{reset} {blue}|{reset} {text}", loc.line);
                        let caret_at = loc.column.saturating_sub(1);
                        // Keep tabs so the caret lines up under the same column.
                        let lead: String = text
                            .chars()
                            .take(caret_at)
                            .map(|c| if c == '\t' { '\t' } else { ' ' })
                            .collect();
                        let _ = writeln!(out, "{pad} {blue}|{reset} {lead}{red}^{reset}");
                    }
                }
                None => {
                    let _ = writeln!(out, " {blue}-->{reset} {}", printable(&source.name));
                }
            }
        }
        let pad = " ".repeat(self.loc.map_or(1, |l| l.line.to_string().len()));
        for note in &self.notes {
            let _ = writeln!(out, "{pad} {blue}={reset} {}", printable(note));
        }
        out
    }
}

/// `text` fit for a terminal: every control character but newline and tab
/// (C0, DEL and C1, which a terminal would obey: retitle the window, move
/// the cursor, clear the screen) shown as an escape (`\x1b`, `\u{9b}`).
/// Everything pytopus writes to a terminal passes through here: what a
/// server sent, or a chain file holds, is shown, never obeyed.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n' && c != '\t') || matches!(c, '\u{2028}' | '\u{2029}')
    };
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !unsafe_char(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// At most ~100 characters of a long line (minified JSON), around `column`,
/// with `…` where it was cut; returns the text and the column within it.
fn window(line: &str, column: usize) -> (String, usize) {
    const BEFORE: usize = 40;
    const WIDTH: usize = 100;
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= WIDTH {
        return (line.to_string(), column);
    }
    let col = column.saturating_sub(1).min(chars.len());
    let start = col.saturating_sub(BEFORE);
    let end = (start + WIDTH).min(chars.len());
    let mut text = String::new();
    if start > 0 {
        text.push('…');
    }
    text.extend(&chars[start..end]);
    if end < chars.len() {
        text.push('…');
    }
    let shift = if start > 0 { 1 } else { 0 };
    (text, col - start + shift + 1)
}

/// Several diagnostics, e.g. every problem `validate` found in one file.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

/// At most this many problems are shown; the rest are counted.
pub const SHOWN: usize = 50;

impl Diagnostics {
    pub fn render(&self, color: bool) -> String {
        let mut out = String::new();
        for (i, d) in self.0.iter().take(SHOWN).enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&d.render(color));
        }
        if self.0.len() > SHOWN {
            let _ = writeln!(
                out,
                "\n… and {} more problems not shown (the first {SHOWN} are above)",
                self.0.len() - SHOWN
            );
        }
        if self.0.len() > 1 {
            let name = self
                .0
                .iter()
                .find_map(|d| d.source.as_ref().map(|s| s.name.clone()))
                .map(|n| format!(" in {n}"))
                .unwrap_or_default();
            let _ = writeln!(out, "\n{} problems{name}", self.0.len());
        }
        out
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

/// The nearest candidate to `word`, if one is close enough to be a likely typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        let keys = ["query_params", "headers", "url"];
        assert_eq!(suggest("query_param", keys), Some("query_params"));
        assert_eq!(suggest("urll", keys), Some("url"));
        assert_eq!(suggest("zzz", keys), None);
    }

    #[test]
    fn long_lines_are_cut_around_the_column() {
        let line = format!("{}X{}", "a".repeat(500), "b".repeat(500));
        let (text, col) = window(&line, 501);
        assert!(text.chars().count() <= 102, "{}", text.len());
        assert_eq!(text.chars().nth(col - 1), Some('X'));
        assert!(text.starts_with('…') && text.ends_with('…'));
        assert_eq!(window("short", 3), ("short".to_string(), 3));
    }

    #[test]
    fn renders_caret_under_the_column() {
        let src = Arc::new(Source {
            name: "c.yaml".into(),
            text: "steps:\n  - nam: x\n".into(),
        });
        let d = Diagnostic::new("unknown key `nam`")
            .at(&src, Some(Loc::new(2, 5)))
            .note("help: did you mean `name`?");
        let text = d.render(false);
        assert!(text.contains("--> c.yaml:2:5"), "{text}");
        assert!(text.contains("2 |   - nam: x\n  |     ^"), "{text}");
    }
}
