//! Putting a YAML chain's keys in order by moving its text, not by writing
//! it again: what `pytopus fmt` does to YAML. Each key moves with its whole
//! block — the comment and blank lines just above it, its line, and every
//! line of its value — so comments, blank lines, quoting and flow style are
//! kept byte for byte, and a file already in order comes out unchanged.
//!
//! Ordered: the chain's own keys, `defaults:`'s, and those of each step
//! under `steps:` (or `api_chain:`) and `finally:`, when they are written as
//! block maps; a map written in flow style (`{…}`) is left as it is. Lines
//! before the first key (a header comment) stay first, and comment or blank
//! lines after the last stay last. What this cannot move safely — tab
//! indentation, several documents, `? ` keys, a line less indented than
//! its map — is refused with its line, and the caller reads the result back
//! to check it is the same chain.

/// Why the text could not be reordered: a line (from 1) and what is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub line: usize,
    pub why: String,
}

/// Which keys go first, in order, for each kind of map.
pub struct Orders<'a> {
    pub chain: &'a [&'a str],
    pub defaults: &'a [&'a str],
    pub step: &'a [&'a str],
}

#[derive(Clone)]
struct Line {
    text: String,
    ending: String,
    /// Its line number in the file, from 1.
    no: usize,
}

/// The keys of `text` (a YAML chain) in the order `orders` gives, known
/// keys first in that order, the others after them as they were. The
/// result ends with a line ending.
pub fn reorder(text: &str, orders: &Orders<'_>) -> Result<String, Refusal> {
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut lines: Vec<Line> = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (line, ending, next) = match rest.find('\n') {
            Some(i) if i > 0 && rest.as_bytes()[i - 1] == b'\r' => {
                (&rest[..i - 1], "\r\n", &rest[i + 1..])
            }
            Some(i) => (&rest[..i], "\n", &rest[i + 1..]),
            None => (rest, newline, ""),
        };
        lines.push(Line {
            text: line.to_string(),
            ending: ending.to_string(),
            no: lines.len() + 1,
        });
        rest = next;
    }
    let mut seen_content = false;
    for l in &lines {
        let lead: String = l.text.chars().take_while(|c| c.is_whitespace()).collect();
        if lead.contains('\t') && !trivia(&l.text) {
            return Err(refuse(l, "indented with a tab"));
        }
        let t = l.text.trim_end();
        let marker = t == "---" || t.starts_with("--- ") || t == "...";
        if marker && seen_content {
            return Err(refuse(l, "a second YAML document: fmt reads one"));
        }
        if !trivia(t) && !t.starts_with('%') && !marker {
            seen_content = true;
        }
    }
    // A document start and directives stay where they are, with the header.
    let start = lines
        .iter()
        .position(|l| {
            let t = l.text.trim_end();
            t == "---" || t.starts_with("--- ")
        })
        .map_or(0, |i| i + 1);
    // A document written as one flow map (`{steps: […]}`) is left as it is.
    if lines[start..]
        .iter()
        .find(|l| !trivia(&l.text))
        .is_some_and(|l| l.text.trim_start().starts_with(['{', '[']))
    {
        let mut same = text.to_string();
        if !same.ends_with('\n') {
            same.push_str(newline);
        }
        return Ok(same);
    }
    let mut out = lines[..start].to_vec();
    out.extend(reorder_map(
        &lines[start..],
        0,
        orders.chain,
        &mut |key, block| nested(key, block, orders),
    )?);
    let mut text = String::with_capacity(text.len() + 1);
    for l in out {
        text.push_str(&l.text);
        text.push_str(&l.ending);
    }
    Ok(text)
}

fn refuse(l: &Line, why: &str) -> Refusal {
    Refusal {
        line: l.no,
        why: why.to_string(),
    }
}

/// A blank line or a comment.
fn trivia(text: &str) -> bool {
    let t = text.trim_start();
    t.is_empty() || t.starts_with('#')
}

fn indent(text: &str) -> usize {
    text.len() - text.trim_start_matches(' ').len()
}

/// The key of a map entry starting at `text` (past its indentation), and
/// where its value starts, when `text` is one (`name: x`, `"a b": x`).
fn key_of(text: &str) -> Option<(String, usize)> {
    let (key, after) = match text.chars().next()? {
        q @ ('"' | '\'') => {
            let mut escaped = false;
            let mut end = None;
            for (i, c) in text.char_indices().skip(1) {
                if q == '"' && c == '\\' && !escaped {
                    escaped = true;
                    continue;
                }
                if c == q && !escaped {
                    end = Some(i);
                    break;
                }
                escaped = false;
            }
            let end = end?;
            (text[1..end].to_string(), end + 1)
        }
        '-' | '?' | '{' | '[' | '&' | '*' | '!' | '|' | '>' | '%' | '@' | '`' | '#' | ':' => {
            return None;
        }
        _ => {
            let mut found = None;
            for (i, c) in text.char_indices() {
                if c == '#' && i > 0 && text[..i].ends_with(char::is_whitespace) {
                    return None;
                }
                if c == ':' && text[i + 1..].chars().next().is_none_or(char::is_whitespace) {
                    found = Some(i);
                    break;
                }
            }
            let i = found?;
            (text[..i].trim_end().to_string(), i)
        }
    };
    let rest = &text[after..];
    if !rest.starts_with(':') || !rest[1..].chars().next().is_none_or(char::is_whitespace) {
        return None;
    }
    Some((key, after + 1))
}

