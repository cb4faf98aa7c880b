//! Connectors (SPEC §4): "this API, with my credentials, its rate limit and
//! its endpoints" under one name. A step with `connector:` is turned into an
//! ordinary step here, before validation, so the engine runs it like any
//! other; only `params` (rendered first) and the rate limiter are new to it.
//!
//! Where a name is looked up, first match wins: the chain's `connectors:`
//! (inline, or file paths), `connectors/` beside the chain, the user's config
//! directory (`<config>/pytopus/connectors/`), then the built-in library
//! compiled into the binary. An inline entry named like a connector found
//! further down is an overlay: its keys replace that connector's (`headers`
//! and `endpoints` are merged key by key). `PYTOPUS_<NAME>_BASE_URL` in the
//! environment replaces any `base_url`.

mod check;
mod expand;
mod library;
mod model;
pub mod openapi;
pub mod ratelimit;

pub use check::check_text;
use check::*;
#[cfg(test)]
use expand::url_template;
pub use expand::{StepProblem, expand_step};
use library::*;
pub use library::{Library, user_dir};
pub use model::*;

use std::sync::{Arc, Mutex};

pub use ratelimit::RateLimiter;

/// The built-in library: every file of `connectors/`, compiled in.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("github", include_str!("../../connectors/github.yaml")),
    ("gitlab", include_str!("../../connectors/gitlab.yaml")),
    (
        "google-drive",
        include_str!("../../connectors/google-drive.yaml"),
    ),
    (
        "google-sheets",
        include_str!("../../connectors/google-sheets.yaml"),
    ),
    ("httpbin", include_str!("../../connectors/httpbin.yaml")),
    ("jira", include_str!("../../connectors/jira.yaml")),
    (
        "jsonplaceholder",
        include_str!("../../connectors/jsonplaceholder.yaml"),
    ),
    ("notion", include_str!("../../connectors/notion.yaml")),
    ("openai", include_str!("../../connectors/openai.yaml")),
    ("slack", include_str!("../../connectors/slack.yaml")),
    ("stripe", include_str!("../../connectors/stripe.yaml")),
    ("x", include_str!("../../connectors/x.yaml")),
];

/// The environment variable that replaces a connector's `base_url`.
pub fn base_url_var(name: &str) -> String {
    let upper: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("PYTOPUS_{upper}_BASE_URL")
}

/// Whether `name` is a valid connector name.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// The rate limiter of a connector, shared by every run in this process
/// (data-driven rows, sub-chains and served runs draw from one bucket).
pub fn limiter(connector: &Connector) -> Option<Arc<RateLimiter>> {
    static LIMITERS: Mutex<Vec<(String, Arc<RateLimiter>)>> = Mutex::new(Vec::new());
    let spec = connector.file.rate_limit.as_ref()?;
    let key = format!(
        "{}|{}|{}|{}|{}",
        connector.name,
        connector.base_url,
        spec.requests,
        spec.per.0.as_nanos(),
        spec.burst.unwrap_or(0)
    );
    let mut all = LIMITERS.lock().ok()?;
    if let Some((_, l)) = all.iter().find(|(k, _)| *k == key) {
        return Some(Arc::clone(l));
    }
    let l = Arc::new(RateLimiter::new(
        connector.name.clone(),
        spec.requests,
        spec.per.0,
        spec.burst,
    ));
    all.push((key, Arc::clone(&l)));
    Some(l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn endpoint(v: Value) -> Endpoint {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn parameters_come_from_path_query_and_templates() {
        let e = endpoint(json!({
            "path": "/repos/{owner}/{repo}/issues",
            "query": {"state": "open", "per_page": null},
            "body": {"title": "{{ params.title }}", "body": "{{ params.body | default('') }}"},
            "required": ["per_page"]
        }));
        let shown: Vec<String> = e.parameters().iter().map(Param::to_string).collect();
        assert_eq!(
            shown,
            [
                "owner (path, required)",
                "repo (path, required)",
                "state (query, optional, default \"open\")",
                "per_page (query, required)",
                "title (body, required)",
                "body (body, optional)",
            ]
        );
    }

    #[test]
    fn placeholders_become_path_segment_templates() {
        assert_eq!(
            url_template("/repos/{owner}/{repo}"),
            "/repos/{{ params.owner | path_segment }}/{{ params.repo | path_segment }}"
        );
        assert_eq!(url_template("/plain"), "/plain");
    }

    #[test]
    fn overlays_merge_headers_and_endpoints_and_replace_the_rest() {
        let base = json!({"name": "a", "base_url": "https://a", "headers": {"X": "1", "Y": "2"},
                          "endpoints": {"e": {"path": "/e"}}});
        let over = json!({"base_url": "http://127.0.0.1:9", "headers": {"Y": "3"},
                          "endpoints": {"f": {"path": "/f"}}});
        let m = overlay(&base, &over);
        assert_eq!(m["base_url"], "http://127.0.0.1:9");
        assert_eq!(m["headers"], json!({"X": "1", "Y": "3"}));
        assert_eq!(
            m["endpoints"]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["e", "f"]
        );
    }

    #[test]
    fn the_built_in_list_is_the_connectors_directory() {
        let mut on_disk: Vec<String> =
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/connectors"))
                .unwrap()
                .filter_map(|e| {
                    let p = e.ok()?.path();
                    (p.extension()? == "yaml").then(|| p.file_stem()?.to_str().map(String::from))?
                })
                .collect();
        on_disk.sort();
        let built_in: Vec<String> = BUILT_IN.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(built_in, on_disk);
    }

    #[test]
    fn every_built_in_connector_checks_and_names_itself() {
        for (name, _) in BUILT_IN {
            let doc = built_in(name).unwrap_or_else(|| panic!("{name} does not parse"));
            let c = check(name, &doc).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(c.file.name.as_deref(), Some(*name));
            assert!(c.base_url.starts_with("https://"), "{name}: {}", c.base_url);
            assert!(
                c.file.description.is_some() && c.file.docs.is_some(),
                "{name}"
            );
            for (ename, e) in &c.file.endpoints {
                assert!(e.description.is_some(), "{name}.{ename} has a description");
            }
        }
    }

    #[test]
    fn env_names_for_base_urls() {
        assert_eq!(
            base_url_var("google-sheets"),
            "PYTOPUS_GOOGLE_SHEETS_BASE_URL"
        );
        assert!(valid_name("google-sheets") && valid_name("x") && !valid_name("X"));
        assert!(!valid_name("9a") && !valid_name(""));
    }
}
