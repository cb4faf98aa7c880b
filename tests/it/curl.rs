//! curl in and out (issue #25, item 4): `run --curl` prints commands that
//! real curl runs to send what pytopus sent; `import curl` turns commands
//! copied from browsers (tests/data/curl) into chains that send what curl
//! sends. Both are checked against a local server with the real curl.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pytopus::import::curl::{import, import_as};
use pytopus::import::shell::{self, Flavour};
use wiremock::matchers::{any, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// Whether `curl` runs here. Without it these checks are skipped with a
/// notice, unless `PYTOPUS_REQUIRE_CURL` is set (CI sets it and installs curl).
fn curl_available() -> bool {
    match std::process::Command::new("curl").arg("--version").output() {
        Ok(out) if out.status.success() => true,
        other => {
            if std::env::var_os("PYTOPUS_REQUIRE_CURL").is_some() {
                panic!(
                    "cannot run curl ({other:?}): install curl to check the commands pytopus prints and imports"
                );
            }
            eprintln!(
                "notice: curl is not installed: the curl commands were not run against a server (install curl; CI requires it)"
            );
            false
        }
    }
}

/// The devtools commands: (file stem, text, the flavour its extension says).
fn copied_commands() -> Vec<(String, String, Flavour)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/curl");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let flavour = match p.extension()?.to_str()? {
                "sh" => Flavour::Bash,
                "cmd" => Flavour::Cmd,
                _ => return None,
            };
            let stem = p.file_stem()?.to_str()?.to_string();
            Some((stem, std::fs::read_to_string(&p).unwrap(), flavour))
        })
        .collect()
}

/// The text with every `https://[user@]HOST.example.{com,org,net}` made
/// `http://[user@]ADDR` (the local server).
fn to_local(text: &str, base: &str) -> String {
    let addr = base.trim_start_matches("http://");
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("https://") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "https://".len()..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || "-.:@".contains(c)))
            .unwrap_or(after.len());
        let authority = &after[..end];
        let (user, host) = match authority.rfind('@') {
            Some(i) => (&authority[..=i], &authority[i + 1..]),
            None => ("", authority),
        };
        if ["example.com", "example.org", "example.net"]
            .iter()
            .any(|d| host.ends_with(d))
        {
            out.push_str(&format!("http://{user}{addr}"));
        } else {
            out.push_str(&format!("https://{authority}"));
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// What the tests compare of a request.
#[derive(Debug, PartialEq)]
struct Seen {
    method: String,
    path: String,
    query: Option<String>,
    headers: BTreeMap<String, Vec<String>>,
    cookies: Vec<String>,
    body: Body,
}

#[derive(Debug, PartialEq)]
enum Body {
    Json(serde_json::Value),
    Bytes(Vec<u8>),
}

/// Headers the client picks for itself, which differ between curl and
/// pytopus and say nothing about the request (`--compressed` and pytopus
/// both ask for compression, each its own list).
const CLIENT_HEADERS: &[&str] = &["host", "accept-encoding", "connection", "te"];

fn seen(r: &Request, skip_user_agent: bool) -> Seen {
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (k, v) in &r.headers {
        let name = k.as_str().to_ascii_lowercase();
        let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
        if CLIENT_HEADERS.contains(&name.as_str()) || (name == "user-agent" && skip_user_agent) {
            continue;
        }
        if name == "cookie" {
            cookies.extend(value.split(';').map(|p| p.trim().to_string()));
            continue;
        }
        headers.entry(name).or_default().push(value);
    }
    cookies.sort();
    let json = r
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let body = match serde_json::from_slice(&r.body) {
        Ok(v) if json => {
            // The same JSON, however it is spaced: the length goes too.
            headers.remove("content-length");
            Body::Json(v)
        }
        _ => Body::Bytes(r.body.clone()),
    };
    Seen {
        method: r.method.to_string(),
        path: r.url.path().to_string(),
        query: r.url.query().map(String::from),
        headers,
        cookies,
        body,
    }
}

/// Saves an import as `name` in `dir` and runs it, its secrets given as
/// `PYTOPUS_SECRET_*` variables.
fn run_imported(
    dir: &crate::support::Scratch,
    name: &str,
    imported: &pytopus::import::curl::Imported,
) -> crate::support::Output {
    let chain = dir.file(name, &imported.yaml);
    let mut cmd = crate::support::pytopus();
    cmd.env("PYTOPUS_KEYRING", "off")
        .args(["run", chain.to_str().unwrap(), "-q", "--no-history"]);
    for (name, value) in &imported.secrets {
        cmd.env(pytopus::secret::env_var_name(name), value.expose());
    }
    crate::support::run_cmd(&mut cmd)
}

async fn echo_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .mount(&server)
        .await;
    server
}

