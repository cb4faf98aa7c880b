//! The import itself: the document's servers, security schemes and
//! operations walked into a connector file.

use std::collections::HashSet;

use oas3::spec::{
    Components, ObjectOrReference, ObjectSchema, Operation, Parameter, ParameterIn, ParameterStyle,
    Schema, SchemaType, SecurityScheme,
};
use serde_json::{Map, Value};

use super::*;

pub(super) struct Importer<'a> {
    pub(super) spec: &'a oas3::Spec,
    pub(super) name: String,
    pub(super) warnings: Vec<String>,
}

/// An endpoint's parameters that a step must give.
pub(super) struct Required {
    count: usize,
}

/// The security scheme chosen for `auth:`.
pub(super) struct ChosenAuth {
    name: String,
    /// An API key's location and name: a header or query parameter of that
    /// name is the key, which `auth` sends.
    api_key: Option<(ParameterIn, String)>,
}

impl<'a> Importer<'a> {
    pub(super) fn run(mut self, docs: Option<String>) -> Imported {
        let mut connector = Map::new();
        connector.insert("name".into(), Value::String(self.name.clone()));
        connector.insert(
            "description".into(),
            Value::String(self.spec.info.title.trim().to_string()),
        );
        if let Some(docs) = docs {
            connector.insert("docs".into(), Value::String(docs));
        }
        let base_url = self.base_url();
        connector.insert("base_url".into(), Value::String(base_url.clone()));
        let (auth, chosen) = self.auth(&base_url).unzip();
        if let Some(auth) = auth {
            connector.insert("auth".into(), auth);
        }
        let (endpoints, test) = self.endpoints(chosen.as_ref());
        connector.insert("endpoints".into(), Value::Object(endpoints));
        match test {
            Some(endpoint) => {
                let mut t = Map::new();
                t.insert("endpoint".into(), Value::String(endpoint));
                connector.insert("test".into(), Value::Object(t));
            }
            None => self.warnings.push(
                "no GET endpoint without required parameters: no `test:`; add one by hand"
                    .to_string(),
            ),
        }
        Imported {
            connector: Value::Object(connector),
            warnings: self.warnings,
        }
    }

    fn warn(&mut self, message: String) {
        self.warnings.push(message);
    }

    // ------------------------------------------------------------ $ref

    /// Follows `$ref: '#/components/<kind>/<name>'` links to the object.
    fn follow<T>(
        &self,
        mut item: &'a ObjectOrReference<T>,
        kind: &str,
        lookup: impl Fn(&'a Components, &str) -> Option<&'a ObjectOrReference<T>>,
    ) -> Result<&'a T, String> {
        for _ in 0..MAX_REF_DEPTH {
            match item {
                ObjectOrReference::Object(t) => return Ok(t),
                ObjectOrReference::Ref { ref_path, .. } => {
                    let name = ref_name(ref_path, kind).ok_or_else(|| {
                        format!("`$ref: {ref_path}` is not under `#/components/{kind}/` of this document")
                    })?;
                    item = self
                        .spec
                        .components
                        .as_ref()
                        .and_then(|c| lookup(c, &name))
                        .ok_or_else(|| format!("`$ref: {ref_path}` points to nothing"))?;
                }
            }
        }
        Err(format!("`$ref`s more than {MAX_REF_DEPTH} deep (a cycle?)"))
    }

