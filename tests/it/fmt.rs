//! `pytopus fmt`: canonical form, `last_modified` stamps, `--check`, and
//! files it must not touch.

use crate::support::{Scratch, run};

const MESSY: &str = "steps:\n  - url: https://api.example.com/u/{{ id }}\n    name: GetUser\n    extract: {z: $.z, a: $.a}\nvars: {id: 1, base: x}\nname: messy\n";

fn today() -> String {
    humantime::format_rfc3339(std::time::SystemTime::now()).to_string()[..10].to_string()
}

#[test]
fn a_chain_is_rewritten_in_canonical_order_and_stamped_once() {
    let dir = Scratch::new();
    let path = dir.file("c.yaml", MESSY);
    let p = path.to_str().unwrap();
    let before = run(&["run", p, "--dry-run", "-q"]);

    let out = run(&["fmt", p]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("c.yaml: formatted"), "{}", out.stderr);
    let text = std::fs::read_to_string(&path).unwrap();
    let expected_start = format!(
        "name: messy\nlast_modified: \"{}\"\ncontent_digest: sha256:",
        today()
    );
    assert!(text.starts_with(&expected_start), "{text}");
    let order: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with('-'))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(
        order,
        ["name", "last_modified", "content_digest", "vars", "steps"]
    );
    // Users' own maps keep their order; the step's keys are canonical.
    assert!(text.contains("- name: GetUser\n  url: "), "{text}");
    assert!(
        text.find("z: $.z").unwrap() < text.find("a: $.a").unwrap(),
        "{text}"
    );
    // Same requests as before.
    assert_eq!(run(&["run", p, "--dry-run", "-q"]).stdout, before.stdout);

    // A second fmt changes nothing.
    let out = run(&["fmt", p]);
    assert!(out.stderr.contains("c.yaml: unchanged"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn the_date_moves_when_the_content_changes_not_when_the_layout_does() {
    let dir = Scratch::new();
    let path = dir.file("c.yaml", MESSY);
    let p = path.to_str().unwrap();
    assert_eq!(run(&["fmt", p]).code, 0);
    let stamped = std::fs::read_to_string(&path).unwrap();
    let old = stamped.replace(&today(), "2020-01-01");

    // Only the layout differs (flow style, key order): the old date stays.
    let relaid = old.replace("vars:\n  id: 1\n  base: x\n", "vars: {id: 1, base: x}\n");
    std::fs::write(&path, &relaid).unwrap();
    assert_eq!(run(&["fmt", p]).code, 0);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("last_modified: \"2020-01-01\""), "{text}");

    // A value changed: today's date and a new digest.
    std::fs::write(&path, old.replace("id: 1", "id: 2")).unwrap();
    assert_eq!(run(&["fmt", p]).code, 0);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(&format!("last_modified: \"{}\"", today())),
        "{text}"
    );
    assert_ne!(
        text.lines().find(|l| l.starts_with("content_digest")),
        stamped.lines().find(|l| l.starts_with("content_digest"))
    );
}

#[test]
fn check_reports_without_writing() {
    let dir = Scratch::new();
    let path = dir.file(
        "c.json",
        r#"{"steps": [{"url": "https://h/", "name": "A"}]}"#,
    );
    let p = path.to_str().unwrap();
    let out = run(&["fmt", "--check", p]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("c.json: would be reformatted"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        r#"{"steps": [{"url": "https://h/", "name": "A"}]}"#
    );
    assert_eq!(run(&["fmt", p]).code, 0);
    let text = std::fs::read_to_string(&path).unwrap();
    // JSON stays JSON.
    assert!(text.starts_with("{\n  \"last_modified\""), "{text}");
    assert_eq!(run(&["fmt", "--check", p]).code, 0);
}

#[test]
fn comments_and_broken_files_are_left_alone() {
    let dir = Scratch::new();
    let commented = format!("# why this chain exists\n{MESSY}");
    let path = dir.file("c.yaml", &commented);
    let p = path.to_str().unwrap();
    let out = run(&["fmt", p]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("has comments, which `pytopus fmt` would lose"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), commented);
    assert_eq!(run(&["fmt", "--drop-comments", p]).code, 0);
    assert!(!std::fs::read_to_string(&path).unwrap().contains('#'));

    let broken = dir.file("b.yaml", "steps:\n  - name: A\n    urll: x\n");
    let out = run(&["fmt", broken.to_str().unwrap()]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("unknown key `urll`"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(&broken).unwrap(),
        "steps:\n  - name: A\n    urll: x\n"
    );
}

#[test]
fn serve_keys_have_their_place_after_the_description() {
    let dir = Scratch::new();
    let path = dir.file(
        "c.yaml",
        "steps:\n  - {name: A, url: \"https://api.example.com/a\"}\noverlap: skip\nvars: {x: 1}\ntimezone: UTC\nschedule: \"*/5 * * * *\"\nname: timed\ntrigger: {max_concurrent: 2}\n",
    );
    let out = run(&["fmt", path.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = std::fs::read_to_string(&path).unwrap();
    let order: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with('-'))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "name",
            "last_modified",
            "content_digest",
            "trigger",
            "schedule",
            "timezone",
            "overlap",
            "vars",
            "steps"
        ],
        "{text}"
    );
}
