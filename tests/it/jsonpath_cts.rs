//! Runs the RFC 9535 JSONPath Compliance Test Suite through pytopus's
//! extraction layer (`pytopus::jsonpath::JsonPath`, which wraps jsonpath-rust).
//!
//! The suite is test data in the repository, `tests/data/jsonpath-cts.json`
//! (its source and licence are in `tests/data/README.md`). Cases jsonpath-rust currently gets wrong are
//! listed in `KNOWN_FAILURES`; the test fails when a case outside the list
//! fails (a regression) and when a case in the list passes (a fix: update the
//! list).

use std::cell::Cell;
use std::collections::BTreeSet;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;

use pytopus::jsonpath::JsonPath;
use serde_json::Value;

const CTS_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/jsonpath-cts.json");

const EXPECTED_CASES: usize = 703;

/// Serialises the tests in this file: the suite run swaps the process-wide
/// panic hook, which would otherwise silence a failing assertion elsewhere.
static PANIC_HOOK_LOCK: Mutex<()> = Mutex::new(());

/// CTS case names (unique in the suite) that jsonpath-rust gets wrong today.
const KNOWN_FAILURES: &[&str] = &[
    // Descendant segment with several selectors: nodes come out grouped by
    // selector ("b","c","e","f") instead of per visited node ("b","e","c","f").
    "basic, descendant segment, multiple selectors",
    "basic, descendant segment, object traversal, multiple selectors",
    // A filter nested in a filter's existence test selects nothing.
    "filter, nested",
    // Function well-typedness (RFC 9535 §2.4.3) is not checked, so these
    // invalid selectors compile and select nothing.
    // ValueType/LogicalType results used bare as a test expression:
    "functions, count, result must be compared",
    "functions, length, result must be compared",
    "functions, value, result must be compared",
    // length() given a non-singular query:
    "functions, length, non-singular query arg",
    "functions, length, non-singular query arg, multiple index selectors",
    "functions, length, non-singular query arg, multiple name selectors",
];

fn load_cases() -> Vec<Value> {
    let text = std::fs::read_to_string(CTS_PATH).unwrap_or_else(|e| {
        panic!("cannot read the JSONPath Compliance Test Suite at {CTS_PATH}: {e}")
    });
    let doc: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{CTS_PATH} is not valid JSON: {e}"));
    match doc.get("tests") {
        Some(Value::Array(tests)) => tests.clone(),
        _ => panic!("{CTS_PATH} has no `tests` array"),
    }
}

fn case_name(case: &Value) -> &str {
    case.get("name")
        .and_then(Value::as_str)
        .expect("every CTS case has a string `name`")
}

/// Runs one case; `Err` says how it went wrong.
fn run_case(case: &Value) -> Result<(), String> {
    let selector = case
        .get("selector")
        .and_then(Value::as_str)
        .ok_or("case has no string `selector`")?;
    let invalid = case
        .get("invalid_selector")
        .and_then(Value::as_bool)
        .unwrap_or(false);

    if invalid {
        let Ok(path) = JsonPath::compile(selector) else {
            return Ok(());
        };
        // Compiling is tolerated when evaluation then reports the error.
        let doc = case.get("document").cloned().unwrap_or(Value::Null);
        return match path.select(&doc) {
            Err(_) => Ok(()),
            Ok(found) => Err(format!(
                "invalid selector accepted; selected {}",
                Value::Array(found.into_iter().cloned().collect())
            )),
        };
    }

    let document = case.get("document").ok_or("valid case has no `document`")?;
    let acceptable: Vec<&Vec<Value>> = match (case.get("result"), case.get("results")) {
        (Some(Value::Array(one)), None) => vec![one],
        (None, Some(Value::Array(many))) => many
            .iter()
            .map(|r| r.as_array().ok_or("`results` entry is not an array"))
            .collect::<Result<_, _>>()?,
        _ => return Err("case needs exactly one of `result` / `results` arrays".into()),
    };

    let path = JsonPath::compile(selector).map_err(|e| format!("valid selector rejected: {e}"))?;
    let found = path
        .select(document)
        .map_err(|e| format!("select failed: {e}"))?;
    let found: Vec<Value> = found.into_iter().cloned().collect();
    if acceptable.iter().any(|want| **want == found) {
        Ok(())
    } else {
        Err(format!(
            "selected {}, expected {}",
            Value::Array(found),
            acceptable
                .iter()
                .map(|w| Value::Array(w.to_vec()).to_string())
                .collect::<Vec<_>>()
                .join(" or ")
        ))
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

#[test]
fn jsonpath_compliance_test_suite() {
    let _guard = PANIC_HOOK_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let cases = load_cases();

    let names: Vec<&str> = cases.iter().map(case_name).collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(
        unique.len(),
        names.len(),
        "CTS case names are no longer unique; key KNOWN_FAILURES differently"
    );
    let known: BTreeSet<&str> = KNOWN_FAILURES.iter().copied().collect();
    assert_eq!(
        known.len(),
        KNOWN_FAILURES.len(),
        "KNOWN_FAILURES has duplicates"
    );
    let stale: Vec<&str> = known.difference(&unique).copied().collect();

    // jsonpath-rust must not panic, but if it does the case just fails; keep
    // the hook from printing a backtrace for each one. Only this thread is
    // silenced: the other tests of the binary run beside it and their panic
    // messages must still show.
    thread_local!(static QUIET: Cell<bool> = const { Cell::new(false) });
    let previous_hook = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if !QUIET.with(Cell::get) {
            previous_hook(info);
        }
    }));
    QUIET.with(|quiet| quiet.set(true));
    let outcomes: Vec<(&str, Result<(), String>)> = cases
        .iter()
        .map(|case| {
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| run_case(case)))
                .unwrap_or_else(|payload| Err(format!("panicked: {}", panic_message(&*payload))));
            (case_name(case), outcome)
        })
        .collect();
    QUIET.with(|quiet| quiet.set(false));

    let mut passed = 0;
    let mut panics = 0;
    let mut regressions = Vec::new();
    let mut fixed = Vec::new();
    for (name, outcome) in &outcomes {
        match outcome {
            Ok(()) => {
                passed += 1;
                if known.contains(name) {
                    fixed.push(*name);
                }
            }
            Err(why) => {
                if why.starts_with("panicked") {
                    panics += 1;
                }
                if !known.contains(name) {
                    regressions.push(format!("  {name:?}: {why}"));
                }
            }
        }
    }

    eprintln!(
        "JSONPath CTS: {passed}/{} pass, {} known failures, {panics} panics",
        outcomes.len(),
        KNOWN_FAILURES.len()
    );

    let mut problems = Vec::new();
    if !regressions.is_empty() {
        problems.push(format!(
            "{} case(s) fail that are not in KNOWN_FAILURES:\n{}",
            regressions.len(),
            regressions.join("\n")
        ));
    }
    if !fixed.is_empty() {
        problems.push(format!(
            "{} case(s) in KNOWN_FAILURES now pass; remove them from the list:\n{}",
            fixed.len(),
            fixed
                .iter()
                .map(|n| format!("  {n:?}"))
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    if !stale.is_empty() {
        problems.push(format!(
            "KNOWN_FAILURES names cases the suite does not have: {stale:?}"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn jsonpath_compliance_test_suite_is_complete() {
    let _guard = PANIC_HOOK_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let cases = load_cases();
    assert_eq!(
        cases.len(),
        EXPECTED_CASES,
        "{CTS_PATH} should hold {EXPECTED_CASES} cases; is it truncated or a different version?"
    );
}