/// Every command copied from a browser imports into a chain that
/// `validate` accepts; the YAML and the notes are as recorded, and no
/// credential from the command is in either.
#[test]
fn copied_commands_import_as_chains_that_validate() {
    let commands = copied_commands();
    assert!(commands.len() >= 20, "{} commands", commands.len());
    let dir = crate::support::Scratch::new();
    let mut files = Vec::new();
    for (stem, text, flavour) in &commands {
        assert_eq!(
            shell::flavour(text),
            *flavour,
            "{stem}: the flavour guessed"
        );
        let imported = import_as(text, *flavour, None).unwrap_or_else(|e| panic!("{stem}: {e}"));
        // The command as one argument goes through the same guess.
        assert_eq!(import(text, None).unwrap().yaml, imported.yaml, "{stem}");
        let notes = imported.notes.join("\n");
        for (name, value) in &imported.secrets {
            let v = value.expose();
            if v.len() >= 4 {
                assert!(
                    !imported.yaml.contains(v) && !notes.contains(v),
                    "{stem}: the value of {name} is in the output"
                );
            }
            assert!(
                imported.yaml.contains(&format!("secret('{name}')")),
                "{stem}: {name}"
            );
            assert!(
                notes.contains(&format!("pytopus auth set {name}")),
                "{stem}: {notes}"
            );
        }
        insta::assert_snapshot!(
            format!("curl_import__{stem}"),
            format!("{}# notes:\n{notes}\n", imported.yaml)
        );
        files.push(dir.file(&format!("{stem}.yaml"), &imported.yaml));
    }
    let mut cmd = crate::support::pytopus();
    cmd.arg("validate").args(&files);
    let out = crate::support::run_cmd(&mut cmd);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
}

/// The round trip: each copied command run by real curl (bash commands by
/// bash itself, cmd commands as the words cmd would pass), and its import
/// run by pytopus with the command's credentials as its secrets; the
/// server sees the same request from both.
#[tokio::test(flavor = "multi_thread")]
async fn imported_commands_send_what_curl_sends() {
    if !curl_available() {
        return;
    }
    let server = echo_server().await;
    let dir = crate::support::Scratch::new();
    for (stem, text, flavour) in copied_commands() {
        let local = to_local(&text, &server.uri());
        let before = server.received_requests().await.unwrap().len();
        let out = match flavour {
            Flavour::Bash => std::process::Command::new("bash")
                .arg("-c")
                .arg(&local)
                .output()
                .unwrap(),
            Flavour::Cmd => {
                let words = shell::split(&local, Flavour::Cmd).unwrap();
                std::process::Command::new("curl")
                    .args(&words[1..])
                    .output()
                    .unwrap()
            }
        };
        assert!(
            out.status.success(),
            "{stem}: curl failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let imported = import_as(&local, flavour, None).unwrap();
        let ran = run_imported(&dir, &format!("{stem}.yaml"), &imported);
        assert_eq!(ran.code, 0, "{stem}: {}\n{}", ran.stderr, imported.yaml);
        let got = server.received_requests().await.unwrap();
        assert_eq!(got.len(), before + 2, "{stem}: one request each");
        // A browser's User-Agent is the command's and the chain's; curl's
        // own default is not compared.
        // curl's own User-Agent, when the command sets none, is not the
        // command's: not compared.
        let own = got[before]
            .headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("curl/"));
        let from_curl = seen(&got[before], own);
        let from_pytopus = seen(&got[before + 1], own);
        assert_eq!(from_pytopus, from_curl, "{stem}:\n{}", imported.yaml);
    }
}

