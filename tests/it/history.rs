//! Run history and `--resume`: what is recorded, concurrent writers, a
//! broken database, and resuming a five-step chain after a failure.

use crate::support::{Scratch, pytopus, run_cmd};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CANARY: &str = "CANARY-hist-91d2";

fn in_dir(dir: &Scratch, history: &Scratch, args: &[&str]) -> crate::support::Output {
    run_cmd(
        pytopus()
            .current_dir(dir.dir.path())
            .env("PYTOPUS_HISTORY_DIR", history.dir.path())
            .env("PYTOPUS_KEYRING", "off")
            .env("PYTOPUS_SECRET_CANARY", CANARY)
            .args(args),
    )
}

const FIVE: &str = r#"
steps:
  - {name: A, url: "{{ base }}/a", headers: {X-Key: "{{ secret('canary') }}"}}
  - {name: B, url: "{{ base }}/b/{{ A.n }}"}
  - {name: C, url: "{{ base }}/c", retry: {attempts: 1}}
  - {name: D, url: "{{ base }}/d"}
  - {name: E, url: "{{ base }}/e"}
output: {a: "{{ A.n }}", b: "{{ B.n }}", e: "{{ E.n }}"}
"#;

async fn five_server() -> MockServer {
    let server = MockServer::start().await;
    for (p, n) in [("/a", 1), ("/b/1", 2), ("/d", 4), ("/e", 5)] {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"n": n, "echo": CANARY})))
            .mount(&server)
            .await;
    }
    // C fails once, then works.
    Mock::given(method("GET"))
        .and(path("/c"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/c"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"n": 3})))
        .mount(&server)
        .await;
    server
}

/// A server answering `{"ok": true}`, a one-step chain `c.yaml` calling it,
/// an empty history directory, and the `base=` variable to pass.
async fn one_step_chain() -> (MockServer, Scratch, Scratch, String) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(&server)
        .await;
    let dir = Scratch::new();
    dir.file("c.yaml", "steps:\n  - {name: A, url: \"{{ base }}/x\"}\n");
    let base = format!("base={}", server.uri());
    (server, dir, Scratch::new(), base)
}

fn hits(reqs: &[wiremock::Request], p: &str) -> usize {
    reqs.iter().filter(|r| r.url.path() == p).count()
}

#[tokio::test]
async fn resume_reruns_from_the_failed_step_and_reuses_the_ones_before() {
    let server = five_server().await;
    let dir = Scratch::new();
    let history = Scratch::new();
    dir.file("five.yaml", FIVE);
    let base = format!("base={}", server.uri());
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "five.yaml", "--var", &base, "--no-progress"];
        args.extend_from_slice(extra);
        in_dir(&dir, &history, &args)
    };
    let first = run(&[]);
    assert_eq!(first.code, 1, "{}", first.stderr);

    let resumed = run(&["--resume"]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert!(
        resumed.stderr.contains("2 steps reused"),
        "{}",
        resumed.stderr
    );
    assert!(
        resumed.stderr.contains("[1/5] ok A GET"),
        "{}",
        resumed.stderr
    );
    assert!(
        resumed.stderr.contains("(reused from the history)"),
        "{}",
        resumed.stderr
    );
    let out: Value = serde_json::from_str(&resumed.stdout).unwrap();
    assert_eq!(out, json!({"a": 1, "b": 2, "e": 5}));
    let reqs = server.received_requests().await.unwrap();
    // A and B were sent once (by the first run); C twice; D and E once.
    assert_eq!(
        [
            hits(&reqs, "/a"),
            hits(&reqs, "/b/1"),
            hits(&reqs, "/c"),
            hits(&reqs, "/d"),
            hits(&reqs, "/e")
        ],
        [1, 1, 2, 1, 1]
    );

    // Nothing left to resume: the last run passed.
    let again = run(&["--resume"]);
    assert_eq!(again.code, 2);
    assert!(
        again.stderr.contains("nothing to resume"),
        "{}",
        again.stderr
    );

    // The history lists both runs; `show` gives the report, without the secret.
    let list = in_dir(&dir, &history, &["history"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(
        list.stdout.contains("failed") && list.stdout.contains("passed"),
        "{}",
        list.stdout
    );
    let show = in_dir(&dir, &history, &["history", "show", "1"]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    let report: Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(report["status"], "failed");
    assert_eq!(report["steps"][2]["status"], "failed");
    // `latest` is the newest run: the resumed one that passed.
    let latest = in_dir(&dir, &history, &["history", "show", "latest"]);
    assert_eq!(latest.code, 0, "{}", latest.stderr);
    let report: Value = serde_json::from_str(&latest.stdout).unwrap();
    assert_eq!(report["status"], "passed");
    let bad = in_dir(&dir, &history, &["history", "show", "newest"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("a number, or `latest`"),
        "{}",
        bad.stderr
    );
    // Reports and results are stored compressed: the bytes of every file
    // the database keeps (its log too) and every column's text once
    // decompressed are searched.
    let db_path = history.path("history.sqlite");
    let db = files_in(history.dir.path()).concat();
    assert!(!db.is_empty());
    let columns = stored_columns(&db_path);
    assert_eq!(columns.len(), 4, "two runs, a report and results each");
    assert!(columns.iter().any(|c| c.contains("\"name\":\"C\"")));
    let mut texts = vec![("show", show.stdout.as_bytes()), ("database", &db[..])];
    texts.extend(
        columns
            .iter()
            .map(|c| ("stored report or results", c.as_bytes())),
    );
    for (what, text) in texts {
        assert!(
            !text.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()),
            "the canary secret is in the {what}"
        );
    }
}

/// The bytes of each file in `dir` (the database, its log and index).
fn files_in(dir: &std::path::Path) -> Vec<Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect()
}

/// Every run's report and results, as text (they are stored gzip-compressed).
fn stored_columns(db: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT report, results FROM runs").unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
        })
        .unwrap();
    let mut out = Vec::new();
    for row in rows {
        let (report, results) = row.unwrap();
        for blob in [report, results] {
            let mut text = String::new();
            std::io::Read::read_to_string(
                &mut flate2::read::MultiGzDecoder::new(&blob[..]),
                &mut text,
            )
            .unwrap();
            out.push(text);
        }
    }
    out
}

