//! `auth:` (every scheme and what each needs) and `tls:`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::{Validator, chain_dir, reqwest_free_header_name_ok};
use crate::auth::{AuthSpec, JwtSpec, jwt};
use crate::chain::model::{ApiKeyIn, Auth, OAuthGrant, Tls};
use crate::chain::spans::join_key;
use crate::transport::TlsSettings;

use crate::auth::{OAuth2Spec, SigV4Spec};

impl Validator<'_> {
    /// Compiles an `auth:` block at `path`, checking what each scheme needs.
    pub(super) fn auth(&mut self, a: &Auth, path: &str, at: usize) -> Option<AuthSpec> {
        let errors_before = self.diags.len();
        let text = |v: &mut Self, field: &str, value: &str| {
            v.compile(
                &join_key(path, field),
                &Value::String(value.to_string()),
                at,
            )
        };
        let spec = match a {
            Auth::None => AuthSpec::None,
            Auth::Basic { username, password } => AuthSpec::Basic {
                username: text(self, "username", username)?,
                password: text(self, "password", password)?,
            },
            Auth::Bearer { token } => AuthSpec::Bearer {
                token: text(self, "token", token)?,
            },
            Auth::ApiKey {
                location,
                name,
                key,
            } => {
                let location = location.unwrap_or(ApiKeyIn::Header);
                if location == ApiKeyIn::Header && reqwest_free_header_name_ok(name).is_err() {
                    self.error_value(
                        &join_key(path, "name"),
                        format!("`{name}` is not a valid header name"),
                        None,
                    );
                }
                AuthSpec::ApiKey {
                    location,
                    name: name.clone(),
                    key: text(self, "key", key)?,
                }
            }
            Auth::Headers { headers } => {
                AuthSpec::Headers(self.compile_map(&join_key(path, "headers"), headers, at))
            }
            Auth::Jwt {
                token,
                algorithm,
                secret,
                private_key,
                claims,
                expires_in,
                header,
            } => {
                let alg = match algorithm {
                    Some(name) => match jwt::Alg::parse(name) {
                        Some(a) => Some(a),
                        None => {
                            self.error_value(
                                &join_key(path, "algorithm"),
                                format!("`{name}` is not a supported JWT algorithm"),
                                Some("help: use HS256, RS256 or ES256".into()),
                            );
                            None
                        }
                    },
                    None => None,
                };
                let key = match (alg, secret, private_key) {
                    (Some(jwt::Alg::Hs256), Some(s), _) => text(self, "secret", s),
                    (Some(_), _, Some(k)) => {
                        let pem = self.pem_or_path(k, &join_key(path, "private_key"));
                        pem.and_then(|p| text(self, "private_key", &p))
                    }
                    (Some(jwt::Alg::Hs256), None, _) => {
                        self.error(path, "an HS256 JWT needs `secret`", None);
                        None
                    }
                    (Some(_), _, None) => {
                        self.error(
                            path,
                            "an RS256 or ES256 JWT needs `private_key` (PEM text or a file)",
                            None,
                        );
                        None
                    }
                    (None, _, _) => None,
                };
                if token.is_none() && alg.is_none() && self.diags.len() == errors_before {
                    self.error(
                        path,
                        "a JWT needs `token`, or `algorithm` with `secret` or `private_key`",
                        None,
                    );
                }
                let claims_value = Value::Object(claims.clone().into_iter().collect());
                AuthSpec::Jwt(JwtSpec {
                    token: token.as_ref().and_then(|t| text(self, "token", t)),
                    algorithm: alg,
                    key,
                    claims: self.compile(&join_key(path, "claims"), &claims_value, at)?,
                    expires_in: expires_in.map_or(Duration::from_secs(300), |d| d.0),
                    header: header.clone().unwrap_or_else(|| "Authorization".into()),
                })
            }
            Auth::Oauth2 {
                grant,
                token_url,
                client_id,
                client_secret,
                scope,
                audience,
                client_auth,
                refresh_token,
                username,
                password,
                authorize_url: _,
                device_url,
            } => {
                let grant_name = match grant {
                    OAuthGrant::ClientCredentials => "client_credentials",
                    OAuthGrant::RefreshToken => "refresh_token",
                    OAuthGrant::AuthorizationCode => "authorization_code",
                    OAuthGrant::DeviceCode => "device_code",
                    OAuthGrant::Password => "password",
                };
                let need = |v: &mut Self, what: &str, present: bool| {
                    if !present {
                        v.error(
                            path,
                            format!("the `{grant_name}` grant needs `{what}`"),
                            None,
                        );
                    }
                };
                match grant {
                    OAuthGrant::Password => {
                        need(self, "username", username.is_some());
                        need(self, "password", password.is_some());
                    }
                    OAuthGrant::RefreshToken | OAuthGrant::AuthorizationCode => {
                        need(self, "refresh_token", refresh_token.is_some());
                    }
                    OAuthGrant::DeviceCode => need(self, "device_url", device_url.is_some()),
                    OAuthGrant::ClientCredentials => {}
                }
                let opt = |v: &mut Self, field: &'static str, value: &Option<String>| {
                    (field, value.as_ref().and_then(|x| text(v, field, x)))
                };
                let fields = vec![
                    opt(self, "token_url", &Some(token_url.clone())),
                    opt(self, "client_id", &Some(client_id.clone())),
                    opt(self, "client_secret", client_secret),
                    opt(self, "scope", scope),
                    opt(self, "audience", audience),
                    opt(self, "refresh_token", refresh_token),
                    opt(self, "username", username),
                    opt(self, "password", password),
                    opt(self, "device_url", device_url),
                ];
                AuthSpec::OAuth2(OAuth2Spec {
                    grant: (*grant).into(),
                    client_auth: (*client_auth).into(),
                    fields,
                })
            }
            Auth::AwsSigv4 {
                access_key_id,
                secret_access_key,
                session_token,
                region,
                service,
            } => {
                match (access_key_id, secret_access_key) {
                    (Some(_), None) => self.error(
                        path,
                        "`access_key_id` needs `secret_access_key` beside it",
                        Some(
                            "help: give both, or neither to read AWS_ACCESS_KEY_ID and \
                             AWS_SECRET_ACCESS_KEY"
                                .into(),
                        ),
                    ),
                    (None, Some(_)) => self.error(
                        path,
                        "`secret_access_key` needs `access_key_id` beside it",
                        Some(
                            "help: give both, or neither to read AWS_ACCESS_KEY_ID and \
                             AWS_SECRET_ACCESS_KEY"
                                .into(),
                        ),
                    ),
                    _ => {}
                }
                if service.trim().is_empty() {
                    self.error_value(
                        &join_key(path, "service"),
                        "`service` is empty: it names the AWS service to sign for",
                        Some("help: e.g. `s3`, `execute-api`, `sts`, `lambda`, `es`".into()),
                    );
                }
                if region.as_deref().is_some_and(|r| r.trim().is_empty()) {
                    self.error_value(
                        &join_key(path, "region"),
                        "`region` is empty",
                        Some("help: leave it out to read AWS_REGION or AWS_DEFAULT_REGION".into()),
                    );
                }
                let opt = |v: &mut Self, field: &str, value: &Option<String>| match value {
                    Some(x) => text(v, field, x).map(Some),
                    None => Some(None),
                };
                AuthSpec::AwsSigV4(SigV4Spec {
                    access_key_id: opt(self, "access_key_id", access_key_id)?,
                    secret_access_key: opt(self, "secret_access_key", secret_access_key)?,
                    session_token: opt(self, "session_token", session_token)?,
                    region: opt(self, "region", region)?,
                    service: text(self, "service", service)?,
                })
            }
        };
        (self.diags.len() == errors_before).then_some(spec)
    }

    /// A PEM key given inline, or read from a file relative to the chain.
    pub(super) fn pem_or_path(&mut self, value: &str, path: &str) -> Option<String> {
        if value.contains("-----BEGIN") || value.contains("{{") {
            return Some(value.to_string());
        }
        let file = chain_dir(&self.source.name).join(value);
        match self.resolved.text(&file) {
            Ok(pem) => Some(pem.to_string()),
            Err(e) => {
                self.error_value(
                    path,
                    format!("cannot read the key file {}: {e}", file.display()),
                    None,
                );
                None
            }
        }
    }

    /// `defaults.tls` and the step's `tls`, field by field, with paths made
    /// relative to the chain file and checked to exist.
    pub(super) fn tls(
        &mut self,
        defaults: Option<&Tls>,
        own: Option<&Tls>,
        base: &str,
    ) -> Option<Arc<TlsSettings>> {
        if defaults.is_none() && own.is_none() {
            return None;
        }
        let pick = |f: fn(&Tls) -> Option<String>| own.and_then(f).or_else(|| defaults.and_then(f));
        let dir = chain_dir(&self.source.name);
        let mut path_of = |field: &str, value: Option<String>| -> Option<std::path::PathBuf> {
            let v = value?;
            let p = dir.join(&v);
            if !self.resolved.is_file(&p) {
                let at = if own.is_some_and(|t| tls_field(t, field).is_some()) {
                    join_key(&join_key(base, "tls"), field)
                } else {
                    join_key("defaults.tls", field)
                };
                self.error_value(
                    &at,
                    format!("`{field}`: no such file {}", p.display()),
                    None,
                );
            }
            Some(p)
        };
        let settings = TlsSettings {
            client_cert: path_of("client_cert", pick(|t| t.client_cert.clone())),
            client_key: path_of("client_key", pick(|t| t.client_key.clone())),
            ca_cert: path_of("ca_cert", pick(|t| t.ca_cert.clone())),
            verify: own
                .and_then(|t| t.verify)
                .or_else(|| defaults.and_then(|t| t.verify))
                .unwrap_or(true),
            // Rendered for each request (see `ValidStep::tls_password`).
            password: None,
        };
        if settings.client_key.is_some() && settings.client_cert.is_none() {
            self.error(
                &join_key(base, "tls"),
                "`client_key` needs `client_cert` (the certificate it belongs to)",
                None,
            );
        }
        Some(Arc::new(settings))
    }
}

/// `tls.password` of the step, else of `defaults`, compiled as a template.
pub(super) fn tls_password<'a>(
    defaults: Option<&'a Tls>,
    own: Option<&'a Tls>,
) -> Option<(&'a str, bool)> {
    match own.and_then(|t| t.password.as_deref()) {
        Some(p) => Some((p, true)),
        None => defaults
            .and_then(|t| t.password.as_deref())
            .map(|p| (p, false)),
    }
}

pub(super) fn tls_field<'a>(t: &'a Tls, field: &str) -> Option<&'a String> {
    match field {
        "client_cert" => t.client_cert.as_ref(),
        "client_key" => t.client_key.as_ref(),
        "ca_cert" => t.ca_cert.as_ref(),
        _ => None,
    }
}
