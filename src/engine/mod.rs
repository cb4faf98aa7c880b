//! Runs a [`ValidChain`]: render each step's request, send it through the
//! run's [`Client`] with retries, check and extract, bind the results for the
//! steps after it. The engine never prints; it emits [`Event`]s.

pub mod check;
pub mod context;
pub mod event;
pub mod outcome;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use tokio::sync::watch;

use crate::auth::{self, Credentials};
use crate::plan::retry::{self, Attempt, Decision};
use crate::plan::{BodySpec, NextPage, Pager, Reads, ValidChain, ValidStep};
use crate::template::{self as render, Templates, value_to_text};
use crate::transport::{BodySink, Client, HttpRequest, HttpResponse, TransportError};
use context::{Context, StepMeta};
pub use event::{Emitter, Event, Observer, Observers};
pub use outcome::{
    Mismatch, ResponseInfo, RunReport, RunStatus, StepError, StepOutcome, StepResult, StepStatus,
};

/// How much of a response body reports and errors keep.
pub(crate) const EXCERPT_BYTES: usize = 2048;

/// Options for one run.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Render every request, send none.
    pub dry_run: bool,
    /// Learns the secrets the run comes across (a password in a URL), so
    /// every observer sharing it can hide them.
    pub redactor: crate::secret::Redactor,
    /// Where `secret("NAME")` and cached OAuth2 tokens come from.
    pub secrets: Option<crate::secret::Secrets>,
    /// Keep OAuth2 tokens in the secret store between runs.
    pub persist_tokens: bool,
    /// Tells the person something during the run (the OAuth2 device-code prompt).
    pub notify: Option<auth::oauth2::Notify>,
    /// `--shard K/N`: `for_each` steps run only the items whose 0-based
    /// position i has i mod N = K-1 (K is 1-based).
    pub shard: Option<(usize, usize)>,
    /// `--resume`: the outcomes of an earlier run to reuse, by step index
    /// (`None`: run that step).
    pub resume: Option<Vec<Option<StepOutcome>>>,
}

/// A signal that the run should stop (Ctrl-C). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Cancel(watch::Receiver<bool>);

/// The sending half of [`Cancel`].
#[derive(Debug)]
pub struct CancelHandle(watch::Sender<bool>);

impl Cancel {
    pub fn new() -> (CancelHandle, Cancel) {
        let (tx, rx) = watch::channel(false);
        (CancelHandle(tx), Cancel(rx))
    }

    /// A signal that never fires.
    pub fn never() -> Cancel {
        let (tx, rx) = watch::channel(false);
        std::mem::forget(tx);
        Cancel(rx)
    }

