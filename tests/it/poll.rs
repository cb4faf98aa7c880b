//! `poll:`: a request again until a condition over its response holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::{Scratch, run, run_chain, scrub};
use serde_json::json;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// A job that is `pending` until the `done_at`-th request.
struct Job {
    hits: Arc<AtomicUsize>,
    done_at: usize,
    retry_after: Option<&'static str>,
}

impl Respond for Job {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.hits.fetch_add(1, Ordering::SeqCst) + 1;
        let state = if n >= self.done_at { "done" } else { "pending" };
        let mut r = ResponseTemplate::new(200).set_body_json(json!({"state": state, "n": n}));
        if let Some(after) = self.retry_after {
            r = r.insert_header("retry-after", after);
        }
        r
    }
}

async fn job(done_at: usize, retry_after: Option<&'static str>) -> (MockServer, Arc<AtomicUsize>) {
    let server = MockServer::start().await;
    let hits = Arc::new(AtomicUsize::new(0));
    Mock::given(path("/job"))
        .respond_with(Job {
            hits: Arc::clone(&hits),
            done_at,
            retry_after,
        })
        .mount(&server)
        .await;
    (server, hits)
}

const CHAIN: &str = "steps:\n  - name: Job\n    url: \"{{ base }}/job\"\n    poll:\n      until: \"{{ Job.state == 'done' }}\"\n      interval: 10ms\n      max_polls: 5\n    extract: {n: $.n}\noutput: {n: \"{{ n }}\", polls: \"{{ steps.Job.attempts }}\"}\n";

#[tokio::test]
async fn polls_until_the_condition_holds_and_checks_the_last_response() {
    let (server, hits) = job(3, None).await;
    let (out, d) = run_chain(&server.uri(), CHAIN, &["--no-progress"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    // `extract` applies to the last response.
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap(),
        json!({"n": 3, "polls": 3})
    );
    let text = scrub(&out.stderr, &server.uri(), Some(d.dir.path()));
    assert!(
        text.contains("[1/1] Job poll 1: not done yet; again in [T]\n"),
        "{text}"
    );
    assert!(
        text.contains("[1/1] Job poll 2: not done yet; again in [T]\n"),
        "{text}"
    );
    assert!(
        text.contains("[1/1] ok Job GET http://SERVER/job → 200 OK ([T], 3 polls)\n"),
        "{text}"
    );
}

#[tokio::test]
async fn a_poll_that_runs_out_fails_with_the_condition_and_the_last_response() {
    let (server, hits) = job(100, None).await;
    let (out, d) = run_chain(&server.uri(), CHAIN, &["--no-progress"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(hits.load(Ordering::SeqCst), 5);
    let text = scrub(&out.stderr, &server.uri(), Some(d.dir.path()));
    assert!(
        text.contains(
            "error: step `Job` failed: `{{ Job.state == 'done' }}` was still false after 5 requests in [T] (`max_polls: 5`)\n --> TMP/c.yaml:5:14\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("  = body:\n    {\"state\":\"pending\",\"n\":5}\n"),
        "the last body: {text}"
    );
    // A deadline instead of a count.
    let deadline = CHAIN.replace("max_polls: 5", "timeout: 80ms");
    let (out, _d) = run_chain(&server.uri(), &deadline, &["-q"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("(the 80ms `timeout`)"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn a_failed_status_ends_polling_as_a_failed_step() {
    let server = MockServer::start().await;
    Mock::given(path("/job"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    let (out, _d) = run_chain(&server.uri(), CHAIN, &["-q"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("expected status 2xx, got 404"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn each_item_of_a_fan_out_polls_and_retry_after_sets_the_pace() {
    let (server, hits) = job(2, Some("0")).await;
    // The interval is long: `Retry-After: 0` is what keeps this quick.
    let chain = "steps:\n  - name: Job\n    for_each: [1, 2]\n    url: \"{{ base }}/job\"\n    poll: {until: \"{{ Job.state == 'done' }}\", interval: 60s}\n";
    let started = Instant::now();
    let (out, _d) = run_chain(&server.uri(), chain, &["-q"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "Retry-After was not honoured"
    );
    // Item 0 took requests 1 and 2; item 1 saw `done` (n ≥ 2) at once.
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn tapes_replay_every_poll_without_waiting() {
    let (server, _hits) = job(3, None).await;
    let dir = Scratch::new();
    let tape = dir.path("t.json");
    let chain = CHAIN.replace("interval: 10ms", "interval: 20ms");
    let (out, _d) = run_chain(
        &server.uri(),
        &chain,
        &["-q", "--record", tape.to_str().unwrap()],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Replayed with a long interval: the tape answers at once.
    let slow = chain.replace("interval: 20ms", "interval: 60s");
    let started = Instant::now();
    let (replayed, _d) = run_chain(
        &server.uri(),
        &slow,
        &["-q", "--replay", tape.to_str().unwrap()],
    );
    assert_eq!(replayed.code, 0, "{}", replayed.stderr);
    assert_eq!(replayed.stdout, out.stdout);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the replay waited"
    );
}

#[test]
fn poll_is_checked_before_anything_is_sent() {
    let dir = Scratch::new();
    for (poll, message) in [
        (
            "{until: \"{{ Job.ok }}\", backoff: 0}",
            "`backoff` multiplies each wait",
        ),
        (
            "{until: \"{{ Job.ok }}\", max_polls: 0}",
            "`max_polls` must be at least 1",
        ),
        ("{until: \"{{ Jobb.ok }}\"}", "`Jobb` is not defined"),
        (
            "{until: \"{{ Job.ok }}\", interval: 5s, max_interval: 1s}",
            "`max_interval` is shorter than `interval`",
        ),
        (
            "{until: \"{{ Job.ok }}\", every: 1s}",
            "unknown key `every`",
        ),
    ] {
        let chain =
            format!("steps:\n  - name: Job\n    url: https://x.test/job\n    poll: {poll}\n");
        let file = dir.file("c.yaml", &chain);
        let out = run(&["validate", file.to_str().unwrap()]);
        assert_eq!(out.code, 2, "{poll}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{poll}: {}", out.stderr);
    }
    // The step's own name and `poll` are for `until` only.
    let chain = "steps:\n  - name: Job\n    url: https://x.test/{{ poll.count }}\n    poll: {until: \"{{ Job.ok }}\"}\n";
    let file = dir.file("c.yaml", chain);
    let out = run(&["validate", file.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("`poll` is not defined"),
        "{}",
        out.stderr
    );
    let with_save = "steps:\n  - name: Job\n    url: https://x.test/j\n    save_to: out.bin\n    poll: {until: \"{{ Job.ok }}\"}\n";
    let file = dir.file("c.yaml", with_save);
    let out = run(&["validate", file.to_str().unwrap()]);
    assert!(
        out.stderr.contains("`poll` cannot go with `save_to`"),
        "{}",
        out.stderr
    );
}