    /// The schema object behind `$ref`s; `None` for boolean schemas and
    /// references that lead nowhere.
    fn schema(&self, mut schema: &'a Schema) -> Option<&'a ObjectSchema> {
        for _ in 0..MAX_REF_DEPTH {
            match schema {
                Schema::Boolean(_) => return None,
                Schema::Object(o) => match o.as_ref() {
                    ObjectOrReference::Object(s) => return Some(s),
                    ObjectOrReference::Ref { ref_path, .. } => {
                        let name = ref_name(ref_path, "schemas")?;
                        schema = self.spec.components.as_ref()?.schemas.get(&name)?;
                    }
                },
            }
        }
        None
    }

    // ------------------------------------------------------------ base_url

    fn base_url(&mut self) -> String {
        let servers = &self.spec.servers;
        let Some(first) = servers.first() else {
            self.warn(format!(
                "the document lists no `servers`: base_url is `/`; set it with {} or in the chain",
                self.env_var()
            ));
            return "/".to_string();
        };
        let mut url = first.url.trim().to_string();
        for (var, def) in first.variables.iter() {
            url = url.replace(&format!("{{{var}}}"), &def.default);
        }
        if url.contains('{') {
            self.warn(format!(
                "base_url `{url}` has a server variable with no default: edit it"
            ));
        }
        if servers.len() > 1 {
            let others: Vec<&str> = servers[1..].iter().map(|s| s.url.as_str()).collect();
            self.warn(format!(
                "the document lists {} servers: base_url is the first; the others are {}",
                servers.len(),
                others.join(", ")
            ));
        }
        let trimmed = url.trim_end_matches('/');
        let url = if trimmed.is_empty() { "/" } else { trimmed }.to_string();
        if !is_absolute(&url) {
            self.warn(format!(
                "base_url is relative ({url}): set it with {} or in the chain",
                self.env_var()
            ));
        }
        url
    }

    fn env_var(&self) -> String {
        format!(
            "PYTOPUS_{}_BASE_URL",
            self.name.to_ascii_uppercase().replace('-', "_")
        )
    }

    // ------------------------------------------------------------ auth

    /// Every operation, in document order: `(path, METHOD, operation)`.
    fn operations(&self) -> Vec<(&'a str, String, &'a Operation)> {
        let mut ops = Vec::new();
        for (path, item) in self.spec.paths.iter().flatten() {
            for (method, op) in item.methods() {
                ops.push((path.as_str(), method.as_str().to_string(), op));
            }
        }
        ops
    }

    /// The connector's `auth:` from the security scheme the document uses
    /// first (global `security`, then operations', then declared order),
    /// skipping schemes a CLI cannot use.
    fn auth(&mut self, base_url: &str) -> Option<(Value, ChosenAuth)> {
        let spec = self.spec;
        let ops = self.operations();
        // Scheme names in order of use; `true` = named by a requirement.
        let mut order: Vec<(&'a str, bool)> = Vec::new();
        let push = |name: &'a str, used: bool, order: &mut Vec<(&'a str, bool)>| {
            if !order.iter().any(|(n, _)| *n == name) {
                order.push((name, used));
            }
        };
        let global = spec.security.iter();
        let per_op = ops.iter().flat_map(|(_, _, op)| op.security.iter());
        let all_requirements: Vec<_> = global.chain(per_op).collect();
        for req in &all_requirements {
            for name in req.0.keys() {
                push(name.as_str(), true, &mut order);
            }
        }
        let schemes = spec.components.as_ref().map(|c| &c.security_schemes);
        for name in schemes.into_iter().flat_map(|s| s.keys()) {
            push(name.as_str(), false, &mut order);
        }
        if order.is_empty() {
            return None;
        }

        let mut skipped: Vec<String> = Vec::new();
        let mut chosen: Option<(usize, Value, ChosenAuth)> = None;
        for (i, (name, used)) in order.iter().enumerate() {
            let Some(item) = schemes.and_then(|s| s.get(*name)) else {
                self.warn(format!(
                    "`security` names `{name}`, which `components.securitySchemes` does not define"
                ));
                continue;
            };
            let scheme =
                match self.follow(item, "securitySchemes", |c, n| c.security_schemes.get(n)) {
                    Ok(s) => s,
                    Err(e) => {
                        skipped.push(format!("`{name}`: {e}"));
                        continue;
                    }
                };
            // Scopes the requirements ask of this scheme, in order.
            let mut scopes: Vec<&str> = Vec::new();
            for req in &all_requirements {
                for scope in req.0.get(*name).into_iter().flatten() {
                    if !scopes.contains(&scope.as_str()) {
                        scopes.push(scope);
                    }
                }
            }
            match self.map_scheme(name, scheme, &scopes, base_url) {
                Ok((auth, chosen_auth)) => {
                    if !used {
                        self.warn(format!(
                            "no `security` requirement names a scheme this importer can use: \
                             `auth` uses `{name}`, declared in `components.securitySchemes`"
                        ));
                    }
                    chosen = Some((i, auth, chosen_auth));
                    break;
                }
                Err(reason) => skipped.push(format!("`{name}` ({reason})")),
            }
        }

        let Some((index, auth, chosen_auth)) = chosen else {
            for s in skipped {
                self.warn(format!("security scheme {s} cannot be used by pytopus"));
            }
            self.warn(
                "no security scheme could be made into `auth:`: the connector has none; \
                 add one by hand"
                    .to_string(),
            );
            return None;
        };
        let chosen_name = chosen_auth.name.clone();
        for s in skipped {
            self.warn(format!(
                "security scheme {s} cannot be used by pytopus: `auth` uses `{chosen_name}` instead"
            ));
        }
        for (name, used) in &order[index + 1..] {
            if *used {
                self.warn(format!(
                    "security scheme `{name}` is not imported (a connector has one `auth`): \
                     endpoints that need it need `auth:` in their step"
                ));
            }
        }
        if all_requirements
            .iter()
            .any(|r| r.0.len() > 1 && r.0.contains_key(&chosen_name))
        {
            self.warn(format!(
                "a `security` requirement needs `{chosen_name}` together with other schemes; \
                 only `{chosen_name}` is in `auth`"
            ));
        }
        Some((auth, chosen_auth))
    }

    /// One security scheme as an `auth:` block, or why it cannot be one.
    fn map_scheme(
        &mut self,
        scheme_name: &str,
        scheme: &'a SecurityScheme,
        scopes: &[&str],
        base_url: &str,
    ) -> Result<(Value, ChosenAuth), String> {
        let name = self.name.clone();
        let mut auth = Map::new();
        let mut put = |k: &str, v: Value| {
            auth.insert(k.to_string(), v);
        };
        let mut api_key = None;
        match scheme {
            SecurityScheme::ApiKey {
                name: key_name,
                location,
                ..
            } => {
                let location = location.to_ascii_lowercase();
                if !matches!(location.as_str(), "header" | "query" | "cookie") {
                    return Err(format!("an API key in `{location}`"));
                }
                let slot = match location.as_str() {
                    "header" => ParameterIn::Header,
                    "query" => ParameterIn::Query,
                    _ => ParameterIn::Cookie,
                };
                api_key = Some((slot, key_name.clone()));
                put("type", "api_key".into());
                put("in", location.into());
                put("name", key_name.as_str().into());
                put("key", secret(&format!("{name}_key")));
            }
            SecurityScheme::Http {
                scheme: http_scheme,
                ..
            } => match http_scheme.to_ascii_lowercase().as_str() {
                "basic" => {
                    put("type", "basic".into());
                    put("username", secret(&format!("{name}_username")));
                    put("password", secret(&format!("{name}_password")));
                }
                "bearer" => {
                    put("type", "bearer".into());
                    put("token", secret(&format!("{name}_token")));
                }
                other => return Err(format!("HTTP `{other}` authentication")),
            },
            SecurityScheme::OAuth2 { flows, .. } => {
                let mut offered = Vec::new();
                if flows.client_credentials.is_some() {
                    offered.push("clientCredentials");
                }
                if flows.authorization_code.is_some() {
                    offered.push("authorizationCode");
                }
                if flows.password.is_some() {
                    offered.push("password");
                }
                let scope_of = |declared: &oas3::Map<String, String>| -> Option<String> {
                    let list: Vec<&str> = if scopes.is_empty() {
                        declared.keys().map(String::as_str).collect()
                    } else {
                        scopes.to_vec()
                    };
                    (!list.is_empty()).then(|| list.join(" "))
                };
                put("type", "oauth2".into());
                if let Some(flow) = &flows.client_credentials {
                    put("grant", "client_credentials".into());
                    let url = self.flow_url(flow.token_url.as_str(), base_url, "tokenUrl");
                    put("token_url", url.into());
                    put("client_id", secret(&format!("{name}_client_id")));
                    put("client_secret", secret(&format!("{name}_client_secret")));
                    if let Some(s) = scope_of(&flow.scopes) {
                        put("scope", s.into());
                    }
                } else if let Some(flow) = &flows.authorization_code {
                    put("grant", "authorization_code".into());
                    let url = self.flow_url(flow.token_url.as_str(), base_url, "tokenUrl");
                    put("token_url", url.into());
                    put("client_id", secret(&format!("{name}_client_id")));
                    if let Some(s) = scope_of(&flow.scopes) {
                        put("scope", s.into());
                    }
                    put("refresh_token", secret(&name));
                    let url = self.flow_url(
                        flow.authorization_url.as_str(),
                        base_url,
                        "authorizationUrl",
                    );
                    put("authorize_url", url.into());
                    self.warn(format!(
                        "auth: run `pytopus auth login {name}` once to store the refresh token; \
                         add `client_secret` if your OAuth app has one"
                    ));
                } else if let Some(flow) = &flows.password {
                    put("grant", "password".into());
                    let url = self.flow_url(flow.token_url.as_str(), base_url, "tokenUrl");
                    put("token_url", url.into());
                    put("client_id", secret(&format!("{name}_client_id")));
                    if let Some(s) = scope_of(&flow.scopes) {
                        put("scope", s.into());
                    }
                    put("username", secret(&format!("{name}_username")));
                    put("password", secret(&format!("{name}_password")));
                    self.warn("auth: add `client_secret` if your OAuth app has one".to_string());
                } else if flows.implicit.is_some() {
                    return Err(
                        "OAuth2 implicit flow, which hands the token to a browser page, \
                         not to a command-line client"
                            .to_string(),
                    );
                } else {
                    return Err("OAuth2 without flows".to_string());
                }
                if offered.len() > 1 {
                    self.warn(format!(
                        "security scheme `{scheme_name}` offers the OAuth2 flows {}: `auth` uses the first",
                        offered.join(", ")
                    ));
                }
            }
            SecurityScheme::OpenIdConnect {
                open_id_connect_url,
                ..
            } => {
                return Err(format!(
                    "OpenID Connect: look up the token endpoint in {open_id_connect_url} \
                     and write an `oauth2` auth by hand"
                ));
            }
            SecurityScheme::MutualTls { .. } => {
                return Err(
                    "mutual TLS: give the client certificate with `tls:` in the chain".to_string(),
                );
            }
        }
        Ok((
            Value::Object(auth),
            ChosenAuth {
                name: scheme_name.to_string(),
                api_key,
            },
        ))
    }

    /// A flow URL as written: relative ones (held under [`RELATIVE_BASE`])
    /// resolved against an absolute base_url, or kept with a warning.
    fn flow_url(&mut self, url: &str, base_url: &str, field: &str) -> String {
        let Some(relative) = url.strip_prefix(RELATIVE_BASE) else {
            return url.to_string();
        };
        if is_absolute(base_url) {
            return join_url(base_url, relative);
        }
        self.warn(format!(
            "auth: the OAuth2 `{field}` is relative ({relative}): make it a full URL"
        ));
        relative.to_string()
    }

    // ------------------------------------------------------------ endpoints

    /// The endpoints, and the name of the first GET one that needs no
    /// parameters (for `test:`).
    fn endpoints(&mut self, auth: Option<&ChosenAuth>) -> (Map<String, Value>, Option<String>) {
        let mut endpoints = Map::new();
        let mut taken = HashSet::new();
        let mut test = None;
        for (path, item) in self.spec.paths.iter().flatten() {
            if let Some(r) = &item.reference {
                self.warn(format!(
                    "path `{path}` is a `$ref` ({r}): its operations are not imported"
                ));
                continue;
            }
            for (method, op) in item.methods() {
                let method = method.as_str().to_string();
                let derived = snake_case(&format!("{} {path}", method.to_ascii_lowercase()));
                let base = op
                    .operation_id
                    .as_deref()
                    .map(snake_case)
                    .filter(|s| !s.is_empty())
                    .unwrap_or(derived);
                let name = unique(&base, &mut taken);
                if name != base {
                    self.warn(format!(
                        "{method} {path}: the name `{base}` is taken: the endpoint is `{name}`"
                    ));
                }
                if !item.servers.is_empty() || !op.servers.is_empty() {
                    self.warn(format!(
                        "{name}: the document gives it its own server; the connector's base_url is used"
                    ));
                }
                let (endpoint, required) =
                    self.endpoint(&name, &method, path, &item.parameters, op, auth);
                if test.is_none() && method == "GET" && required.count == 0 {
                    test = Some(name.clone());
                }
                endpoints.insert(name, Value::Object(endpoint));
            }
        }
        (endpoints, test)
    }

    fn endpoint(
        &mut self,
        name: &str,
        method: &str,
        path: &str,
        path_params: &'a [ObjectOrReference<Parameter>],
        op: &'a Operation,
        auth: Option<&ChosenAuth>,
    ) -> (Map<String, Value>, Required) {
        let mut required = Required {
            count: path.matches('{').count(),
        };
        let params = self.parameters(name, path_params, &op.parameters);

        let mut query = Map::new();
        let mut required_query = Vec::new();
        let mut headers = Map::new();
        for p in params {
            let is_key = auth
                .and_then(|a| a.api_key.as_ref())
                .is_some_and(|(at, key)| {
                    *at == p.location
                        && if p.location == ParameterIn::Header {
                            key.eq_ignore_ascii_case(&p.name)
                        } else {
                            *key == p.name
                        }
                });
            if is_key {
                // The API key itself: `auth` sends it.
                continue;
            }
            match p.location {
                ParameterIn::Path => {}
                ParameterIn::Query => {
                    let schema = p.schema.as_ref().and_then(|s| self.schema(s));
                    let default = schema.and_then(|s| s.default.clone());
                    if p.required == Some(true) && default.is_none() {
                        required_query.push(p.name.as_str());
                        required.count += 1;
                    }
                    if let Some(s) = schema {
                        self.query_style_warning(name, p, s);
                    }
                    query.insert(p.name.clone(), default.map_or(Value::Null, literal));
                }
                ParameterIn::Header => {
                    let lower = p.name.to_ascii_lowercase();
                    // OpenAPI: these three are ignored as parameters.
                    if matches!(lower.as_str(), "accept" | "content-type" | "authorization") {
                        continue;
                    }
                    let simple = p
                        .schema
                        .as_ref()
                        .and_then(|s| self.schema(s))
                        .and_then(|s| s.schema_type.as_ref())
                        .is_none_or(|t| !t.contains(SchemaType::Object) && !t.contains(SchemaType::Array));
                    if p.required == Some(true) && simple {
                        let ident = param_ident(&p.name);
                        headers.insert(p.name.clone(), template(&format!("params.{ident}")));
                        required.count += 1;
                    } else {
                        let what = if simple { "optional" } else { "structured" };
                        self.warn(format!(
                            "{name}: {what} header parameter `{}` not imported; \
                             give it under `headers:` in the step",
                            p.name
                        ));
                    }
                }
                ParameterIn::Cookie => self.warn(format!(
                    "{name}: cookie parameter `{}` not imported; give it as a `Cookie` header in the step",
                    p.name
                )),
            }
        }

        let body = match &op.request_body {
            Some(rb) => self.body(name, rb, &mut required),
            None => None,
        };

        let mut description = op
            .summary
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .or_else(|| op.description.as_deref().and_then(short_description));
        if op.deprecated == Some(true) {
            description = Some(match description {
                Some(d) => format!("{d} (deprecated)"),
                None => "Deprecated".to_string(),
            });
        }
        if !required_query.is_empty() {
            let list = required_query.join(", ");
            description = Some(match description {
                Some(d) => format!("{d} (required query parameters: {list})"),
                None => format!("Required query parameters: {list}"),
            });
        }

        let mut endpoint = Map::new();
        if let Some(d) = description {
            endpoint.insert("description".into(), Value::String(d));
        }
        endpoint.insert("method".into(), Value::String(method.to_string()));
        endpoint.insert("path".into(), Value::String(path.to_string()));
        if !query.is_empty() {
            endpoint.insert("query".into(), Value::Object(query));
        }
        if !headers.is_empty() {
            endpoint.insert("headers".into(), Value::Object(headers));
        }
        if let Some(body) = body {
            endpoint.insert("body".into(), body);
        }
        (endpoint, required)
    }

    /// Path-level parameters, overridden by the operation's of the same name
    /// and location.
    fn parameters(
        &mut self,
        endpoint: &str,
        path_level: &'a [ObjectOrReference<Parameter>],
        op_level: &'a [ObjectOrReference<Parameter>],
    ) -> Vec<&'a Parameter> {
        let mut out: Vec<&'a Parameter> = Vec::new();
        for item in path_level.iter().chain(op_level) {
            let p = match self.follow(item, "parameters", |c, n| c.parameters.get(n)) {
                Ok(p) => p,
                Err(e) => {
                    self.warn(format!("{endpoint}: a parameter is skipped: {e}"));
                    continue;
                }
            };
            match out
                .iter_mut()
                .find(|q| q.name == p.name && q.location == p.location)
            {
                Some(slot) => *slot = p,
                None => out.push(p),
            }
        }
        out
    }

