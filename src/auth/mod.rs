//! Authentication (SPEC §5): each scheme turns a step's `auth:` into headers,
//! query parameters or cookies on the request, and tells the run's redactor
//! every credential it handles, derived forms included.
//!
//! `AuthSpec` is the compiled `auth:` (its fields are templates); rendering
//! gives `Credentials`; [`Session::apply`] adds them to a request and returns
//! what it added, so a redirect to another origin can take it off again
//! (the transport's [`crate::transport::Client`] does).

pub mod jwt;
pub mod login;
pub mod oauth2;
pub mod sigv4;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use serde_json::Value;

use crate::chain::model::ApiKeyIn;
use crate::secret::Redactor;
use crate::template::Tmpl;
use crate::transport::{Client, HttpRequest};

/// A step's `auth:`, compiled.
#[derive(Debug)]
pub enum AuthSpec {
    None,
    Basic {
        username: Tmpl,
        password: Tmpl,
    },
    Bearer {
        token: Tmpl,
    },
    ApiKey {
        location: ApiKeyIn,
        name: String,
        key: Tmpl,
    },
    Headers(Vec<(String, Tmpl)>),
    Jwt(JwtSpec),
    OAuth2(OAuth2Spec),
    AwsSigV4(SigV4Spec),
}

/// `type: aws_sigv4`, every text a template; a key or region left out comes
/// from the environment (see [`sigv4_config`]).
#[derive(Debug)]
pub struct SigV4Spec {
    pub access_key_id: Option<Tmpl>,
    pub secret_access_key: Option<Tmpl>,
    pub session_token: Option<Tmpl>,
    pub region: Option<Tmpl>,
    pub service: Tmpl,
}

/// `type: jwt`: a given token, or one signed here.
#[derive(Debug)]
pub struct JwtSpec {
    pub token: Option<Tmpl>,
    pub algorithm: Option<jwt::Alg>,
    /// HMAC secret, or PEM private key (text, or a path resolved at validation).
    pub key: Option<Tmpl>,
    pub claims: Tmpl,
    pub expires_in: Duration,
    pub header: String,
}

