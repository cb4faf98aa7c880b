//! Checks on one value (`expect.assert`, `expect.headers` as a map), once
//! their templates are rendered: each check that does not hold is a
//! [`Mismatch`] saying where the value is, what was expected and what came.

use std::cmp::Ordering;

use serde_json::Value;

use super::check::show;
use super::outcome::Mismatch;
use crate::chain::expect::{Checks, Count, regex};

/// A value to check: where it is (`$.items[2].price`, `header etag`), and
/// the value, `None` when there is none.
#[derive(Clone, Copy)]
pub struct Subject<'a> {
    pub what: &'a str,
    pub value: Option<&'a Value>,
    /// A header's value is text that may stand for a number (`{gt: 0}` on
    /// `x-ratelimit-remaining`); a JSON string is not a number.
    pub text_numbers: bool,
    /// When the value is the list of what a JSONPath selected: where in the
    /// body each element is (`$['items'][2]['price']`).
    pub locations: Option<&'a [String]>,
}

/// The checks `rendered` (a map, as the chain wrote it and templates made
/// it) on `subject`, each failure added to `out`.
pub fn check(rendered: &Value, subject: Subject<'_>, out: &mut Vec<Mismatch>) {
    match serde_json::from_value::<Checks>(rendered.clone()) {
        Ok(checks) => run(&checks, subject, out),
        Err(e) => out.push(Mismatch {
            field: String::new(),
            what: subject.what.to_string(),
            expected: format!("checks that make sense once rendered ({e})"),
            actual: show(rendered),
        }),
    }
}

fn mismatch(out: &mut Vec<Mismatch>, what: &str, expected: String, actual: String) {
    out.push(Mismatch {
        field: String::new(),
        what: what.to_string(),
        expected,
        actual,
    });
}

