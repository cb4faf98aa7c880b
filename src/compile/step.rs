//! One step: method, URL, query, headers, body, `for_each`, `paginate`,
//! `graphql`, `extract`, `expect`, sub-chains.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::{Known, RESERVED, Validator, chain_dir, validate_nested};
use crate::chain::model::{Chain, GraphQl, OnError, Paginate, Step, is_identifier};
use crate::chain::spans::{join_index, join_key};
use crate::diagnostic::Diagnostics;
use crate::jsonpath::JsonPath;
use crate::plan::{
    BodySpec, DEFAULT_TIMEOUT, Expectations, Extractor, NextPage, Pager, SubChain, TRIGGER_VAR,
    ValidStep,
};

use crate::template::Tmpl;

/// How a step runs, compiled.
struct Flow {
    when: Option<Tmpl>,
    paginate: Option<Pager>,
    poll: Option<crate::plan::Poll>,
    for_each: Option<Tmpl>,
    timeout: Duration,
    body_limit: u64,
    retry: crate::plan::retry::RetryPolicy,
}

impl Validator<'_> {
    /// One step, checked and compiled: what it sends (method, URL, query,
    /// headers, body), how it runs (`when`, `for_each`, `paginate`, limits,
    /// retries), what it checks and keeps (`expect`, `extract`, `save_to`),
    /// its credentials. Every problem is reported; `None` if there was one.
    pub(super) fn step(
        &mut self,
        chain: &Chain,
        step: &Step,
        i: usize,
        base: &str,
        known: &Known<'_>,
    ) -> Option<ValidStep> {
        let errors_before = self.diags.len();
        let method = self.step_method(step, base);
        let sub = match &step.chain {
            Some(file) => self.sub_chain(file, step.with.as_deref(), base, i),
            None => {
                if step.with.is_some() {
                    self.error(
                        &join_key(base, "with"),
                        "`with` gives variables to a sub-chain: add `chain:`",
                        None,
                    );
                }
                None
            }
        };
        let url = self.step_url(step, i, base);
        let (query, headers) = self.step_query_and_headers(chain, step, i, base);
        let body = self.step_body(step, i, base);
        let flow = self.step_flow(chain, step, i, base);
        let extract = self.step_extract(step, base, known);
        let expect = self.step_expect(step, i, base);
        let tls = self.tls(chain.defaults.tls.as_ref(), step.tls.as_deref(), base);
        let tls_password =
            match super::auth::tls_password(chain.defaults.tls.as_ref(), step.tls.as_deref()) {
                Some((p, own)) => {
                    let at = if own {
                        join_key(&join_key(base, "tls"), "password")
                    } else {
                        "defaults.tls.password".to_string()
                    };
                    self.compile_text(&at, p, i)
                }
                None => None,
            };
        let auth = match &step.auth {
            Some(a) => self.auth(a, &join_key(base, "auth"), i).map(Arc::new),
            None => known.default_auth.clone(),
        };
        let save_to = self.step_save_to(step, i, base, &extract, &expect);
        let actions = self.step_actions(chain, step, i, base, known, known.teardown_from);
        if self.diags.len() > errors_before {
            return None;
        }
        Some(ValidStep {
            name: step.name.clone(),
            loc: self.spans.value(base),
            path: base.to_string(),
            method,
            url: url?,
            query,
            headers,
            body: body.map(Box::new),
            timeout: flow.timeout,
            body_limit: flow.body_limit,
            retry: flow.retry,
            extract,
            expect,
            save_to,
            follow_redirects: step.follow_redirects.unwrap_or(true),
            tls,
            tls_password,
            auth,
            when: flow.when,
            continue_on_error: step.on_error == Some(OnError::Continue),
            graphql: step.graphql.is_some(),
            for_each: flow.for_each,
            concurrency: step.concurrency.unwrap_or(1).max(1) as usize,
            paginate: flow.paginate.map(Box::new),
            poll: flow.poll.map(Box::new),
            sub: sub.map(Box::new),
            connector: None,
            flow: actions.map(Box::new),
        })
    }

    /// The method, upper case: POST for a GraphQL or upload step that
    /// names none, else GET.
    fn step_method(&mut self, step: &Step, base: &str) -> String {
        let default_method =
            if step.graphql.is_some() || step.multipart.is_some() || step.body_file.is_some() {
                "POST"
            } else {
                "GET"
            };
        let method = step
            .method
            .as_deref()
            .unwrap_or(default_method)
            .to_ascii_uppercase();
        if method.is_empty()
            || !method
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            self.error_value(
                &join_key(base, "method"),
                format!("`{method}` is not a valid HTTP method"),
                None,
            );
        }
        method
    }

    /// The URL: a template; written out, an absolute http or https URL. A
    /// sub-chain step has none (it sends nothing itself).
    fn step_url(&mut self, step: &Step, i: usize, base: &str) -> Option<Tmpl> {
        if step.chain.is_some()
            && (step.url.is_some()
                || step.body.is_some()
                || step.graphql.is_some()
                || step.multipart.is_some()
                || step.body_file.is_some())
        {
            self.error(
                &join_key(base, "chain"),
                "a step with `chain` runs that chain: it cannot also have `url`, `body` or `graphql`",
                None,
            );
        }
        let Some(u) = &step.url else {
            if step.chain.is_some() {
                return Some(Tmpl::Literal(Box::new(Value::String(String::new()))));
            }
            self.error(base, format!("step `{}` has no `url`", step.name), None);
            return None;
        };
        let t = self.compile_text(&join_key(base, "url"), u, i);
        if let Some(Tmpl::Literal(lit)) = &t
            && let Value::String(lit) = &**lit
        {
            match url::Url::parse(lit) {
                Err(e) => self.error_value(
                    &join_key(base, "url"),
                    format!("`{lit}` is not a valid URL: {e}"),
                    Some("help: URLs must be absolute, like https://api.example.com/users".into()),
                ),
                Ok(u) if !matches!(u.scheme(), "http" | "https") => self.error_value(
                    &join_key(base, "url"),
                    format!("`{}:` URLs cannot be sent: only http and https", u.scheme()),
                    None,
                ),
                Ok(_) => {}
            }
        }
        t
    }

    /// Query parameters and headers: `defaults` first, the step's own win
    /// (header names case-insensitively).
    #[allow(clippy::type_complexity)]
    fn step_query_and_headers(
        &mut self,
        chain: &Chain,
        step: &Step,
        i: usize,
        base: &str,
    ) -> (Vec<(String, Tmpl)>, Vec<(String, Tmpl)>) {
        let mut query = if chain.defaults.query_params.is_empty() {
            Vec::new()
        } else {
            self.compile_map(
                &self.written("defaults", &["query_params", "query"]),
                &chain.defaults.query_params,
                i,
            )
        };
        if let Some(q) = &step.query_params {
            let query_key = self.written(base, &["query_params", "query"]);
            let own = self.compile_map(&query_key, q, i);
            query.retain(|(k, _)| !own.iter().any(|(o, _)| o == k));
            query.extend(own);
        }
        let mut headers = self.compile_map("defaults.headers", &chain.defaults.headers, i);
        self.one_header_each("defaults.headers", &headers);
        if let Some(h) = &step.headers {
            let own = self.compile_map(&join_key(base, "headers"), h, i);
            self.one_header_each(&join_key(base, "headers"), &own);
            headers.retain(|(k, _)| !own.iter().any(|(o, _)| o.eq_ignore_ascii_case(k)));
            headers.extend(own);
        }
        for (name, _) in &headers {
            if reqwest_free_header_name_ok(name).is_err() {
                self.error(
                    &join_key(&join_key(base, "headers"), name),
                    format!("`{name}` is not a valid header name"),
                    None,
                );
            }
        }
        (query, headers)
    }

    /// The body: `body`, `form`, `graphql`, `multipart` or `body_file`,
    /// one at most.
    fn step_body(&mut self, step: &Step, i: usize, base: &str) -> Option<BodySpec> {
        let given: Vec<&str> = [
            ("body", step.body.is_some()),
            ("form", step.form.is_some()),
            ("graphql", step.graphql.is_some()),
            ("multipart", step.multipart.is_some()),
            ("body_file", step.body_file.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, given)| given.then_some(k))
        .collect();
        if let Some(upload) = given
            .iter()
            .find(|k| matches!(**k, "multipart" | "body_file"))
        {
            if let Some(other) = given.iter().find(|k| *k != upload) {
                self.error(
                    &join_key(base, upload),
                    format!("a step sends one body: it cannot have both `{other}` and `{upload}`"),
                    None,
                );
                return None;
            }
            let path = join_key(base, upload);
            return match (&step.multipart, &step.body_file) {
                (Some(m), _) => self.multipart(m, &path, i),
                (_, Some(f)) => self.body_file(f, &path, i),
                _ => None,
            };
        }
        let body = match (&step.body, &step.form) {
            (Some(_), Some(_)) => {
                self.error(
                    &join_key(base, "form"),
                    "a step cannot have both `body` and `form`",
                    None,
                );
                None
            }
            (Some(b), None) => self
                .compile(&join_key(base, "body"), b, i)
                .map(BodySpec::Value),
            (None, Some(f)) => Some(BodySpec::Form(self.compile_map(
                &join_key(base, "form"),
                f,
                i,
            ))),
            (None, None) => None,
        };
        match &step.graphql {
            None => body,
            Some(_) if body.is_some() => {
                self.error(
                    &join_key(base, "graphql"),
                    "a step with `graphql` sends the query as its body, so it cannot have `body` or `form`",
                    None,
                );
                None
            }
            Some(g) => self.graphql(g, &join_key(base, "graphql"), i),
        }
    }

    /// How the step runs: `when`, `for_each` and `concurrency`, `paginate`,
    /// its timeout, response size limit and retry policy.
    fn step_flow(&mut self, chain: &Chain, step: &Step, i: usize, base: &str) -> Flow {
        let when = step
            .when
            .as_ref()
            .and_then(|w| self.compile(&join_key(base, "when"), w, i));
        let paginate = step
            .paginate
            .as_ref()
            .and_then(|p| self.paginate(p, &join_key(base, "paginate"), i));
        let poll = step
            .poll
            .as_ref()
            .and_then(|p| self.poll(p, &join_key(base, "poll"), i));
        for (other, what) in [
            (step.paginate.is_some(), "paginate"),
            (step.save_to.is_some(), "save_to"),
            (step.chain.is_some(), "chain"),
        ] {
            if other && step.poll.is_some() {
                self.error(
                    &join_key(base, "poll"),
                    format!("`poll` cannot go with `{what}`"),
                    Some("help: poll in a step of its own".into()),
                );
            }
        }
        if step.paginate.is_some() && step.save_to.is_some() {
            self.error(
                &join_key(base, "paginate"),
                "`paginate` collects pages in memory, so it cannot go with `save_to`",
                None,
            );
        }
        let for_each = step
            .for_each
            .as_ref()
            .and_then(|l| self.compile(&join_key(base, "for_each"), l, i));
        if let Some(Tmpl::Literal(lit)) = &for_each
            && !lit.is_array()
        {
            self.error_value(
                &join_key(base, "for_each"),
                format!("`for_each` needs a list, not {}", kind_of(lit)),
                Some(
                    "help: a list (`[1, 2, 3]`) or a template that gives one (`\"{{ Users }}\"`)"
                        .into(),
                ),
            );
        }
        if step.concurrency == Some(0) {
            self.error_value(
                &join_key(base, "concurrency"),
                "`concurrency` must be at least 1",
                None,
            );
        }
        if step.concurrency.is_some() && step.for_each.is_none() {
            self.error(
                &join_key(base, "concurrency"),
                "`concurrency` applies to `for_each` steps only",
                Some("help: add `for_each:` or remove `concurrency`".into()),
            );
        }
        let timeout = step
            .timeout
            .or(chain.defaults.timeout)
            .map(|d| d.0)
            .unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            self.error_value(
                &join_key(base, "timeout"),
                "a timeout must be longer than zero",
                None,
            );
        }
        Flow {
            when,
            paginate,
            poll,
            for_each,
            timeout,
            body_limit: step
                .max_response_size
                .or(chain.defaults.max_response_size)
                .map_or(crate::transport::DEFAULT_BODY_LIMIT, |s| s.0),
            retry: self.retry_policy(chain.defaults.retry.as_ref(), step.retry.as_deref(), base),
        }
    }

    /// `extract:`: names that can be variables, and what each reads.
    fn step_extract(
        &mut self,
        step: &Step,
        base: &str,
        known: &Known<'_>,
    ) -> Vec<(String, Extractor)> {
        let mut extract = Vec::new();
        for (name, spec) in step.extract.iter().flat_map(|m| m.iter()) {
            let path = join_key(&join_key(base, "extract"), name);
            if !is_identifier(name) || RESERVED.contains(&name.as_str()) || name == TRIGGER_VAR {
                self.error(&path, format!("`{name}` cannot be a variable name"), None);
                continue;
            }
            if known.vars.contains_key(name) {
                self.error(
                    &path,
                    format!("`{name}` is both a variable and extracted here"),
                    Some("help: rename one of them; the extracted value would silently replace the variable".into()),
                );
                continue;
            }
            if known.step_index.contains_key(name.as_str()) {
                self.error(
                    &path,
                    format!("`{name}` is already a step name"),
                    Some("help: choose another variable name".into()),
                );
                continue;
            }
            match parse_extractor(spec) {
                Ok(x) => extract.push((name.clone(), x)),
                Err(msg) => self.error_value(&path, msg, None),
            }
        }
        extract
    }

    /// `save_to:`, which nothing may then read the body of.
    fn step_save_to(
        &mut self,
        step: &Step,
        i: usize,
        base: &str,
        extract: &[(String, Extractor)],
        expect: &Expectations,
    ) -> Option<Tmpl> {
        let save_to = step
            .save_to
            .as_ref()
            .and_then(|s| self.compile_text(&join_key(base, "save_to"), s, i));
        let reads_body = extract
            .iter()
            .any(|(_, x)| matches!(x, Extractor::Path(_) | Extractor::Body))
            || !expect.json.is_empty()
            || !expect.asserts.is_empty()
            || expect.schema.is_some()
            || !expect.body_contains.is_empty();
        if step.save_to.is_some() && reads_body {
            self.error(
                &join_key(base, "save_to"),
                "`save_to` writes the body to a file, so no JSONPath `extract`, `expect.json`, `expect.assert`, `expect.schema` or `expect.body_contains` can read it",
                Some("help: extract headers or the status instead, or drop `save_to` to keep the body in memory".into()),
            );
        }
        save_to
    }

    /// Headers that differ only in case are one header: a map that names
    /// one twice is an error.
    pub(super) fn one_header_each(&mut self, path: &str, headers: &[(String, Tmpl)]) {
        for (i, (name, _)) in headers.iter().enumerate() {
            if let Some((first, _)) = headers[..i]
                .iter()
                .find(|(other, _)| other.eq_ignore_ascii_case(name))
            {
                self.error(
                    &join_key(path, name),
                    format!("header `{name}` is given twice (also as `{first}`): header names are case-insensitive"),
                    Some("help: keep one of them".into()),
                );
            }
        }
    }

    /// `chain: file` → the sub-chain, validated with the `with:` names as its
    /// variables; a file that includes itself, directly or not, is refused.
    pub(super) fn sub_chain(
        &mut self,
        file: &str,
        with: Option<&indexmap::IndexMap<String, Value>>,
        base: &str,
        at: usize,
    ) -> Option<SubChain> {
        let path = chain_dir(&self.source.name).join(file);
        let here = self.resolved.here.clone();
        let sub = match self.resolved.sub_chains.get(&path) {
            Some(Ok(sub)) => sub,
            Some(Err(e)) => {
                self.error_value(
                    &join_key(base, "chain"),
                    format!("cannot read sub-chain {}: {e}", path.display()),
                    None,
                );
                return None;
            }
            None => return None,
        };
        let target = sub.canonical.clone();
        if target == here || self.stack.iter().any(|(p, _)| *p == target) {
            let mut cycle: Vec<String> = self.stack.iter().map(|(_, n)| n.clone()).collect();
            cycle.push(self.source.name.clone());
            cycle.push(path.display().to_string());
            self.error_value(
                &join_key(base, "chain"),
                format!(
                    "sub-chains include each other in a cycle: {}",
                    cycle.join(" → ")
                ),
                None,
            );
            return None;
        }
        let with = match with {
            Some(w) => self.compile_map(&join_key(base, "with"), w, at),
            None => Vec::new(),
        };
        let parsed = match &sub.parsed {
            Ok(p) => p.clone(),
            Err(d) => {
                self.diags.push(d.clone());
                return None;
            }
        };
        let resolved = sub.resolved.as_deref()?;
        // The sub-chain's own vars, then the names `with` sets (values come
        // at run time, checked then against the sub-chain's inputs).
        let mut vars = parsed.chain.vars.clone();
        for (name, _) in &with {
            if !parsed.chain.inputs.contains_key(name) {
                vars.entry(name.clone()).or_insert(Value::Null);
            }
        }
        let mut stack = self.stack.clone();
        stack.push((here, self.source.name.clone()));
        let secret_vars = with
            .iter()
            .filter(|(_, t)| t.bears_secret())
            .map(|(name, _)| name.clone())
            .collect();
        match validate_nested(parsed, resolved, vars, stack, secret_vars) {
            Ok(chain) => {
                let given: Vec<&str> = with.iter().map(|(n, _)| n.as_str()).collect();
                let missing: Vec<&String> = chain
                    .missing_inputs
                    .iter()
                    .filter(|m| !given.contains(&m.as_str()))
                    .collect();
                if !missing.is_empty() {
                    self.error(
                        &join_key(base, "with"),
                        format!(
                            "sub-chain {} needs input{} {}",
                            path.display(),
                            if missing.len() == 1 { "" } else { "s" },
                            missing
                                .iter()
                                .map(|m| format!("`{m}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        Some("help: give it under `with:`".into()),
                    );
                }
                Some(SubChain {
                    chain: Arc::new(chain),
                    with,
                })
            }
            Err(Diagnostics(list)) => {
                self.error_value(
                    &join_key(base, "chain"),
                    format!("sub-chain {} is invalid", path.display()),
                    None,
                );
                self.diags.extend(list);
                None
            }
        }
    }

    /// `paginate:` → a [`Pager`]: exactly one way to find the next page.
    /// `poll:`: the condition (which may read the step's own name and
    /// `poll`) and the pace, with a bound on how long it may go on.
    pub(super) fn poll(
        &mut self,
        p: &crate::chain::model::Poll,
        path: &str,
        at: usize,
    ) -> Option<crate::plan::Poll> {
        let until_path = join_key(path, "until");
        let until = self.compile(&until_path, &p.until, at)?;
        self.polling.insert(at);
        let interval = p.interval.map_or(Duration::from_secs(1), |d| d.0);
        let max_interval = p.max_interval.map_or(Duration::from_secs(60), |d| d.0);
        let backoff = p.backoff.unwrap_or(1.0);
        if !(1.0..=10.0).contains(&backoff) {
            self.error_value(
                &join_key(path, "backoff"),
                "`backoff` multiplies each wait: a number from 1 (fixed) to 10",
                None,
            );
        }
        if p.max_polls == Some(0) {
            self.error_value(
                &join_key(path, "max_polls"),
                "`max_polls` must be at least 1",
                None,
            );
        }
        if max_interval < interval {
            self.error_value(
                &join_key(path, "max_interval"),
                "`max_interval` is shorter than `interval`",
                None,
            );
        }
        Some(crate::plan::Poll {
            until,
            until_text: match &p.until {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
            interval,
            backoff,
            max_interval,
            timeout: p.timeout.map(|d| d.0),
            max_polls: p
                .max_polls
                .unwrap_or(if p.timeout.is_some() { u32::MAX } else { 60 }),
        })
    }

    pub(super) fn paginate(&mut self, p: &Paginate, path: &str, at: usize) -> Option<Pager> {
        let ways = [
            p.link == Some(true),
            p.next_url.is_some(),
            p.cursor.is_some(),
            p.page_param.is_some(),
        ];
        if ways.iter().filter(|w| **w).count() != 1 {
            self.error(
                path,
                "`paginate` needs exactly one of `link: true`, `next_url`, `cursor` and `page_param`",
                None,
            );
            return None;
        }
        let jsonpath = |v: &mut Self, field: &str, text: &str| match JsonPath::compile(text) {
            Ok(j) => Some(j),
            Err(e) => {
                v.error_value(&join_key(path, field), e, None);
                None
            }
        };
        let next = if p.link == Some(true) {
            NextPage::Link
        } else if let Some(u) = &p.next_url {
            NextPage::Url(jsonpath(self, "next_url", u)?)
        } else if let Some(c) = &p.cursor {
            NextPage::Cursor {
                path: jsonpath(self, "cursor", c)?,
                param: p.cursor_param.clone().unwrap_or_else(|| "cursor".into()),
            }
        } else {
            NextPage::Counter {
                param: p.page_param.clone().unwrap_or_default(),
                start: p.start.unwrap_or(1),
                step: p.step.unwrap_or(1),
            }
        };
        let collect = match &p.collect {
            Some(c) => Some(jsonpath(self, "collect", c)?),
            None => None,
        };
        if p.max_pages == Some(0) {
            self.error_value(
                &join_key(path, "max_pages"),
                "`max_pages` must be at least 1",
                None,
            );
        }
        self.paging.insert(at);
        let until = match &p.until {
            Some(u) => Some(self.compile(&join_key(path, "until"), u, at)?),
            None => None,
        };
        Some(Pager {
            next,
            until,
            total_header: p.total_header.clone(),
            collect,
            max_pages: p.max_pages.unwrap_or(100).max(1),
        })
    }

    /// `graphql:` → the request body; the query comes inline or from a file.
    pub(super) fn graphql(&mut self, g: &GraphQl, path: &str, at: usize) -> Option<BodySpec> {
        let query = match (&g.query, &g.query_file) {
            (Some(q), None) => q.clone(),
            (None, Some(f)) => {
                let file = chain_dir(&self.source.name).join(f);
                match self.resolved.text(&file) {
                    Ok(q) => q.to_string(),
                    Err(e) => {
                        self.error_value(
                            &join_key(path, "query_file"),
                            format!("cannot read {}: {e}", file.display()),
                            None,
                        );
                        return None;
                    }
                }
            }
            _ => {
                self.error(
                    path,
                    "`graphql` needs exactly one of `query` and `query_file`",
                    None,
                );
                return None;
            }
        };
        let variables = match &g.variables {
            Some(v) => Some(self.compile(&join_key(path, "variables"), v, at)?),
            None => None,
        };
        Some(BodySpec::GraphQl {
            query,
            variables,
            operation_name: g.operation_name.clone(),
        })
    }
}

/// What a JSON value is, in words: `a number`, `a map`.
pub(super) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

pub(super) fn reqwest_free_header_name_ok(name: &str) -> Result<(), ()> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if ok { Ok(()) } else { Err(()) }
}

/// `"$.a.b"`, `"header:Name"`, `"status"` or `"body"`.
pub(super) fn parse_extractor(spec: &str) -> Result<Extractor, String> {
    let s = spec.trim();
    if s.starts_with('$') {
        return JsonPath::compile(s).map(Extractor::Path);
    }
    if let Some(h) = s
        .strip_prefix("header:")
        .or_else(|| s.strip_prefix("headers."))
    {
        let h = h.trim();
        if !h.is_empty() && reqwest_free_header_name_ok(h).is_ok() {
            return Ok(Extractor::Header(h.to_ascii_lowercase()));
        }
        return Err(format!("`{h}` is not a valid header name"));
    }
    match s {
        "status" => Ok(Extractor::Status),
        "body" => Ok(Extractor::Body),
        _ => Err(format!(
            "`{spec}` is not something to extract: write a JSONPath (`$.id`), `header:Name`, `status` or `body`"
        )),
    }
}

/// The path of the string `needle` inside `value` (for error positions).
pub(super) fn find_string_path(value: &Value, needle: &str, path: &str) -> Option<String> {
    match value {
        Value::String(s) if s == needle => Some(path.to_string()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_string_path(v, needle, &join_index(path, i))),
        Value::Object(map) => map
            .iter()
            .find_map(|(k, v)| find_string_path(v, needle, &join_key(path, k))),
        _ => None,
    }
}