#[tokio::test]
async fn resume_is_refused_when_the_chain_changed_unless_forced() {
    let server = five_server().await;
    let dir = Scratch::new();
    let history = Scratch::new();
    dir.file("five.yaml", FIVE);
    let base = format!("base={}", server.uri());
    let first = in_dir(&dir, &history, &["run", "five.yaml", "--var", &base, "-q"]);
    assert_eq!(first.code, 1);
    dir.file("five.yaml", &format!("{FIVE}description: edited\n"));
    let refused = in_dir(
        &dir,
        &history,
        &["run", "five.yaml", "--var", &base, "--resume", "-q"],
    );
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains("changed since run 1 failed"),
        "{}",
        refused.stderr
    );
    let forced = in_dir(
        &dir,
        &history,
        &[
            "run",
            "five.yaml",
            "--var",
            &base,
            "--resume",
            "--force",
            "-q",
        ],
    );
    assert_eq!(forced.code, 0, "{}", forced.stderr);
}

#[tokio::test]
async fn two_processes_record_at_once_and_history_can_be_turned_off() {
    let (_server, dir, history, base) = one_step_chain().await;
    let spawn = || {
        let bin = assert_cmd::cargo::cargo_bin("pytopus");
        let dir = dir.dir.path().to_path_buf();
        let hist = history.dir.path().to_path_buf();
        let base = base.clone();
        std::thread::spawn(move || {
            (0..5)
                .map(|_| {
                    std::process::Command::new(&bin)
                        .current_dir(&dir)
                        .env("PYTOPUS_HISTORY_DIR", &hist)
                        .args(["run", "c.yaml", "--var", &base, "-q"])
                        .output()
                        .unwrap()
                })
                .collect::<Vec<_>>()
        })
    };
    let (a, b) = (spawn(), spawn());
    for out in a.join().unwrap().into_iter().chain(b.join().unwrap()) {
        assert_eq!(out.status.code(), Some(0));
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("warning"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let list = in_dir(&dir, &history, &["history", "--limit", "50"]);
    assert_eq!(list.stdout.lines().count(), 11, "{}", list.stdout);

    for off in [vec!["--no-history"], vec![]] {
        let mut args = vec!["run", "c.yaml", "--var", &base, "-q"];
        args.extend(off.iter().copied());
        let out = run_cmd(
            pytopus()
                .current_dir(dir.dir.path())
                .env("PYTOPUS_HISTORY_DIR", history.dir.path())
                .env("PYTOPUS_HISTORY", if off.is_empty() { "off" } else { "on" })
                .args(&args),
        );
        assert_eq!(out.code, 0);
    }
    let list = in_dir(&dir, &history, &["history", "--limit", "50"]);
    assert_eq!(list.stdout.lines().count(), 11, "nothing more recorded");
}

#[tokio::test]
async fn a_corrupt_database_is_a_warning_not_a_failed_run() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(&server)
        .await;
    let dir = Scratch::new();
    let history = Scratch::new();
    history.file(
        "history.sqlite",
        "this is not a database, just text that is long enough to look like one? no.",
    );
    dir.file("c.yaml", "steps:\n  - {name: A, url: \"{{ base }}/x\"}\n");
    let base = format!("base={}", server.uri());
    let out = in_dir(&dir, &history, &["run", "c.yaml", "--var", &base, "-q"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("\"ok\": true"), "{}", out.stdout);
    assert!(
        out.stderr
            .contains("warning: this run was not recorded in the history"),
        "{}",
        out.stderr
    );
    let show = in_dir(&dir, &history, &["history", "show", "99"]);
    assert_ne!(show.code, 0);
}

/// The history keeps neither a step result nor a run output over 1 MiB; the
/// run itself still prints the whole of it.
#[tokio::test]
async fn results_and_outputs_over_a_mebibyte_are_not_stored() {
    let server = MockServer::start().await;
    let big: Vec<String> = (0..60_000).map(|i| format!("item number {i:08}")).collect();
    Mock::given(method("GET"))
        .and(path("/big"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": big})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/small"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"n": 1})))
        .mount(&server)
        .await;
    let dir = Scratch::new();
    let history = Scratch::new();
    dir.file(
        "c.yaml",
        "steps:\n  - {name: Small, url: \"{{ base }}/small\"}\n  - {name: Big, url: \"{{ base }}/big\"}\n",
    );
    let base = format!("base={}", server.uri());
    let out = in_dir(&dir, &history, &["run", "c.yaml", "--var", &base, "-q"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let printed: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(printed["items"].as_array().unwrap().len(), 60_000);

    let list = in_dir(&dir, &history, &["history"]);
    let id = list
        .stdout
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let shown = in_dir(&dir, &history, &["history", "show", &id]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(
        shown.stdout.len() < 100_000,
        "{} bytes shown",
        shown.stdout.len()
    );
    let db: usize = files_in(history.dir.path()).iter().map(Vec::len).sum();
    assert!(db < 200_000, "the database holds {db} bytes");
}

#[tokio::test]
async fn only_the_newest_runs_are_kept() {
    let (_server, dir, history, base) = one_step_chain().await;
    for _ in 0..5 {
        let out = run_cmd(
            pytopus()
                .current_dir(dir.dir.path())
                .env("PYTOPUS_HISTORY_DIR", history.dir.path())
                .env("PYTOPUS_HISTORY_KEEP", "3")
                .args(["run", "c.yaml", "--var", &base, "-q"]),
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let list = in_dir(&dir, &history, &["history", "--limit", "50"]);
    let ids: Vec<&str> = list
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(ids, ["5", "4", "3"], "{}", list.stdout);
}

/// The history stores a passed step's body once: `history show` gives the
/// excerpt the run's report file has, though the stored report leaves it
/// out (the stored result gives it back).
#[tokio::test]
async fn history_show_gives_the_excerpt_the_report_file_has() {
    let (_server, dir, history, base) = one_step_chain().await;
    let run = in_dir(
        &dir,
        &history,
        &["run", "c.yaml", "--var", &base, "--report", "r.json"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path("r.json")).unwrap()).unwrap();
    let excerpt = &file["steps"][0]["response"]["body_excerpt"];
    assert_eq!(*excerpt, json!(r#"{"ok":true}"#));
    let show = in_dir(&dir, &history, &["history", "show", "1"]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    let shown: Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(shown["steps"][0]["response"]["body_excerpt"], *excerpt);
    let columns = stored_columns(&history.path("history.sqlite"));
    assert!(!columns[0].contains("body_excerpt"), "{}", columns[0]);
    assert_eq!(columns[1], r#"[{"ok":true}]"#);
}
