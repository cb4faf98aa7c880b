//! Shared test helpers: run the real binary on a chain written to a temp dir,
//! and scrub the parts of its output that change between runs.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub mod recording;

/// The `pytopus` binary, with a predictable environment.
pub fn pytopus() -> Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pytopus"));
    isolate(&mut cmd);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    Command::from_std(cmd)
}

/// What every test's `pytopus` process gets, whoever builds the command:
/// no colours, no proxies, and the user's own files out of reach.
pub fn isolate(cmd: &mut std::process::Command) -> &mut std::process::Command {
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        // `auth: {type: aws_sigv4}` reads these: the user's own stay out.
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("NO_COLOR", "1")
        // The user's own connectors (`<config>/pytopus/connectors`) stay out of tests.
        .env(
            "XDG_CONFIG_HOME",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/no-user-config"),
        )
        // Runs record their history here, not in the user's data directory.
        .env(
            "PYTOPUS_HISTORY_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/history"),
        )
}

/// A scratch directory holding chain files for one test.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        Scratch {
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    /// Writes `text` to `name` in the scratch dir and returns its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create a test dir");
        }
        std::fs::write(&path, text).expect("write a test file");
        path
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// What a run printed.
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `pytopus` with `args` and captures everything.
pub fn run(args: &[&str]) -> Output {
    run_cmd(pytopus().args(args))
}

pub fn run_cmd(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("pytopus runs");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Replaces what changes between runs (ports, temp paths, timings) with fixed text.
pub fn scrub(text: &str, base: &str, dir: Option<&Path>) -> String {
    let mut out = text.replace(base, "http://SERVER");
    if let Some(d) = dir {
        out = out.replace(&d.display().to_string(), "TMP");
    }
    // Timings: "(12ms", "(1.2s", "12ms" in progress lines.
    let re_like = |s: &str| -> String {
        let mut res = String::with_capacity(s.len());
        let chars: Vec<char> = s.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_ascii_alphanumeric()) {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let unit: String = chars[i..].iter().take(2).collect();
                if unit == "ms" {
                    res.push_str("[T]");
                    i += 2;
                    continue;
                }
                if chars.get(i) == Some(&'s')
                    && !chars.get(i + 1).is_some_and(|c| c.is_alphanumeric())
                {
                    res.push_str("[T]");
                    i += 1;
                    continue;
                }
                res.extend(&chars[start..i]);
                continue;
            }
            res.push(chars[i]);
            i += 1;
        }
        res
    };
    re_like(&out)
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Writes `chain` to a scratch dir as `c.yaml` and runs it with the variable
/// `base` set to `base` (a test server's address) and `args` after.
pub fn run_chain(base: &str, chain: &str, args: &[&str]) -> (Output, Scratch) {
    let dir = Scratch::new();
    let path = dir.file("c.yaml", chain);
    let base = format!("base={base}");
    let mut all = vec![
        "run",
        path.to_str().expect("utf-8 temp path"),
        "--var",
        &base,
    ];
    all.extend_from_slice(args);
    (run(&all), dir)
}

/// Waits until `server` has received a request (the run is in flight), then
/// sends `signal` (`INT`, `TERM`) to the process `pid` with the shell's
/// builtin `kill`, so no extra package is needed on a fresh machine.
/// Starts `pytopus` with `args` (isolated like every test's), stdout and
/// stderr captured, to be signalled while it runs.
pub fn spawn(args: &[&str]) -> std::process::Child {
    let bin = assert_cmd::cargo::cargo_bin("pytopus");
    isolate(&mut std::process::Command::new(bin))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("pytopus starts")
}

/// [`spawn`]s `run CHAIN --var base=BASE` with `args` after, as
/// [`run_chain`] runs it, to be signalled while it runs.
pub fn spawn_chain(chain: &Path, base: &str, args: &[&str]) -> std::process::Child {
    let base = format!("base={base}");
    let mut all = vec![
        "run",
        chain.to_str().expect("utf-8 temp path"),
        "--var",
        &base,
    ];
    all.extend_from_slice(args);
    spawn(&all)
}

pub async fn signal_when_busy(server: &wiremock::MockServer, pid: u32, signal: &str) {
    for _ in 0..100 {
        if !server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    send_signal(pid, signal);
}

/// Sends `signal` (`INT`, `TERM`…) to the process `pid`, as a terminal or
/// a supervisor would.
pub fn send_signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("sh")
        .args(["-c", &format!("kill -{signal} {pid}")])
        .status()
        .expect("sh runs");
    assert!(status.success(), "kill -{signal} {pid} failed");
}
