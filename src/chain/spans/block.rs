//! The first path of [`super::read_yaml`]: YAML written the way chain files
//! usually are — block maps and lists, scalars that fit on their line, and
//! one-line flow collections like `{base: "http://…"}` — read straight from
//! the text.
//!
//! The event parser costs about 200 instructions a byte, most of it for YAML
//! that chain files do not use; this reader makes one pass and builds the
//! same data and positions. It is deliberately narrow: anything it is not
//! sure of — multi-line scalars, block scalars (`|`, `>`), anchors, tags,
//! comments in odd places, tabs, a second document, a syntax error — makes
//! it answer `None`, and the event reader (then serde-saphyr) reads the file
//! instead, so what users get never depends on which reader ran. A test
//! compares the two on every YAML file in the repository and on thousands
//! of generated and mutated documents.

use std::borrow::Cow;

use granit_parser::ScalarStyle;
use serde_json::Value;

use super::data::Data;
use super::plain_yaml::scalar;
use super::{Kids, Loc, PosNode, SpanMap};

type Node<'a> = (Data<'a>, PosNode);

/// A map's keys, to refuse duplicates: compared one by one while the map
/// is small, through a set once it is not.
#[derive(Default)]
struct Seen(Option<std::collections::HashSet<String>>);

impl Seen {
    /// Whether `name` is new among `entries`' keys (it is then noted).
    fn insert(&mut self, entries: &[(Cow<'_, str>, Data<'_>)], name: &str) -> bool {
        const SMALL: usize = 16;
        if let Some(set) = &mut self.0 {
            return set.insert(name.to_string());
        }
        if entries.iter().any(|(k, _)| k == name) {
            return false;
        }
        if entries.len() + 1 >= SMALL {
            let mut set: std::collections::HashSet<String> =
                entries.iter().map(|(k, _)| k.to_string()).collect();
            set.insert(name.to_string());
            self.0 = Some(set);
        }
        true
    }
}

/// Nesting deeper than this is left to the event reader (and its limits).
const MAX_DEPTH: usize = 64;

pub(super) fn read(text: &str) -> Option<(Value, SpanMap)> {
    read_data(text).map(|(data, spans)| (data.into_value(), spans))
}

/// [`read`], keeping the document as [`Data`] (a chain is deserialized
/// from it directly).
pub(super) fn read_data(text: &str) -> Option<(Data<'_>, SpanMap)> {
    if !printable(text) {
        return None;
    }
    let mut r = Reader {
        text,
        b: text.as_bytes(),
        pos: 0,
        line: 1,
        line_start: 0,
        depth: 0,
    };
    if !r.next_content_line() {
        return None;
    }
    // One leading `---` is allowed; a second document is not read here.
    if r.indent() == 0 && r.b[r.pos..].starts_with(b"---") && r.blank_at(r.pos + 3) {
        r.pos += 3;
        r.end_line()?;
        if !r.next_content_line() {
            return None;
        }
    }
    let n = r.indent();
    let (value, pos) = match r.peek() {
        b'{' | b'[' => {
            let node = r.flow()?;
            r.end_line()?;
            r.next_content_line();
            node
        }
        _ if r.at_dash() => r.block_seq(n, false)?,
        _ => r.block_map(n)?,
    };
    if !r.at_end() {
        return None;
    }
    Some((value, SpanMap::new(pos)))
}

/// Only newlines and printable characters: no tabs, no carriage returns,
/// none of the characters YAML treats specially (NEL, line and paragraph
/// separators, byte-order marks).
fn printable(text: &str) -> bool {
    if text
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) || b == b'\n')
    {
        return true;
    }
    text.chars().all(|c| {
        matches!(c, '\n' | ' '..='~')
            || (c >= '\u{a0}'
                && !matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                ))
    })
}

struct Reader<'a> {
    text: &'a str,
    b: &'a [u8],
    pos: usize,
    /// The line `pos` is on, from 1, and where that line starts.
    line: usize,
    line_start: usize,
    depth: usize,
}