/// `type: oauth2`, every text a template.
#[derive(Debug)]
pub struct OAuth2Spec {
    pub grant: oauth2::GrantKind,
    pub client_auth: oauth2::ClientAuthKind,
    /// token_url, client_id, client_secret, scope, audience, refresh_token,
    /// username, password, device_url — in that order.
    pub fields: Vec<(&'static str, Option<Tmpl>)>,
}

/// Rendered credentials, ready to put on a request.
#[derive(Debug, Clone)]
pub enum Credentials {
    None,
    Headers(Vec<(String, String)>),
    Query(String, String),
    Cookie(String, String),
    OAuth2(oauth2::Config),
    /// What signs each request, or why nothing can (a key or the region
    /// is nowhere to be found): the request that needs it fails.
    AwsSigV4(Result<Arc<sigv4::Config>, String>),
}

pub use crate::transport::Added;

/// Credentials that cannot be made (a JWT that cannot be signed), as the
/// message the step shows.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthError(pub String);

/// Renders an `auth:` with `text(field, template)` and `value(field,
/// template)`; their errors pass through, and a problem with the
/// credentials themselves becomes an `E` from its message.
pub fn render<E: From<AuthError>>(
    spec: &AuthSpec,
    mut text: impl FnMut(&str, &Tmpl) -> Result<String, E>,
    mut value: impl FnMut(&str, &Tmpl) -> Result<Value, E>,
    redactor: &Redactor,
) -> Result<Credentials, E> {
    let secret = |s: String| {
        redactor.add(&s);
        s
    };
    Ok(match spec {
        AuthSpec::None => Credentials::None,
        AuthSpec::Basic { username, password } => {
            let user = text("auth.username", username)?;
            let pass = secret(text("auth.password", password)?);
            let pair = format!("{user}:{pass}");
            let b64 = base64::engine::general_purpose::STANDARD.encode(&pair);
            redactor.add(&pair);
            redactor.add(&b64);
            Credentials::Headers(vec![("authorization".into(), format!("Basic {b64}"))])
        }
        AuthSpec::Bearer { token } => {
            let t = secret(text("auth.token", token)?);
            Credentials::Headers(vec![("authorization".into(), format!("Bearer {t}"))])
        }
        AuthSpec::ApiKey {
            location,
            name,
            key,
        } => {
            let k = secret(text("auth.key", key)?);
            match location {
                ApiKeyIn::Header => Credentials::Headers(vec![(name.clone(), k)]),
                ApiKeyIn::Query => Credentials::Query(name.clone(), k),
                ApiKeyIn::Cookie => Credentials::Cookie(name.clone(), k),
            }
        }
        AuthSpec::Headers(list) => {
            let mut out = Vec::with_capacity(list.len());
            for (k, t) in list {
                let v = text(&format!("auth.headers.{k}"), t)?;
                // A header written out in the chain (a client id) is no
                // secret; one computed from secrets or variables may be.
                let v = if t.is_literal() { v } else { secret(v) };
                out.push((k.clone(), v));
            }
            Credentials::Headers(out)
        }
        AuthSpec::Jwt(j) => {
            let token = match (&j.token, j.algorithm, &j.key) {
                (Some(t), _, _) => text("auth.token", t)?,
                (None, Some(alg), Some(key)) => {
                    let key = secret(text("auth.secret", key)?);
                    let claims = value("auth.claims", &j.claims)?;
                    jwt::sign(alg, &key, &claims, j.expires_in, SystemTime::now())
                        .map_err(AuthError)?
                }
                _ => {
                    return Err(AuthError(
                        "a JWT needs `token`, or `algorithm` with `secret`/`private_key`".into(),
                    )
                    .into());
                }
            };
            let token = secret(token);
            let value = if j.header.eq_ignore_ascii_case("authorization") {
                format!("Bearer {token}")
            } else {
                token
            };
            Credentials::Headers(vec![(j.header.clone(), value)])
        }
        AuthSpec::OAuth2(o) => {
            let mut got: Vec<Option<String>> = Vec::with_capacity(o.fields.len());
            for (name, t) in &o.fields {
                got.push(match t {
                    Some(t) => Some(text(&format!("auth.{name}"), t)?),
                    None => None,
                });
            }
            let take = |i: usize| got.get(i).cloned().flatten();
            let cfg = oauth2::Config {
                grant: o.grant,
                token_url: take(0).unwrap_or_default(),
                client_id: take(1).unwrap_or_default(),
                client_secret: take(2).map(secret),
                scope: take(3),
                audience: take(4),
                client_auth: o.client_auth,
                refresh_token: take(5).map(secret),
                username: take(6),
                password: take(7).map(secret),
                device_url: take(8),
            };
            Credentials::OAuth2(cfg)
        }
        AuthSpec::AwsSigV4(s) => {
            let mut field = |name: &str, t: &Option<Tmpl>| -> Result<Option<String>, E> {
                match t {
                    Some(t) => Ok(Some(text(&format!("auth.{name}"), t)?)),
                    None => Ok(None),
                }
            };
            let given = SigV4Given {
                access_key_id: field("access_key_id", &s.access_key_id)?,
                secret_access_key: field("secret_access_key", &s.secret_access_key)?,
                session_token: field("session_token", &s.session_token)?,
                region: field("region", &s.region)?,
                service: text("auth.service", &s.service)?,
            };
            let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
            Credentials::AwsSigV4(sigv4_config(given, env, redactor).map(Arc::new))
        }
    })
}

/// The fields of an `aws_sigv4` block as the chain rendered them.
pub struct SigV4Given {
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub region: Option<String>,
    pub service: String,
}

/// An `aws_sigv4` block's credentials, the environment (`env`) filling in
/// what the chain left out:
///
/// - the keys: both from the chain, else `AWS_ACCESS_KEY_ID` and
///   `AWS_SECRET_ACCESS_KEY` (never one from each);
/// - the session token: the chain's, else `AWS_SESSION_TOKEN` when the keys
///   came from the environment too (it belongs to them);
/// - the region: the chain's, else `AWS_REGION`, else `AWS_DEFAULT_REGION`.
///
/// The secret key and session token are told to `redactor`, and so is every
/// value read from a variable named like a secret (`AWS_ACCESS_KEY_ID`).
pub fn sigv4_config(
    given: SigV4Given,
    env: impl Fn(&str) -> Option<String>,
    redactor: &Redactor,
) -> Result<sigv4::Config, String> {
    let from_env = |name: &str| {
        let v = env(name)?;
        if crate::template::secret_env_name(name) {
            redactor.add(&v);
        }
        Some(v)
    };
    let nonempty = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    let (access_key_id, secret_access_key, session_token) =
        match (given.access_key_id, given.secret_access_key) {
            (Some(id), Some(key)) => (id, key, nonempty(given.session_token)),
            _ => {
                let id = from_env(sigv4::ENV_ACCESS_KEY_ID);
                let key = from_env(sigv4::ENV_SECRET_ACCESS_KEY);
                let (Some(id), Some(key)) = (id, key) else {
                    return Err(format!(
                        "no AWS credentials: give `access_key_id` and `secret_access_key` \
                         (e.g. from secrets), or set {} and {}",
                        sigv4::ENV_ACCESS_KEY_ID,
                        sigv4::ENV_SECRET_ACCESS_KEY
                    ));
                };
                let token =
                    nonempty(given.session_token).or_else(|| from_env(sigv4::ENV_SESSION_TOKEN));
                (id, key, token)
            }
        };
    redactor.add(&secret_access_key);
    if let Some(t) = &session_token {
        redactor.add(t);
    }
    if access_key_id.trim().is_empty() || secret_access_key.trim().is_empty() {
        return Err("the AWS access key id or secret access key is empty".into());
    }
    let region = nonempty(given.region)
        .or_else(|| sigv4::ENV_REGION.iter().find_map(|n| from_env(n)))
        .ok_or_else(|| {
            format!(
                "no AWS region: give `region`, or set {} or {}",
                sigv4::ENV_REGION[0],
                sigv4::ENV_REGION[1]
            )
        })?;
    if given.service.trim().is_empty() {
        return Err("`service` is empty: it names the AWS service (`s3`, `execute-api`…)".into());
    }
    Ok(sigv4::Config {
        access_key_id: access_key_id.trim().to_string(),
        secret_access_key,
        session_token,
        region: region.trim().to_string(),
        service: given.service.trim().to_string(),
        redactor: redactor.clone(),
    })
}

/// Per-run authentication state: OAuth2 tokens.
pub struct Session {
    pub tokens: oauth2::Tokens,
}

impl Session {
    /// Puts `creds` on `req`; `renew` distrusts a cached OAuth2 token.
    pub async fn apply(
        &self,
        creds: &Credentials,
        req: &mut HttpRequest,
        client: &Client,
        renew: bool,
    ) -> Result<Added, String> {
        let mut added = Added::default();
        let mut set_header = |req: &mut HttpRequest, name: &str, value: String| {
            req.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
            req.headers.push((name.to_string(), value));
            added.headers.push(name.to_string());
        };
        match creds {
            Credentials::None => {}
            Credentials::Headers(list) => {
                for (k, v) in list {
                    set_header(req, k, v.clone());
                }
            }
            Credentials::Cookie(name, value) => {
                let pair = format!("{name}={value}");
                let cookie = match req
                    .headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("cookie"))
                {
                    Some((_, existing)) => format!("{existing}; {pair}"),
                    None => pair,
                };
                set_header(req, "cookie", cookie);
            }
            Credentials::Query(name, value) => {
                let mut url = url::Url::parse(&req.url).map_err(|e| e.to_string())?;
                url.query_pairs_mut().append_pair(name, value);
                req.url = url.to_string();
                added.query.push(name.clone());
            }
            Credentials::OAuth2(cfg) => {
                let token = self.tokens.access_token(cfg, client, renew).await?;
                set_header(req, "authorization", format!("Bearer {token}"));
            }
            Credentials::AwsSigV4(config) => {
                let config = config.as_ref().map_err(Clone::clone)?;
                let set = sigv4::sign(req, config, SystemTime::now())?;
                added.headers.extend(set.into_iter().map(String::from));
                let signer: Arc<dyn crate::transport::Signer> = config.clone();
                added.signer = Some(signer);
            }
        }
        Ok(added)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Tmpl {
        Tmpl::Literal(Box::new(Value::String(s.into())))
    }