/// The chain `run --curl` is checked with: secrets in a query, a bearer
/// header and Basic auth, quotes and shell syntax in values, an empty
/// header, JSON, a form, text with a carriage return (through printf), a
/// HEAD, `for_each` items, and a retried request.
const CHAIN: &str = r#"
vars: {base: "http://localhost"}
steps:
  - name: Query
    url: "{{ base }}/items?key={{ secret('token') }}&q=a%20b"
    headers:
      Authorization: "Bearer {{ secret('token') }}"
      X-Quote: "it's \"quoted\" $HOME `id` !x"
      X-Empty: ""
  - name: Basic
    method: PUT
    url: "{{ base }}/basic"
    auth: {type: basic, username: ann, password: "{{ secret('password') }}"}
    body: {name: Ada, note: "it's", n: 3}
  - name: Form
    method: POST
    url: "{{ base }}/form"
    form: {a: "1 2", b: "x&y"}
  - name: Text
    method: PATCH
    url: "{{ base }}/text"
    headers: {Content-Type: text/plain}
    body: "line1\nline2 'q' \\ %s ü\r\n"
  - name: Head
    method: HEAD
    url: "{{ base }}/head"
  - name: Each
    for_each: [1, 2]
    method: DELETE
    url: "{{ base }}/each/{{ item }}"
  - name: Flaky
    url: "{{ base }}/flaky"
    retry: {attempts: 2, backoff: 1ms, on: [503]}
"#;

/// The commands a run printed on stderr: (title, command).
fn printed_commands(stderr: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = stderr.lines();
    while let Some(line) = lines.next() {
        let Some(title) = line.strip_prefix("# ") else {
            continue;
        };
        if title.starts_with("note:") {
            continue;
        }
        let mut command = String::new();
        for l in lines.by_ref() {
            command.push_str(l);
            command.push('\n');
            if !l.ends_with(" \\") {
                break;
            }
        }
        out.push((title.to_string(), command));
    }
    out
}

/// Runs a printed command with POSIX sh (dash on Debian), secrets in the
/// environment.
fn run_printed(command: &str, env: &[(&str, &str)]) {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{} -s -o /dev/null", command.trim_end()))
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn flaky_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/flaky"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

/// Values a shell would read as syntax: `$1`, a command substitution,
/// `!`, `;`, `|`, `&`, a quote (the token also goes in the URL, which
/// percent-encodes a quote or a space: those are in the password).
const SECRETS: &[(&str, &str)] = &[
    ("PYTOPUS_SECRET_TOKEN", "tok$1`x`!en;9f8e|&*"),
    ("PYTOPUS_SECRET_PASSWORD", "pa ss:w0rd'!\"$HOME"),
];

/// Every request of a run, as printed by `--curl` and run by real curl,
/// reaches the server as pytopus sent it; secrets are only references.
#[tokio::test(flavor = "multi_thread")]
async fn run_curl_prints_commands_that_send_what_pytopus_sent() {
    let server = flaky_server().await;
    let dir = crate::support::Scratch::new();
    let chain = dir.file("c.yaml", CHAIN);
    let mut cmd = crate::support::pytopus();
    cmd.env("PYTOPUS_KEYRING", "off")
        .envs(SECRETS.iter().copied())
        .args([
            "run",
            chain.to_str().unwrap(),
            "--curl",
            "--no-history",
            "--var",
        ])
        .arg(format!("base={}", server.uri()));
    let out = crate::support::run_cmd(&mut cmd);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for (_, value) in SECRETS {
        assert!(!out.stderr.contains(value), "{}", out.stderr);
    }
    assert!(
        out.stderr
            .contains("-H 'Authorization: Bearer '\"$PYTOPUS_SECRET_TOKEN\""),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("--user 'ann:'\"$PYTOPUS_SECRET_PASSWORD\""),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("# note: set PYTOPUS_SECRET_TOKEN to the secret's value"),
        "{}",
        out.stderr
    );
    let commands = printed_commands(&out.stderr);
    let titles: Vec<&str> = commands.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Query",
            "Basic",
            "Form",
            "Text",
            "Head",
            "Each [0]",
            "Each [1]",
            "Flaky",
            "Flaky (attempt 2)"
        ],
        "{}",
        out.stderr
    );
    let sent = server.received_requests().await.unwrap();
    assert_eq!(sent.len(), commands.len());
    if !curl_available() {
        return;
    }
    for (_, command) in &commands {
        run_printed(command, SECRETS);
    }
    let all = server.received_requests().await.unwrap();
    for (i, (title, command)) in commands.iter().enumerate() {
        assert_eq!(
            seen(&all[commands.len() + i], true),
            seen(&all[i], true),
            "{title}: {command}"
        );
    }
}

