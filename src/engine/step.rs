//! One step, in stages: render what it sends, show it, send it, check
//! what came back, extract.

use std::time::Instant;

use serde_json::Value;

use super::event::{Emitter, Event};
use super::outcome::{ResponseInfo, StepError, StepOutcome, StepResult, StepStatus};
use super::pages::{Pages, with_param};
use super::poll::Polled;
use super::{Cancel, EXCERPT_BYTES, Notices, check, context, outcome};
use crate::auth;
use crate::auth::Credentials;
use crate::plan::{HeaderCheck, NextPage, Pager, ValidStep};
use crate::template as render;
use crate::template::{Templates, value_to_text};
use crate::transport::{BodySink, Client, HttpRequest, HttpResponse};

pub(super) struct StepRunner<'a> {
    pub(super) templates: &'a Templates,
    pub(super) step: &'a ValidStep,
    pub(super) index: usize,
    pub(super) client: &'a Client,
    pub(super) dry_run: bool,
    pub(super) redactor: &'a crate::secret::Redactor,
    pub(super) session: &'a auth::Session,
    pub(super) notices: &'a Notices,
    pub(super) shard: Option<(usize, usize)>,
}

/// What a step sends, rendered.
struct Prepared<'s> {
    /// The context its templates read (with `params` for a connector step).
    ctx_value: minijinja::Value,
    request: HttpRequest,
    save_to: Option<String>,
    expect: check::RenderedExpect<'s>,
    creds: Credentials,
}

/// What `poll` would do, in words for a dry run.
fn poll_words(poll: &crate::plan::Poll) -> String {
    let mut text = format!(
        "then again every {}",
        crate::engine::show_duration(poll.interval)
    );
    if poll.backoff > 1.0 {
        text.push_str(&format!(
            " (times {} each time, at most {})",
            poll.backoff,
            crate::engine::show_duration(poll.max_interval)
        ));
    }
    text.push_str(&format!(" until `{}`", poll.until_text));
    if let Some(t) = poll.timeout {
        text.push_str(&format!(
            ", for at most {}",
            crate::engine::show_duration(t)
        ));
    }
    if poll.max_polls != u32::MAX {
        text.push_str(&format!(", at most {} requests", poll.max_polls));
    }
    text
}

/// How `paginate` finds the next page, in words for a dry run.
fn next_page_words(next: &crate::plan::NextPage) -> String {
    use crate::plan::NextPage;
    match next {
        NextPage::Link => "the `Link: rel=\"next\"` header of each response".into(),
        NextPage::Url(p) => format!("the URL at `{}` in each response", p.as_str()),
        NextPage::Cursor { path, param } => {
            format!(
                "`{param}` set to the cursor at `{}` in each response",
                path.as_str()
            )
        }
        NextPage::Counter { param, .. } => format!("`{param}` counting up"),
    }
}

/// What [`StepRunner::announce`] decided.
enum Announced {
    Send,
    /// A dry run: this is what would have been sent.
    DryRun(Box<HttpRequest>),
}

/// What checking a response needs beyond the response.
struct Checking<'c> {
    ctx_value: &'c minijinja::Value,
    expect: &'c check::RenderedExpect<'c>,
    creds: &'c Credentials,
    save_to: Option<&'c str>,
    /// Why retrying stopped, to add to a failed expectation.
    note: Option<String>,
}