    async fn cancelled(&mut self) {
        // An error means the sender is gone: nobody can cancel any more.
        if self.0.wait_for(|c| *c).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl CancelHandle {
    pub fn cancel(&self) {
        let _ = self.0.send(true);
    }
}

/// Runs a chain to the end, or to its first failed step.
pub async fn run(
    chain: &ValidChain,
    client: &Client,
    observer: &mut dyn Observer,
    opts: &RunOptions,
    cancel: Cancel,
) -> RunReport {
    run_with_vars(chain, &chain.vars, client, observer, opts, cancel).await
}

/// Runs a chain with `vars` instead of its own (a sub-chain's `with:`).
pub async fn run_with_vars(
    chain: &ValidChain,
    vars: &indexmap::IndexMap<String, Value>,
    client: &Client,
    observer: &mut dyn Observer,
    opts: &RunOptions,
    cancel: Cancel,
) -> RunReport {
    let emitter = Emitter::new(observer);
    let started = SystemTime::now();
    let clock = Instant::now();
    emitter.emit(&Event::RunStarted {
        chain,
        dry_run: opts.dry_run,
    });
    let mut ctx = Arc::new(Context::new(vars));
    if let Some(secrets) = &opts.secrets {
        chain.templates.set_secrets(secrets.clone());
    }
    let notify = opts
        .notify
        .clone()
        .unwrap_or_else(|| Arc::new(|_: &str| {}));
    let notices = Notices {
        notify: Arc::clone(&notify),
        said: Default::default(),
    };
    let session = auth::Session {
        tokens: auth::oauth2::Tokens::new(
            opts.secrets
                .clone()
                .filter(|_| opts.persist_tokens && !client.is_replay()),
            opts.redactor.clone(),
            notify,
        ),
    };
    let env = RunEnv {
        chain,
        client,
        opts,
        session: &session,
        notices: &notices,
        emitter: &emitter,
        cancel,
    };
    let mut status = RunStatus::Passed;
    let outcomes = if chain.parallel && !opts.dry_run {
        env.by_dependency(&mut ctx, &mut status).await
    } else {
        env.in_order(&mut ctx, &mut status).await
    };

    let (output, output_error) = if status == RunStatus::Passed && !opts.dry_run {
        match &chain.output {
            Some(t) => match chain.templates.render(t, &ctx.value()) {
                Ok(v) => (Some(Arc::new(v)), None),
                Err(e) => {
                    status = RunStatus::Failed;
                    (None, Some(e))
                }
            },
            // Shared, not copied: the result may be a 100 MB body.
            None => (outcomes.last().map(|o| o.result.shared()), None),
        }
    } else {
        (None, None)
    };

    let report = RunReport {
        chain: chain.name.clone(),
        file: chain.source.name.clone(),
        status,
        dry_run: opts.dry_run,
        steps: outcomes,
        output,
        output_error,
        started,
        elapsed: clock.elapsed(),
    };
    emitter.emit(&Event::RunFinished { report: &report });
    report
}

/// What every step of one run shares.
struct RunEnv<'a> {
    chain: &'a ValidChain,
    client: &'a Client,
    opts: &'a RunOptions,
    session: &'a auth::Session,
    notices: &'a Notices,
    emitter: &'a Emitter<'a>,
    cancel: Cancel,
}

/// What the run tells the person through `RunOptions::notify`, each thing
/// once.
struct Notices {
    notify: auth::oauth2::Notify,
    said: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Notices {
    /// `tls.verify: false` is said out loud once per host and run, whatever
    /// the verbosity: it is the kind of setting that is added to get past an
    /// error and then forgotten.
    fn unverified(&self, request: &HttpRequest) {
        if request.tls.as_ref().is_none_or(|t| t.verify) {
            return;
        }
        let url = request
            .parsed_url
            .clone()
            .or_else(|| url::Url::parse(&request.url).ok());
        let host = match url.as_ref().map(|u| (u.host_str(), u.port())) {
            Some((Some(h), Some(p))) => format!("{h}:{p}"),
            Some((Some(h), None)) => h.to_string(),
            _ => request.url.clone(),
        };
        let mut said = self.said.lock().unwrap_or_else(|e| e.into_inner());
        if said.insert(format!("unverified {host}")) {
            (self.notify)(&format!(
                "warning: TLS certificate verification is off for {host} (tls.verify: false): \
                 anyone on the network can read and change this traffic"
            ));
        }
    }
}

impl RunEnv<'_> {
    /// The default: one step after another; after a failure the rest do not run.
    async fn in_order(&self, ctx: &mut Arc<Context>, status: &mut RunStatus) -> Vec<StepOutcome> {
        let steps = &self.chain.steps;
        let mut outcomes: Vec<StepOutcome> = Vec::with_capacity(steps.len());
        // After the last step that reads a result, only the history needs
        // it: it leaves the template context and is kept as JSON text.
        let mut release: Vec<(usize, usize)> = if self.opts.dry_run {
            Vec::new()
        } else {
            let last_reads = self.chain.read_later.iter().map(|r| r.last);
            last_reads
                .enumerate()
                .map(|(i, last)| (last.max(i), i))
                .filter(|&(after, _)| after < steps.len())
                .collect()
        };
        release.sort_unstable();
        let mut released = vec![false; steps.len()];
        for &(_, i) in &release {
            released[i] = true;
        }
        let mut release = release.into_iter().peekable();
        for index in 0..steps.len() {
            let outcome = if *status == RunStatus::Passed {
                self.step(index, ctx).await
            } else {
                StepOutcome::not_run(&steps[index].name)
            };
            self.settle(index, &outcome, ctx, status);
            outcomes.push(outcome);
            while let Some((_, i)) = release.next_if(|&(after, _)| after <= index) {
                if ctx.binds(&steps[i].name) {
                    Arc::make_mut(ctx).forget(&steps[i].name);
                }
                let received = outcomes[i].text.take();
                outcomes[i]
                    .result
                    .compact(outcome::MAX_RESULT_BYTES, received);
            }
            if !released.get(index).copied().unwrap_or(false)
                && let Some(o) = outcomes.last_mut()
            {
                // Never compacted: the body's text is not needed.
                o.text = None;
            }
        }
        outcomes
    }

    /// `parallel: auto`: a step starts as soon as every step it depends on is
    /// done (passed, skipped or failed with `on_error: continue`). After a
    /// failure nothing new starts; the steps already running finish.
    async fn by_dependency(
        &self,
        ctx: &mut Arc<Context>,
        status: &mut RunStatus,
    ) -> Vec<StepOutcome> {
        use futures_util::stream::{FuturesUnordered, StreamExt};
        let steps = &self.chain.steps;
        let mut done: Vec<Option<StepOutcome>> = steps.iter().map(|_| None).collect();
        let mut started = vec![false; steps.len()];
        let mut running = FuturesUnordered::new();
        loop {
            if *status == RunStatus::Passed {
                for (index, started) in started.iter_mut().enumerate() {
                    if !*started && self.chain.deps[index].iter().all(|&d| done[d].is_some()) {
                        *started = true;
                        let at_start = Arc::clone(ctx);
                        running.push(async move { (index, self.step(index, &at_start).await) });
                    }
                }
            }
            let Some((index, mut outcome)) = running.next().await else {
                break;
            };
            self.settle(index, &outcome, ctx, status);
            // Results stay decoded here: the body's text is not needed.
            outcome.text = None;
            done[index] = Some(outcome);
        }
        done.into_iter()
            .enumerate()
            .map(|(index, outcome)| {
                outcome.unwrap_or_else(|| {
                    let outcome = StepOutcome::not_run(&steps[index].name);
                    self.settle(index, &outcome, ctx, status);
                    outcome
                })
            })
            .collect()
    }

