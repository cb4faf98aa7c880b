//! The dashboard `pytopus serve` serves at `/`: its pages over HTTP —
//! forms that need their CSRF token, a login when the server has a token,
//! escaping, the security headers, live events, and no secret anywhere.

use std::sync::Arc;

use crate::serve::{Setup, client, serve_while, served};
use pytopus::secret::{Redactor, Secret, Secrets};
use regex::Regex;

const CHAIN: &str = r#"
name: shop
description: Looks at the <b>shop</b>.
inputs:
  limit: {type: integer, default: 2, description: How many to fetch}
  kind: {type: string, enum: [cat, dog], default: dog}
steps:
  - name: List
    url: https://shop.example/items
    query_params: {limit: "{{ limit }}", kind: "{{ kind }}"}
  - name: Note
    method: POST
    url: https://shop.example/notes
    body: {note: "<script>alert(1)</script>", key: "{{ secret('canary') }}"}
  - name: Check
    url: https://shop.example/fail
"#;

const CANARY: &str = "canary-5ecret-value-93";

fn csrf(page: &str) -> String {
    Regex::new(r#"name="csrf" value="([0-9a-f]+)""#)
        .unwrap()
        .captures(page)
        .map(|c| c[1].to_string())
        .expect("the page has a CSRF token")
}

fn setup() -> Setup {
    let redactor = Redactor::default();
    let mut setup = Setup::new(vec![served("shop", CHAIN)]);
    let store = pytopus::secret::MemoryStore::default();
    use pytopus::secret::SecretStore as _;
    store.set("canary", &Secret::new(CANARY)).unwrap();
    let store = Arc::new(store);
    setup.secrets = Some(Secrets::new(
        move || Ok(Arc::clone(&store) as Arc<dyn pytopus::secret::SecretStore>),
        redactor.clone(),
    ));
    setup.redactor = redactor;
    setup
}

#[tokio::test]
async fn the_pages_start_a_run_show_its_steps_escaped_and_never_the_secret() {
    serve_while(setup(), |base, _| async move {
        let c = client();
        let home = c.get(format!("{base}/")).send().await.unwrap();
        assert_eq!(home.status(), 200);
        let csp = home.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
            "{csp}"
        );
        let page = home.text().await.unwrap();
        // The description is text, not markup; the form has a labelled field per input.
        assert!(
            page.contains("Looks at the &lt;b&gt;shop&lt;&#x2f;b&gt;."),
            "{page}"
        );
        assert!(
            page.contains(r#"<label for="f-shop-limit">limit</label>"#),
            "{page}"
        );
        assert!(page.contains(r#"<option selected>dog</option>"#), "{page}");
        assert!(page.contains("<svg role=\"img\""), "the steps' picture");

        // Without the form's token, nothing starts.
        let forged = c
            .post(format!("{base}/ui/chains/shop/run"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("v.limit=3")
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 403);
        // From another site's page, nothing starts either.
        let token = csrf(&page);
        let cross = c
            .post(format!("{base}/ui/chains/shop/run"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", "https://evil.example")
            .body(format!("csrf={token}&v.limit=3"))
            .send()
            .await
            .unwrap();
        assert_eq!(cross.status(), 403);

        let no_redirect = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let started = no_redirect
            .post(format!("{base}/ui/chains/shop/run"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={token}&v.limit=3&v.kind=cat"))
            .send()
            .await
            .unwrap();
        assert_eq!(started.status(), 303);
        let location = started.headers()["location"].to_str().unwrap().to_string();
        assert!(location.starts_with("/ui/runs/"), "{location}");
        let id = location.trim_start_matches("/ui/runs/").to_string();
        crate::serve::wait_for_run(&base, &id, None).await;

        let run = c
            .get(format!("{base}{location}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        // The failing step is named and its request shown, the secret as ***.
        assert!(
            run.contains("Failed at <a href=\"#step-2\">Check</a>"),
            "{run}"
        );
        assert!(
            run.contains("limit=3&amp;kind=cat"),
            "the typed values were sent: {run}"
        );
        // The chain's steps as a picture, with what each waits for.
        assert!(
            run.contains("<svg role=\"img\" aria-label=\"The steps of shop"),
            "{run}"
        );
        // The body the server echoed is shown as text, its secret as ***.
        assert!(run.contains("&lt;script&gt;alert(1)"), "{run}");
        assert!(!run.contains("<script>alert"), "{run}");
        assert!(run.contains("&quot;key&quot;:&quot;***&quot;"), "{run}");

        let runs = c
            .get(format!("{base}/ui/runs?chain=shop&status=failed"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            runs.contains(&format!("&#x2f;ui&#x2f;runs&#x2f;{id}")),
            "{runs}"
        );
        assert!(runs.contains("Runs and failures per hour"), "{runs}");
        let none = c
            .get(format!("{base}/ui/runs?status=passed"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(none.contains("No runs match."), "{none}");

        // The live events of the run: each step, then the end.
        let events = c
            .get(format!("{base}/ui/runs/{id}/events"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(events.contains("event: step"), "{events}");
        assert!(events.contains("event: done"), "{events}");

        for (what, text) in [
            ("home", &page),
            ("run", &run),
            ("runs", &runs),
            ("events", &events),
        ] {
            assert!(!text.contains(CANARY), "the secret is on the {what} page");
        }
    })
    .await;
}

#[tokio::test]
async fn a_server_with_a_token_asks_for_it_and_remembers_the_login_in_a_strict_cookie() {
    let mut s = setup();
    s.token = Some("tok-dashboard-1");
    serve_while(s, |base, _| async move {
        let c = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let home = c.get(format!("{base}/")).send().await.unwrap();
        assert_eq!(home.status(), 303);
        assert_eq!(home.headers()["location"], "/ui/login");
        let run = c.get(format!("{base}/ui/runs")).send().await.unwrap();
        assert_eq!(run.status(), 303);

        let form = c
            .get(format!("{base}/ui/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let token = csrf(&form);
        let wrong = c
            .post(format!("{base}/ui/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={token}&token=nope"))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401);
        assert!(
            wrong
                .text()
                .await
                .unwrap()
                .contains("That is not the token.")
        );

        let ok = c
            .post(format!("{base}/ui/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={token}&token=tok-dashboard-1"))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 303);
        let cookie = ok.headers()["set-cookie"].to_str().unwrap().to_string();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        let pair = cookie.split(';').next().unwrap().to_string();
        let home = c
            .get(format!("{base}/"))
            .header("cookie", &pair)
            .send()
            .await
            .unwrap();
        assert_eq!(home.status(), 200);
        let page = home.text().await.unwrap();
        // The login's own CSRF token: the loopback one does not start runs.
        let mine = csrf(&page);
        assert_ne!(mine, token);
        let started = c
            .post(format!("{base}/ui/chains/shop/run"))
            .header("cookie", &pair)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={token}&v.limit=1"))
            .send()
            .await
            .unwrap();
        assert_eq!(started.status(), 403);
        let started = c
            .post(format!("{base}/ui/chains/shop/run"))
            .header("cookie", &pair)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={mine}&v.limit=1"))
            .send()
            .await
            .unwrap();
        assert_eq!(started.status(), 303);
        // A made-up cookie is not a login.
        let fake = c
            .get(format!("{base}/"))
            .header("cookie", "pytopus_ui=abc")
            .send()
            .await
            .unwrap();
        assert_eq!(fake.status(), 303);
        // Logging out ends the login.
        let out = c
            .post(format!("{base}/ui/logout"))
            .header("cookie", &pair)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={mine}"))
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), 303);
        let after = c
            .get(format!("{base}/"))
            .header("cookie", &pair)
            .send()
            .await
            .unwrap();
        assert_eq!(after.status(), 303);
    })
    .await;
}

#[tokio::test]
async fn the_runs_page_lists_the_history_of_the_served_chains_with_the_command_lines_runs() {
    let api = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({"ok": true})),
        )
        .mount(&api)
        .await;
    let dir = crate::support::Scratch::new();
    let history = dir.dir.path().join("history");
    let chains = dir.dir.path().join("chains");
    std::fs::create_dir_all(&chains).unwrap();
    let chain = chains.join("ping.yaml");
    std::fs::write(
        &chain,
        format!("steps:\n  - name: Ping\n    url: {}/ping\n", api.uri()),
    )
    .unwrap();
    // A run from the command line, recorded in the history.
    let mut cmd = crate::support::pytopus();
    cmd.args(["run", chain.to_str().unwrap(), "-q"])
        .env("PYTOPUS_HISTORY_DIR", &history);
    assert_eq!(crate::support::run_cmd(&mut cmd).code, 0);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_pytopus"));
    crate::support::isolate(&mut serve);
    let mut child = serve
        .args([
            "serve",
            chains.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("PYTOPUS_HISTORY_DIR", &history)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let c = client();
    let mut page = String::new();
    for _ in 0..200 {
        if let Ok(r) = c.get(format!("{base}/ui/runs")).send().await {
            page = r.text().await.unwrap_or_default();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let link = Regex::new(r#"href="&#x2f;ui&#x2f;history&#x2f;(\d+)""#).unwrap();
    let found = link
        .captures(&page)
        .map(|c| format!("/ui/history/{}", &c[1]));
    assert!(found.is_some(), "the command line's run is listed: {page}");
    assert!(page.contains(">history<"), "{page}");
    assert!(
        page.contains("<td>Ping</td>"),
        "its step's percentiles: {page}"
    );
    // The page of that run, from the history, needs the server up again.
    let mut child = serve.spawn().unwrap();
    let mut run = String::new();
    for _ in 0..200 {
        if let Ok(r) = c
            .get(format!("{base}{}", found.as_ref().unwrap()))
            .send()
            .await
        {
            run = r.text().await.unwrap_or_default();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(run.contains("class=\"status status-passed\""), "{run}");
    assert!(run.contains("&#x2f;ping"), "{run}");
}
