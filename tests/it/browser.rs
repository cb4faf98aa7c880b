//! The dashboard in a real browser: headless Chromium driven through
//! chromedriver (Debian's `chromium` and `chromium-driver`, which `.ci/run`
//! installs). Each page loads without a console error, a run started from
//! the form shows its steps arriving live, a failed run shows its failing
//! step, a response body holding `<script>` is shown as text, and a server
//! with a token shows its login page first. Screenshots of each page go to
//! `target/dashboard/`.
//!
//! Without chromium and chromedriver the test says so and passes, unless
//! `PYTOPUS_REQUIRE_CHROMIUM=1` (CI sets it) makes that a failure.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::Scratch;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn tool(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the process when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `POST /session/{id}/se/log {"type": "browser"}`: chromedriver's console log.
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or("")))
    }
    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (
            axum::http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

/// The console's errors since the last call.
async fn console_errors(c: &Client) -> Vec<String> {
    let log = c.issue_cmd(BrowserLog).await.unwrap_or(Value::Null);
    log.as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["level"] == "SEVERE")
        .map(|e| e["message"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn shot(c: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/dashboard");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Waits until the element at `css` says `want`.
async fn wait_text(c: &Client, css: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && e.text().await.is_ok_and(|t| t.trim() == want)
        {
            return;
        }
        if Instant::now() > deadline {
            let page = c.source().await.unwrap_or_default();
            let errors = console_errors(c).await;
            panic!("`{css}` never said `{want}`; console: {errors:?}\n{page}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const CHAIN: &str = r#"
name: shop
description: Lists the items, waits for the slow one, notes a script.
inputs:
  limit: {type: integer, default: 2, description: How many items}
steps:
  - name: List
    url: "{{ base }}/items"
    query_params: {limit: "{{ limit }}"}
  - name: Slow
    url: "{{ base }}/slow"
  - name: Script
    url: "{{ base }}/script"
    expect:
      json: {"$.ok": true}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_a_real_browser() {
    let (Some(chromium), Some(driver)) = (tool("chromium"), tool("chromedriver")) else {
        assert!(
            std::env::var("PYTOPUS_REQUIRE_CHROMIUM").is_err(),
            "PYTOPUS_REQUIRE_CHROMIUM is set but chromium or chromedriver is not on PATH"
        );
        eprintln!(
            "skipped: no chromium and chromedriver on PATH (Debian: apt-get install chromium chromium-driver)"
        );
        return;
    };
    let api = MockServer::start().await;
    Mock::given(wiremock::matchers::path("/items"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1}])))
        .mount(&api)
        .await;
    Mock::given(wiremock::matchers::path("/slow"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"done": true}))
                .set_delay(Duration::from_millis(2500)),
        )
        .mount(&api)
        .await;
    Mock::given(wiremock::matchers::path("/script"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"ok": false, "html": "<script>document.title='owned'</script>"}),
            ),
        )
        .mount(&api)
        .await;

    let dir = Scratch::new();
    let chain = CHAIN.replace("{{ base }}", &api.uri());
    let chains = dir.dir.path().join("chains");
    std::fs::create_dir_all(&chains).unwrap();
    std::fs::write(chains.join("shop.yaml"), chain).unwrap();

    let port = free_port();
    let log = std::fs::File::create(dir.dir.path().join("serve.log")).unwrap();
    let mut plain = Command::new(env!("CARGO_BIN_EXE_pytopus"));
    crate::support::isolate(&mut plain);
    plain
        .args([
            "serve",
            chains.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--no-history",
        ])
        .stdout(Stdio::null())
        .stderr(log);
    let _serve = Killed(plain.spawn().unwrap());
    let tport = free_port();
    let mut with_token = Command::new(env!("CARGO_BIN_EXE_pytopus"));
    crate::support::isolate(&mut with_token);
    with_token
        .args([
            "serve",
            chains.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{tport}"),
            "--no-history",
        ])
        .env("PYTOPUS_SERVE_TOKEN", "tok-browser-7-long-enough")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _serve_token = Killed(with_token.spawn().unwrap());
    let dport = free_port();
    let _driver = Killed(
        Command::new(driver)
            .arg(format!("--port={dport}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    if std::panic::catch_unwind(|| wait_for_port(port)).is_err() {
        panic!(
            "serve did not start: {}",
            std::fs::read_to_string(dir.dir.path().join("serve.log")).unwrap_or_default()
        );
    }
    wait_for_port(tport);
    wait_for_port(dport);

    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"],
        }),
    );
    caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    let c = ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{dport}"))
        .await
        .expect("chromedriver starts a browser");
    let base = format!("http://127.0.0.1:{port}");

    // The chains page, and its form.
    c.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(c.title().await.unwrap(), "Chains · pytopus");
    assert_eq!(console_errors(&c).await, Vec::<String>::new());
    shot(&c, "chains").await;
    // With the keyboard only: type the value, Enter sends the form.
    let field = c.find(Locator::Css("#f-shop-limit")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys("5\u{E007}").await.unwrap();

    // The run's page: the first step passes while the slow one runs.
    wait_text(&c, "#step-0 .s-status", "passed").await;
    wait_text(&c, "#step-1 .s-status", "running").await;
    shot(&c, "run-live").await;
    // Then the run ends and the page shows it whole: the failing step first.
    wait_text(&c, "h1 .status", "failed").await;
    let alert = text_of(&c, "p.error[role=alert]").await;
    assert!(alert.starts_with("Failed at Script"), "{alert}");
    let failing = c.find(Locator::Css("#step-2")).await.unwrap();
    assert_eq!(
        failing.attr("class").await.unwrap().as_deref(),
        Some("step failed")
    );
    // The script in the body is text on the page, and did not run.
    let shown = c
        .execute(
            "return [document.title, document.querySelectorAll('script').length, document.body.innerText.includes(\"<script>document.title='owned'</script>\")]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(shown, json!(["Run of shop · pytopus", 1, true]));
    assert!(
        c.current_url()
            .await
            .unwrap()
            .path()
            .starts_with("/ui/runs/")
    );
    // The value typed in the form was the one sent.
    let sent = api.received_requests().await.unwrap_or_default();
    assert_eq!(sent[0].url.query(), Some("limit=5"));
    assert_eq!(console_errors(&c).await, Vec::<String>::new());
    shot(&c, "run").await;

    // The runs page.
    c.goto(&format!("{base}/ui/runs")).await.unwrap();
    assert!(text_of(&c, "main").await.contains("1 run, newest first"));
    assert_eq!(console_errors(&c).await, Vec::<String>::new());
    shot(&c, "runs").await;

    // A phone-wide window still shows the run list.
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&format!("{base}/ui/runs")).await.unwrap();
    shot(&c, "runs-phone").await;
    let wide = c
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(wide, json!(true), "the page fits a phone's width");
    c.set_window_size(1280, 900).await.unwrap();

    // With a token, the page is the login form until the token is given.
    let tbase = format!("http://127.0.0.1:{tport}");
    c.goto(&format!("{tbase}/")).await.unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/ui/login");
    assert!(!text_of(&c, "main").await.contains("shop"));
    shot(&c, "login").await;
    c.find(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys("tok-browser-7-long-enough")
        .await
        .unwrap();
    c.find(Locator::Css("form.run button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "h1", "Chains").await;
    assert!(text_of(&c, "main").await.contains("Lists the items"));
    assert_eq!(console_errors(&c).await, Vec::<String>::new());

    c.close().await.unwrap();
}