    /// Runs one step against `ctx` (its `when:`, its request or items or sub-chain).
    async fn step(&self, index: usize, ctx: &Arc<Context>) -> StepOutcome {
        if let Some(Some(done)) = self.opts.resume.as_ref().and_then(|r| r.get(index)) {
            return done.clone();
        }
        let chain = self.chain;
        let step = &chain.steps[index];
        let runner = StepRunner {
            templates: &chain.templates,
            step,
            index,
            client: self.client,
            dry_run: self.opts.dry_run,
            redactor: &self.opts.redactor,
            session: self.session,
            notices: self.notices,
            shard: self.opts.shard,
        };
        if let Some(when) = &step.when
            && !self.opts.dry_run
        {
            match chain.templates.render(when, &ctx.value()) {
                Ok(v) if !truthy(&v) => {
                    let mut outcome = StepOutcome::not_run(&step.name);
                    outcome.status = StepStatus::Skipped;
                    return outcome;
                }
                Ok(_) => {}
                Err(error) => {
                    let mut outcome = StepOutcome::not_run(&step.name);
                    outcome.status = StepStatus::Failed;
                    outcome.error = Some(StepError::Render {
                        field: "when".into(),
                        error,
                    });
                    return outcome;
                }
            }
        }
        let mut outcome = match (&step.sub, &step.for_each) {
            (Some(sub), _) => {
                runner
                    .run_sub(sub, ctx, self.opts, self.cancel.clone())
                    .await
            }
            (None, None) => {
                runner
                    .run(ctx.value(), self.emitter, self.cancel.clone(), None)
                    .await
            }
            (None, Some(list)) => runner.run_each(list, ctx, self.emitter, &self.cancel).await,
        };
        let interrupted = matches!(outcome.error, Some(StepError::Interrupted));
        if outcome.status == StepStatus::Failed && step.continue_on_error && !interrupted {
            outcome.continued = true;
        }
        outcome
    }

    /// Reports a finished step and makes what it produced visible to the
    /// steps after it; a failure that was not continued ends the run.
    fn settle(
        &self,
        index: usize,
        outcome: &StepOutcome,
        ctx: &mut Arc<Context>,
        status: &mut RunStatus,
    ) {
        let step = &self.chain.steps[index];
        // The step's compiled templates are not needed any more.
        self.chain.templates.release();
        self.emitter.emit(&Event::StepFinished {
            index,
            step,
            outcome,
        });
        match outcome.status {
            StepStatus::Passed => bind(
                Arc::make_mut(ctx),
                step,
                outcome,
                self.chain.read_later.get(index).copied().unwrap_or(Reads {
                    result: true,
                    meta: true,
                    last: usize::MAX,
                }),
            ),
            StepStatus::Skipped => bind_unfinished(Arc::make_mut(ctx), step, outcome),
            StepStatus::Failed if outcome.continued => {
                bind_unfinished(Arc::make_mut(ctx), step, outcome);
            }
            StepStatus::DryRun => {
                let vars: Vec<String> = step.extract.iter().map(|(n, _)| n.clone()).collect();
                Arc::make_mut(ctx).set_placeholder_step(&step.name, &vars);
            }
            StepStatus::NotRun => {}
            StepStatus::Failed => {
                if *status == RunStatus::Passed {
                    *status = if matches!(outcome.error, Some(StepError::Interrupted)) {
                        RunStatus::Interrupted
                    } else {
                        RunStatus::Failed
                    };
                }
            }
        }
    }
}

/// Makes a passed step's outputs visible to later steps, and its result and
/// `steps.<name>` metadata when some later template reads them.
fn bind(ctx: &mut Context, step: &ValidStep, o: &StepOutcome, reads: Reads) {
    if reads.result || reads.meta {
        let result = render::from_shared_json(o.result.shared());
        if reads.result {
            ctx.set_result(&step.name, result.clone());
        }
        if reads.meta {
            bind_meta(ctx, step, o, &result);
        }
    }
    for (k, v) in &o.outputs {
        ctx.set_var(k, v);
    }
}

fn bind_meta(ctx: &mut Context, step: &ValidStep, o: &StepOutcome, result: &minijinja::Value) {
    let (status, headers, url) = match &o.response {
        Some(r) => (Some(r.status), &r.headers[..], r.url.as_str()),
        None => (None, &[][..], ""),
    };
    ctx.set_meta(
        &step.name,
        StepMeta {
            status,
            headers,
            result,
            outputs: &o.outputs,
            elapsed_ms: o.elapsed.as_millis() as u64,
            attempts: o.attempts,
            url,
            method: &step.method,
            skipped: false,
            error: None,
        },
    );
}

struct StepRunner<'a> {
    templates: &'a Templates,
    step: &'a ValidStep,
    index: usize,
    client: &'a Client,
    dry_run: bool,
    redactor: &'a crate::secret::Redactor,
    session: &'a auth::Session,
    notices: &'a Notices,
    shard: Option<(usize, usize)>,
}