impl StepRunner<'_> {
    /// Runs the step once, against `ctx_value` (for a `for_each` item, the
    /// scope with `item` and `index`): render what it sends, show it (or
    /// stop there in a dry run), send it, check what came back.
    pub(super) async fn run(
        &self,
        ctx_value: minijinja::Value,
        emitter: &Emitter<'_>,
        mut cancel: Cancel,
        item: Option<usize>,
    ) -> StepOutcome {
        let clock = Instant::now();
        let mut outcome = StepOutcome::not_run(&self.step.name);
        let prepared = match self.prepare(ctx_value) {
            Ok(p) => p,
            Err(e) => return outcome.failed(e),
        };
        match self.announce(&prepared, emitter, item).await {
            Ok(Announced::Send) => {}
            Ok(Announced::DryRun(shown)) => {
                outcome.status = StepStatus::DryRun;
                outcome.request = Some(*shown);
                if let Some(pager) = &self.step.paginate {
                    outcome.dry_notes.push(format!(
                        "the first page; `paginate` then follows {}, up to {} pages",
                        next_page_words(&pager.next),
                        pager.max_pages
                    ));
                }
                if let Some(poll) = &self.step.poll {
                    outcome.dry_notes.push(poll_words(poll));
                }
                return outcome;
            }
            Err((e, shown)) => {
                outcome.request = shown;
                return outcome.failed(e);
            }
        }
        let Prepared {
            ctx_value,
            request,
            save_to,
            expect,
            creds,
        } = prepared;
        let sink = match &save_to {
            Some(p) => BodySink::File(p.into()),
            None => BodySink::Memory,
        };
        let again = self.step.poll.as_ref().map(|_| request.clone());
        let ex = self
            .exchange(request, &creds, &sink, emitter, &mut cancel, item)
            .await;
        let (ex, ran_out, polls) = match (&self.step.poll, again) {
            (Some(poll), Some(request)) => {
                let status_ok = |code: u16| {
                    if expect.spec.status.is_empty() {
                        (200..300).contains(&code)
                    } else {
                        check::status_expected(expect.spec, code)
                    }
                };
                let polled = self
                    .poll(
                        poll,
                        ex,
                        &request,
                        &creds,
                        &sink,
                        &ctx_value,
                        &status_ok,
                        emitter,
                        &mut cancel,
                        item,
                    )
                    .await;
                match polled {
                    Polled::Done(ex, n) => (ex, None, Some(n)),
                    Polled::RanOut(ex, n, e) => (ex, Some(e), Some(n)),
                }
            }
            _ => (ex, None, None),
        };
        outcome.attempts = ex.attempts;
        outcome.polls = polls;
        // Kept for reports until the run ends; the parsed URL only served
        // the sending (a second copy of the URL for every step kept).
        let mut request = ex.request;
        request.parsed_url = None;
        outcome.request = Some(request);
        let resp = match ex.response {
            Ok(r) => r,
            Err(e) => {
                outcome.elapsed = clock.elapsed();
                return outcome.failed(e);
            }
        };
        let checking = Checking {
            ctx_value: &ctx_value,
            expect: &expect,
            creds: &creds,
            save_to: save_to.as_deref(),
            note: ex.note,
        };
        self.receive(&mut outcome, resp, &checking, emitter, &mut cancel, item)
            .await;
        outcome.elapsed = clock.elapsed();
        // Polling ran out: that is why the step failed, whatever the last
        // response's checks said.
        if let Some(e) = ran_out {
            outcome = outcome.failed(e);
        }
        outcome
    }

    /// Everything the step sends, rendered: a connector's `params` first
    /// (the other templates read them), then the request, the first page
    /// of a counter, what `expect` compares with, the credentials.
    fn prepare(&self, ctx_value: minijinja::Value) -> Result<Prepared<'_>, StepError> {
        let step = self.step;
        let ctx_value = match &step.connector {
            Some(c) => {
                let mut params = serde_json::Map::new();
                for (name, t) in &c.params {
                    params.insert(
                        name.clone(),
                        self.render_field(&format!("params.{name}"), t, &ctx_value)?,
                    );
                }
                context::with_params(&ctx_value, render::from_json(&Value::Object(params)))
            }
            None => ctx_value,
        };
        let (mut request, save_to) = self.render_request(&ctx_value)?;
        if let Some(Pager {
            next: NextPage::Counter { param, start, .. },
            ..
        }) = step.paginate.as_deref()
        {
            request.url = with_param(&request.url, param, &start.to_string());
        }
        let expect = self.render_expect(&ctx_value)?;
        let creds = match &step.auth {
            Some(spec) => auth::render(
                spec,
                |f, t| self.render_text(f, t, &ctx_value),
                |f, t| self.render_field(f, t, &ctx_value),
                self.redactor,
            )?,
            None => Credentials::None,
        };
        Ok(Prepared {
            ctx_value,
            request,
            save_to,
            expect,
            creds,
        })
    }

    /// Shows what the step is about to send, credentials included (as the
    /// progress display and a dry run print it): the request as it is
    /// without credentials, else a copy with them applied. A `for_each`
    /// item without credentials shows nothing (no copy made).
    async fn announce(
        &self,
        p: &Prepared<'_>,
        emitter: &Emitter<'_>,
        item: Option<usize>,
    ) -> Result<Announced, (StepError, Option<HttpRequest>)> {
        let bare = matches!(p.creds, Credentials::None);
        if item.is_some() && !self.dry_run && bare {
            return Ok(Announced::Send);
        }
        let shown = if bare {
            std::borrow::Cow::Borrowed(&p.request)
        } else {
            let mut shown = p.request.clone();
            let applied = match (&p.creds, self.dry_run) {
                // A dry run fetches no token.
                (Credentials::OAuth2(_), true) => {
                    shown
                        .headers
                        .push(("authorization".into(), "Bearer <oauth2 token>".into()));
                    Ok(auth::Added::default())
                }
                // Nor signs anything: a signature is made as a request is sent.
                (Credentials::AwsSigV4(_), true) => {
                    shown.headers.push((
                        "authorization".into(),
                        "AWS4-HMAC-SHA256 <signed when sent>".into(),
                    ));
                    Ok(auth::Added::default())
                }
                _ => {
                    self.session
                        .apply(&p.creds, &mut shown, self.client, false)
                        .await
                }
            };
            if let Err(e) = applied {
                return Err((StepError::Auth(e), Some(shown)));
            }
            std::borrow::Cow::Owned(shown)
        };
        if item.is_none() {
            emitter.emit(&Event::StepStarted {
                index: self.index,
                step: self.step,
                request: &shown,
            });
        }
        Ok(if self.dry_run {
            Announced::DryRun(Box::new(shown.into_owned()))
        } else {
            Announced::Send
        })
    }

    /// What came back: decoded, checked (GraphQL errors, `expect`), the
    /// later pages followed, extracted; the step's result and status set.
    async fn receive(
        &self,
        outcome: &mut StepOutcome,
        resp: HttpResponse,
        c: &Checking<'_>,
        emitter: &Emitter<'_>,
        cancel: &mut Cancel,
        item: Option<usize>,
    ) {
        let step = self.step;
        let mut decoded = check::decode(&resp, c.save_to);
        let verified = self
            .verify(
                &resp,
                &mut decoded,
                c,
                outcome.request.as_ref(),
                emitter,
                cancel,
                item,
            )
            .await;
        let extracted = match verified {
            Ok(paged) => {
                if let Some((attempts, pages)) = paged {
                    outcome.attempts += attempts;
                    outcome.pages = Some(pages);
                }
                check::extract(&step.extract, &resp, &decoded)
            }
            Err(e) => Err(e),
        };
        // The body is the result as it came: kept as text for compaction
        // (a `for_each` item's result is only ever gathered into a list).
        let received = item.is_none()
            && decoded.is_json
            && !step.graphql
            && outcome.pages.is_none()
            && resp.saved_bytes.is_none()
            && resp.body.len() <= outcome::MAX_RESULT_BYTES
            && (decoded.value.is_object() || decoded.value.is_array());
        let (info, body) = response_info(resp, decoded.json_error.take());
        outcome.response = Some(info);
        if received && let Ok(text) = String::from_utf8(body) {
            let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());
            outcome.text = Some(if trimmed.len() == text.len() {
                text.into_boxed_str()
            } else {
                trimmed.into()
            });
        }
        match extracted {
            Ok(outputs) => {
                outcome.status = StepStatus::Passed;
                outcome.outputs = outputs;
            }
            Err(e) => {
                outcome.status = StepStatus::Failed;
                outcome.error = Some(e);
            }
        }
        outcome.result = StepResult::from(decoded.value);
    }

    /// The checks of a response: GraphQL `errors`, `expect`, and the later
    /// pages (their items become the result; their attempts and count are
    /// returned).
    #[allow(clippy::too_many_arguments)]
    async fn verify(
        &self,
        resp: &HttpResponse,
        decoded: &mut check::Decoded,
        c: &Checking<'_>,
        first_request: Option<&HttpRequest>,
        emitter: &Emitter<'_>,
        cancel: &mut Cancel,
        item: Option<usize>,
    ) -> Result<Option<(u32, u32)>, StepError> {
        let step = self.step;
        // GraphQL: `errors` fail the step; the result is `data`.
        let graphql_errors = if step.graphql && decoded.is_json {
            let errors = check::graphql_errors(&decoded.value);
            decoded.value = decoded.value.get("data").cloned().unwrap_or(Value::Null);
            errors
        } else {
            Vec::new()
        };
        let unmet = self.check_that(resp, decoded, c.ctx_value)?;
        let checked = match check::expect(c.expect, resp, decoded) {
            Ok(()) if unmet.is_empty() => Ok(()),
            Ok(()) => Err(StepError::Expectations {
                mismatches: unmet,
                note: None,
            }),
            Err(StepError::Expectations {
                mut mismatches,
                note,
            }) => {
                mismatches.extend(unmet);
                Err(StepError::Expectations { mismatches, note })
            }
            Err(other) => Err(other),
        };
        checked.map_err(|e| match e {
            StepError::Expectations { mismatches, note } => StepError::Expectations {
                mismatches,
                note: note.or_else(|| c.note.clone()),
            },
            other => other,
        })?;
        if !graphql_errors.is_empty() {
            return Err(StepError::GraphQl(graphql_errors));
        }
        let (Some(pager), Some(first_request)) = (&step.paginate, first_request) else {
            return Ok(None);
        };
        let first = std::mem::take(&mut decoded.value);
        let pages = Pages {
            pager,
            first_request,
            creds: c.creds,
            expect: c.expect,
            ctx: c.ctx_value,
        };
        let (items, attempts, count) = self
            .follow_pages(&pages, resp, first, emitter, cancel, item)
            .await?;
        decoded.value = items;
        Ok(Some((attempts, count)))
    }

    /// `expect.that`: each condition rendered over the response; the ones
    /// that are not true.
    fn check_that(
        &self,
        resp: &HttpResponse,
        decoded: &check::Decoded,
        ctx: &minijinja::Value,
    ) -> Result<Vec<crate::engine::outcome::Mismatch>, StepError> {
        let that = &self.step.expect.that;
        if that.is_empty() {
            return Ok(Vec::new());
        }
        let response = check::response_value(
            resp.status,
            &resp.headers,
            &decoded.value,
            &resp.url,
            &self.step.method,
        );
        let scope = context::with_response(ctx, render::from_json(&response));
        let mut unmet = Vec::new();
        for (k, (text, t)) in that.iter().enumerate() {
            let field = format!("expect.that[{k}]");
            let v = self.rendered(&field, self.templates.render(t, &scope), Value::String)?;
            if !super::truthy(&v) {
                unmet.push(crate::engine::outcome::Mismatch {
                    what: text.clone(),
                    field,
                    expected: "true".into(),
                    actual: check::show(&v),
                });
            }
        }
        Ok(unmet)
    }

    pub(super) fn render_field(
        &self,
        field: &str,
        t: &render::Tmpl,
        ctx: &minijinja::Value,
    ) -> Result<Value, StepError> {
        if self.dry_run {
            return Ok(self.templates.render_dry(t, ctx));
        }
        self.rendered(field, self.templates.render(t, ctx), Value::String)
    }

    pub(super) fn render_text(
        &self,
        field: &str,
        t: &render::Tmpl,
        ctx: &minijinja::Value,
    ) -> Result<String, StepError> {
        self.rendered(field, self.templates.render_string(t, ctx), |t| t)
    }

    /// A render result as a step error naming `field`. A dry run has no
    /// responses: what cannot be computed without them shows as written.
    pub(super) fn rendered<T>(
        &self,
        field: &str,
        result: Result<T, render::TemplateError>,
        as_written: impl FnOnce(String) -> T,
    ) -> Result<T, StepError> {
        match result {
            Ok(v) => Ok(v),
            Err(e) if self.dry_run => Ok(as_written(e.template)),
            Err(error) => Err(StepError::Render {
                field: field.to_string(),
                error,
            }),
        }
    }

    /// The request the step sends, rendered, and where its body is saved.
    pub(super) fn render_request(
        &self,
        ctx: &minijinja::Value,
    ) -> Result<(HttpRequest, Option<String>), StepError> {
        let step = self.step;
        let url = self.render_url(ctx)?;
        let mut headers = self.render_headers(ctx)?;
        let body = self.render_body(ctx, &mut headers)?;
        let save_to = match &step.save_to {
            Some(t) => Some(self.render_text("save_to", t, ctx)?),
            None => None,
        };
        let tls = match (&step.tls, &step.tls_password) {
            (Some(tls), Some(p)) => Some(std::sync::Arc::new(crate::transport::TlsSettings {
                password: Some(crate::transport::Password(self.render_text(
                    "tls.password",
                    p,
                    ctx,
                )?)),
                ..crate::transport::TlsSettings::clone(tls)
            })),
            (tls, _) => tls.clone(),
        };
        Ok((
            HttpRequest {
                method: step.method.clone(),
                url: url.as_str().to_string(),
                parsed_url: Some(url),
                headers,
                body,
                timeout: step.timeout,
                follow_redirects: step.follow_redirects,
                tls,
                body_limit: step.body_limit,
            },
            save_to,
        ))
    }

    /// The URL, parsed, with `query_params` appended; a password in it is
    /// told to the redactor.
    fn render_url(&self, ctx: &minijinja::Value) -> Result<url::Url, StepError> {
        let step = self.step;
        let raw_url = self.render_text("url", &step.url, ctx)?;
        let mut url = url::Url::parse(raw_url.trim()).map_err(|e| {
            let hint = if raw_url.contains("{{") {
                " (values from variables and responses are used as written, never rendered as templates)"
            } else {
                ""
            };
            StepError::Request(format!("the URL `{raw_url}` is not valid: {e}{hint}"))
        })?;
        if let Some(pw) = url.password() {
            // A password in the URL is a credential: keep it out of every output.
            self.redactor.add(pw);
            if let Ok(decoded) = percent_decode(pw) {
                self.redactor.add(&decoded);
            }
        }
        if !matches!(url.scheme(), "http" | "https") {
            return Err(StepError::Request(format!(
                "the URL `{raw_url}` is not http or https"
            )));
        }
        if !step.query.is_empty() {
            let mut rendered = Vec::with_capacity(step.query.len());
            for (k, t) in &step.query {
                rendered.push((k, self.render_field(&format!("query_params.{k}"), t, ctx)?));
            }
            let mut pairs = url.query_pairs_mut();
            for (k, v) in rendered {
                match v {
                    Value::Null => {}
                    Value::Array(items) => {
                        for item in items {
                            pairs.append_pair(k, &value_to_text(&item));
                        }
                    }
                    other => {
                        pairs.append_pair(k, &value_to_text(&other));
                    }
                }
            }
        }
        Ok(url)
    }

    /// The headers; the value of a sensitive one is a credential whoever
    /// wrote it, redacted like a stored secret.
    fn render_headers(&self, ctx: &minijinja::Value) -> Result<Vec<(String, String)>, StepError> {
        let mut headers = Vec::with_capacity(self.step.headers.len() + 1);
        for (k, t) in &self.step.headers {
            let value = self.render_text(&format!("headers.{k}"), t, ctx)?;
            if crate::secret::sensitive_header(k) {
                self.redactor.add(&value);
                if let Some((_, credential)) = value.split_once(' ') {
                    self.redactor.add(credential.trim());
                }
            }
            headers.push((k.clone(), value));
        }
        Ok(headers)
    }

    pub(super) fn render_expect<'s>(
        &'s self,
        ctx: &minijinja::Value,
    ) -> Result<check::RenderedExpect<'s>, StepError> {
        let spec = &self.step.expect;
        let mut json = Vec::with_capacity(spec.json.len());
        for (p, t) in &spec.json {
            json.push(self.render_field(&format!("expect.json.{}", p.as_str()), t, ctx)?);
        }
        let mut headers = Vec::with_capacity(spec.headers.len());
        for (k, check) in &spec.headers {
            let field = format!("expect.headers.{k}");
            let rendered = match check {
                HeaderCheck::Contains(t) => {
                    check::RenderedHeader::Contains(self.render_text(&field, t, ctx)?)
                }
                HeaderCheck::Checks(t) => {
                    check::RenderedHeader::Checks(self.render_field(&field, t, ctx)?)
                }
            };
            headers.push((k.clone(), rendered));
        }
        let mut asserts = Vec::with_capacity(spec.asserts.len());
        for (p, t) in &spec.asserts {
            asserts.push(self.render_field(&format!("expect.assert.{}", p.as_str()), t, ctx)?);
        }
        let mut body_contains = Vec::with_capacity(spec.body_contains.len());
        for t in &spec.body_contains {
            body_contains.push(self.render_text("expect.body_contains", t, ctx)?);
        }
        Ok(check::RenderedExpect {
            spec,
            json,
            headers,
            asserts,
            body_contains,
        })
    }
}