/// Runs `checks` on `s`.
pub fn run(checks: &Checks, s: Subject<'_>, out: &mut Vec<Mismatch>) {
    if let Some(want) = checks.exists {
        match (want, s.value) {
            (true, None) => mismatch(
                out,
                s.what,
                "to exist".into(),
                "nothing (no such value in the response)".into(),
            ),
            (false, Some(v)) => mismatch(out, s.what, "not to exist".into(), show(v)),
            _ => {}
        }
    }
    let Some(v) = s.value else {
        let others = Checks {
            exists: None,
            ..checks.clone()
        };
        if !others.is_empty() {
            mismatch(
                out,
                s.what,
                describe(&others),
                "nothing (no such value in the response)".into(),
            );
        }
        return;
    };
    if let Some(want) = &checks.eq
        && !same(v, want, s.text_numbers)
    {
        mismatch(out, s.what, show(want), show(v));
    }
    if let Some(want) = &checks.ne
        && same(v, want, s.text_numbers)
    {
        mismatch(out, s.what, format!("not {}", show(want)), show(v));
    }
    for (op, bound) in [
        ("<", &checks.lt),
        ("<=", &checks.le),
        (">", &checks.gt),
        (">=", &checks.ge),
    ] {
        let Some(bound) = bound else { continue };
        match order(v, bound, s.text_numbers) {
            Some(o) if holds(op, o) => {}
            Some(_) => mismatch(out, s.what, format!("{op} {}", show(bound)), show(v)),
            None => mismatch(
                out,
                s.what,
                format!("{op} {} (a value to compare with it)", show(bound)),
                format!("{} {}", kind(v), show(v)),
            ),
        }
    }
    if let Some(want) = &checks.contains {
        let ok = match (v, want) {
            (Value::String(t), Value::String(w)) => t.contains(w.as_str()),
            (Value::String(t), w @ (Value::Number(_) | Value::Bool(_))) => {
                t.contains(&w.to_string())
            }
            (Value::Array(items), w) => items.iter().any(|i| same(i, w, false)),
            (Value::Object(map), Value::String(k)) => map.contains_key(k),
            _ => false,
        };
        if !ok {
            mismatch(out, s.what, format!("to contain {}", show(want)), show(v));
        }
    }
    if let Some(want) = &checks.starts_with
        && !v.as_str().is_some_and(|t| t.starts_with(want.as_str()))
    {
        mismatch(out, s.what, format!("to start with {want:?}"), show(v));
    }
    if let Some(want) = &checks.ends_with
        && !v.as_str().is_some_and(|t| t.ends_with(want.as_str()))
    {
        mismatch(out, s.what, format!("to end with {want:?}"), show(v));
    }
    if let Some(pattern) = &checks.matches {
        let text = match v {
            Value::String(t) => Some(t.clone()),
            Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
            _ => None,
        };
        match (regex(pattern), text) {
            (Err(e), _) => mismatch(out, s.what, "a valid pattern".into(), e),
            (Ok(re), Some(t)) if re.is_match(&t) => {}
            (Ok(_), _) => mismatch(out, s.what, format!("to match /{pattern}/"), show(v)),
        }
    }
    if let Some(t) = checks.kind
        && !t.holds(v)
    {
        mismatch(
            out,
            s.what,
            t.name().into(),
            format!("{} {}", kind(v), show(v)),
        );
    }
    if let Some(list) = &checks.one_of
        && !list.iter().any(|w| same(v, w, s.text_numbers))
    {
        mismatch(
            out,
            s.what,
            format!("one of {}", show(&Value::Array(list.clone()))),
            show(v),
        );
    }
    if let Some(count) = &checks.count {
        match (size(v), count) {
            (None, _) => mismatch(
                out,
                s.what,
                "a list, map or text to count".into(),
                format!("{} {}", kind(v), show(v)),
            ),
            (Some(n), Count::Exactly(want)) if n == *want => {}
            (Some(n), Count::Exactly(want)) => mismatch(
                out,
                &format!("{} count", s.what),
                want.to_string(),
                n.to_string(),
            ),
            (Some(n), Count::Text(text)) => match text.trim().parse::<u64>() {
                Ok(want) if want == n => {}
                Ok(want) => mismatch(
                    out,
                    &format!("{} count", s.what),
                    want.to_string(),
                    n.to_string(),
                ),
                Err(_) => mismatch(
                    out,
                    &format!("{} count", s.what),
                    format!("a count, not {text:?}"),
                    n.to_string(),
                ),
            },
            (Some(n), Count::Checks(inner)) => {
                let what = format!("{} count", s.what);
                let n = Value::from(n);
                run(
                    inner,
                    Subject {
                        what: &what,
                        value: Some(&n),
                        text_numbers: false,
                        locations: None,
                    },
                    out,
                );
            }
        }
    }
    if let Some(want) = checks.is_empty {
        let empty = v.is_null() || size(v) == Some(0);
        if empty != want {
            let expected = if want { "empty" } else { "not empty" };
            mismatch(out, s.what, expected.into(), show(v));
        }
    }
    if let Some(inner) = &checks.every {
        match elements(v, s) {
            Some(items) => {
                for (what, item) in &items {
                    run(inner, element(what, item), out);
                }
            }
            None => not_a_collection(out, s.what, "every", v),
        }
    }
    if let Some(inner) = &checks.some {
        match elements(v, s) {
            Some(items) => {
                let any = items.iter().any(|(what, item)| {
                    let mut failed = Vec::new();
                    run(inner, element(what, item), &mut failed);
                    failed.is_empty()
                });
                if !any {
                    mismatch(
                        out,
                        s.what,
                        format!("an element that is {}", describe(inner)),
                        format!("none of {} ({})", items.len(), show(v)),
                    );
                }
            }
            None => not_a_collection(out, s.what, "some", v),
        }
    }
    if let Some(inner) = &checks.not {
        let mut failed = Vec::new();
        run(inner, s, &mut failed);
        if failed.is_empty() {
            mismatch(out, s.what, format!("not {}", describe(inner)), show(v));
        }
    }
}

fn element<'a>(what: &'a str, item: &'a Value) -> Subject<'a> {
    Subject {
        what,
        value: Some(item),
        text_numbers: false,
        locations: None,
    }
}

fn not_a_collection(out: &mut Vec<Mismatch>, what: &str, check: &str, v: &Value) {
    mismatch(
        out,
        what,
        format!("a list or map for `{check}`"),
        format!("{} {}", kind(v), show(v)),
    );
}

/// The elements of a list (or the values of a map), each with where it is.
fn elements(v: &Value, s: Subject<'_>) -> Option<Vec<(String, Value)>> {
    let what = s.what;
    match v {
        Value::Array(items) => Some(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let at = match s.locations.and_then(|l| l.get(i)) {
                        Some(l) => l.clone(),
                        None => format!("{what}[{i}]"),
                    };
                    (at, item.clone())
                })
                .collect(),
        ),
        Value::Object(map) => Some(
            map.iter()
                .map(|(k, item)| {
                    (
                        format!("{what}['{}']", k.replace('\'', "\\'")),
                        item.clone(),
                    )
                })
                .collect(),
        ),
        _ => None,
    }
}