impl StepRunner<'_> {
    /// Runs the step once, against `ctx_value` (for a `for_each` item, the
    /// scope with `item` and `index`).
    async fn run(
        &self,
        ctx_value: minijinja::Value,
        emitter: &Emitter<'_>,
        mut cancel: Cancel,
        item: Option<usize>,
    ) -> StepOutcome {
        let clock = Instant::now();
        let step = self.step;
        let mut outcome = StepOutcome::not_run(&step.name);

        // A connector step's `params` first: its other templates read them.
        let ctx_value = match &step.connector {
            Some(c) => {
                let mut params = serde_json::Map::new();
                for (name, t) in &c.params {
                    match self.render_field(&format!("params.{name}"), t, &ctx_value) {
                        Ok(v) => {
                            params.insert(name.clone(), v);
                        }
                        Err(e) => {
                            outcome.status = StepStatus::Failed;
                            outcome.error = Some(e);
                            return outcome;
                        }
                    }
                }
                context::with_params(&ctx_value, render::from_json(&Value::Object(params)))
            }
            None => ctx_value,
        };
        let (mut request, save_to) = match self.render_request(&ctx_value) {
            Ok(r) => r,
            Err(e) => {
                outcome.status = StepStatus::Failed;
                outcome.error = Some(e);
                return outcome;
            }
        };
        // A page counter starts at its first value.
        if let Some(Pager {
            next: NextPage::Counter { param, start, .. },
            ..
        }) = step.paginate.as_deref()
        {
            request.url = with_param(&request.url, param, &start.to_string());
        }
        let expect = match self.render_expect(&ctx_value) {
            Ok(x) => x,
            Err(e) => {
                outcome.status = StepStatus::Failed;
                outcome.error = Some(e);
                return outcome;
            }
        };
        let creds = match &step.auth {
            Some(spec) => match auth::render(
                spec,
                |f, t| self.render_text(f, t, &ctx_value),
                |f, t| self.render_field(f, t, &ctx_value),
                self.redactor,
            ) {
                Ok(c) => c,
                Err(e) => {
                    outcome.status = StepStatus::Failed;
                    outcome.error = Some(e);
                    return outcome;
                }
            },
            None => Credentials::None,
        };

        // What the step is about to send, credentials included, for the
        // progress display and the dry run.
        let base_request = request;
        // A `for_each` item without credentials shows nothing before it is
        // sent: no copy of its request is needed.
        let quiet_item = item.is_some() && !self.dry_run && matches!(creds, Credentials::None);
        if !quiet_item {
            // Without credentials what is shown is the request itself: no copy.
            let shown = if matches!(creds, Credentials::None) {
                std::borrow::Cow::Borrowed(&base_request)
            } else {
                let mut shown = base_request.clone();
                let applied = match (&creds, self.dry_run) {
                    // A dry run fetches no token.
                    (Credentials::OAuth2(_), true) => {
                        shown
                            .headers
                            .push(("authorization".into(), "Bearer <oauth2 token>".into()));
                        Ok(auth::Added::default())
                    }
                    _ => {
                        self.session
                            .apply(&creds, &mut shown, self.client, false)
                            .await
                    }
                };
                if let Err(e) = applied {
                    outcome.status = StepStatus::Failed;
                    outcome.error = Some(StepError::Auth(e));
                    outcome.request = Some(shown);
                    return outcome;
                }
                std::borrow::Cow::Owned(shown)
            };
            if item.is_none() {
                emitter.emit(&Event::StepStarted {
                    index: self.index,
                    step,
                    request: &shown,
                });
            }
            if self.dry_run {
                outcome.status = StepStatus::DryRun;
                outcome.request = Some(shown.into_owned());
                return outcome;
            }
        }

        let sink = match &save_to {
            Some(p) => BodySink::File(p.into()),
            None => BodySink::Memory,
        };
        let ex = self
            .exchange(base_request, &creds, &sink, emitter, &mut cancel, item)
            .await;
        outcome.attempts = ex.attempts;
        // Kept for reports until the run ends; the parsed URL only served
        // the sending (a second copy of the URL for every step kept).
        let mut request = ex.request;
        request.parsed_url = None;
        outcome.request = Some(request);
        outcome.status = StepStatus::Failed;
        let note = ex.note;
        let resp = match ex.response {
            Ok(r) => r,
            Err(e) => {
                outcome.error = Some(e);
                outcome.elapsed = clock.elapsed();
                return outcome;
            }
        };
        let mut decoded = check::decode(&resp, save_to.as_deref());
        // GraphQL: `errors` fail the step; the result is `data`.
        let graphql_errors = if step.graphql && decoded.is_json {
            let errors = check::graphql_errors(&decoded.value);
            decoded.value = decoded.value.get("data").cloned().unwrap_or(Value::Null);
            errors
        } else {
            Vec::new()
        };
        let checked = check::expect(&expect, &resp, &decoded).map_err(|e| match e {
            StepError::Expectations {
                mismatches,
                note: n,
            } => StepError::Expectations {
                mismatches,
                note: n.or(note),
            },
            other => other,
        });
        let checked = match checked {
            Ok(()) if !graphql_errors.is_empty() => Err(StepError::GraphQl(graphql_errors)),
            other => other,
        };
        // More pages: their items, concatenated, become the result.
        let checked = match (checked, &step.paginate, outcome.request.as_ref()) {
            (Ok(()), Some(pager), Some(first_request)) => {
                let first = std::mem::take(&mut decoded.value);
                let pages = Pages {
                    pager,
                    first_request,
                    creds: &creds,
                    expect: &expect,
                    ctx: &ctx_value,
                };
                match self
                    .follow_pages(&pages, &resp, first, emitter, &mut cancel, item)
                    .await
                {
                    Ok((items, attempts, pages)) => {
                        decoded.value = items;
                        outcome.attempts += attempts;
                        outcome.pages = Some(pages);
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            (other, _, _) => other,
        };
        let extracted = checked.and_then(|()| check::extract(&step.extract, &resp, &decoded));
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
        outcome.elapsed = clock.elapsed();
        match extracted {
            Ok(outputs) => {
                outcome.status = StepStatus::Passed;
                outcome.outputs = outputs;
            }
            Err(e) => outcome.error = Some(e),
        }
        outcome.result = StepResult::from(decoded.value);
        outcome
    }

    /// Follows the next pages after `first_resp`; returns every page's items
    /// as one list, and how many attempts the later pages took.
    async fn follow_pages(
        &self,
        p: &Pages<'_>,
        first_resp: &HttpResponse,
        first_value: Value,
        emitter: &Emitter<'_>,
        cancel: &mut Cancel,
        item: Option<usize>,
    ) -> Result<(Value, u32, u32), StepError> {
        let pager = p.pager;
        let mut items: Vec<Value> = Vec::new();
        let mut page = first_value;
        let mut resp_url = first_resp.url.clone();
        let mut headers = first_resp.headers.clone();
        let mut pages: u32 = 1;
        let mut attempts = 0;
        let mut counter = match &pager.next {
            NextPage::Counter { start, .. } => *start,
            _ => 0,
        };
        loop {
            let got = collect_items(pager.collect.as_ref(), &page)?;
            let got_none = got.is_empty();
            items.extend(got);
            let header = |name: &str| {
                headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone())
            };
            if let Some(h) = &pager.total_header
                && let Some(total) = header(h).and_then(|v| v.trim().parse::<usize>().ok())
                && items.len() >= total
            {
                break;
            }
            if let Some(until) = &pager.until {
                let scope = context::with_page(p.ctx, render::from_json(&page), pages);
                let stop =
                    self.templates
                        .render(until, &scope)
                        .map_err(|error| StepError::Render {
                            field: "paginate.until".into(),
                            error,
                        })?;
                if truthy(&stop) {
                    break;
                }
            }
            let next_url = match &pager.next {
                NextPage::Link => header("link")
                    .and_then(|l| next_link(&l))
                    .and_then(|u| join_url(&resp_url, &u)),
                NextPage::Url(path) => match path.extract(&page) {
                    Ok(Value::String(u)) if !u.is_empty() => join_url(&resp_url, &u),
                    _ => None,
                },
                NextPage::Cursor { path, param } => match path.extract(&page) {
                    Ok(Value::Null) | Err(_) => None,
                    Ok(Value::String(c)) if c.is_empty() => None,
                    Ok(c) => Some(with_param(&p.first_request.url, param, &value_to_text(&c))),
                },
                NextPage::Counter { param, step, .. } => {
                    if got_none {
                        None
                    } else {
                        counter += step;
                        Some(with_param(
                            &p.first_request.url,
                            param,
                            &counter.to_string(),
                        ))
                    }
                }
            };
            let Some(url) = next_url else { break };
            if pages >= pager.max_pages {
                return Err(StepError::Request(format!(
                    "stopped after `max_pages` ({}) pages, with more to come (next: {url}); raise `max_pages` or narrow the query",
                    pager.max_pages
                )));
            }
            let mut req = p.first_request.clone();
            req.url = url;
            let ex = self
                .exchange(req, p.creds, &BodySink::Memory, emitter, cancel, item)
                .await;
            attempts += ex.attempts;
            let resp = ex.response?;
            let decoded = check::decode(&resp, None);
            check::expect(p.expect, &resp, &decoded)?;
            pages += 1;
            resp_url = resp.url.clone();
            headers = resp.headers.clone();
            page = decoded.value;
        }
        Ok((Value::Array(items), attempts, pages))
    }

    /// Sends one request: credentials applied, redirects followed safely,
    /// retried per the step's policy, an OAuth2 token renewed once on 401.
    async fn exchange(
        &self,
        base_request: HttpRequest,
        creds: &Credentials,
        sink: &BodySink,
        emitter: &Emitter<'_>,
        cancel: &mut Cancel,
        item: Option<usize>,
    ) -> Exchange {
        let step = self.step;
        // Only an OAuth2 token that may be renewed needs the request as it
        // was before credentials were added.
        let pristine = matches!(creds, Credentials::OAuth2(_)).then(|| base_request.clone());
        let mut request = base_request;
        let mut added = match self
            .session
            .apply(creds, &mut request, self.client, false)
            .await
        {
            Ok(a) => a,
            Err(e) => return Exchange::failed(request, 0, StepError::Auth(e)),
        };
        self.notices.unverified(&request);
        let mut attempt = 0u32;
        let mut renewed = false;
        let limiter = step
            .connector
            .as_ref()
            .and_then(|c| Some((c.name.as_str(), c.limiter.as_ref()?)))
            .filter(|_| !self.client.is_replay());
        loop {
            attempt += 1;
            if let Some((connector, limiter)) = limiter {
                let wait = limiter.acquire(|wait| {
                    emitter.emit(&Event::RateLimited {
                        index: self.index,
                        step,
                        connector,
                        wait,
                    });
                });
                tokio::select! {
                    _ = wait => {}
                    () = cancel.cancelled() => return Exchange::failed(request, attempt, StepError::Interrupted),
                }
            }
            let send = async {
                // Credentials pytopus added leave the request at a redirect
                // to another origin.
                self.client.send(&request, sink, &added).await
            };
            let started = SystemTime::now();
            let clock = Instant::now();
            let sent = tokio::select! {
                r = send => r,
                () = cancel.cancelled() => return Exchange::failed(request, attempt, StepError::Interrupted),
            };
            if let (Some((_, limiter)), Ok(resp)) = (limiter, &sent) {
                limiter.observe(resp.status, |h| resp.header(h).map(str::to_string));
            }
            emitter.emit(&Event::Exchange {
                index: self.index,
                step,
                item,
                attempt,
                request: &request,
                response: sent.as_ref(),
                started,
                elapsed: clock.elapsed(),
            });
            // An OAuth2 token the server rejects is fetched again, once.
            if let (Ok(resp), Some(pristine)) = (&sent, &pristine)
                && resp.status == 401
                && !renewed
                && !check::status_expected(&step.expect, 401)
            {
                renewed = true;
                let mut fresh = pristine.clone();
                match self
                    .session
                    .apply(creds, &mut fresh, self.client, true)
                    .await
                {
                    Ok(a) => {
                        added = a;
                        request = fresh;
                        continue;
                    }
                    Err(e) => return Exchange::failed(request, attempt, StepError::Auth(e)),
                }
            }
            let outcome_kind = match &sent {
                // A status the step expects is an answer, not a failure to retry.
                Ok(resp) if check::status_expected(&step.expect, resp.status) => Attempt::Fatal,
                Ok(resp) => Attempt::Status {
                    code: resp.status,
                    retry_after: resp.header("retry-after"),
                },
                Err(e) if e.is_network() => Attempt::Connect,
                Err(TransportError::Timeout(_)) => Attempt::Timeout,
                Err(_) => Attempt::Fatal,
            };
            let decision = retry::decide(
                &step.retry,
                &step.method,
                attempt,
                outcome_kind,
                SystemTime::now(),
                fastrand::f64(),
            );
            match decision {
                Decision::Retry(delay) => {
                    let reason = match &sent {
                        Ok(resp) => check::status_text(resp.status),
                        Err(e) => e.to_string(),
                    };
                    emitter.emit(&Event::Retrying {
                        index: self.index,
                        step,
                        attempt,
                        reason,
                        delay,
                    });
                    // A replayed exchange answers at once: waiting would only slow tests.
                    let wait = if self.client.is_replay() {
                        Duration::ZERO
                    } else {
                        delay
                    };
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = cancel.cancelled() => return Exchange::failed(request, attempt, StepError::Interrupted),
                    }
                }
                Decision::Stop(note) => {
                    let response = sent.map_err(|error| StepError::Transport {
                        error,
                        note: note.clone(),
                    });
                    return Exchange {
                        request,
                        attempts: attempt,
                        response,
                        note,
                    };
                }
            }
        }
    }

    /// Runs a sub-chain with the step's `with:` values; its `output` is the result.
    async fn run_sub(
        &self,
        sub: &crate::plan::SubChain,
        ctx: &Arc<Context>,
        opts: &RunOptions,
        cancel: Cancel,
    ) -> StepOutcome {
        let clock = Instant::now();
        let mut outcome = StepOutcome::not_run(&self.step.name);
        let base = ctx.value();
        let mut vars = sub.chain.vars.clone();
        for (name, t) in &sub.with {
            match self.render_field(&format!("with.{name}"), t, &base) {
                Ok(v) => {
                    vars.insert(name.clone(), v);
                }
                Err(e) => {
                    outcome.status = StepStatus::Failed;
                    outcome.error = Some(e);
                    return outcome;
                }
            }
        }
        // The sub-chain's own steps are not shown: the step stands for them.
        let mut quiet = Observers::default();
        // Sharding splits the top-level chain's items, not a sub-chain's.
        let opts = &RunOptions {
            shard: None,
            resume: None,
            ..opts.clone()
        };
        let report = Box::pin(run_with_vars(
            &sub.chain,
            &vars,
            self.client,
            &mut quiet,
            opts,
            cancel,
        ))
        .await;
        outcome.elapsed = clock.elapsed();
        outcome.attempts = report.steps.iter().map(|s| s.attempts).sum();
        outcome.status = match report.status {
            RunStatus::Passed if report.dry_run => StepStatus::DryRun,
            RunStatus::Passed => StepStatus::Passed,
            _ => StepStatus::Failed,
        };
        match report.status {
            RunStatus::Passed => {
                outcome.result = report.output.map(StepResult::from).unwrap_or_default();
            }
            RunStatus::Interrupted => outcome.error = Some(StepError::Interrupted),
            RunStatus::Failed => {
                let why = match (report.failed_step(), &report.output_error) {
                    (Some(s), _) => format!(
                        "in {}, step `{}` failed: {}",
                        report.file,
                        s.name,
                        s.error
                            .as_ref()
                            .map_or_else(|| "failed".to_string(), StepError::summary)
                    ),
                    (None, Some(e)) => {
                        format!("in {}, cannot render `output`: {}", report.file, e.message)
                    }
                    (None, None) => format!("{} failed", report.file),
                };
                outcome.error = Some(StepError::SubChain(why));
            }
        }
        outcome
    }

    /// Runs the step once per item of its `for_each` list, at most
    /// `concurrency` at a time; results are kept in the list's order.
    async fn run_each(
        &self,
        list: &render::Tmpl,
        ctx: &Arc<Context>,
        emitter: &Emitter<'_>,
        cancel: &Cancel,
    ) -> StepOutcome {
        use futures_util::StreamExt;
        let clock = Instant::now();
        let step = self.step;
        let mut outcome = StepOutcome::not_run(&step.name);
        let base = ctx.value();
        let items: Vec<Value> = match self.templates.render(list, &base) {
            Ok(Value::Array(items)) => items,
            // An object: its entries, as {key, value}.
            Ok(Value::Object(map)) => map
                .into_iter()
                .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
                .collect(),
            Ok(other) => {
                outcome.status = StepStatus::Failed;
                outcome.error = Some(StepError::Request(format!(
                    "`for_each` must give a list or a map, not {}",
                    check::show(&other)
                )));
                return outcome;
            }
            Err(error) => {
                outcome.status = StepStatus::Failed;
                outcome.error = Some(StepError::Render {
                    field: "for_each".into(),
                    error,
                });
                return outcome;
            }
        };
        // `--shard K/N`: this machine's share of the items; `index` keeps
        // each item's position in the whole list.
        let items: Vec<(usize, Value)> = items
            .into_iter()
            .enumerate()
            .filter(|(i, _)| self.shard.is_none_or(|(k, n)| i % n == k - 1))
            .collect();
        let total = items.len();
        outcome.items = Some(total);
        emitter.emit(&Event::ItemsStarted {
            index: self.index,
            step,
            total,
        });
        let runs = futures_util::stream::iter(items)
            .map(|(i, item)| {
                let scope = context::with_item(&base, render::from_json(&item), i);
                let cancel = cancel.clone();
                // Boxed: the outcome is a large value that the ordered
                // stream would otherwise copy several times on its way out.
                async move {
                    let one = self.run(scope, emitter, cancel, Some(i)).await;
                    (i, Box::new(one))
                }
            })
            .buffered(step.concurrency.max(1));
        let mut runs = std::pin::pin!(runs);
        let mut results = Vec::with_capacity(total);
        let mut outputs: indexmap::IndexMap<String, Vec<Value>> = step
            .extract
            .iter()
            .map(|(n, _)| (n.clone(), Vec::with_capacity(total)))
            .collect();
        let mut status = if self.dry_run {
            StepStatus::DryRun
        } else {
            StepStatus::Passed
        };
        while let Some((i, mut one)) = runs.next().await {
            emitter.emit(&Event::ItemFinished {
                index: self.index,
                step,
                item: i,
                outcome: &one,
            });
            outcome.attempts += one.attempts;
            if self.dry_run
                && let Some(r) = &one.request
            {
                outcome.item_requests.push(r.clone());
            }
            // The step's request and response are its last item's: moved, not copied.
            if one.request.is_some() {
                outcome.request = one.request.take();
            }
            let status_code = one.response.as_ref().map(|r| r.status);
            if one.response.is_some() {
                outcome.response = one.response.take();
            }
            if one.status == StepStatus::Failed {
                let interrupted = matches!(one.error, Some(StepError::Interrupted));
                if step.continue_on_error && !interrupted {
                    // The error takes the item's place; the others go on.
                    let e = one.error.as_ref();
                    results.push(serde_json::json!({"error": {
                        "kind": e.map(StepError::kind),
                        "message": e.map(StepError::summary),
                        "status": status_code,
                    }}));
                    outputs.values_mut().for_each(|v| v.push(Value::Null));
                    continue;
                }
                status = StepStatus::Failed;
                outcome.error = one.error.map(|e| match e {
                    StepError::Request(m) => StepError::Request(format!("item {i}: {m}")),
                    other => other,
                });
                outcome.item = Some((i, total));
                outcome.attempts = one.attempts;
                break;
            }
            let one = *one;
            results.push(one.result.into_value());
            for (name, v) in one.outputs {
                if let Some(list) = outputs.get_mut(&name) {
                    list.push(v);
                }
            }
        }
        outcome.status = status;
        outcome.result = StepResult::from(Value::Array(results));
        outcome.outputs = outputs
            .into_iter()
            .map(|(k, v)| (k, Value::Array(v)))
            .collect();
        outcome.elapsed = clock.elapsed();
        outcome
    }

    fn render_field(
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

    fn render_text(
        &self,
        field: &str,
        t: &render::Tmpl,
        ctx: &minijinja::Value,
    ) -> Result<String, StepError> {
        self.rendered(field, self.templates.render_string(t, ctx), |t| t)
    }

    /// A render result as a step error naming `field`. A dry run has no
    /// responses: what cannot be computed without them shows as written.
    fn rendered<T>(
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

    fn render_request(
        &self,
        ctx: &minijinja::Value,
    ) -> Result<(HttpRequest, Option<String>), StepError> {
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
        let mut headers = Vec::with_capacity(step.headers.len() + 1);
        for (k, t) in &step.headers {
            let value = self.render_text(&format!("headers.{k}"), t, ctx)?;
            // A credential is one whoever wrote it: hand-written in a
            // sensitive header, it is redacted like a stored secret.
            if crate::secret::sensitive_header(k) {
                self.redactor.add(&value);
                if let Some((_, credential)) = value.split_once(' ') {
                    self.redactor.add(credential.trim());
                }
            }
            headers.push((k.clone(), value));
        }
        let has = |headers: &Vec<(String, String)>, name: &str| {
            headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
        };
        let body = match step.body.as_deref() {
            None => None,
            Some(BodySpec::Value(t)) => {
                let mut v = self.render_field("body", t, ctx)?;
                // A connector endpoint's optional fields that were not given
                // render to null: they are left out, as in a form.
                if let (Some(c), Value::Object(fields)) = (&step.connector, &mut v)
                    && c.endpoint_body
                {
                    fields.retain(|_, v| !v.is_null());
                }
                let (bytes, ct) = match v {
                    Value::String(s) => (s.into_bytes(), "text/plain; charset=utf-8"),
                    other => (
                        serde_json::to_vec(&other)
                            .map_err(|e| StepError::Request(e.to_string()))?,
                        "application/json",
                    ),
                };
                if !has(&headers, "content-type") {
                    headers.push(("content-type".into(), ct.into()));
                }
                Some(bytes)
            }
            Some(BodySpec::GraphQl {
                query,
                variables,
                operation_name,
            }) => {
                let mut doc = serde_json::Map::new();
                doc.insert("query".into(), Value::String(query.clone()));
                if let Some(v) = variables {
                    doc.insert(
                        "variables".into(),
                        self.render_field("graphql.variables", v, ctx)?,
                    );
                }
                if let Some(op) = operation_name {
                    doc.insert("operationName".into(), Value::String(op.clone()));
                }
                if !has(&headers, "content-type") {
                    headers.push(("content-type".into(), "application/json".into()));
                }
                Some(
                    serde_json::to_vec(&Value::Object(doc))
                        .map_err(|e| StepError::Request(e.to_string()))?,
                )
            }
            Some(BodySpec::Form(fields)) => {
                let mut ser = url::form_urlencoded::Serializer::new(String::new());
                for (k, t) in fields {
                    match self.render_field(&format!("form.{k}"), t, ctx)? {
                        Value::Null => {}
                        Value::Array(items) => {
                            for item in items {
                                ser.append_pair(k, &value_to_text(&item));
                            }
                        }
                        other => {
                            ser.append_pair(k, &value_to_text(&other));
                        }
                    }
                }
                if !has(&headers, "content-type") {
                    headers.push((
                        "content-type".into(),
                        "application/x-www-form-urlencoded".into(),
                    ));
                }
                Some(ser.finish().into_bytes())
            }
        };
        let save_to = match &step.save_to {
            Some(t) => Some(self.render_text("save_to", t, ctx)?),
            None => None,
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
                tls: step.tls.clone(),
                body_limit: step.body_limit,
            },
            save_to,
        ))
    }

    fn render_expect<'s>(
        &'s self,
        ctx: &minijinja::Value,
    ) -> Result<check::RenderedExpect<'s>, StepError> {
        let spec = &self.step.expect;
        let mut json = Vec::with_capacity(spec.json.len());
        for (p, t) in &spec.json {
            json.push(self.render_field(&format!("expect.json.{}", p.as_str()), t, ctx)?);
        }
        let mut headers = Vec::with_capacity(spec.headers.len());
        for (k, t) in &spec.headers {
            headers.push((
                k.clone(),
                self.render_text(&format!("expect.headers.{k}"), t, ctx)?,
            ));
        }
        let mut body_contains = Vec::with_capacity(spec.body_contains.len());
        for t in &spec.body_contains {
            body_contains.push(self.render_text("expect.body_contains", t, ctx)?);
        }
        Ok(check::RenderedExpect {
            spec,
            json,
            headers,
            body_contains,
        })
    }
}

