//! OAuth2 tokens (RFC 6749, RFC 8628): fetched from the token endpoint through
//! the run's transport (so `--record`/`--replay` and redaction apply), cached
//! in memory and in the keyring until shortly before they expire, refreshed
//! with the refresh token when there is one, and fetched again once on a 401.
//! One fetch at a time per token, however many requests want it.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::Value;

use crate::chain::model::{ClientAuth, OAuthGrant};
use crate::secret::{Redactor, Secret, Secrets};
use crate::transport::{Added, BodySink, Client, DEFAULT_BODY_LIMIT, HttpRequest};

/// A rendered OAuth2 configuration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Config {
    pub grant: GrantKind,
    pub token_url: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub scope: Option<String>,
    pub audience: Option<String>,
    pub client_auth: ClientAuthKind,
    pub refresh_token: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub device_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantKind {
    ClientCredentials,
    RefreshToken,
    AuthorizationCode,
    DeviceCode,
    Password,
}

impl From<OAuthGrant> for GrantKind {
    fn from(g: OAuthGrant) -> Self {
        match g {
            OAuthGrant::ClientCredentials => GrantKind::ClientCredentials,
            OAuthGrant::RefreshToken => GrantKind::RefreshToken,
            OAuthGrant::AuthorizationCode => GrantKind::AuthorizationCode,
            OAuthGrant::DeviceCode => GrantKind::DeviceCode,
            OAuthGrant::Password => GrantKind::Password,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientAuthKind {
    Basic,
    Body,
}

impl From<Option<ClientAuth>> for ClientAuthKind {
    fn from(c: Option<ClientAuth>) -> Self {
        match c {
            Some(ClientAuth::Body) => ClientAuthKind::Body,
            _ => ClientAuthKind::Basic,
        }
    }
}

impl Config {
    /// Names the token in the keyring: a hash of what identifies the grant
    /// without its secrets (endpoint, client, grant, scope, audience, user,
    /// how the client authenticates). A rotated secret then replaces the
    /// cached token instead of adding one, and the name shows nothing a
    /// guess could be checked against.
    pub fn cache_key(&self) -> String {
        let grant = format!("{:?}/{:?}", self.grant, self.client_auth);
        let digest = hash_fields(&[
            "pytopus oauth2 token",
            &self.token_url,
            &self.client_id,
            &grant,
            self.scope.as_deref().unwrap_or("\0"),
            self.audience.as_deref().unwrap_or("\0"),
            self.username.as_deref().unwrap_or("\0"),
            self.device_url.as_deref().unwrap_or("\0"),
        ]);
        format!("{TOKEN_PREFIX}{}", &digest[..16])
    }

    /// A hash of the grant's secrets (client secret, password, the refresh
    /// token the chain gives). Kept with the cached token, inside the
    /// keyring: a token obtained with other credentials is not used, so a
    /// wrong, rotated or revoked secret is noticed at once.
    pub fn credentials_hash(&self) -> String {
        hash_fields(&[
            "pytopus oauth2 credentials",
            &self.cache_key(),
            self.client_secret.as_deref().unwrap_or("\0"),
            self.password.as_deref().unwrap_or("\0"),
            self.refresh_token.as_deref().unwrap_or("\0"),
        ])
    }

    /// What the cached token is for, in words (`auth list`), without secrets.
    fn describe(&self) -> String {
        let mut text = format!(
            "{} for client `{}` at {}",
            grant_words(self.grant),
            self.client_id,
            self.token_url
        );
        if let Some(s) = &self.scope {
            text.push_str(&format!(", scope `{s}`"));
        }
        if let Some(a) = &self.audience {
            text.push_str(&format!(", audience `{a}`"));
        }
        if let Some(u) = &self.username {
            text.push_str(&format!(", user `{u}`"));
        }
        text
    }
}

/// Names of cached tokens in the keyring start with this.
pub const TOKEN_PREFIX: &str = "oauth2-token-";

fn grant_words(g: GrantKind) -> &'static str {
    match g {
        GrantKind::ClientCredentials => "client credentials",
        GrantKind::RefreshToken => "refresh token",
        GrantKind::AuthorizationCode => "authorization code",
        GrantKind::DeviceCode => "device code",
        GrantKind::Password => "password",
    }
}

/// SHA-256 of the fields, each length-prefixed (so no two lists collide),
/// in hex.
fn hash_fields(fields: &[&str]) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for f in fields {
        ctx.update(&(f.len() as u64).to_be_bytes());
        ctx.update(f.as_bytes());
    }
    ctx.finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An access token and what came with it.
#[derive(Debug, Clone)]
struct Token {
    access_token: String,
    expires_at: Option<u64>,
    refresh_token: Option<String>,
}

/// A token as the keyring keeps it: with the hash of the credentials that
/// obtained it and, for `auth list`, what it is for.
#[derive(Debug)]
pub struct CachedToken {
    token: Token,
    credentials: String,
    /// What the token is for, in words, without secrets.
    pub about: String,
    /// When it expires (Unix seconds), if the server said.
    pub expires_at: Option<u64>,
}

impl CachedToken {
    fn to_json(&self) -> String {
        serde_json::json!({
            "access_token": self.token.access_token,
            "expires_at": self.token.expires_at,
            "refresh_token": self.token.refresh_token,
            "credentials": self.credentials,
            "about": self.about,
        })
        .to_string()
    }

    /// Reads a cached token; `None` for anything else, including entries
    /// written before the credentials were part of them.
    pub fn from_json(text: &str) -> Option<CachedToken> {
        let v: Value = serde_json::from_str(text).ok()?;
        let token = Token::from_value(&v)?;
        Some(CachedToken {
            expires_at: token.expires_at,
            token,
            credentials: v["credentials"].as_str()?.to_string(),
            about: v["about"].as_str().unwrap_or("").to_string(),
        })
    }
}

impl Token {
    /// Still good for a while: not within 10% of its lifetime (at most 30 s) of expiry.
    fn fresh(&self, now: u64, lifetime: u64) -> bool {
        match self.expires_at {
            None => true,
            Some(at) => {
                let margin = (lifetime / 10).min(30);
                now + margin < at
            }
        }
    }

    fn from_value(v: &Value) -> Option<Token> {
        Some(Token {
            access_token: v["access_token"].as_str()?.to_string(),
            expires_at: v["expires_at"].as_u64(),
            refresh_token: v["refresh_token"].as_str().map(str::to_string),
        })
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Says something to the person running pytopus (the device-code prompt).
pub type Notify = Arc<dyn Fn(&str) + Send + Sync>;

/// One token's place: the token and its lifetime in seconds, behind a lock
/// held while it is fetched.
type Slot = Arc<tokio::sync::Mutex<Option<(Token, u64)>>>;

/// The tokens of one run.
pub struct Tokens {
    slots: Mutex<HashMap<String, Slot>>,
    /// Where tokens are kept between runs; `None` keeps them for this run only.
    secrets: Option<Secrets>,
    redactor: Redactor,
    notify: Notify,
}

impl Tokens {
    pub fn new(secrets: Option<Secrets>, redactor: Redactor, notify: Notify) -> Self {
        Tokens {
            slots: Mutex::new(HashMap::new()),
            secrets,
            redactor,
            notify,
        }
    }

    fn slot(&self, key: &str) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(slots.entry(key.to_string()).or_default())
    }

    /// A valid access token for `cfg`. With `renew`, the cached one is
    /// distrusted (the server answered 401 with it).
    pub async fn access_token(
        &self,
        cfg: &Config,
        client: &Client,
        renew: bool,
    ) -> Result<String, String> {
        let key = cfg.cache_key();
        let credentials = cfg.credentials_hash();
        // In memory, two steps with the same client and different secrets
        // keep a token each.
        let slot = self.slot(&credentials);
        // Held across the fetch: concurrent requests wait for one fetch.
        let mut guard = slot.lock().await;
        let now = now_secs();
        if guard.is_none()
            && let Some(secrets) = &self.secrets
            && let Ok(store) = secrets.store()
            && let Ok(Some(saved)) = store.get(&key)
            && let Some(cached) = CachedToken::from_json(saved.expose())
            && cached.credentials == credentials
        {
            let token = cached.token;
            self.redact(&token);
            let lifetime = token.expires_at.map_or(0, |at| at.saturating_sub(now));
            *guard = Some((token, lifetime));
        }
        if !renew
            && let Some((token, lifetime)) = guard.as_ref()
            && token.fresh(now, *lifetime)
        {
            return Ok(token.access_token.clone());
        }
        let previous = guard.as_ref().and_then(|(t, _)| t.refresh_token.clone());
        let token = match previous {
            // A refresh token from an earlier answer: try it first.
            Some(rt) => match self.request(cfg, client, refresh_form(&rt)).await {
                Ok(t) => t,
                Err(_)
                    if cfg.grant != GrantKind::RefreshToken
                        && cfg.grant != GrantKind::AuthorizationCode =>
                {
                    self.obtain(cfg, client).await?
                }
                Err(e) => return Err(e),
            },
            None => self.obtain(cfg, client).await?,
        };
        let lifetime = token
            .expires_at
            .map_or(0, |at| at.saturating_sub(now_secs()));
        if let Some(secrets) = &self.secrets
            && let Ok(store) = secrets.store()
        {
            // Best effort: a keyring that cannot store only costs a fetch next run.
            let cached = CachedToken {
                token: token.clone(),
                credentials,
                about: cfg.describe(),
                expires_at: None,
            };
            let _ = store.set(&key, &Secret::new(cached.to_json()));
        }
        let access = token.access_token.clone();
        *guard = Some((token, lifetime));
        Ok(access)
    }

    fn redact(&self, t: &Token) {
        self.redactor.add(&t.access_token);
        if let Some(r) = &t.refresh_token {
            self.redactor.add(r);
        }
    }

    /// Runs the configured grant from scratch.
    async fn obtain(&self, cfg: &Config, client: &Client) -> Result<Token, String> {
        let mut form: Vec<(&str, String)> = Vec::new();
        match cfg.grant {
            GrantKind::ClientCredentials => form.push(("grant_type", "client_credentials".into())),
            GrantKind::Password => {
                form.push(("grant_type", "password".into()));
                form.push((
                    "username",
                    cfg.username
                        .clone()
                        .ok_or("the password grant needs `username`")?,
                ));
                form.push((
                    "password",
                    cfg.password
                        .clone()
                        .ok_or("the password grant needs `password`")?,
                ));
            }
            GrantKind::RefreshToken | GrantKind::AuthorizationCode => {
                let rt = cfg.refresh_token.clone().ok_or(
                    "this grant needs `refresh_token` (for authorization_code, the one `pytopus auth login` stored)",
                )?;
                form = refresh_form(&rt);
            }
            GrantKind::DeviceCode => return self.device_flow(cfg, client).await,
        }
        if let Some(s) = &cfg.scope {
            form.push(("scope", s.clone()));
        }
        if let Some(a) = &cfg.audience {
            form.push(("audience", a.clone()));
        }
        self.request(cfg, client, form).await
    }

    /// RFC 8628: ask for a device code, tell the person where to go, poll.
    async fn device_flow(&self, cfg: &Config, client: &Client) -> Result<Token, String> {
        let url = cfg
            .device_url
            .clone()
            .ok_or("the device_code grant needs `device_url`")?;
        let mut form = vec![("client_id", cfg.client_id.clone())];
        if let Some(s) = &cfg.scope {
            form.push(("scope", s.clone()));
        }
        let answer = post_form(client, &url, &form, &[]).await?;
        let (status, body) = answer;
        if status != 200 {
            return Err(oauth_error(
                "the device authorization endpoint",
                status,
                &body,
            ));
        }
        let device_code = body["device_code"]
            .as_str()
            .ok_or("no `device_code` in the answer")?
            .to_string();
        self.redactor.add(&device_code);
        let user_code = body["user_code"].as_str().unwrap_or("?");
        let uri = body["verification_uri_complete"]
            .as_str()
            .or(body["verification_uri"].as_str())
            .unwrap_or("?");
        (self.notify)(&format!(
            "To authorize pytopus, open {uri} and enter the code {user_code}"
        ));
        let mut interval = body["interval"].as_u64().unwrap_or(5).max(1);
        let deadline = now_secs() + body["expires_in"].as_u64().unwrap_or(600);
        loop {
            tokio::time::sleep(Duration::from_secs(interval)).await;
            if now_secs() > deadline {
                return Err("the device code expired before it was authorized".into());
            }
            let poll = vec![
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:device_code".to_string(),
                ),
                ("device_code", device_code.clone()),
            ];
            match self.request(cfg, client, poll).await {
                Ok(t) => return Ok(t),
                Err(e) if e.contains("authorization_pending") => {}
                Err(e) if e.contains("slow_down") => interval += 5,
                Err(e) => return Err(e),
            }
        }
    }

    /// POSTs one token request and reads the answer.
    async fn request(
        &self,
        cfg: &Config,
        client: &Client,
        mut form: Vec<(&str, String)>,
    ) -> Result<Token, String> {
        let mut headers = Vec::new();
        match (cfg.client_auth, &cfg.client_secret) {
            (ClientAuthKind::Basic, Some(secret)) => {
                // RFC 6749 §2.3.1: both parts form-encoded before base64.
                let pair = format!("{}:{}", form_encode(&cfg.client_id), form_encode(secret));
                let b64 = base64::engine::general_purpose::STANDARD.encode(pair);
                self.redactor.add(&b64);
                headers.push(("authorization".to_string(), format!("Basic {b64}")));
            }
            (_, secret) => {
                form.push(("client_id", cfg.client_id.clone()));
                if let Some(s) = secret {
                    form.push(("client_secret", s.clone()));
                }
            }
        }
        if let Some(s) = &cfg.client_secret {
            self.redactor.add(s);
        }
        let (status, body) = post_form(client, &cfg.token_url, &form, &headers).await?;
        if !(200..300).contains(&status) {
            return Err(oauth_error("the token endpoint", status, &body));
        }
        let access = body["access_token"]
            .as_str()
            .ok_or_else(|| {
                format!("the token endpoint answered {status} without an `access_token`")
            })?
            .to_string();
        let token = Token {
            access_token: access,
            expires_at: body["expires_in"].as_u64().map(|s| now_secs() + s),
            refresh_token: body["refresh_token"].as_str().map(str::to_string),
        };
        self.redact(&token);
        Ok(token)
    }
}

fn refresh_form(rt: &str) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", rt.to_string()),
    ]
}

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// POSTs a urlencoded form and returns the status and the JSON answer (or `null`).
pub(crate) async fn post_form(
    client: &Client,
    url: &str,
    form: &[(&str, String)],
    extra_headers: &[(String, String)],
) -> Result<(u16, Value), String> {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in form {
        ser.append_pair(k, v);
    }
    let mut headers = vec![
        (
            "content-type".to_string(),
            "application/x-www-form-urlencoded".to_string(),
        ),
        ("accept".to_string(), "application/json".to_string()),
    ];
    headers.extend(extra_headers.iter().cloned());
    let req = HttpRequest {
        method: "POST".into(),
        url: url.to_string(),
        parsed_url: None,
        headers,
        body: Some(crate::transport::Body::Bytes(ser.finish().into_bytes())),
        timeout: Duration::from_secs(30),
        follow_redirects: false,
        tls: None,
        body_limit: DEFAULT_BODY_LIMIT,
    };
    let resp = client
        .send(&req, &BodySink::Memory, &Added::default())
        .await
        .map_err(|e| format!("cannot reach the token endpoint {url}: {e}"))?;
    let body = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    Ok((resp.status, body))
}

/// `invalid_client: Client authentication failed (401)`: the OAuth2 error, plainly.
pub(crate) fn oauth_error(what: &str, status: u16, body: &Value) -> String {
    match body["error"].as_str() {
        Some(code) => {
            let mut m = format!("{what} refused: {code}");
            if let Some(d) = body["error_description"].as_str() {
                m.push_str(&format!(" ({d})"));
            }
            m.push_str(&format!(", status {status}"));
            m
        }
        None => format!("{what} answered status {status} without an OAuth2 error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_fresh_until_close_to_expiry() {
        let t = Token {
            access_token: "a".into(),
            expires_at: Some(1000),
            refresh_token: None,
        };
        assert!(t.fresh(900, 3600));
        assert!(!t.fresh(971, 3600), "30 s margin for long-lived tokens");
        assert!(t.fresh(998, 10), "1 s margin for a 10 s token");
        assert!(!t.fresh(1000, 10));
    }

    #[test]
    fn oauth_errors_are_shown_plainly() {
        let e = oauth_error(
            "the token endpoint",
            401,
            &serde_json::json!({"error": "invalid_client", "error_description": "bad secret"}),
        );
        assert_eq!(
            e,
            "the token endpoint refused: invalid_client (bad secret), status 401"
        );
    }
}