/// How many elements, keys or characters.
fn size(v: &Value) -> Option<u64> {
    match v {
        Value::Array(a) => Some(a.len() as u64),
        Value::Object(o) => Some(o.len() as u64),
        Value::String(s) => Some(s.chars().count() as u64),
        _ => None,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// A number, and a header's text when it reads as one.
fn number(v: &Value, text_numbers: bool) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) if text_numbers => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// Equal, `1` and `1.0` alike; a header's text equal to a number it reads as.
fn same(v: &Value, want: &Value, text_numbers: bool) -> bool {
    if v == want {
        return true;
    }
    match (number(v, text_numbers), want) {
        (Some(a), Value::Number(b)) => b.as_f64() == Some(a),
        _ => false,
    }
}

/// Numbers by value, texts in code-point order; anything else does not
/// compare.
fn order(v: &Value, bound: &Value, text_numbers: bool) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (number(v, text_numbers), number(bound, false)) {
        return a.partial_cmp(&b);
    }
    match (v, bound) {
        (Value::String(a), Value::String(b)) => Some(a.as_str().cmp(b.as_str())),
        _ => None,
    }
}

fn holds(op: &str, o: Ordering) -> bool {
    match op {
        "<" => o == Ordering::Less,
        "<=" => o != Ordering::Greater,
        ">" => o == Ordering::Greater,
        _ => o != Ordering::Less,
    }
}