/// What the report keeps of a response (its headers and URL are taken
/// over), and the body, given back.
pub(super) fn response_info(
    resp: HttpResponse,
    json_error: Option<String>,
) -> (ResponseInfo, Vec<u8>) {
    let cut = resp.body.len().min(EXCERPT_BYTES);
    let mut excerpt = check::body_text(&resp.body[..cut], resp.header("content-type"));
    if resp.body.len() > cut {
        excerpt.push('…');
    }
    let info = ResponseInfo {
        status: resp.status,
        body_len: resp.saved_bytes.unwrap_or(resp.body.len() as u64),
        headers: resp.headers,
        body_excerpt: excerpt,
        url: resp.url,
        json_error,
    };
    (info, resp.body)
}

pub(super) fn percent_decode(s: &str) -> Result<String, std::string::FromUtf8Error> {
    let bytes: Vec<u8> = url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned().into_bytes())
        .unwrap_or_default();
    String::from_utf8(bytes)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::secret::Redactor;

    /// A chain's first step, compiled, and what running it needs.
    struct Fixture {
        chain: crate::plan::ValidChain,
        client: Client,
        session: auth::Session,
        notices: super::super::Notices,
        redactor: Redactor,
    }

    impl Fixture {
        fn new(yaml: &str) -> Fixture {
            let parsed = crate::chain::parse(Arc::new(crate::diagnostic::Source {
                name: "t.yaml".into(),
                text: yaml.into(),
            }))
            .unwrap();
            let vars = parsed.chain.vars.clone();
            let chain = crate::compile::validate(parsed, vars).unwrap();
            let redactor = Redactor::default();
            let route = crate::transport::Replayer::new(
                crate::transport::Tape::default(),
                "none",
                redactor.clone(),
            );
            Fixture {
                chain,
                client: Client::new(Arc::new(route), redactor.clone()),
                session: auth::Session {
                    tokens: auth::oauth2::Tokens::new(None, redactor.clone(), Arc::new(|_| {})),
                },
                notices: super::super::Notices {
                    notify: Arc::new(|_| {}),
                    said: Default::default(),
                },
                redactor,
            }
        }

        fn runner(&self, dry_run: bool) -> StepRunner<'_> {
            StepRunner {
                templates: &self.chain.templates,
                step: &self.chain.steps[0],
                index: 0,
                client: &self.client,
                dry_run,
                redactor: &self.redactor,
                session: &self.session,
                notices: &self.notices,
                shard: None,
            }
        }

        fn ctx(&self) -> minijinja::Value {
            Arc::new(context::Context::new(&self.chain.vars)).value()
        }
    }

    #[test]
    fn the_request_is_rendered_with_its_query_headers_and_body() {
        let f = Fixture::new(
            "vars: {ids: [1, 2], who: ann}\nsteps:\n  - name: A\n    method: POST\n    url: \"http://api.test/u?x=1\"\n    query_params: {id: \"{{ ids }}\", none: null, who: \"{{ who }}\"}\n    headers: {X-Who: \"{{ who }}\"}\n    body: {name: \"{{ who }}\", n: \"{{ ids | length }}\"}\n",
        );
        let (req, save_to) = f.runner(false).render_request(&f.ctx()).unwrap();
        assert_eq!(req.url, "http://api.test/u?x=1&id=1&id=2&who=ann");
        assert_eq!(save_to, None);
        assert_eq!(
            req.body.as_ref().and_then(|b| b.bytes()),
            Some(&br#"{"name":"ann","n":2}"#[..])
        );
        assert!(req.headers.contains(&("X-Who".into(), "ann".into())));
        assert!(
            req.headers
                .contains(&("content-type".into(), "application/json".into()))
        );
    }

    #[test]
    fn a_body_type_the_step_set_is_kept_and_forms_are_encoded() {
        let f = Fixture::new(
            "steps:\n  - name: A\n    method: POST\n    url: http://api.test/\n    headers: {Content-Type: text/csv}\n    body: \"a,b\"\n",
        );
        let (req, _) = f.runner(false).render_request(&f.ctx()).unwrap();
        let types: Vec<&str> = req
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(types, ["text/csv"]);
        let f = Fixture::new(
            "steps:\n  - name: A\n    method: POST\n    url: http://api.test/\n    form: {q: \"a b&c\", list: [1, 2], gone: null}\n",
        );
        let (req, _) = f.runner(false).render_request(&f.ctx()).unwrap();
        assert_eq!(
            req.body.as_ref().and_then(|b| b.bytes()),
            Some(&b"q=a+b%26c&list=1&list=2"[..])
        );
    }

    #[test]
    fn a_password_in_the_url_is_redacted_and_bad_urls_are_step_errors() {
        let f = Fixture::new("steps:\n  - {name: A, url: \"http://ann:pa55w0rd@api.test/\"}\n");
        f.runner(false).render_request(&f.ctx()).unwrap();
        assert_eq!(f.redactor.redact("pa55w0rd"), "***");
        let f = Fixture::new("vars: {u: \"not a url\"}\nsteps:\n  - {name: A, url: \"{{ u }}\"}\n");
        let err = f.runner(false).render_request(&f.ctx()).unwrap_err();
        assert!(err.summary().contains("is not valid"), "{}", err.summary());
    }

    #[tokio::test]
    async fn a_dry_run_stops_at_what_would_be_sent() {
        let f = Fixture::new(
            "steps:\n  - name: A\n    url: http://api.test/\n    auth: {type: bearer, token: t0k3n-value}\n",
        );
        let mut log = crate::engine::Observers::default();
        let emitter = Emitter::new(&mut log);
        let outcome = f
            .runner(true)
            .run(f.ctx(), &emitter, crate::engine::Cancel::never(), None)
            .await;
        assert_eq!(outcome.status, StepStatus::DryRun);
        let request = outcome.request.unwrap();
        assert!(
            request
                .headers
                .contains(&("authorization".into(), "Bearer t0k3n-value".into())),
            "{:?}",
            request.headers
        );
    }
}
