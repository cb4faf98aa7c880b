//! One Postman request as a step: its auth, URL, headers and body,
//! through the shared request builder.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::request::{self, ImportError, Request, secret_base, shown};

use super::*;

impl Importer<'_> {
    /// A Postman auth block as `auth:` (`None`: not translated, noted).
    pub(super) fn auth(&mut self, a: &Value, who: &str, index: usize) -> Option<Value> {
        let kind = a.get("type").and_then(Value::as_str).unwrap_or("");
        let p: HashMap<String, Value> = auth_params(a).into_iter().collect();
        let get = |k: &str| -> String {
            match p.get(k) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(v) => v.to_string(),
            }
        };
        let from = |what: &str| format!("{who}'s {kind} auth {what}");
        let auth = match kind {
            "noauth" => serde_json::json!({"type": "none"}),
            "basic" => {
                let user = self.tmpl(&get("username"), index);
                let pw = self.credential(&get("password"), index, "password", &from("password"));
                serde_json::json!({"type": "basic", "username": user, "password": pw})
            }
            "bearer" => {
                let token = self.credential(&get("token"), index, "token", &from("token"));
                serde_json::json!({"type": "bearer", "token": token})
            }
            "apikey" => {
                let name = get("key");
                let name = if name.is_empty() {
                    "X-API-Key".to_string()
                } else {
                    name
                };
                let key = self.credential(&get("value"), index, &name, &from("value"));
                let place = match get("in").as_str() {
                    "query" => "query",
                    _ => "header",
                };
                serde_json::json!({"type": "api_key", "in": place, "name": name, "key": key})
            }
            "oauth2" => {
                let grant = get("grant_type");
                let grant = if grant.is_empty() {
                    "authorization_code".to_string()
                } else {
                    grant
                };
                match grant.as_str() {
                    "client_credentials" | "password_credentials" => {
                        let mut m = Map::new();
                        m.insert("type".into(), "oauth2".into());
                        let g = if grant == "client_credentials" {
                            "client_credentials"
                        } else {
                            "password"
                        };
                        m.insert("grant".into(), g.into());
                        m.insert(
                            "token_url".into(),
                            self.tmpl(&get("accessTokenUrl"), index).into(),
                        );
                        m.insert(
                            "client_id".into(),
                            self.tmpl(&get("clientId"), index).into(),
                        );
                        let secret = get("clientSecret");
                        if !secret.is_empty() {
                            let s = self.credential(
                                &secret,
                                index,
                                "client_secret",
                                &from("client secret"),
                            );
                            m.insert("client_secret".into(), s.into());
                        }
                        if g == "password" {
                            m.insert("username".into(), self.tmpl(&get("username"), index).into());
                            let pw = self.credential(
                                &get("password"),
                                index,
                                "password",
                                &from("password"),
                            );
                            m.insert("password".into(), pw.into());
                        }
                        let scope = get("scope");
                        if !scope.is_empty() {
                            m.insert("scope".into(), self.tmpl(&scope, index).into());
                        }
                        if get("client_authentication") == "body" {
                            m.insert("client_auth".into(), "body".into());
                        }
                        Value::Object(m)
                    }
                    other => {
                        let token = get("accessToken");
                        if token.is_empty() {
                            self.untranslated(
                                who,
                                format!("OAuth2 grant `{other}` (imported are client_credentials and password_credentials; for authorization_code see `pytopus auth login`)"),
                            );
                            return None;
                        }
                        self.untranslated(
                            who,
                            format!("OAuth2 grant `{other}` (the access token Postman held is sent as a bearer token)"),
                        );
                        let t =
                            self.credential(&token, index, "access_token", &from("access token"));
                        serde_json::json!({"type": "bearer", "token": t})
                    }
                }
            }
            other => {
                self.untranslated(who, format!("auth type `{}`", shown(other)));
                return None;
            }
        };
        Some(auth)
    }

    /// The step of entry `index`; `lines` gets its comments.
    pub(super) fn step(
        &mut self,
        index: usize,
        entry: &Entry<'_>,
        script: Vec<(usize, String, Line)>,
        lines: &mut Vec<String>,
        collection_auth: bool,
    ) -> Result<Value, ImportError> {
        let who = entry.path.join(" / ");
        let r = entry.request;
        let (url, resolved_pm) = url_text(r)?;
        let resolved = self.resolve(&resolved_pm, 0);
        let base = resolved
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .map(|u| secret_base(Some(&u)))
            .unwrap_or_else(|| self.base.clone());
        self.secrets.set_base(&base);
        let mut req = Request {
            url: Some(self.tmpl(&url, index)),
            method: Some(
                r.get("method")
                    .and_then(Value::as_str)
                    .unwrap_or("GET")
                    .to_string(),
            ),
            templated: true,
            resolved_url: resolved,
            files_from: Some("Postman read them from its working directory".into()),
            ..Request::default()
        };
        for (k, v) in headers(r) {
            let v = self.tmpl(&v, index);
            req.headers.push((k, v));
        }
        if let Some(a) = entry.auth {
            let auth = self.auth(a, &who, index);
            match auth {
                Some(Value::Object(m))
                    if m.get("type").and_then(Value::as_str) == Some("none")
                        && !collection_auth => {}
                other => req.auth = other,
            }
            self.secrets.set_base(&base);
        }
        let mut body_file = None;
        if let Some(body) = r.get("body").filter(|b| b.is_object())
            && body.get("disabled") != Some(&Value::Bool(true))
        {
            self.body(body, index, &who, &mut req, &mut body_file);
        }
        let whose = format!("{who}'s");
        let mut step = request::step(req, Some(&entry.step), &whose, &mut self.secrets)?;
        if let Some(events) = entry.events {
            for (note, comment) in script_notes(events, &who, Some("prerequest")) {
                self.note(note);
                lines.push(comment);
            }
        }
        lines.append(&mut self.pending);
        let (expect, extract) = self.apply(index, &who, script, lines);
        if let Value::Object(m) = &mut step {
            if let Some(f) = body_file {
                m.insert("body_file".into(), Value::String(f));
            }
            if !extract.is_empty() {
                m.insert("extract".into(), Value::Object(extract));
            }
            if !expect.is_empty() {
                m.insert("expect".into(), Value::Object(expect));
            }
        }
        Ok(step)
    }

    pub(super) fn body(
        &mut self,
        body: &Value,
        index: usize,
        who: &str,
        req: &mut Request,
        body_file: &mut Option<String>,
    ) {
        let mode = body.get("mode").and_then(Value::as_str).unwrap_or("");
        let has_type = req
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        match mode {
            "raw" => {
                let raw = body.get("raw").and_then(Value::as_str).unwrap_or("");
                if raw.is_empty() {
                    return;
                }
                let language = body
                    .get("options")
                    .and_then(|o| o.get("raw"))
                    .and_then(|o| o.get("language"))
                    .and_then(Value::as_str)
                    .unwrap_or("text");
                if !has_type {
                    let ctype = match language {
                        "json" => "application/json",
                        "xml" => "application/xml",
                        "html" => "text/html",
                        "javascript" => "application/javascript",
                        _ => "text/plain",
                    };
                    req.headers.push(("Content-Type".into(), ctype.into()));
                }
                let text = self.tmpl(raw, index);
                req.data.push((text, false));
            }
            "urlencoded" => {
                for f in body
                    .get("urlencoded")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if f.get("disabled") == Some(&Value::Bool(true)) {
                        continue;
                    }
                    let Some(k) = f.get("key").and_then(Value::as_str) else {
                        continue;
                    };
                    let v = f.get("value").and_then(Value::as_str).unwrap_or("");
                    let v = self.tmpl(v, index);
                    req.fields.push((k.to_string(), v));
                }
            }
            "formdata" => {
                for f in body
                    .get("formdata")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if f.get("disabled") == Some(&Value::Bool(true)) {
                        continue;
                    }
                    let Some(k) = f.get("key").and_then(Value::as_str) else {
                        continue;
                    };
                    let ctype = f
                        .get("contentType")
                        .and_then(Value::as_str)
                        .filter(|t| !t.is_empty());
                    if f.get("type").and_then(Value::as_str) == Some("file") {
                        let srcs: Vec<String> = match f.get("src") {
                            Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
                            Some(Value::Array(a)) => a
                                .iter()
                                .filter_map(Value::as_str)
                                .map(str::to_string)
                                .collect(),
                            _ => Vec::new(),
                        };
                        if srcs.is_empty() {
                            self.untranslated(
                                who,
                                format!("form-data file `{k}` (no file chosen)"),
                            );
                        }
                        for src in srcs {
                            let mut spec = format!("{k}=@{src}");
                            if let Some(t) = ctype {
                                spec.push_str(&format!(";type={t}"));
                            }
                            req.form.push(("form-data file".into(), spec, false));
                        }
                    } else {
                        let v = f.get("value").and_then(Value::as_str).unwrap_or("");
                        let v = self.tmpl(v, index);
                        match ctype {
                            None => {
                                req.form
                                    .push(("form-data field".into(), format!("{k}={v}"), true))
                            }
                            Some(t) => {
                                let quoted = v.replace('\\', "\\\\").replace('"', "\\\"");
                                req.form.push((
                                    "form-data field".into(),
                                    format!("{k}=\"{quoted}\";type={t}"),
                                    false,
                                ));
                            }
                        }
                    }
                }
            }
            "graphql" => {
                let g = body.get("graphql");
                let query = g
                    .and_then(|g| g.get("query"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let variables = g
                    .and_then(|g| g.get("variables"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let variables = if variables.trim().is_empty() {
                    Value::Object(Map::new())
                } else {
                    serde_json::from_str(variables)
                        .unwrap_or_else(|_| Value::String(variables.to_string()))
                };
                let doc = serde_json::json!({"query": query, "variables": variables});
                if !has_type {
                    req.headers
                        .push(("Content-Type".into(), "application/json".into()));
                }
                let text = self.tmpl(&doc.to_string(), index);
                req.data.push((text, false));
            }
            "file" => {
                match body
                    .get("file")
                    .and_then(|f| f.get("src"))
                    .and_then(Value::as_str)
                {
                    Some(src) if !src.is_empty() => *body_file = Some(src.to_string()),
                    _ => self.untranslated(who, "the file body (no file chosen)".into()),
                }
            }
            "" | "none" => {}
            other => self.untranslated(who, format!("body mode `{}`", shown(other))),
        }
    }
}
