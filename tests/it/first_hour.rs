//! What a new user hit in the first hour (issue "Test-grade assertions,
//! teardown, and the defects a new user hits in the first hour"): one test
//! per defect, each of which failed before its fix.

use std::io::Read as _;

use serde_json::Value;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Scratch, pytopus, run_cmd};

async fn ok_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"ok": 1})))
        .mount(&server)
        .await;
    server
}

const CHAIN: &str = "steps:\n  - {name: X, url: \"{{ base }}/x\"}\n";

/// Item 1: output paths that are not regular files. `--report /dev/stdout`
/// (here `/dev/fd/1`, the same thing without touching the system's
/// `/dev`) was renamed over instead of written to; a symlinked report was
/// replaced by a file, its target left as it was; a FIFO got nothing.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_go_through_devices_pipes_and_links() {
    let server = ok_server().await;
    let dir = Scratch::new();
    let chain = dir.file("c.yaml", CHAIN);
    let base = format!("base={}", server.uri());

    // The report on stdout, after the result.
    let out = run_cmd(pytopus().args([
        "run",
        chain.to_str().unwrap(),
        "--var",
        &base,
        "-q",
        "--no-history",
        "--report",
        "/dev/fd/1",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("\"steps\""), "{}", out.stdout);

    // A link: the file it points to gets the report; the link stays.
    let real = dir.path("reports/real.xml");
    std::fs::create_dir_all(real.parent().unwrap()).unwrap();
    std::fs::write(&real, "stale").unwrap();
    let link = dir.path("junit.xml");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let out = run_cmd(pytopus().args([
        "run",
        chain.to_str().unwrap(),
        "--var",
        &base,
        "-q",
        "--no-history",
        "--junit",
        link.to_str().unwrap(),
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let xml = std::fs::read_to_string(&real).unwrap();
    assert!(xml.contains("<testsuites"), "{xml}");

    // A FIFO, read by another thread as `--report >(jq .)` would be.
    let fifo = dir.path("report.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            std::fs::File::open(&fifo)
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            text
        })
    };
    let out = run_cmd(pytopus().args([
        "run",
        chain.to_str().unwrap(),
        "--var",
        &base,
        "-q",
        "--no-history",
        "--report",
        fifo.to_str().unwrap(),
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: Value = serde_json::from_str(&reader.join().unwrap()).unwrap();
    assert_eq!(report["status"], "passed");
    let meta = std::fs::metadata(&fifo).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type()));

    // New files are the owner's alone.
    let fresh = dir.path("new-report.json");
    let out = run_cmd(pytopus().args([
        "run",
        chain.to_str().unwrap(),
        "--var",
        &base,
        "-q",
        "--no-history",
        "--report",
        fresh.to_str().unwrap(),
        "--har",
        dir.path("run.har").to_str().unwrap(),
        "--record",
        dir.path("tape.json").to_str().unwrap(),
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    for name in ["new-report.json", "run.har", "tape.json"] {
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir.path(name)).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
}

/// `pytopus fmt` on a symlinked chain rewrites the file the link points to.
#[cfg(unix)]
#[test]
fn fmt_keeps_a_symlinked_chain_a_link() {
    let dir = Scratch::new();
    let real = dir.file(
        "real.yaml",
        "steps: [{name: A, url: \"http://x.test/\"}]\nname: linked\n",
    );
    let link = dir.path("link.yaml");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let out = run_cmd(pytopus().args(["fmt", link.to_str().unwrap()]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let text = std::fs::read_to_string(&real).unwrap();
    assert!(text.starts_with("name: linked\n"), "{text}");
}