/// What the report keeps of a response (its headers and URL are taken
/// over), and the body, given back.
fn response_info(resp: HttpResponse, json_error: Option<String>) -> (ResponseInfo, Vec<u8>) {
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

fn percent_decode(s: &str) -> Result<String, std::string::FromUtf8Error> {
    let bytes: Vec<u8> = url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned().into_bytes())
        .unwrap_or_default();
    String::from_utf8(bytes)
}

/// What pagination needs besides the first page.
struct Pages<'a> {
    pager: &'a Pager,
    first_request: &'a HttpRequest,
    creds: &'a Credentials,
    expect: &'a check::RenderedExpect<'a>,
    ctx: &'a minijinja::Value,
}

/// The items of one page: what `collect` selects (a singular path to a list
/// gives the list's elements), else the page's elements when it is a list,
/// else the page itself.
fn collect_items(
    collect: Option<&crate::jsonpath::JsonPath>,
    page: &Value,
) -> Result<Vec<Value>, StepError> {
    match collect {
        Some(path) => {
            let found = path.select(page).map_err(|message| StepError::Extract {
                name: "paginate.collect".into(),
                message,
            })?;
            Ok(match found.as_slice() {
                [Value::Array(list)] if path.is_singular() => list.clone(),
                _ => found.into_iter().cloned().collect(),
            })
        }
        None => Ok(match page {
            Value::Array(list) => list.clone(),
            Value::Null => Vec::new(),
            other => vec![other.clone()],
        }),
    }
}