impl<'a> Reader<'a> {
    /// The byte at `pos`; the end of the text reads as a newline.
    fn peek(&self) -> u8 {
        self.byte(self.pos)
    }

    fn byte(&self, at: usize) -> u8 {
        self.b.get(at).copied().unwrap_or(b'\n')
    }

    fn at_end(&self) -> bool {
        self.pos >= self.b.len()
    }

    /// A space, a newline or the end of the text at `at`.
    fn blank_at(&self, at: usize) -> bool {
        matches!(self.byte(at), b' ' | b'\n')
    }

    /// Where `at` (on the current line) is, counting columns in characters
    /// as the event reader does.
    fn loc_at(&self, at: usize) -> Loc {
        let before = &self.b[self.line_start..at];
        let col = if before.is_ascii() {
            before.len()
        } else {
            self.text[self.line_start..at].chars().count()
        };
        Loc::new(self.line, col + 1)
    }

    fn loc(&self) -> Loc {
        self.loc_at(self.pos)
    }

    /// How far the line's content is indented (the reader being at it).
    fn indent(&self) -> usize {
        self.pos - self.line_start
    }

    fn skip_spaces(&mut self) {
        while self.b.get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
    }

    /// From the start of a line, on to the first character of the next line
    /// with content, past blank lines and lines that are only a comment.
    /// `false` at the end of the text.
    fn next_content_line(&mut self) -> bool {
        loop {
            let start = self.pos;
            self.skip_spaces();
            match self.b.get(self.pos) {
                None => return false,
                Some(b'\n') => {}
                Some(b'#') => match self.b[self.pos..].iter().position(|&b| b == b'\n') {
                    Some(n) => self.pos += n,
                    None => {
                        self.pos = self.b.len();
                        return false;
                    }
                },
                Some(_) => {
                    self.line_start = start;
                    return true;
                }
            }
            self.pos += 1;
            self.line += 1;
            self.line_start = self.pos;
        }
    }

    /// Where the current line's text ends, past trailing spaces and a
    /// comment; `None` if anything else is left on it.
    fn line_end(&self) -> Option<usize> {
        let mut at = self.pos;
        while self.b.get(at) == Some(&b' ') {
            at += 1;
        }
        match self.b.get(at) {
            None | Some(b'\n') => Some(at),
            // A comment needs a space before it.
            Some(b'#') if at > self.line_start && self.b[at - 1] == b' ' => Some(
                self.b[at..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(self.b.len(), |n| at + n),
            ),
            _ => None,
        }
    }

    /// Checks that nothing but spaces and a comment is left on the line and
    /// moves to the start of the next one.
    fn end_line(&mut self) -> Option<()> {
        let end = self.line_end()?;
        self.pos = end;
        if end < self.b.len() {
            self.pos += 1;
            self.line += 1;
            self.line_start = self.pos;
        }
        Some(())
    }

    /// At a `-` list entry.
    fn at_dash(&self) -> bool {
        self.peek() == b'-' && self.blank_at(self.pos + 1)
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// A block map whose keys sit at indentation `n`, the reader at its
    /// first key. Leaves the reader at the next line with content.
    fn block_map(&mut self, n: usize) -> Option<Node<'a>> {
        self.enter()?;
        let loc = self.loc();
        let mut values = Vec::new();
        let mut seen = Seen::default();
        let mut kids = Vec::new();
        loop {
            let kloc = self.loc();
            let name = self.key()?;
            let colon = self.pos - 1;
            self.skip_spaces();
            let (value, pos) = if matches!(self.peek(), b'\n' | b'#') {
                // An empty value sits at its key's `:`.
                let empty = self.loc_at(colon);
                self.end_line()?;
                self.next_content_line();
                self.below(n, true, empty)?
            } else {
                self.inline(n)?
            };
            if !seen.insert(&values, &name) {
                return None; // a duplicate key: the event reader's business
            }
            kids.push((Box::from(&*name), kloc, pos));
            values.push((name, value));
            if self.at_end() || self.indent() < n {
                break;
            }
            if self.indent() > n {
                return None;
            }
        }
        self.depth -= 1;
        Some((
            Data::Map(values),
            PosNode {
                loc,
                kids: Kids::Map(kids),
            },
        ))
    }

    /// A block list whose `-` sit at indentation `n`, the reader at the
    /// first. `indentless`: the list is a map value written at its key's
    /// own indentation. Leaves the reader at the next line with content.
    fn block_seq(&mut self, n: usize, indentless: bool) -> Option<Node<'a>> {
        self.enter()?;
        let dash = self.loc();
        let mut values = Vec::new();
        let mut kids: Vec<PosNode> = Vec::new();
        // An indentless list starts where its first entry's content does.
        let mut first = None;
        loop {
            self.pos += 1;
            self.skip_spaces();
            if indentless && first.is_none() {
                first = Some(match self.peek() {
                    b'\n' | b'#' => self.loc_at(self.line_end()?),
                    _ => self.loc(),
                });
            }
            let (value, pos) = match self.peek() {
                b'\n' | b'#' => {
                    let end = self.line_end()?;
                    let empty = self.loc_at(end);
                    self.end_line()?;
                    self.next_content_line();
                    self.below(n, false, empty)?
                }
                _ if self.at_dash() => return None, // `- - x`
                _ if self.is_key() => {
                    let m = self.indent();
                    self.block_map(m)?
                }
                _ => self.inline(n)?,
            };
            values.push(value);
            kids.push(pos);
            if self.at_end() || self.indent() < n {
                break;
            }
            if self.indent() > n {
                return None;
            }
            if !self.at_dash() {
                break; // the next key of the map this list belongs to
            }
        }
        self.depth -= 1;
        let loc = first.unwrap_or(dash);
        Some((
            Data::Seq(values),
            PosNode {
                loc,
                kids: Kids::Seq(kids),
            },
        ))
    }