/// `--dry-run --curl`: a command per request rendered, runnable; a secret
/// not at hand in a dry run is still a reference to its variable.
#[tokio::test(flavor = "multi_thread")]
async fn dry_run_curl_prints_each_rendered_request() {
    let server = flaky_server().await;
    let dir = crate::support::Scratch::new();
    let chain = dir.file("c.yaml", CHAIN);
    let run = |dry: bool, with_secrets: bool| {
        let mut cmd = crate::support::pytopus();
        cmd.env("PYTOPUS_KEYRING", "off")
            .args([
                "run",
                chain.to_str().unwrap(),
                "--curl",
                "--no-history",
                "--var",
            ])
            .arg(format!("base={}", server.uri()));
        if with_secrets {
            cmd.envs(SECRETS.iter().copied());
        }
        if dry {
            cmd.arg("--dry-run");
        }
        crate::support::run_cmd(&mut cmd)
    };
    // Without the secrets at hand, a dry run still refers to them.
    let bare = dir.file(
        "bare.yaml",
        "steps:\n  - name: A\n    url: http://h.test/\n    headers: {Authorization: \"Bearer {{ secret('token') }}\"}\n",
    );
    let out = crate::support::run_cmd(
        crate::support::pytopus()
            .env("PYTOPUS_KEYRING", "off")
            .args([
                "run",
                bare.to_str().unwrap(),
                "--curl",
                "--dry-run",
                "--no-history",
            ]),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("-H 'Authorization: Bearer '\"$PYTOPUS_SECRET_TOKEN\""),
        "{}",
        out.stderr
    );
    let out = run(true, true);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(server.received_requests().await.unwrap().is_empty());
    let commands = printed_commands(&out.stderr);
    let titles: Vec<&str> = commands.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Query", "Basic", "Form", "Text", "Head", "Each [0]", "Each [1]", "Flaky"
        ],
        "{}",
        out.stderr
    );
    assert!(
        commands[0]
            .1
            .contains("'Authorization: Bearer '\"$PYTOPUS_SECRET_TOKEN\""),
        "{}",
        commands[0].1
    );
    // The live run's requests, then the dry run's commands run by curl.
    let live = run(false, true);
    assert_eq!(live.code, 0, "{}", live.stderr);
    if !curl_available() {
        return;
    }
    let before = server.received_requests().await.unwrap();
    for (_, command) in &commands {
        run_printed(command, SECRETS);
    }
    let all = server.received_requests().await.unwrap();
    // The live run's first attempt of each request, in order.
    let live_requests: Vec<&Request> = before
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 8)
        .map(|(_, r)| r)
        .collect();
    for (i, (title, command)) in commands.iter().enumerate() {
        assert_eq!(
            seen(&all[before.len() + i], true),
            seen(live_requests[i], true),
            "{title}: {command}"
        );
    }
}