    fn query_style_warning(&mut self, endpoint: &str, p: &Parameter, schema: &ObjectSchema) {
        let Some(types) = &schema.schema_type else {
            return;
        };
        if types.contains(SchemaType::Object) || p.style == Some(ParameterStyle::DeepObject) {
            self.warn(format!(
                "{endpoint}: query parameter `{}` is an object: pytopus sends it as one value; \
                 give its fields as query entries in the step if the API wants them apart",
                p.name
            ));
        } else if types.contains(SchemaType::Array) && p.explode == Some(false) {
            self.warn(format!(
                "{endpoint}: query parameter `{}` wants its values comma-separated \
                 (explode: false): pass them joined, e.g. \"a,b\"",
                p.name
            ));
        }
    }

    /// The `body:` template of a JSON request body: one parameter per
    /// top-level property of an object schema, else one `body` parameter.
    fn body(
        &mut self,
        endpoint: &str,
        rb: &'a ObjectOrReference<oas3::spec::RequestBody>,
        required: &mut Required,
    ) -> Option<Value> {
        let rb = match self.follow(rb, "requestBodies", |c, n| c.request_bodies.get(n)) {
            Ok(rb) => rb,
            Err(e) => {
                self.warn(format!("{endpoint}: the request body is not imported: {e}"));
                return None;
            }
        };
        let Some((_, media)) = rb.content.iter().find(|(ct, _)| is_json(ct)) else {
            let types: Vec<&str> = rb.content.keys().map(String::as_str).collect();
            if !types.is_empty() {
                self.warn(format!(
                    "{endpoint}: the request body ({}) is not JSON: not imported; \
                     give the step a `body:`, `form:` or `multipart:`",
                    types.join(", ")
                ));
            }
            return None;
        };
        // Not an object with properties: the whole body is one parameter.
        let whole = |required: &mut Required| {
            required.count += 1;
            Some(template("params.body"))
        };
        let Some(schema) = media.schema.as_ref().and_then(|s| self.schema(s)) else {
            return whole(required);
        };
        let mut props: Vec<(&'a str, &'a Schema)> = Vec::new();
        let mut needed: HashSet<&'a str> = HashSet::new();
        self.properties(schema, &mut props, &mut needed, 0);
        if props.is_empty() {
            return whole(required);
        }
        let mut body = Map::new();
        let mut idents = HashSet::new();
        for (key, prop) in props {
            if body.contains_key(key) {
                continue;
            }
            if self.schema(prop).and_then(|s| s.read_only) == Some(true) {
                continue;
            }
            let ident = unique(&param_ident(key), &mut idents);
            let value = if needed.contains(key) {
                required.count += 1;
                template(&format!("params.{ident}"))
            } else {
                let default = self
                    .schema(prop)
                    .and_then(|s| s.default.as_ref())
                    .and_then(jinja_literal)
                    .unwrap_or_else(|| "none".to_string());
                template(&format!("params.{ident} | default({default})"))
            };
            body.insert(key.to_string(), value);
        }
        Some(Value::Object(body))
    }

    /// Top-level properties of an object schema, its `allOf` parts included.
    fn properties(
        &self,
        schema: &'a ObjectSchema,
        props: &mut Vec<(&'a str, &'a Schema)>,
        needed: &mut HashSet<&'a str>,
        depth: usize,
    ) {
        if depth > 4 {
            return;
        }
        props.extend(schema.properties.iter().map(|(k, v)| (k.as_str(), v)));
        needed.extend(schema.required.iter().map(String::as_str));
        for part in &schema.all_of {
            if let Some(part) = self.schema(part) {
                self.properties(part, props, needed, depth + 1);
            }
        }
    }
}