/// Checks in words: `> 0 and to match /^a/`.
pub fn describe(c: &Checks) -> String {
    let mut parts = Vec::new();
    if let Some(e) = c.exists {
        parts.push(if e { "to exist" } else { "not to exist" }.to_string());
    }
    if let Some(v) = &c.eq {
        parts.push(show(v));
    }
    if let Some(v) = &c.ne {
        parts.push(format!("not {}", show(v)));
    }
    for (op, b) in [("<", &c.lt), ("<=", &c.le), (">", &c.gt), (">=", &c.ge)] {
        if let Some(b) = b {
            parts.push(format!("{op} {}", show(b)));
        }
    }
    if let Some(v) = &c.contains {
        parts.push(format!("to contain {}", show(v)));
    }
    if let Some(v) = &c.starts_with {
        parts.push(format!("to start with {v:?}"));
    }
    if let Some(v) = &c.ends_with {
        parts.push(format!("to end with {v:?}"));
    }
    if let Some(v) = &c.matches {
        parts.push(format!("to match /{v}/"));
    }
    if let Some(t) = c.kind {
        parts.push(t.name().to_string());
    }
    if let Some(l) = &c.one_of {
        parts.push(format!("one of {}", show(&Value::Array(l.clone()))));
    }
    match &c.count {
        Some(Count::Exactly(n)) => parts.push(format!("{n} long")),
        Some(Count::Text(t)) => parts.push(format!("{t} long")),
        Some(Count::Checks(inner)) => parts.push(format!("of a count {}", describe(inner))),
        None => {}
    }
    if let Some(e) = c.is_empty {
        parts.push(if e { "empty" } else { "not empty" }.to_string());
    }
    if let Some(inner) = &c.every {
        parts.push(format!("every element {}", describe(inner)));
    }
    if let Some(inner) = &c.some {
        parts.push(format!("some element {}", describe(inner)));
    }
    if let Some(inner) = &c.not {
        parts.push(format!("not ({})", describe(inner)));
    }
    parts.join(" and ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn failures(checks: Value, value: Option<Value>) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        check(
            &checks,
            Subject {
                what: "$.x",
                value: value.as_ref(),
                text_numbers: false,
                locations: None,
            },
            &mut out,
        );
        out.into_iter()
            .map(|m| (m.what, m.expected, m.actual))
            .collect()
    }

    fn passes(checks: Value, value: Value) -> bool {
        failures(checks, Some(value)).is_empty()
    }

    #[test]
    fn comparisons() {
        assert!(passes(json!({"eq": 1}), json!(1.0)));
        assert!(passes(json!({"ne": "1"}), json!(1)));
        assert!(passes(json!({"gt": 0, "le": 10}), json!(10)));
        assert!(!passes(json!({"lt": 10}), json!(10)));
        assert!(passes(json!({"ge": "2024-01-01"}), json!("2025-06-30")));
        assert_eq!(
            failures(json!({"gt": 0}), Some(json!("5"))),
            [(
                "$.x".into(),
                "> 0 (a value to compare with it)".into(),
                "a string \"5\"".into()
            )]
        );
        assert!(passes(json!({"eq": null}), json!(null)));
        assert!(!passes(json!({"eq": null}), json!(0)));
    }

    #[test]
    fn text_list_and_map_checks() {
        assert!(passes(json!({"contains": "ell"}), json!("hello")));
        assert!(passes(json!({"contains": 2}), json!([1, 2.0])));
        assert!(passes(json!({"contains": "id"}), json!({"id": 1})));
        assert!(!passes(json!({"contains": "x"}), json!(["xy"])));
        assert!(passes(
            json!({"starts_with": "he", "ends_with": "lo"}),
            json!("hello")
        ));
        assert!(passes(json!({"matches": "^[0-9a-f]{4}$"}), json!("beef")));
        assert!(passes(json!({"matches": "^4\\d$"}), json!(42)));
        assert!(!passes(json!({"matches": "^a"}), json!({"a": 1})));
        assert!(passes(json!({"type": "integer"}), json!(3.0)));
        assert!(!passes(json!({"type": "integer"}), json!(3.5)));
        assert!(passes(json!({"one_of": ["a", "b"]}), json!("b")));
        assert!(passes(json!({"is_empty": true}), json!([])));
        assert!(passes(json!({"is_empty": true}), json!(null)));
        assert!(passes(json!({"is_empty": false}), json!("x")));
    }

    #[test]
    fn counts_and_every_element_say_where() {
        assert!(passes(json!({"count": 3}), json!([1, 2, 3])));
        assert!(passes(json!({"count": "2"}), json!({"a": 1, "b": 2})));
        assert_eq!(
            failures(json!({"count": {"ge": 4}}), Some(json!([1, 2, 3]))),
            [("$.x count".into(), ">= 4".into(), "3".into())]
        );
        assert_eq!(
            failures(json!({"every": {"gt": 0}}), Some(json!([3, -1, 2, 0]))),
            [
                ("$.x[1]".into(), "> 0".into(), "-1".into()),
                ("$.x[3]".into(), "> 0".into(), "0".into())
            ]
        );
        assert!(passes(json!({"every": {"gt": 0}}), json!([])));
        assert!(passes(json!({"some": {"eq": "b"}}), json!(["a", "b"])));
        let f = failures(json!({"some": {"eq": "z"}}), Some(json!(["a", "b"])));
        assert_eq!(f[0].1, "an element that is \"z\"");
        assert_eq!(f[0].2, "none of 2 ([\"a\",\"b\"])");
        assert!(passes(json!({"not": {"contains": "x"}}), json!("abc")));
        assert!(!passes(json!({"not": {"contains": "a"}}), json!("abc")));
    }

    #[test]
    fn absent_values() {
        assert!(failures(json!({"exists": false}), None).is_empty());
        assert_eq!(
            failures(json!({"exists": true, "gt": 1}), None),
            [
                (
                    "$.x".into(),
                    "to exist".into(),
                    "nothing (no such value in the response)".into()
                ),
                (
                    "$.x".into(),
                    "> 1".into(),
                    "nothing (no such value in the response)".into()
                )
            ]
        );
        assert_eq!(
            failures(json!({"exists": false}), Some(json!(1))),
            [("$.x".into(), "not to exist".into(), "1".into())]
        );
    }

    #[test]
    fn header_text_compares_as_a_number() {
        let mut out = Vec::new();
        let v = json!("42");
        let s = Subject {
            what: "header x-left",
            value: Some(&v),
            text_numbers: true,
            locations: None,
        };
        check(
            &json!({"gt": 0, "eq": 42, "matches": "^\\d+$"}),
            s,
            &mut out,
        );
        assert!(out.is_empty(), "{:?}", out.len());
    }

    #[test]
    fn checks_that_no_longer_make_sense_after_rendering_are_mismatches() {
        let f = failures(json!({"exists": "yes"}), Some(json!(1)));
        assert_eq!(f.len(), 1);
        assert!(f[0].1.starts_with("checks that make sense"), "{}", f[0].1);
        let f = failures(json!({"matches": "("}), Some(json!("a")));
        assert_eq!(f[0].1, "a valid pattern");
    }
}