/// The canary: one secret in every form a template makes of it, through
/// `--curl`: its value is never printed, transformed forms are `***`.
#[tokio::test(flavor = "multi_thread")]
async fn curl_output_never_holds_a_secret_value() {
    use base64::Engine as _;
    const CANARY: &str = "CAN\"ARY-7f3a9c-qx-secret";
    let server = echo_server().await;
    let chain = r#"
steps:
  - name: Echo
    method: POST
    url: "{{ base }}/echo?t={{ secret('canary') | urlencode }}&raw={{ secret('canary') }}"
    headers:
      X-B64: "{{ secret('canary') | b64encode }}"
      X-Upper: "{{ secret('canary') | upper }}"
      X-Env: "{{ env.PYTOPUS_SECRET_CANARY }}"
      Authorization: "Basic hand-written-credential-99"
      Cookie: "sid=cookie-credential-77"
    body:
      pair: "ann:{{ secret('canary') }}"
      doubled: "{{ {'inner': secret('canary')} | tojson | tojson }}"
  - name: Basic
    url: "{{ base }}/basic"
    auth: {type: basic, username: "{{ secret('canary') | upper }}", password: "{{ secret('canary') }}"}
"#;
    let dir = crate::support::Scratch::new();
    let file = dir.file("c.yaml", chain);
    for dry in [false, true] {
        let mut cmd = crate::support::pytopus();
        cmd.env("PYTOPUS_KEYRING", "off")
            .env("PYTOPUS_SECRET_CANARY", CANARY)
            .args([
                "run",
                file.to_str().unwrap(),
                "--curl",
                "--no-history",
                "--var",
            ])
            .arg(format!("base={}", server.uri()));
        if dry {
            cmd.arg("--dry-run");
        }
        let out = crate::support::run_cmd(&mut cmd);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let b64 = base64::engine::general_purpose::STANDARD.encode(CANARY);
        let quoted = serde_json::to_string(CANARY).unwrap();
        let forms = [
            CANARY.to_string(),
            b64,
            CANARY.to_uppercase(),
            url::form_urlencoded::byte_serialize(CANARY.as_bytes()).collect(),
            quoted[1..quoted.len() - 1].to_string(),
            CANARY[..14].to_string(),
            "hand-written-credential-99".into(),
            "cookie-credential-77".into(),
        ];
        for text in [&out.stdout, &out.stderr] {
            for form in &forms {
                assert!(
                    !text.contains(form.as_str()),
                    "{form} leaked (dry run: {dry}):\n{text}"
                );
            }
        }
        assert!(
            out.stderr.contains("\"$PYTOPUS_SECRET_CANARY\""),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("-H 'X-B64: ***'"), "{}", out.stderr);
        assert!(
            out.stderr.contains("-H 'Authorization: Basic ***'"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("-H 'Cookie: ***'"), "{}", out.stderr);
        assert!(
            out.stderr.contains("# note: *** stands for a credential"),
            "{}",
            out.stderr
        );
    }
}

/// An OAuth2 token pytopus obtained has no variable: `***`, and a note
/// says to fetch one.
#[tokio::test(flavor = "multi_thread")]
async fn an_oauth2_token_is_masked_and_explained() {
    let server = MockServer::start().await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"access_token": "obtained-token-5e6f7a", "expires_in": 3600}),
        ))
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .mount(&server)
        .await;
    let chain = r#"
steps:
  - name: Me
    url: "{{ base }}/me"
    auth:
      type: oauth2
      grant: client_credentials
      token_url: "{{ base }}/token"
      client_id: app
      client_secret: "{{ secret('client') }}"
