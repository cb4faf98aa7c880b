//! `pytopus validate` (and `run`, which validates first) on chains that are
//! wrong in every way we know. Each message is a snapshot: this is exactly
//! what a user sees.

use crate::support::{pytopus, run, run_cmd};

#[test]
fn invalid_chains_are_rejected_with_a_position_and_a_hint() {
    insta::glob!("../chains", "invalid/*", |path| {
        let rel = path
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .expect("fixture under the crate")
            .display()
            .to_string();
        let out = run(&["validate", &rel]);
        assert_eq!(out.code, 2, "{rel}: validate should exit 2\n{}", out.stderr);
        assert_eq!(out.stdout, "", "{rel}: nothing on stdout");
        insta::assert_snapshot!(out.stderr);

        // `run` validates before sending anything, with the same message.
        let ran = run(&["run", &rel]);
        assert_eq!(ran.code, 2, "{rel}: run should exit 2");
        assert_eq!(ran.stderr, out.stderr, "{rel}: run and validate disagree");
    });
}

#[test]
fn valid_chain_passes() {
    let out = run(&[
        "validate",
        "tests/chains/ok/templates.yaml",
        "--var",
        "user_id=7",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "tests/chains/ok/templates.yaml: ok (3 steps)\n");
}

#[test]
fn validate_checks_every_file_and_fails_if_any_is_invalid() {
    let out = run(&[
        "validate",
        "tests/chains/ok/templates.yaml",
        "tests/chains/invalid/unknown_key.yaml",
        "--var",
        "user_id=1",
    ]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("templates.yaml: ok"), "{}", out.stderr);
    assert!(
        out.stderr.contains("unknown key `query_param`"),
        "{}",
        out.stderr
    );
}

#[test]
fn vars_from_the_command_line_satisfy_references() {
    let out = run(&[
        "validate",
        "tests/chains/invalid/undefined_variable.yaml",
        "--var",
        "user_id=1",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn missing_file_is_a_usage_error() {
    let out = run(&["validate", "tests/chains/nope.yaml"]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "error: cannot read chain file `tests/chains/nope.yaml`: no such file\n"
    );
}

#[test]
fn chain_from_stdin_is_sniffed() {
    let out = run_cmd(
        pytopus()
            .args(["validate", "-"])
            .write_stdin(r#"{"steps": [{"name": "A", "url": "http://example.test/"}]}"#),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = run_cmd(
        pytopus()
            .args(["validate", "-"])
            .write_stdin("steps:\n  - name: A\n    urll: x\n"),
    );
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(out.stderr, @r"
    error: unknown key `urll` in `steps[0]`
     --> <stdin>:3:5
      |
    3 |     urll: x
      |     ^
      = help: did you mean `url`?
    ");
}

#[test]
fn bad_var_flags_are_usage_errors() {
    let out = run(&[
        "validate",
        "tests/chains/ok/templates.yaml",
        "--var",
        "novalue",
    ]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--var `novalue` has no `=`"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_vars_file_is_reported_with_its_position() {
    let dir = crate::support::Scratch::new();
    let f = dir.file("vars.yaml", "user_id: [1\n");
    let out = run(&[
        "validate",
        "tests/chains/ok/templates.yaml",
        "--vars-file",
        f.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("invalid YAML"), "{}", out.stderr);
    assert!(out.stderr.contains("vars.yaml:"), "{}", out.stderr);
}

#[test]
fn clap_usage_errors_exit_2() {
    let out = run(&["run"]);
    assert_eq!(out.code, 2);
    let out = run(&["run", "x.yaml", "--output", "xml"]);
    assert_eq!(out.code, 2);
    let out = run(&["--version"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.starts_with("pytopus "));
}

/// Time zones come from the system's database, and from the copy built into
/// pytopus where there is none (`TZDIR` pointing nowhere stands in for a
/// slim container without tzdata).
#[test]
fn schedule_time_zones_work_with_or_without_the_system_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let chain = |tz: &str| {
        let path = dir.path().join(format!("{}.yaml", tz.replace('/', "_")));
        std::fs::write(
            &path,
            format!(
                "schedule: \"0 9 * * MON\"\ntimezone: {tz}\nsteps:\n  - name: ping\n    url: \"http://127.0.0.1:9/ping\"\n"
            ),
        )
        .expect("write chain");
        path.display().to_string()
    };
    let paris = chain("Europe/Paris");
    for tzdir in [None, Some("/nonexistent/zoneinfo")] {
        let mut cmd = pytopus();
        cmd.args(["validate", &paris]);
        if let Some(d) = tzdir {
            cmd.env("TZDIR", d);
        }
        let out = run_cmd(&mut cmd);
        assert_eq!(out.code, 0, "TZDIR={tzdir:?}: {}", out.stderr);
        assert!(out.stderr.ends_with("ok (1 step)\n"), "{}", out.stderr);
    }
    let typo = chain("Europe/Pariss");
    let mut cmd = pytopus();
    cmd.args(["validate", &typo])
        .env("TZDIR", "/nonexistent/zoneinfo");
    let out = run_cmd(&mut cmd);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("`Europe/Pariss` is not a known time zone"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("did you mean `Europe/Paris`?"),
        "{}",
        out.stderr
    );
}

/// A chain of `n` steps, each reading the one before; past 64 KB a chain is
/// loaded on a thread of its own, and must read and fail exactly alike.
fn long_chain(n: usize, last_url: &str) -> String {
    let mut text = String::from("name: long\nsteps:\n  - name: s0\n    url: \"{{ base }}/s/0\"\n");
    for i in 1..n {
        let url = if i + 1 == n {
            last_url.to_string()
        } else {
            format!("{{{{ base }}}}/s/{{{{ s{}.id }}}}", i - 1)
        };
        text.push_str(&format!("  - name: s{i}\n    url: \"{url}\"\n"));
    }
    text
}

#[test]
fn long_chains_load_and_fail_like_short_ones() {
    let dir = crate::support::Scratch::new();
    for n in [3, 1500] {
        let ok = dir.file("ok.yaml", &long_chain(n, "{{ base }}/end"));
        let out = run(&["validate", ok.to_str().unwrap(), "--var", "base=http://h"]);
        assert_eq!(out.code, 0, "{n} steps: {}", out.stderr);
        assert!(
            out.stderr.ends_with(&format!(": ok ({n} steps)\n")),
            "{}",
            out.stderr
        );

        let bad = long_chain(n, "{{ base }}/{{ nope }}");
        assert!(
            n < 10 || bad.len() > 64 << 10,
            "the long chain is {} bytes",
            bad.len()
        );
        let bad_path = dir.file("bad.yaml", &bad);
        let bad_path = bad_path.to_str().unwrap();
        for cmd in ["validate", "run"] {
            let out = run(&[cmd, bad_path, "--var", "base=http://h"]);
            assert_eq!(out.code, 2, "{cmd}, {n} steps: {}", out.stderr);
            assert!(
                out.stderr.contains("`nope` is not defined"),
                "{}",
                out.stderr
            );
            // The last step's url, on the file's last line.
            let line = 2 * n + 2;
            assert!(
                out.stderr.contains(&format!("bad.yaml:{line}:")),
                "{cmd}, {n} steps, line {line}: {}",
                out.stderr
            );
        }
    }
}

#[tokio::test]
async fn a_long_chain_loaded_on_its_own_thread_runs() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": 7})))
        .mount(&server)
        .await;
    let chain = long_chain(1400, "{{ base }}/end/{{ s1398.id }}");
    assert!(chain.len() > 64 << 10);
    let (out, _dir) = crate::support::run_chain(&server.uri(), &chain, &["-q", "--no-history"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1400);
    assert_eq!(requests[1399].url.path(), "/end/7");
}