/// What orders the lines of one entry (its key, its lines).
type Inner<'a> = dyn FnMut(&str, &[Line]) -> Result<Vec<Line>, Refusal> + 'a;

/// The block map at `indent_at` made of `region`, its entries in `order`:
/// each moves with the comment and blank lines just above it, its line and
/// its value's lines; `inner` may reorder within an entry (its own lines).
fn reorder_map(
    region: &[Line],
    indent_at: usize,
    order: &[&str],
    inner: &mut Inner<'_>,
) -> Result<Vec<Line>, Refusal> {
    let mut keys: Vec<(usize, String)> = Vec::new();
    for (pos, l) in region.iter().enumerate() {
        if trivia(&l.text) {
            continue;
        }
        let n = indent(&l.text);
        if n < indent_at {
            return Err(refuse(l, "less indented than the map it is in"));
        }
        if n > indent_at {
            continue;
        }
        let body = &l.text[n..];
        if body.starts_with("? ") || body == "?" {
            return Err(refuse(l, "a `? ` key: fmt does not move those"));
        }
        match key_of(body) {
            Some((k, _)) => keys.push((pos, k)),
            // A list under the key before (`steps:` then `- name: …` at the
            // same indentation).
            None if (body.starts_with("- ") || body == "-") && !keys.is_empty() => {}
            None => return Err(refuse(l, "not a `key: value` line where one was expected")),
        }
    }
    if keys.is_empty() {
        return Ok(region.to_vec());
    }
    // Comment and blank lines at the end stay at the end.
    let last = keys[keys.len() - 1].0;
    let mut tail = region.len();
    while tail > last + 1 && {
        let t = &region[tail - 1].text;
        trivia(t) && (t.trim().is_empty() || indent(t) <= indent_at)
    } {
        tail -= 1;
    }
    // Each block's first line: the comments and blank lines just above a
    // key (at the map's indentation) go with it; the first key's stay put.
    let mut starts: Vec<usize> = Vec::with_capacity(keys.len());
    for (b, &(pos, _)) in keys.iter().enumerate() {
        let mut s = pos;
        if b > 0 {
            let floor = keys[b - 1].0 + 1;
            while s > floor && {
                let t = &region[s - 1].text;
                trivia(t) && (t.trim().is_empty() || indent(t) == indent_at)
            } {
                s -= 1;
            }
        }
        starts.push(s);
    }
    let mut blocks: Vec<(usize, Vec<Line>)> = Vec::with_capacity(keys.len());
    for (b, (pos, key)) in keys.iter().enumerate() {
        let end = starts.get(b + 1).copied().unwrap_or(tail);
        let mut block = region[starts[b]..*pos].to_vec();
        block.extend(inner(key, &region[*pos..end])?);
        let rank = order.iter().position(|k| k == key).unwrap_or(order.len());
        blocks.push((rank, block));
    }
    blocks.sort_by_key(|(rank, _)| *rank);
    let mut out = region[..starts[0]].to_vec();
    for (_, block) in blocks {
        out.extend(block);
    }
    out.extend_from_slice(&region[tail..]);
    Ok(out)
}

/// Within a top-level entry: `defaults:`'s keys, and each step's under
/// `steps:`, `api_chain:` and `finally:`, when written on the lines below.
fn nested(key: &str, block: &[Line], orders: &Orders<'_>) -> Result<Vec<Line>, Refusal> {
    let head = &block[0].text;
    let Some((_, value_at)) = key_of(&head[indent(head)..]) else {
        return Ok(block.to_vec());
    };
    let after = head[indent(head) + value_at..].trim();
    if !(after.is_empty() || after.starts_with('#')) {
        return Ok(block.to_vec());
    }
    let body = &block[1..];
    let Some(first) = body.iter().find(|l| !trivia(&l.text)) else {
        return Ok(block.to_vec());
    };
    let at = indent(&first.text);
    let mut out = vec![block[0].clone()];
    match key {
        "defaults" => out.extend(reorder_map(body, at, orders.defaults, &mut |_, b| {
            Ok(b.to_vec())
        })?),
        "steps" | "api_chain" | "finally" => out.extend(items(body, at, orders.step)?),
        _ => return Ok(block.to_vec()),
    }
    Ok(out)
}