/// The `rel="next"` target of a `Link` header (RFC 8288).
fn next_link(header: &str) -> Option<String> {
    for part in header.split(',') {
        let mut pieces = part.split(';');
        let target = pieces.next()?.trim();
        let is_next = pieces.any(|p| {
            let p = p.trim();
            p.strip_prefix("rel=")
                .map(|r| {
                    r.trim_matches('"')
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
                })
                .unwrap_or(false)
        });
        if is_next {
            return target
                .strip_prefix('<')?
                .strip_suffix('>')
                .map(str::to_string);
        }
    }
    None
}

fn join_url(base: &str, next: &str) -> Option<String> {
    url::Url::parse(base)
        .ok()?
        .join(next)
        .ok()
        .map(|u| u.to_string())
}

/// `url` with the query parameter `name` set to `value` (replacing it).
fn with_param(url: &str, name: &str, value: &str) -> String {
    let Ok(mut u) = url::Url::parse(url) else {
        return url.to_string();
    };
    let kept: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    u.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair(name, value);
    u.to_string()
}

/// What [`StepRunner::exchange`] got: the request as last sent, how many
/// attempts it took, and the response or why there is none.
struct Exchange {
    request: HttpRequest,
    attempts: u32,
    response: Result<HttpResponse, StepError>,
    /// Why a failing answer was not retried (e.g. a POST), for the error.
    note: Option<String>,
}

