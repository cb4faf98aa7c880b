//! `pytopus auth login`: the authorization-code flow with PKCE, with this
//! test playing the browser and a local server playing the token endpoint.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use base64::Engine as _;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// Starts `auth login`, reads the authorization URL it prints, and returns
/// the child and the URL's query parameters.
// The child is returned to the test, which waits for it.
#[allow(clippy::zombie_processes)]
fn start_login(
    server: &str,
) -> (
    std::process::Child,
    Vec<(String, String)>,
    BufReader<std::process::ChildStderr>,
) {
    let mut child = crate::support::isolate(&mut Command::new(env!("CARGO_BIN_EXE_pytopus")))
        .args([
            "auth",
            "login",
            "test_login",
            "--client-id",
            "pytopus",
            "--wait",
            "20s",
        ])
        .args(["--authorize-url", &format!("{server}/authorize")])
        .args(["--token-url", &format!("{server}/token")])
        .env("PYTOPUS_KEYRING", "off")
        .stderr(Stdio::piped())
        .spawn()
        .expect("pytopus starts");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        if err.read_line(&mut line).unwrap_or(0) == 0 {
            let _ = child.kill();
            let status = child.wait();
            panic!("pytopus printed no URL (exited: {status:?})");
        }
        if let Some(u) = line.trim().strip_prefix(&format!("{server}/authorize?")) {
            let pairs = url::form_urlencoded::parse(u.as_bytes())
                .into_owned()
                .collect();
            return (child, pairs, err);
        }
    }
}

fn get<'a>(pairs: &'a [(String, String)], k: &str) -> &'a str {
    pairs
        .iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

fn rest(mut err: BufReader<std::process::ChildStderr>) -> String {
    let mut s = String::new();
    std::io::Read::read_to_string(&mut err, &mut s).unwrap();
    s
}

#[tokio::test]
async fn login_exchanges_the_code_with_a_matching_pkce_verifier() {
    let server = MockServer::start().await;
    let (child, pairs, err) = start_login(&server.uri());
    assert_eq!(get(&pairs, "response_type"), "code");
    assert_eq!(get(&pairs, "code_challenge_method"), "S256");
    let challenge = get(&pairs, "code_challenge").to_string();
    let redirect = get(&pairs, "redirect_uri").to_string();
    assert!(redirect.starts_with("http://127.0.0.1:"), "{redirect}");
    // The token endpoint accepts the code only with the verifier behind the challenge.
    let expected_redirect = redirect.clone();
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(move |req: &Request| {
            let form: Vec<(String, String)> = url::form_urlencoded::parse(&req.body).into_owned().collect();
            let verifier = get(&form, "code_verifier");
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
            let s256 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
            get(&form, "grant_type") == "authorization_code"
                && get(&form, "code") == "code-from-browser"
                && get(&form, "redirect_uri") == expected_redirect
                && s256 == challenge
        })
        .respond_with(ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"access_token": "at", "refresh_token": "rt-from-login", "expires_in": 60}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    // The browser follows the redirect back to pytopus.
    let answer = reqwest::get(format!(
        "{redirect}?code=code-from-browser&state={}",
        get(&pairs, "state")
    ))
    .await
    .unwrap();
    assert_eq!(answer.status(), 200);
    let out = child.wait_with_output().unwrap();
    let stderr = rest(err);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("logged in; stored the refresh token as secret test_login"),
        "{stderr}"
    );
    assert!(!stderr.contains("rt-from-login"), "{stderr}");
}

#[tokio::test]
async fn a_redirect_with_the_wrong_state_is_refused() {
    let server = MockServer::start().await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let (child, pairs, err) = start_login(&server.uri());
    let redirect = get(&pairs, "redirect_uri").to_string();
    let answer = reqwest::get(format!("{redirect}?code=stolen&state=forged"))
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let out = child.wait_with_output().unwrap();
    let stderr = rest(err);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`state` does not match"), "{stderr}");
}

#[tokio::test]
async fn login_with_a_connector_takes_its_urls_client_and_secret_name() {
    let server = MockServer::start().await;
    let uri = server.uri();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("connectors")).unwrap();
    std::fs::write(
        dir.path().join("connectors/acme.yaml"),
        format!(
            "name: acme\nbase_url: {uri}\nauth:\n  type: oauth2\n  grant: authorization_code\n  authorize_url: {uri}/authorize\n  token_url: {uri}/token\n  client_id: \"{{{{ secret('acme_client') }}}}\"\n  scope: read write\n  refresh_token: \"{{{{ secret('acme_refresh') }}}}\"\n"
        ),
    )
    .unwrap();
    let mut child = crate::support::isolate(&mut Command::new(env!("CARGO_BIN_EXE_pytopus")))
        .args(["auth", "login", "acme", "--wait", "20s"])
        .current_dir(dir.path())
        .env("PYTOPUS_KEYRING", "off")
        .env("PYTOPUS_SECRET_ACME_CLIENT", "client-7")
        .env("XDG_CONFIG_HOME", dir.path().join("no-config"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("pytopus starts");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let pairs: Vec<(String, String)> = loop {
        line.clear();
        if err.read_line(&mut line).unwrap_or(0) == 0 {
            let _ = child.kill();
            panic!("pytopus printed no URL: {:?}", child.wait());
        }
        if let Some(u) = line.trim().strip_prefix(&format!("{uri}/authorize?")) {
            break url::form_urlencoded::parse(u.as_bytes())
                .into_owned()
                .collect();
        }
    };
    assert_eq!(get(&pairs, "client_id"), "client-7");
    assert_eq!(get(&pairs, "scope"), "read write");
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"access_token": "at", "refresh_token": "rt-acme", "expires_in": 60}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let answer = reqwest::get(format!(
        "{}?code=c&state={}",
        get(&pairs, "redirect_uri"),
        get(&pairs, "state")
    ))
    .await
    .unwrap();
    assert_eq!(answer.status(), 200);
    let out = child.wait_with_output().unwrap();
    let stderr = rest(err);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("stored the refresh token as secret acme_refresh")
            && stderr.contains("steps with `connector: acme` use it from now on"),
        "{stderr}"
    );
}

#[test]
fn login_without_urls_needs_an_oauth2_connector() {
    let run = |name: &str| {
        crate::support::isolate(&mut Command::new(env!("CARGO_BIN_EXE_pytopus")))
            .args(["auth", "login", name])
            .env("PYTOPUS_KEYRING", "off")
            .output()
            .unwrap()
    };
    let out = run("no_such_thing");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "`no_such_thing` is not a connector; give --authorize-url, --token-url and --client-id"
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run("github");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("connector `github` does not log in with OAuth2"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
