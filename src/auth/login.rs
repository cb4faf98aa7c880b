//! `pytopus auth login`: the OAuth2 authorization-code flow with PKCE
//! (RFC 7636) for people at a terminal. pytopus listens on 127.0.0.1 for the
//! browser's redirect, checks `state`, exchanges the code, and returns the
//! tokens; the CLI stores the refresh token in the keyring.

use std::time::Duration;

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::oauth2::{oauth_error, post_form};
use crate::transport::Client;

/// What `auth login` needs to know about the authorization server.
#[derive(Debug, Clone)]
pub struct LoginConfig {
    pub authorize_url: String,
    pub token_url: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub scope: Option<String>,
    /// Port for the redirect listener on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// How long to wait for the browser.
    pub wait: Duration,
}

/// The tokens the code was exchanged for.
#[derive(Debug)]
pub struct LoginTokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
}

fn random_b64(bytes: usize) -> Result<String, String> {
    let mut buf = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| "no secure random numbers available".to_string())?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

/// RFC 7636 §4.2: `BASE64URL(SHA256(verifier))`.
pub fn pkce_challenge(verifier: &str) -> String {
    let d = digest::digest(&digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d.as_ref())
}

/// Runs the flow. `tell` shows the person the URL to open.
pub async fn login(
    cfg: &LoginConfig,
    client: &Client,
    tell: &dyn Fn(&str),
) -> Result<LoginTokens, String> {
    let verifier = random_b64(32)?;
    let state = random_b64(16)?;
    let listener = TcpListener::bind(("127.0.0.1", cfg.port))
        .await
        .map_err(|e| {
            format!(
                "cannot listen on 127.0.0.1:{} for the redirect: {e}",
                cfg.port
            )
        })?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let mut url = url::Url::parse(&cfg.authorize_url)
        .map_err(|e| format!("`{}` is not a valid URL: {e}", cfg.authorize_url))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &cfg.client_id)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("state", &state)
            .append_pair("code_challenge", &pkce_challenge(&verifier))
            .append_pair("code_challenge_method", "S256");
        if let Some(s) = &cfg.scope {
            q.append_pair("scope", s);
        }
    }
    tell(&format!(
        "Open this URL in a browser to log in:\n\n  {url}\n\nWaiting for the redirect to {redirect_uri} …"
    ));
    let code = tokio::time::timeout(cfg.wait, receive_code(&listener, &state))
        .await
        .map_err(|_| {
            format!(
                "no redirect arrived within {}",
                humantime::format_duration(cfg.wait)
            )
        })??;

    let mut form = vec![
        ("grant_type", "authorization_code".to_string()),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ];
    let mut headers = Vec::new();
    match &cfg.client_secret {
        Some(secret) => {
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let pair = format!("{}:{}", enc(&cfg.client_id), enc(secret));
            let b64 = base64::engine::general_purpose::STANDARD.encode(pair);
            headers.push(("authorization".to_string(), format!("Basic {b64}")));
        }
        None => form.push(("client_id", cfg.client_id.clone())),
    }
    let (status, body) = post_form(client, &cfg.token_url, &form, &headers).await?;
    if !(200..300).contains(&status) {
        return Err(oauth_error("the token endpoint", status, &body));
    }
    let access_token = body["access_token"]
        .as_str()
        .ok_or("the token endpoint answered without an `access_token`")?
        .to_string();
    Ok(LoginTokens {
        access_token,
        refresh_token: body["refresh_token"].as_str().map(str::to_string),
    })
}

/// Answers browser requests until one brings `code` with the right `state`.
async fn receive_code(listener: &TcpListener, state: &str) -> Result<String, String> {
    loop {
        let (mut sock, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let mut buf = Vec::with_capacity(2048);
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let head = String::from_utf8_lossy(&buf);
        let target = head
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("/");
        let parsed = url::Url::parse(&format!("http://127.0.0.1{target}")).ok();
        let Some(parsed) = parsed.filter(|u| u.path() == "/callback") else {
            reply(&mut sock, 404, "Not the pytopus login callback.").await;
            continue;
        };
        let get = |k: &str| {
            parsed
                .query_pairs()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
        };
        if let Some(err) = get("error") {
            reply(&mut sock, 400, "Login failed; see the terminal.").await;
            let desc = get("error_description")
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            return Err(format!("the authorization server refused: {err}{desc}"));
        }
        if get("state").as_deref() != Some(state) {
            reply(
                &mut sock,
                400,
                "This login link is stale (state mismatch); start again.",
            )
            .await;
            return Err(
                "the redirect's `state` does not match: refusing the code (possible forgery)"
                    .into(),
            );
        }
        let Some(code) = get("code") else {
            reply(&mut sock, 400, "No code in the redirect.").await;
            return Err("the redirect carried no `code`".into());
        };
        reply(
            &mut sock,
            200,
            "Logged in to pytopus. You can close this tab.",
        )
        .await;
        return Ok(code);
    }
}

async fn reply(sock: &mut tokio::net::TcpStream, status: u16, text: &str) {
    let reason = if status == 200 { "OK" } else { "Error" };
    let msg = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = sock.write_all(msg.as_bytes()).await;
    let _ = sock.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_base64url_sha256() {
        // Expected value computed independently (Python hashlib + base64).
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mJ0MzkF6nHLBiFH6qqqbOfB3d1VbLM"),
            "n4-EytqujodYFSI-kQwR7O7c4nDqGyfPurg93Ylheg4"
        );
        assert_eq!(random_b64(32).unwrap().len(), 43);
        assert_ne!(random_b64(16).unwrap(), random_b64(16).unwrap());
    }
}