impl Exchange {
    fn failed(request: HttpRequest, attempts: u32, error: StepError) -> Self {
        Exchange {
            request,
            attempts,
            response: Err(error),
            note: None,
        }
    }
}

/// Binds a step that was skipped, or failed with `on_error: continue`: its
/// result is null, and `steps.<name>` says why (`skipped`, `error`).
fn bind_unfinished(ctx: &mut Context, step: &ValidStep, o: &StepOutcome) {
    let error = o.error.as_ref().map(|e| {
        serde_json::json!({
            "kind": e.kind(),
            "message": e.summary(),
            "status": o.response.as_ref().map(|r| r.status),
        })
    });
    let (status, headers, url) = match &o.response {
        Some(r) => (Some(r.status), &r.headers[..], r.url.as_str()),
        None => (None, &[][..], ""),
    };
    ctx.set_step(
        &step.name,
        StepMeta {
            status,
            headers,
            result: &minijinja::Value::from(()),
            outputs: &o.outputs,
            elapsed_ms: o.elapsed.as_millis() as u64,
            attempts: o.attempts,
            url,
            method: &step.method,
            skipped: o.status == StepStatus::Skipped,
            error,
        },
    );
}

/// Whether a `when:` value means "run": false, null, 0, "", "false", "0",
/// "no" and empty lists or maps do not.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => {
            let t = s.trim();
            !(t.is_empty()
                || t.eq_ignore_ascii_case("false")
                || t == "0"
                || t.eq_ignore_ascii_case("no"))
        }
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// How long to wait, shown to people: `200ms`, `1.5s`.
pub fn show_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}