    /// The value of a key or `-` that ended its line (`parent` is its
    /// indentation): a block on the lines below indented further, for a
    /// key also a list at the key's own indentation, or else nothing —
    /// null, placed at `empty`.
    fn below(&mut self, parent: usize, key: bool, empty: Loc) -> Option<Node<'a>> {
        if !self.at_end() {
            let ind = self.indent();
            if ind > parent {
                // A map or a list; a scalar alone on the next line is not
                // read here (`block_map` refuses it).
                return if self.at_dash() {
                    self.block_seq(ind, false)
                } else {
                    self.block_map(ind)
                };
            }
            if key && ind == parent && self.at_dash() {
                return self.block_seq(ind, true);
            }
        }
        Some((Data::Value(Value::Null), PosNode::leaf(empty)))
    }

    /// A value that starts after a key or `-` on the current line and ends
    /// on it. Leaves the reader at the next line with content, which must
    /// not be indented beyond `parent` (it would continue the value).
    fn inline(&mut self, parent: usize) -> Option<Node<'a>> {
        let loc = self.loc();
        let node = match self.peek() {
            b'{' | b'[' => self.flow()?,
            b'"' => (
                Data::Value(Value::String(self.double_quoted()?)),
                PosNode::leaf(loc),
            ),
            b'\'' => (
                Data::Value(Value::String(self.single_quoted()?)),
                PosNode::leaf(loc),
            ),
            _ => {
                let text = self.plain(false)?;
                (
                    Data::Value(scalar(text, ScalarStyle::Plain)?),
                    PosNode::leaf(loc),
                )
            }
        };
        self.end_line()?;
        if self.next_content_line() && self.indent() > parent {
            return None;
        }
        Some(node)
    }

    /// Whether a map key starts here (the reader does not move).
    fn is_key(&mut self) -> bool {
        let at = self.pos;
        let found = self.key().is_some();
        self.pos = at;
        found
    }

    /// A block map key and its `:`, as the name the event reader gives it.
    fn key(&mut self) -> Option<Cow<'a, str>> {
        let name: Cow<'a, str> = match self.peek() {
            b'"' => Cow::Owned(self.double_quoted()?),
            b'\'' => Cow::Owned(self.single_quoted()?),
            _ => {
                let text = self.plain(false)?;
                // Plain keys longer than this are refused by YAML itself.
                if text.len() > 1000 {
                    return None;
                }
                plain_key(text)?
            }
        };
        self.skip_spaces();
        if self.peek() != b':' || !self.blank_at(self.pos + 1) {
            return None;
        }
        self.pos += 1;
        Some(name)
    }

    /// A plain scalar on this line, up to ` #`, a `:` before a space, the
    /// end of the line, or (in a flow collection) a flow indicator;
    /// trailing spaces are not part of it. The reader stops after its text.
    fn plain(&mut self, flow: bool) -> Option<&'a str> {
        let start = self.pos;
        // Indicators cannot start a plain scalar (`-` only before a space).
        match self.peek() {
            b'-' if self.blank_at(start + 1) => return None,
            b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|'
            | b'>' | b'\'' | b'"' | b'%' | b'@' | b'`' | b' ' | b'\n' => return None,
            _ => {}
        }
        let mut end = start;
        let mut i = start;
        while let Some(&c) = self.b.get(i) {
            match c {
                b'\n' => break,
                b' ' => {
                    i += 1;
                    if self.b.get(i) == Some(&b'#') {
                        break;
                    }
                    continue;
                }
                b':' if self.blank_at(i + 1)
                    || (flow && matches!(self.byte(i + 1), b',' | b'[' | b']' | b'{' | b'}')) =>
                {
                    break;
                }
                b',' | b'[' | b']' | b'{' | b'}' if flow => break,
                _ => {}
            }
            i += 1;
            end = i;
        }
        self.pos = end;
        Some(&self.text[start..end])
    }

    /// A double-quoted scalar that closes on its line.
    fn double_quoted(&mut self) -> Option<String> {
        let mut out = String::new();
        let mut i = self.pos + 1;
        let mut run = i;
        loop {
            match *self.b.get(i)? {
                b'"' => {
                    out.push_str(&self.text[run..i]);
                    self.pos = i + 1;
                    return Some(out);
                }
                b'\n' => return None,
                b'\\' => {
                    out.push_str(&self.text[run..i]);
                    let (c, len) = match *self.b.get(i + 1)? {
                        b'"' => ('"', 0),
                        b'\\' => ('\\', 0),
                        b'/' => ('/', 0),
                        b' ' => (' ', 0),
                        b'n' => ('\n', 0),
                        b't' => ('\t', 0),
                        b'r' => ('\r', 0),
                        b'b' => ('\u{8}', 0),
                        b'f' => ('\u{c}', 0),
                        b'0' => ('\0', 0),
                        b'a' => ('\u{7}', 0),
                        b'e' => ('\u{1b}', 0),
                        b'v' => ('\u{b}', 0),
                        b'N' => ('\u{85}', 0),
                        b'_' => ('\u{a0}', 0),
                        b'L' => ('\u{2028}', 0),
                        b'P' => ('\u{2029}', 0),
                        b'x' => (self.hex(i + 2, 2)?, 2),
                        b'u' => (self.hex(i + 2, 4)?, 4),
                        b'U' => (self.hex(i + 2, 8)?, 8),
                        _ => return None,
                    };
                    out.push(c);
                    i += 2 + len;
                    run = i;
                }
                _ => i += 1,
            }
        }
    }

    fn hex(&self, at: usize, len: usize) -> Option<char> {
        let digits = self.text.get(at..at + len)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        char::from_u32(u32::from_str_radix(digits, 16).ok()?)
    }

    /// A single-quoted scalar that closes on its line (`''` is a quote).
    fn single_quoted(&mut self) -> Option<String> {
        let mut out = String::new();
        let mut i = self.pos + 1;
        let mut run = i;
        loop {
            match *self.b.get(i)? {
                b'\'' if self.b.get(i + 1) == Some(&b'\'') => {
                    out.push_str(&self.text[run..=i]);
                    i += 2;
                    run = i;
                }
                b'\'' => {
                    out.push_str(&self.text[run..i]);
                    self.pos = i + 1;
                    return Some(out);
                }
                b'\n' => return None,
                _ => i += 1,
            }
        }
    }

    /// A flow map or list that closes on its line, the reader at its `{`
    /// or `[`; it stops after the closing bracket.
    fn flow(&mut self) -> Option<Node<'a>> {
        self.enter()?;
        let loc = self.loc();
        let map = self.peek() == b'{';
        let close = if map { b'}' } else { b']' };
        self.pos += 1;
        self.skip_spaces();
        let mut values = Vec::new();
        let mut seen = Seen::default();
        let mut items = Vec::new();
        let mut kids = Vec::new();
        let mut entries = Vec::new();
        if self.peek() == close {
            self.pos += 1;
        } else {
            loop {
                if map {
                    let kloc = self.loc();
                    let quoted = matches!(self.peek(), b'"' | b'\'');
                    let name = self.flow_key()?;
                    self.skip_spaces();
                    if self.peek() != b':' {
                        return None; // a key without a value
                    }
                    self.pos += 1;
                    // After a plain key, `:` needs a space (`a:b` is one scalar).
                    if !quoted && self.peek() != b' ' {
                        return None;
                    }
                    self.skip_spaces();
                    let (value, pos) = self.flow_value()?;
                    if !seen.insert(&values, &name) {
                        return None;
                    }
                    entries.push((Box::from(&*name), kloc, pos));
                    values.push((name, value));
                } else {
                    let (value, pos) = self.flow_value()?;
                    items.push(value);
                    kids.push(pos);
                }
                self.skip_spaces();
                match self.peek() {
                    b',' => {
                        self.pos += 1;
                        self.skip_spaces();
                        if self.peek() == close {
                            return None; // a trailing comma
                        }
                    }
                    c if c == close => {
                        self.pos += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(if map {
            (
                Data::Map(values),
                PosNode {
                    loc,
                    kids: Kids::Map(entries),
                },
            )
        } else {
            (
                Data::Seq(items),
                PosNode {
                    loc,
                    kids: Kids::Seq(kids),
                },
            )
        })
    }

    fn flow_key(&mut self) -> Option<Cow<'a, str>> {
        Some(match self.peek() {
            b'"' => Cow::Owned(self.double_quoted()?),
            b'\'' => Cow::Owned(self.single_quoted()?),
            _ => plain_key(self.plain(true)?)?,
        })
    }

    fn flow_value(&mut self) -> Option<Node<'a>> {
        let loc = self.loc();
        let value = match self.peek() {
            b'{' | b'[' => return self.flow(),
            b'"' => Value::String(self.double_quoted()?),
            b'\'' => Value::String(self.single_quoted()?),
            _ => scalar(self.plain(true)?, ScalarStyle::Plain)?,
        };
        Some((Data::Value(value), PosNode::leaf(loc)))
    }
}

