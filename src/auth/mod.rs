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