"#;
    let dir = crate::support::Scratch::new();
    let file = dir.file("c.yaml", chain);
    let out = crate::support::run_cmd(
        crate::support::pytopus()
            .env("PYTOPUS_KEYRING", "off")
            .env("PYTOPUS_SECRET_CLIENT", "client-secret-value-1")
            .args([
                "run",
                file.to_str().unwrap(),
                "--curl",
                "--no-history",
                "--var",
            ])
            .arg(format!("base={}", server.uri())),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        !out.stderr.contains("obtained-token-5e6f7a"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("Bearer ***'"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("# note: the OAuth2 token pytopus obtained is shown as ***: fetch one"),
        "{}",
        out.stderr
    );
}

/// `import curl` on the command line: the command as one argument, as
/// words, or on stdin; notes on stderr; errors name what is wrong, exit 2,
/// never a panic, whatever the input.
#[test]
fn import_curl_command_line() {
    let out = crate::support::run(&[
        "import",
        "curl",
        "curl -X POST https://api.example.com/v1/things -H 'Authorization: Bearer abc123xyz' -d 'a=1&b=2'",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("form:"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("token: \"{{ secret('example_token') }}\""),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("abc123xyz") && !out.stderr.contains("abc123xyz"));
    assert!(
        out.stderr.contains("note: the command's `Authorization: Bearer …` header now reads secret('example_token'): store the value from the command with `pytopus auth set example_token`"),
        "{}",
        out.stderr
    );
    // Words as the shell split them.
    let words = crate::support::run(&[
        "import",
        "curl",
        "--name",
        "Put",
        "curl",
        "-X",
        "PUT",
        "http://h.test/x",
    ]);
    assert_eq!(words.code, 0, "{}", words.stderr);
    assert!(words.stdout.contains("name: Put\n"), "{}", words.stdout);
    let stdin = crate::support::run_cmd(
        crate::support::pytopus()
            .args(["import", "curl", "--shell", "cmd", "-"])
            .write_stdin("curl ^\"http://h.test/a^\" ^\r\n  -H ^\"x-a: 1^\"\r\n"),
    );
    assert_eq!(stdin.code, 0, "{}", stdin.stderr);
    assert!(stdin.stdout.contains("x-a: \"1\""), "{}", stdin.stdout);

    let refused = |input: &[u8], says: &str| {
        let out = crate::support::run_cmd(
            crate::support::pytopus()
                .args(["import", "curl"])
                .write_stdin(input.to_vec()),
        );
        assert_eq!(out.code, 2, "{says}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{says}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    };
    refused(
        b"curl --frobnicate -Z https://x.test/",
        "`--frobnicate`, `-Z`",
    );
    refused(
        b"curl -F 'note=<note.txt' https://x.test/",
        "import does not read files",
    );
    refused(
        b"curl -F a=1 -d b=2 https://x.test/",
        "curl refuses that too",
    );
    refused(
        b"curl -F 'a=@x.bin;headers=X-A: 1' https://x.test/",
        "`;headers=`",
    );
    refused(b"curl -F 'a=\"open' https://x.test/", "never closed");
    refused(b"curl 'https://x.test/", "never closed");
    refused(b"curl https://x.test/\0", "NUL");
    refused(b"curl $URL", "`$URL`");
    refused(
        b"curl https://x.test/ | jq .",
        "import takes one curl command",
    );
    refused(b"wget https://x.test/", "not a curl command");
    refused(b"", "the command is empty");
    refused(b"curl -H", "needs a value");
    let mut big = b"curl 'https://x.test/' -d '".to_vec();
    big.extend(std::iter::repeat_n(b'a', 10 << 20));
    refused(&big, "never closed");
    let mut huge = big.clone();
    huge.extend(std::iter::repeat_n(b'a', 7 << 20));
    refused(&huge, "standard input");
    // A 10 MB body that closes is a chain, not a crash.
    big.extend_from_slice(b"'");
    let out = crate::support::run_cmd(
        crate::support::pytopus()
            .args(["import", "curl"])
            .write_stdin(big),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// `-G`, `--data-urlencode`, a URL's password, `--json` and `-u` each turn
/// into what curl would have sent.
#[test]
fn options_become_what_curl_would_send() {
    let i = |c: &str| import(c, None).unwrap();
    let g = i("curl -G https://a.example.com/s -d x=1 --data-urlencode 'q=a b'");
    assert!(
        g.yaml.contains("url: https://a.example.com/s?x=1&q=a+b\n"),
        "{}",
        g.yaml
    );
    assert!(!g.yaml.contains("method"), "{}", g.yaml);
    let u = i("curl https://me:pw-in-url@a.example.com/");
    assert!(
        u.yaml.contains("type: basic") && u.yaml.contains("username: me"),
        "{}",
        u.yaml
    );
    assert!(!u.yaml.contains("pw-in-url"), "{}", u.yaml);
    let j = i("curl --json '[1,2]' a.example.com/j");
    assert!(j.yaml.contains("url: http://a.example.com/j"), "{}", j.yaml);
    assert!(
        j.yaml.contains("method: POST") && j.yaml.contains("Accept: application/json"),
        "{}",
        j.yaml
    );
    let t = i("curl -m 2.5 -k --cacert ca.pem https://a.example.com/");
    assert!(
        t.yaml.contains("timeout: 2.5") && t.yaml.contains("verify: false"),
        "{}",
        t.yaml
    );
    let e = import(
        "curl -X POST https://a.example.com/ --data-binary @body.bin",
        None,
    )
    .unwrap_err();
    assert!(e.0.contains("reads the file `body.bin`"), "{e}");
    let e = import("curl https://a.example.com/ https://b.example.com/", None).unwrap_err();
    assert!(e.0.contains("more than one URL"), "{e}");
}

/// A multipart body's parts as (headers lowercased and sorted, bytes).
async fn parts_of(r: &Request) -> Vec<(Vec<String>, Vec<u8>)> {
    let ct = r
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(ct).unwrap_or_else(|e| panic!("{ct}: {e}"));
    let body = bytes::Bytes::from(r.body.clone());
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    while let Some(field) = form.next_field().await.unwrap() {
        let mut headers: Vec<String> = field
            .headers()
            .iter()
            .map(|(k, v)| format!("{}: {}", k.as_str(), v.to_str().unwrap()))
            .collect();
        headers.sort();
        parts.push((headers, field.bytes().await.unwrap().to_vec()));
    }
    parts
}

/// `-F` commands written by hand (fields, files with and without a type
/// and a file name, a quoted value, `--form-string`, a name given twice)
/// run by real curl in a directory holding the files, and their imports
/// saved there and run by pytopus: the server sees the same parts.
#[tokio::test(flavor = "multi_thread")]
async fn imported_forms_upload_what_curl_uploads() {
    if !curl_available() {
        return;
    }
    let server = echo_server().await;
    let dir = crate::support::Scratch::new();
    dir.file("notes.txt", "first line\nsecond line\n");
    dir.file("blob.bin", &"\u{1}binary-ish\u{0}".repeat(500));
    let base = server.uri();
    let commands = [
        format!("curl -F name=Ada -F 'file=@notes.txt' {base}/a"),
        format!(
            "curl -F 'doc=@blob.bin;type=application/x-blob;filename=report.dat' -F 'tag=one' -F 'tag=two' {base}/b"
        ),
        format!(
            "curl -X PUT -F 'text=\"semi;colon and \\\"quotes\\\"\"' --form-string 'at=@not-a-file' -F 'meta={{\"a\": 1}};type=application/json' {base}/c"
        ),
        format!("curl -H 'X-Trace: 7' -F 'password=hunter2-secret' {base}/d"),
    ];
    for (i, command) in commands.iter().enumerate() {
        let before = server.received_requests().await.unwrap().len();
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(command)
            .current_dir(dir.path("."))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{command}: curl failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let imported = import(command, None).unwrap_or_else(|e| panic!("{command}: {e}"));
        assert!(imported.yaml.contains("multipart:"), "{}", imported.yaml);
        for (_, value) in &imported.secrets {
            assert!(!imported.yaml.contains(value.expose()), "{}", imported.yaml);
        }
        let ran = run_imported(&dir, &format!("form{i}.yaml"), &imported);
        assert_eq!(ran.code, 0, "{command}: {}\n{}", ran.stderr, imported.yaml);
        let got = server.received_requests().await.unwrap();
        assert_eq!(got.len(), before + 2, "{command}");
        let (curl, ours) = (&got[before], &got[before + 1]);
        assert_eq!(ours.method, curl.method, "{command}");
        assert_eq!(ours.url.path(), curl.url.path(), "{command}");
        assert_eq!(
            ours.headers.get("x-trace"),
            curl.headers.get("x-trace"),
            "{command}"
        );
        assert_eq!(
            parts_of(ours).await,
            parts_of(curl).await,
            "{command}:\n{}",
            imported.yaml
        );
    }
}
