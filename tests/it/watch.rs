//! `run --watch`: the chain again when a file it reads changes.

use std::time::Duration;

use crate::support::{Scratch, spawn};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn wait_for(server: &MockServer, p: &str) -> bool {
    for _ in 0..400 {
        let hit = server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .any(|r| r.url.path() == p);
        if hit {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

fn chain(p: &str) -> String {
    format!("steps:\n  - name: A\n    url: \"{{{{ base }}}}{p}\"\n")
}

#[cfg(unix)]
#[tokio::test]
async fn a_change_stops_the_run_in_progress_and_runs_again() {
    let server = MockServer::start().await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    for p in ["/fast", "/sub"] {
        Mock::given(path(p))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
    }
    let dir = Scratch::new();
    let file = dir.file("c.yaml", &chain("/slow"));
    let base = format!("base={}", server.uri());
    let child = spawn(&[
        "run",
        file.to_str().unwrap(),
        "--watch",
        "--var",
        &base,
        "--no-progress",
    ]);
    assert!(wait_for(&server, "/slow").await, "the first run started");
    // The slow run is abandoned: the new one starts at once.
    std::fs::write(&file, chain("/fast")).unwrap();
    assert!(wait_for(&server, "/fast").await, "the change was seen");
    // A broken file is reported and the watch goes on.
    std::fs::write(&file, "steps: [").unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    // A sub-chain the chain names is watched too.
    dir.file("sub.yaml", &chain("/nothing"));
    std::fs::write(
        &file,
        "steps:\n  - name: S\n    chain: sub.yaml\n    with: {base: \"{{ base }}\"}\n",
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    dir.file("sub.yaml", &chain("/sub"));
    assert!(
        wait_for(&server, "/sub").await,
        "the sub-chain's change was seen"
    );
    crate::support::send_signal(child.id(), "INT");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("c.yaml changed: running again"), "{stderr}");
    assert!(stderr.contains("error: invalid YAML"), "{stderr}");
    assert!(
        stderr.contains("sub.yaml changed: running again"),
        "{stderr}"
    );
}

#[test]
fn watch_needs_a_file() {
    let out = crate::support::run_cmd(
        crate::support::pytopus()
            .args(["run", "-", "--watch"])
            .write_stdin(chain("/x")),
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--watch needs a chain file"),
        "{}",
        out.stderr
    );
}
