//! Runs a [`ValidChain`]: render each step's request, send it through the
//! run's [`Client`] with retries, check and extract, bind the results for the
//! steps after it. The engine never prints; it emits [`Event`]s.

pub mod check;
pub mod context;
pub mod event;
pub mod outcome;
pub mod predicate;

mod body;
mod each;
mod exchange;
mod flow;
mod pages;
mod poll;
mod step;
mod sub_chain;

use step::StepRunner;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use tokio::sync::watch;

use crate::auth::{self};
use crate::plan::{Reads, ValidChain, ValidStep};
use crate::template::{self as render};
use crate::transport::{Client, HttpRequest};
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
    /// `--from`/`--until`/`--step`: only the steps of this range run; those
    /// before it are taken from `resume` (or not run), those after it and
    /// the `finally` steps do not run.
    pub only: Option<std::ops::RangeInclusive<usize>>,
}

/// A signal that the run should stop (Ctrl-C). Cheap to clone. Each
/// [`CancelHandle::cancel`] raises the level; the steps stop at the first,
/// the `finally` steps only at the second (a second Ctrl-C).
#[derive(Debug, Clone)]
pub struct Cancel {
    rx: watch::Receiver<u32>,
    /// The level this signal fires at.
    at: u32,
}

/// The sending half of [`Cancel`].
#[derive(Debug)]
pub struct CancelHandle(watch::Sender<u32>);

impl Cancel {
    pub fn new() -> (CancelHandle, Cancel) {
        let (tx, rx) = watch::channel(0);
        (CancelHandle(tx), Cancel { rx, at: 1 })
    }

    /// A signal that never fires.
    pub fn never() -> Cancel {
        let (tx, rx) = watch::channel(0);
        std::mem::forget(tx);
        Cancel { rx, at: 1 }
    }

    /// The signal for `finally` steps, made as they start: they run after
    /// the Ctrl-C that stopped the steps, and stop at the next one.
    pub fn for_teardown(&self) -> Cancel {
        let level = *self.rx.borrow();
        Cancel {
            rx: self.rx.clone(),
            at: level + 1,
        }
    }

    pub(super) async fn cancelled(&mut self) {
        let at = self.at;
        // An error means the sender is gone: nobody can cancel any more.
        if self.rx.wait_for(|c| *c >= at).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl CancelHandle {
    /// Stops what runs at the next level (steps, then `finally` steps).
    pub fn cancel(&self) {
        self.0.send_modify(|level| *level += 1);
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
    } else if chain.flow && !opts.dry_run && opts.only.is_none() && opts.resume.is_none() {
        env.in_flow(&mut ctx, &mut status).await
    } else {
        env.in_order(&mut ctx, &mut status).await
    };

    // A part of the chain that stops early (`--until`): its last step's result.
    let stopped_at = opts
        .only
        .as_ref()
        .map(|r| *r.end())
        .filter(|&end| end + 1 < chain.teardown_from);
    let (mut output, mut output_error) = if status == RunStatus::Passed && !opts.dry_run {
        match &chain.output {
            _ if stopped_at.is_some() => (
                stopped_at
                    .and_then(|i| outcomes.get(i))
                    .map(|o| o.result.shared()),
                None,
            ),
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

    // `outputs:` declares what `output` holds: checked like inputs.
    if let (Some(out), false) = (
        &mut output,
        chain.outputs.is_empty() || stopped_at.is_some(),
    ) {
        let value = Arc::make_mut(out);
        let problems: Vec<String> = chain
            .outputs
            .iter()
            .filter_map(|o| match value.get_mut(&o.name) {
                Some(v) => o.check_as("output", v).err(),
                None => Some(format!("`{}` is missing", o.name)),
            })
            .collect();
        if !problems.is_empty() {
            status = RunStatus::Failed;
            output = None;
            output_error = Some(crate::template::TemplateError {
                message: format!(
                    "`output` does not hold what `outputs:` declares: {}",
                    problems.join("; ")
                ),
                template: "output".into(),
                help: None,
            });
        }
    }
    let teardown = env.teardown(&mut ctx, &mut status, &outcomes).await;

    let report = RunReport {
        chain: chain.name.clone(),
        file: chain.source.name.clone(),
        status,
        dry_run: opts.dry_run,
        steps: outcomes,
        teardown,
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
                "warning: TLS certificate verification is off for {host} (tls.verify: false or --insecure): \
                 anyone on the network can read and change this traffic"
            ));
        }
    }
}

impl RunEnv<'_> {
    /// The default: one step after another; after a failure the rest do not run.
    async fn in_order(&self, ctx: &mut Arc<Context>, status: &mut RunStatus) -> Vec<StepOutcome> {
        let steps = &self.chain.steps[..self.chain.teardown_from];
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
        let steps = &self.chain.steps[..self.chain.teardown_from];
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

    /// The `finally` steps, in order, whatever happened before: after a
    /// failure and after a Ctrl-C too (a second one stops them). One that
    /// reads a step that did not pass is skipped; one that fails fails the
    /// run, and the others still run.
    async fn teardown(
        &self,
        ctx: &mut Arc<Context>,
        status: &mut RunStatus,
        outcomes: &[StepOutcome],
    ) -> Vec<StepOutcome> {
        let chain = self.chain;
        // A part of a chain is for looking at what it does: its cleanup
        // would undo what the part was run to see.
        if chain.teardown_from == chain.steps.len() || self.opts.only.is_some() {
            return Vec::new();
        }
        let env = RunEnv {
            cancel: self.cancel.for_teardown(),
            ..*self
        };
        let mut out = Vec::with_capacity(chain.steps.len() - chain.teardown_from);
        let mut stopped = false;
        for index in chain.teardown_from..chain.steps.len() {
            if stopped {
                let mut outcome = StepOutcome::not_run(&chain.steps[index].name);
                outcome.teardown = true;
                env.settle(index, &outcome, ctx, &mut RunStatus::Passed);
                out.push(outcome);
                continue;
            }
            let missing = chain.reads[index].iter().find(|&&j| {
                j < chain.teardown_from
                    && outcomes.get(j).is_none_or(|o| {
                        !matches!(o.status, StepStatus::Passed | StepStatus::DryRun)
                    })
            });
            let mut outcome = match missing {
                Some(&j) => {
                    let mut o = StepOutcome::not_run(&chain.steps[index].name);
                    o.status = StepStatus::Skipped;
                    o.skipped_because = Some(format!("`{}` did not pass", chain.steps[j].name));
                    o
                }
                None => env.step(index, ctx).await,
            };
            outcome.teardown = true;
            let mut own = RunStatus::Passed;
            env.settle(index, &outcome, ctx, &mut own);
            match own {
                RunStatus::Passed => {}
                RunStatus::Interrupted => {
                    // The second Ctrl-C: nothing more starts.
                    *status = RunStatus::Interrupted;
                    stopped = true;
                }
                RunStatus::Failed if *status == RunStatus::Passed => *status = RunStatus::Failed,
                RunStatus::Failed => {}
            }
            out.push(outcome);
        }
        out
    }

    /// Runs one step against `ctx` (its `when:`, its request or items or sub-chain).
    async fn step(&self, index: usize, ctx: &Arc<Context>) -> StepOutcome {
        // `finally` steps always run again.
        if index < self.chain.teardown_from
            && let Some(Some(done)) = self.opts.resume.as_ref().and_then(|r| r.get(index))
        {
            return done.clone();
        }
        if let Some(only) = &self.opts.only
            && !only.contains(&index)
        {
            return StepOutcome::not_run(&self.chain.steps[index].name);
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