/// A block list at `at` whose items are maps: each item's keys in order.
fn items(region: &[Line], at: usize, order: &[&str]) -> Result<Vec<Line>, Refusal> {
    let is_item = |l: &Line| {
        !trivia(&l.text)
            && indent(&l.text) == at
            && (l.text[at..].starts_with("- ") || &l.text[at..] == "-")
    };
    let starts: Vec<usize> = (0..region.len()).filter(|&p| is_item(&region[p])).collect();
    let Some(&first) = starts.first() else {
        return Ok(region.to_vec());
    };
    let mut out = region[..first].to_vec();
    for (n, &s) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(region.len());
        out.extend(item(&region[s..end], at, order)?);
    }
    Ok(out)
}

/// One item of a block list (`- name: A` and the lines below it), read as
/// a map by blanking its `- `, ordered, and the `- ` put back on whichever
/// line now comes first.
fn item(region: &[Line], at: usize, order: &[&str]) -> Result<Vec<Line>, Refusal> {
    let first = &region[0].text;
    let rest = first[at + 1..].trim_start_matches(' ');
    let key_at = first.len() - rest.len();
    if rest.is_empty() || rest.starts_with('#') || key_of(rest).is_none() {
        // `-` alone, a flow map, a scalar: as written.
        return Ok(region.to_vec());
    }
    let dash = first[at..key_at].to_string();
    let mut shadow = region.to_vec();
    shadow[0].text = format!("{}{}", " ".repeat(key_at), rest);
    let mut ordered = reorder_map(&shadow, key_at, order, &mut |_, b| Ok(b.to_vec()))?;
    let head = &mut ordered[0];
    head.text = if head.text.trim().is_empty() {
        format!("{}{}", " ".repeat(at), dash.trim_end())
    } else {
        format!(
            "{}{}{}",
            " ".repeat(at),
            dash,
            &head.text[key_at.min(head.text.len())..]
        )
    };
    Ok(ordered)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDERS: Orders<'static> = Orders {
        chain: &["name", "vars", "defaults", "steps", "finally"],
        defaults: &["headers", "timeout", "retry"],
        step: &[
            "name", "method", "url", "headers", "body", "expect", "extract",
        ],
    };

    fn ok(text: &str) -> String {
        reorder(text, &ORDERS).unwrap_or_else(|r| panic!("line {}: {}", r.line, r.why))
    }

    #[test]
    fn a_file_in_order_is_unchanged() {
        let text = "# Orders\nname: shop   # the shop\n\nvars: {base: \"https://x.test\"}\n\nsteps:\n  # first\n  - name: A\n    url: \"{{ base }}/a\"\n  - {name: B, url: \"{{ base }}/b\"}\n";
        assert_eq!(ok(text), text);
    }

    #[test]
    fn keys_move_with_their_comments_and_blank_lines() {
        let text = "# header\nsteps:\n- url: https://x.test/a   # where\n  # the step's name\n  name: A\n  extract:\n    z: $.z\n    a: $.a\n\n# the vars\nvars:\n  base: x\nname: n\n# end\n";
        assert_eq!(
            ok(text),
            "# header\nname: n\n\n# the vars\nvars:\n  base: x\nsteps:\n- # the step's name\n  name: A\n  url: https://x.test/a   # where\n  extract:\n    z: $.z\n    a: $.a\n# end\n"
        );
        // And once in order, it stays.
        let again = ok(&ok(text));
        assert_eq!(again, ok(text));
    }

    #[test]
    fn block_scalars_flow_maps_and_crlf_are_kept() {
        let text = "steps:\r\n  - body: |\r\n      line one\r\n\r\n      line two\r\n    name: A\r\n    headers: {X-A: \"1\", X-B: \"2\"}\r\nname: n";
        assert_eq!(
            ok(text),
            "name: n\r\nsteps:\r\n  - name: A\r\n    headers: {X-A: \"1\", X-B: \"2\"}\r\n    body: |\r\n      line one\r\n\r\n      line two\r\n"
        );
    }

    #[test]
    fn defaults_and_finally_are_ordered_too() {
        let text = "defaults:\n  retry: {attempts: 2}\n  headers: {A: b}\nsteps:\n  - url: u\n    name: A\nfinally:\n  - url: v\n    name: B\n";
        assert_eq!(
            ok(text),
            "defaults:\n  headers: {A: b}\n  retry: {attempts: 2}\nsteps:\n  - name: A\n    url: u\nfinally:\n  - name: B\n    url: v\n"
        );
    }

    #[test]
    fn what_cannot_be_moved_safely_is_refused_with_its_line() {
        let r = reorder("name: n\n\tsteps: []\n", &ORDERS).unwrap_err();
        assert_eq!(r.line, 2);
        let r = reorder("name: n\n---\nname: m\n", &ORDERS).unwrap_err();
        assert!(r.why.contains("second YAML document"), "{r:?}");
        let r = reorder("? complex\n: v\n", &ORDERS).unwrap_err();
        assert!(r.why.contains("`? `"), "{r:?}");
        let r = reorder("steps:\n  - name: A\n   url: u\n", &ORDERS).unwrap_err();
        assert_eq!(r.line, 3, "{r:?}");
    }
}
