//! `pytopus fmt`: keys put in order by moving their text (comments, blank
//! lines and flow style kept), nothing changed in a file already in order,
//! `last_modified` stamps only where the chain opted in, `--check`, and the
//! files it must not touch.

use crate::support::{Scratch, run};

const MESSY: &str = "# Users of the demo API.\nsteps:\n  # The user, by id.\n  - url: https://api.example.com/u/{{ id }}   # path param\n    name: GetUser\n    extract: {z: $.z, a: $.a}\n\n  - name: List\n    url: https://api.example.com/u\n\n# Who and which.\nvars: {id: 1, base: x}\nname: messy\n";

const TIDY: &str = "# Users of the demo API.\nname: messy\n\n# Who and which.\nvars: {id: 1, base: x}\nsteps:\n  # The user, by id.\n  - name: GetUser\n    url: https://api.example.com/u/{{ id }}   # path param\n    extract: {z: $.z, a: $.a}\n\n  - name: List\n    url: https://api.example.com/u\n";

fn today() -> String {
    humantime::format_rfc3339(std::time::SystemTime::now()).to_string()[..10].to_string()
}

#[test]
fn keys_move_with_their_comments_and_nothing_else_changes() {
    let dir = Scratch::new();
    let path = dir.file("c.yaml", MESSY);
    let p = path.to_str().unwrap();
    let before = run(&["run", p, "--dry-run", "-q"]);

    let out = run(&["fmt", p]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("c.yaml: formatted"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), TIDY);
    // Same requests as before.
    assert_eq!(run(&["run", p, "--dry-run", "-q"]).stdout, before.stdout);

    // A second fmt changes nothing, and --check agrees.
    let out = run(&["fmt", p]);
    assert!(out.stderr.contains("c.yaml: unchanged"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), TIDY);
    assert_eq!(run(&["fmt", "--check", p]).code, 0);
}

#[test]
fn a_file_in_order_is_not_touched() {
    let dir = Scratch::new();
    let path = dir.file("c.yaml", TIDY);
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = run(&["fmt", path.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("unchanged"), "{}", out.stderr);
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        modified
    );
}

#[test]
fn crlf_and_a_missing_last_newline() {
    let dir = Scratch::new();
    let path = dir.file(
        "c.yaml",
        "steps:\r\n  - url: https://h.test/\r\n    name: A\r\nname: n",
    );
    assert_eq!(run(&["fmt", path.to_str().unwrap()]).code, 0);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "name: n\r\nsteps:\r\n  - name: A\r\n    url: https://h.test/\r\n"
    );
}

#[test]
fn stamps_only_where_the_chain_opted_in() {
    let dir = Scratch::new();
    // Not opted in: no keys added.
    let plain = dir.file("plain.yaml", MESSY);
    assert_eq!(run(&["fmt", plain.to_str().unwrap()]).code, 0);
    let text = std::fs::read_to_string(&plain).unwrap();
    assert!(
        !text.contains("last_modified") && !text.contains("content_digest"),
        "{text}"
    );

    // Opted in: the date moves when the content changes, not the layout.
    let path = dir.file(
        "c.yaml",
        &MESSY.replace("name: messy\n", "name: messy\nlast_modified: 2020-01-01\n"),
    );
    let p = path.to_str().unwrap();
    assert_eq!(run(&["fmt", p]).code, 0);
    let stamped = std::fs::read_to_string(&path).unwrap();
    assert!(
        stamped.contains(&format!(
            "last_modified: \"{}\"\ncontent_digest: sha256:",
            today()
        )),
        "{stamped}"
    );
    let old = stamped.replace(&today(), "2020-01-01");

    // Only the layout differs (flow style): the old date stays.
    let relaid = old.replace("vars: {id: 1, base: x}\n", "vars:\n  id: 1\n  base: x\n");
    std::fs::write(&path, &relaid).unwrap();
    assert_eq!(run(&["fmt", p]).code, 0);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("last_modified: \"2020-01-01\""), "{text}");
    assert!(text.contains("vars:\n  id: 1\n  base: x\n"), "{text}");

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
fn check_reports_without_writing_and_json_stays_json() {
    let dir = Scratch::new();
    let json = r#"{"steps": [{"url": "https://h/", "name": "A"}]}"#;
    let path = dir.file("c.json", json);
    let p = path.to_str().unwrap();
    let out = run(&["fmt", "--check", p]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("c.json: would be reformatted"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), json);
    assert_eq!(run(&["fmt", p]).code, 0);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "{\n  \"steps\": [\n    {\n      \"name\": \"A\",\n      \"url\": \"https://h/\"\n    }\n  ]\n}\n"
    );
    assert_eq!(run(&["fmt", "--check", p]).code, 0);
}

#[test]
fn what_cannot_be_reordered_safely_is_left_alone() {
    let dir = Scratch::new();
    for (name, text, says) in [
        (
            "spaced.yaml",
            "steps:\n  - {name: A, url: \"https://h/\"}\n\"name\" : n\n",
            "spaced.yaml:3: cannot put the keys in order: not a `key: value` line",
        ),
        (
            "alias.yaml",
            "steps:\n  - name: A\n    url: &u https://h/\nvars:\n  u: *u\n",
            "without changing what the file says",
        ),
        (
            "broken.yaml",
            "steps:\n  - name: A\n    urll: x\n",
            "unknown key `urll`",
        ),
    ] {
        let path = dir.file(name, text);
        let out = run(&["fmt", path.to_str().unwrap()]);
        assert_eq!(out.code, 2, "{name}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{name}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "{name}");
    }
}

#[test]
fn a_chain_written_as_one_flow_map_is_left_as_it_is() {
    let dir = Scratch::new();
    let text = "{steps: [{url: \"http://x.test/\", name: A}], name: n}\n";
    let path = dir.file("c.yaml", text);
    let out = run(&["fmt", path.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
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
            "name", "trigger", "schedule", "timezone", "overlap", "vars", "steps"
        ],
        "{text}"
    );
}