    fn render_lit(spec: &AuthSpec, r: &Redactor) -> Credentials {
        let t = crate::template::Templates::new();
        let ctx = minijinja::Value::from(());
        render::<AuthError>(
            spec,
            |_, x| Ok(t.render_string(x, &ctx).unwrap()),
            |_, x| Ok(t.render(x, &ctx).unwrap()),
            r,
        )
        .unwrap()
    }

    #[test]
    fn basic_auth_redacts_the_password_and_its_base64() {
        let r = Redactor::default();
        let c = render_lit(
            &AuthSpec::Basic {
                username: lit("ann"),
                password: lit("pa55word"),
            },
            &r,
        );
        let Credentials::Headers(h) = c else { panic!() };
        assert_eq!(h[0].1, "Basic YW5uOnBhNTV3b3Jk");
        assert_eq!(r.redact(&h[0].1), "Basic ***");
        assert_eq!(r.redact("pa55word"), "***");
    }

    #[test]
    fn signed_jwts_are_redacted() {
        let r = Redactor::default();
        let c = render_lit(
            &AuthSpec::Jwt(JwtSpec {
                token: None,
                algorithm: Some(jwt::Alg::Hs256),
                key: Some(lit("jwt-hmac-secret")),
                claims: Tmpl::Literal(Box::new(serde_json::json!({"sub": "x"}))),
                expires_in: Duration::from_secs(60),
                header: "Authorization".into(),
            }),
            &r,
        );
        let Credentials::Headers(h) = c else { panic!() };
        assert!(h[0].1.starts_with("Bearer ey"));
        assert_eq!(r.redact(&h[0].1), "Bearer ***");
    }
}