/// A plain scalar used as a key, named the way the event reader names it.
fn plain_key(text: &str) -> Option<Cow<'_, str>> {
    if text.is_empty() || text == "<<" {
        return None; // `<<` is a merge key
    }
    // Keys are nearly always words: known to stay text without building
    // the scalar (which allocates) only to take its name.
    let first = text.as_bytes()[0];
    let number_like = first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.' | b'~');
    let word = !number_like
        && !matches!(
            text,
            "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
        );
    if word && !text.ends_with(' ') {
        return Some(Cow::Borrowed(text));
    }
    Some(match scalar(text, ScalarStyle::Plain)? {
        Value::String(_) => Cow::Borrowed(text),
        Value::Null => Cow::Borrowed("null"),
        other => Cow::Owned(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::super::{SpanMap, plain_yaml, read_yaml_full};
    use serde_json::Value;

    /// What the event reader (or serde-saphyr) makes of `doc`.
    fn reference(doc: &str) -> Option<(Value, SpanMap)> {
        plain_yaml::read(doc).or_else(|| read_yaml_full(doc).ok())
    }

    /// Asserts the block reader reads `doc` as the others do or leaves it
    /// to them; says whether it read it.
    fn agrees(doc: &str) -> bool {
        let Some((value, spans)) = super::read(doc) else {
            return false;
        };
        let Some((v2, s2)) = reference(doc) else {
            panic!("read a document the event reader refuses: {doc:?}");
        };
        assert_eq!(value, v2, "{doc:?}");
        assert_eq!(spans.root, s2.root, "{doc:?}");
        true
    }

    #[test]
    fn reads_chain_files_as_the_event_reader_does() {
        let docs = super::super::repository_yaml(false);
        let files = docs.len();
        let read = docs.iter().filter(|(_, text)| agrees(text)).count();
        assert!(files >= 30, "found only {files} files");
        // Most are plain block YAML; the rest use block scalars and the like.
        assert!(read * 2 > files, "read {read} of {files} files");
    }

    #[test]
    fn reads_what_it_can_and_leaves_the_rest() {
        for doc in [
            "name: x\nsteps:\n  - name: A\n    url: \"http://h/{{ x }}\"  # c\n",
            "vars: {base: \"http://127.0.0.1:8080\", n: 3, l: [1, 'a', {b: c}]}\nsteps:\n- name: s0\n  url: \"{{ base }}/s/0.json\"\n",
            "a:\nb: 1\nl:\n-\n- x\n-   # c\nm:\n  - k:\n  - j: 1\n    m:\n",
            "---\n# lead\n\n  a: 1   \n  b: 'it''s'\n  c: \"\\t\\u00e9\\x41\\U0001F600\"\n",
            "é: ü\nk: 'é' # x\n\"q\" : 1\n200: ok\n~: n\ntrue: t\nu: http://h:8/#f\n",
            "- a\n- - b\n",
            "k: {\"a\":1, b: [ ], c: {}}\n",
        ] {
            agrees(doc);
        }
        for doc in [
            "text: |\n  one\n",
            "k: a\n  b\n",
            "k:\n  plain\n",
            "a: &x 1\nb: *x\n",
            "t: !!str 1\n",
            "k: 1.5\n",
            "k: [a, b,]\n",
            "k: {a}\n",
            "d: 1\nd: 2\n",
            "a: 1\n---\nb: 2\n",
            "a: 1\n...\n",
            "a:\tb\n",
            "a: b\r\n",
            "<<: {a: 1}\n",
            "? k\n: v\n",
            "k: \"open\n  close\"\n",
            "",
            "# nothing\n",
        ] {
            assert!(super::read(doc).is_none(), "{doc:?}");
        }
    }

    /// A small random generator of YAML in the shapes chain files take,
    /// with mistakes in it.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }

        fn key(&mut self) -> String {
            let k = self.pick(&[
                "name", "url", "a", "b", "headers", "X-Id", "\"q k\"", "'s'", "200", "null",
                "true", "é", "a b", "k#1", "\"a:b\"", "steps",
            ]);
            k.to_string()
        }

        fn scalar(&mut self) -> String {
            let usual = [
                "x",
                "\"{{ a.b }}\"",
                "http://h:8080/p?q=1#f",
                "'it''s'",
                "\"\\t\\\"\\u00e9\"",
                "12",
                "-3",
                "0",
                "007",
                "~",
                "null",
                "true",
                "yes",
                "a b c",
                "é ü",
                "\"\"",
                "''",
                "[]",
                "{}",
                "[1, two, {k: v}]",
                "{base: \"http://x\", n: 1}",
                "a\\b",
                "\"a\" ",
                "a:b",
                "x#y",
            ];
            // Mostly what chain files hold; sometimes what only the event
            // reader takes, or nothing takes.
            let odd = [
                "1.5", "-x", "{{ x }}", "a: b", "- a", "x #c", "\"open", "&a x", "*a", "!t x", "|",
                "[a, b,]", "{a}", ":x", "?x", "@x", "\"a\" b", "[a: 1]", "{a: [b}",
            ];
            if self.below(10) == 0 {
                self.pick(&odd).to_string()
            } else {
                self.pick(&usual).to_string()
            }
        }

        fn node(&mut self, out: &mut String, indent: usize, depth: usize) {
            let pad = |n: usize| " ".repeat(n);
            match self.below(if depth > 3 { 1 } else { 4 }) {
                0 => {
                    out.push(' ');
                    out.push_str(&self.scalar());
                    if self.below(4) == 0 {
                        out.push_str("  # note");
                    }
                    out.push('\n');
                }
                1 => {
                    out.push('\n');
                    let inner = indent + 1 + self.below(3);
                    for _ in 0..1 + self.below(3) {
                        out.push_str(&pad(inner));
                        out.push_str(&self.key());
                        out.push(':');
                        self.node(out, inner, depth + 1);
                    }
                }
                2 => {
                    out.push('\n');
                    let inner = indent + self.below(3);
                    for _ in 0..1 + self.below(3) {
                        out.push_str(&pad(inner));
                        out.push('-');
                        if self.below(2) == 0 {
                            out.push(' ');
                            out.push_str(&self.key());
                            out.push(':');
                            self.node(out, inner + 2, depth + 1);
                            if self.below(2) == 0 {
                                out.push_str(&pad(inner + 2));
                                out.push_str(&self.key());
                                out.push(':');
                                self.node(out, inner + 2, depth + 1);
                            }
                        } else {
                            self.node(out, inner, depth + 1);
                        }
                    }
                }
                _ => {
                    if self.below(2) == 0 {
                        out.push_str("  # empty");
                    }
                    out.push('\n');
                    if self.below(3) == 0 {
                        out.push_str("\n# between\n");
                    }
                }
            }
        }

        fn doc(&mut self) -> String {
            let mut out = String::new();
            if self.below(5) == 0 {
                out.push_str("---\n");
            }
            for _ in 0..1 + self.below(4) {
                out.push_str(&self.key());
                out.push(':');
                self.node(&mut out, 0, 0);
            }
            out
        }

        /// `doc` with one small edit.
        fn mutate(&mut self, doc: &str) -> String {
            let mut at = self.below(doc.len() + 1);
            while !doc.is_char_boundary(at) {
                at -= 1;
            }
            let mut out = doc.to_string();
            match self.below(3) {
                0 if at < doc.len() => {
                    out.remove(at);
                }
                1 => {
                    let bit = self.pick(&[
                        " ", "  ", ":", "- ", "#", "\"", "'", "\n", "{", "}", "[", "]", ",", "&",
                        "!", "x", "\t", "\\", ": ", "\n  ", "\n- ",
                    ]);
                    out.insert_str(at, bit);
                }
                _ => {
                    // Indent or dedent a line.
                    let start = doc[..at].rfind('\n').map_or(0, |i| i + 1);
                    if self.below(2) == 0 {
                        out.insert(start, ' ');
                    } else if doc[start..].starts_with(' ') {
                        out.remove(start);
                    }
                }
            }
            out
        }
    }

    #[test]
    fn generated_and_mutated_documents_read_alike() {
        let mut g = Gen(0x9E37_79B9_7F4A_7C15);
        let (mut docs, mut read, mut whole) = (0, 0, 0);
        for _ in 0..4000 {
            let doc = g.doc();
            docs += 1;
            let ok = agrees(&doc);
            read += usize::from(ok);
            whole += usize::from(ok);
            let mut edited = doc.clone();
            for _ in 0..4 {
                edited = g.mutate(&edited);
                docs += 1;
                read += usize::from(agrees(&edited));
            }
        }
        // Enough of them are read here for the comparison to mean something.
        eprintln!("read {read} of {docs}, {whole} of 4000 unedited");
        assert!(read * 10 > docs, "read {read} of {docs}");
    }
}
