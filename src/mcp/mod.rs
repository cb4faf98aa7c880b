//! `pytopus mcp`: chains as Model Context Protocol tools, on stdio.
//!
//! Each chain is a tool: its declared inputs are the tool's `inputSchema`
//! (the same JSON Schema `pytopus inputs --format json-schema` prints), its
//! declared outputs the `outputSchema`. A call runs the chain through the
//! same engine as `pytopus run` and `serve`, with pytopus holding the
//! credentials: the agent sees only redacted results.
//!
//! As in `serve`, the engine's runs are not `Send`: the protocol handler
//! hands each call to a runner on the same thread (a `LocalSet`) and waits
//! for its result.

use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ProgressNotificationParam, ProgressToken,
    ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, Peer, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Map, Value};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::diagnostic::Diagnostics;
use crate::engine::event::{Event, Observer};
use crate::engine::{self, Cancel, RunReport, RunStatus};
use crate::plan::ValidChain;
use crate::secret::{Redactor, Secrets};
use crate::transport::Transport;

/// The argument every tool takes beside the chain's own.
pub const DRY_RUN_ARG: &str = "dry_run";

/// One chain offered as a tool.
pub struct ChainTool {
    /// The tool's name: the chain file's name without its extension, as
    /// `serve` names it in URLs.
    pub name: String,
    pub chain: ValidChain,
    /// A connector's endpoint (connector, endpoint): the chain above
    /// describes the tool; each call compiles one with the parameters given.
    pub endpoint: Option<(String, String)>,
}

/// A one-step chain calling a connector's endpoint, through the normal
/// parse and compile pipeline: its parameters are the inputs, and the step
/// passes `given` (all of them when `None`) as `params`, each read from the
/// variable of its name — never written into the chain's text.
pub fn endpoint_chain(
    connector: &crate::connector::Connector,
    endpoint: &str,
    given: Option<&[String]>,
) -> Result<ValidChain, Diagnostics> {
    use crate::connector::ParamKind;
    let Some(ep) = connector.file.endpoints.get(endpoint) else {
        return Err(crate::diagnostic::Diagnostic::new(format!(
            "connector `{}` has no endpoint `{endpoint}`",
            connector.name
        ))
        .into());
    };
    let method = ep.method.clone().unwrap_or_else(|| "GET".into());
    let mut inputs = Map::new();
    let mut params = Map::new();
    for p in ep.parameters() {
        let kind = match p.kind {
            ParamKind::Path => "path",
            ParamKind::Query => "query",
            ParamKind::Template => "body",
        };
        let mut spec = serde_json::json!({
            "description": format!("{kind} parameter"),
            "required": p.required,
        });
        if let Some(d) = &p.default {
            spec["description"] = Value::String(format!("{kind} parameter, default {d}"));
        }
        if given.is_none_or(|g| g.contains(&p.name)) {
            params.insert(
                p.name.clone(),
                Value::String(format!("{{{{ {} }}}}", p.name)),
            );
        }
        inputs.insert(p.name, spec);
    }
    let description = ep
        .description
        .clone()
        .unwrap_or_else(|| format!("{method} {} on the `{}` connector", ep.path, connector.name));
    let doc = serde_json::json!({
        "name": format!("{}.{endpoint}", connector.name),
        "description": description,
        "inputs": inputs,
        "steps": [{
            "name": "call",
            "connector": connector.name,
            "endpoint": endpoint,
            "params": params,
        }],
    });
    let source = Arc::new(crate::diagnostic::Source {
        name: format!("<connector {}.{endpoint}>", connector.name),
        text: serde_json::to_string_pretty(&doc).unwrap_or_default(),
    });
    let parsed = crate::chain::parse(source)?;
    let vars = parsed.chain.vars.clone();
    crate::compile::validate(parsed, vars)
}

/// A connector endpoint's tool name: `connector_endpoint`, with anything
/// but letters, digits, `_`, `-` and `.` made `_`.
pub fn endpoint_tool_name(connector: &str, endpoint: &str) -> String {
    format!("{connector}_{endpoint}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(128)
        .collect()
}

/// The limits and switches of `pytopus mcp`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Only tools whose every request is GET or HEAD.
    pub read_only: bool,
    /// Tool calls running at once; more wait for a turn.
    pub max_concurrent: usize,
    /// Tool calls started in any 60 seconds; more are refused.
    pub max_calls_per_minute: usize,
    /// The most bytes of a result's text; a longer one is cut, with a note.
    pub max_result_bytes: usize,
    /// Record every run in the history.
    pub history: bool,
}

impl Default for Options {
    /// The flags' defaults (`pytopus mcp --help`).
    fn default() -> Self {
        Options {
            read_only: false,
            max_concurrent: 4,
            max_calls_per_minute: 60,
            max_result_bytes: 256 << 10,
            history: true,
        }
    }
}

/// What a tool does, from its requests' methods: (read-only, destructive,
/// idempotent).
pub fn effects(chain: &ValidChain) -> (bool, bool, bool) {
    let methods: Vec<String> = chain
        .steps
        .iter()
        .map(|s| s.method.to_ascii_uppercase())
        .collect();
    let read_only = methods.iter().all(|m| m == "GET" || m == "HEAD");
    let destructive = methods.iter().any(|m| m == "DELETE");
    let idempotent = methods
        .iter()
        .all(|m| matches!(m.as_str(), "GET" | "HEAD" | "OPTIONS" | "PUT" | "DELETE"));
    (read_only, destructive, idempotent)
}

/// The names a caller may give: the declared inputs, else the chain's
/// `vars` that decide no request's destination.
fn accepted(chain: &ValidChain) -> Vec<String> {
    if !chain.inputs.is_empty() {
        return chain.inputs.iter().map(|i| i.name.clone()).collect();
    }
    chain
        .vars
        .keys()
        .filter(|k| k.as_str() != crate::plan::TRIGGER_VAR && !chain.origin_vars.contains(k))
        .cloned()
        .collect()
}

/// The tool's `inputSchema`: the declared inputs' schema (the one `pytopus
/// inputs` prints), else the open `vars` with their types, plus `dry_run`.
pub fn input_schema(chain: &ValidChain) -> Map<String, Value> {
    let mut schema = if chain.inputs.is_empty() {
        let mut props = Map::new();
        for name in accepted(chain) {
            let kind = match chain.vars.get(&name) {
                Some(Value::Bool(_)) => "boolean",
                Some(Value::Number(n)) if n.is_i64() || n.is_u64() => "integer",
                Some(Value::Number(_)) => "number",
                Some(Value::Array(_)) => "array",
                Some(Value::Object(_)) => "object",
                _ => "string",
            };
            props.insert(name, serde_json::json!({ "type": kind }));
        }
        serde_json::json!({ "type": "object", "properties": props })
    } else {
        crate::plan::inputs::json_schema(&chain.inputs, &format!("{} inputs", chain.name))
    };
    let Some(obj) = schema.as_object_mut() else {
        return Map::new();
    };
    obj.insert("additionalProperties".into(), Value::Bool(false));
    if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert(
            DRY_RUN_ARG.into(),
            serde_json::json!({
                "type": "boolean",
                "description": "Return the requests the chain would send, rendered, without sending them",
                "default": false,
            }),
        );
    }
    std::mem::take(obj)
}

/// The tool as `tools/list` shows it.
pub fn describe(tool: &ChainTool, redactor: &Redactor) -> Tool {
    let chain = &tool.chain;
    let (read_only, destructive, idempotent) = effects(chain);
    let description = chain
        .description
        .clone()
        .unwrap_or_else(|| format!("Runs the API chain `{}`", chain.name));
    let input = redactor.redact_json(&Value::Object(input_schema(chain)));
    let input = match input {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let mut t = Tool::new(tool.name.clone(), redactor.redact(&description), input)
        .with_title(redactor.redact(&chain.name))
        .with_annotations(
            ToolAnnotations::with_title(redactor.redact(&chain.name))
                .read_only(read_only)
                .destructive(destructive)
                .idempotent(idempotent)
                .open_world(true),
        );
    if !chain.outputs.is_empty() {
        let out =
            crate::plan::inputs::json_schema(&chain.outputs, &format!("{} outputs", chain.name));
        if let Value::Object(m) = redactor.redact_json(&out) {
            t = t.with_raw_output_schema(Arc::new(m));
        }
    }
    t
}

/// The tools offered, in order: every chain, or only the read-only ones.
pub fn offered(tools: &[ChainTool], opts: &Options) -> Vec<usize> {
    (0..tools.len())
        .filter(|&i| !opts.read_only || effects(&tools[i].chain).0)
        .collect()
}

/// A call the runner is to make.
struct Job {
    tool: usize,
    vars: IndexMap<String, Value>,
    dry_run: bool,
    progress: Option<mpsc::UnboundedSender<(usize, usize, String)>>,
    /// The request's context: its cancellation token.
    context: RequestContext<RoleServer>,
    reply: oneshot::Sender<CallToolResult>,
}

/// The protocol side: answers `tools/list`, checks a call's arguments and
/// limits, hands it to the runner.
#[derive(Clone)]
pub struct Handler {
    tools: Arc<Vec<Tool>>,
    /// `tools[i]` runs chain `index[i]`.
    index: Arc<Vec<usize>>,
    accepted: Arc<Vec<Vec<String>>>,
    jobs: mpsc::UnboundedSender<Job>,
    permits: Arc<Semaphore>,
    calls: Arc<Mutex<VecDeque<Instant>>>,
    opts: Options,
    redactor: Redactor,
}

fn error_result(text: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text)])
}

impl Handler {
    /// Refuses a call beyond `--max-calls-per-minute`.
    fn over_rate(&self) -> bool {
        let Ok(mut calls) = self.calls.lock() else {
            return false;
        };
        let now = Instant::now();
        while calls
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
        {
            calls.pop_front();
        }
        if calls.len() >= self.opts.max_calls_per_minute {
            return true;
        }
        calls.push_back(now);
        false
    }

    async fn call(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let Some(at) = self.tools.iter().position(|t| t.name == request.name) else {
            let names: Vec<&str> = self.tools.iter().map(|t| t.name.as_ref()).collect();
            let hint = crate::diagnostic::suggest(&request.name, names.iter().copied())
                .map(|b| format!("; did you mean `{b}`?"))
                .unwrap_or_default();
            return error_result(self.redactor.redact(&format!(
                "there is no tool named `{}`{hint}",
                crate::diagnostic::printable(&request.name)
            )));
        };
        let args = request.arguments.unwrap_or_default();
        let mut dry_run = false;
        let mut vars = IndexMap::new();
        let accepted = &self.accepted[at];
        for (name, value) in args {
            if name == DRY_RUN_ARG {
                match value {
                    Value::Bool(b) => dry_run = b,
                    _ => return error_result(format!("`{DRY_RUN_ARG}` must be true or false")),
                }
                continue;
            }
            if !accepted.contains(&name) {
                let list = if accepted.is_empty() {
                    "it takes none".to_string()
                } else {
                    format!("it takes `{}`", accepted.join("`, `"))
                };
                let shown: String = crate::diagnostic::printable(&name)
                    .chars()
                    .take(64)
                    .collect();
                return error_result(self.redactor.redact(&format!(
                    "`{shown}` is not an argument of `{}`: {list} (and `{DRY_RUN_ARG}`)",
                    request.name
                )));
            }
            vars.insert(name, value);
        }
        if self.over_rate() {
            return error_result(format!(
                "too many tool calls: at most {} a minute (--max-calls-per-minute); try again later",
                self.opts.max_calls_per_minute
            ));
        }
        let ct = context.ct.clone();
        let permit = tokio::select! {
            p = Arc::clone(&self.permits).acquire_owned() => p,
            _ = ct.cancelled() => return error_result("cancelled".into()),
        };
        let Ok(permit) = permit else {
            return error_result("the server is shutting down".into());
        };
        let (progress, forwarder) = match context.meta.get_progress_token() {
            Some(token) => {
                let (tx, rx) = mpsc::unbounded_channel();
                let task = tokio::spawn(forward_progress(context.peer.clone(), token, rx));
                (Some(tx), Some(task))
            }
            None => (None, None),
        };
        let (reply, rx) = oneshot::channel();
        let job = Job {
            tool: self.index[at],
            vars,
            dry_run,
            progress,
            context,
            reply,
        };
        if self.jobs.send(job).is_err() {
            return error_result("the server is shutting down".into());
        }
        let result = rx
            .await
            .unwrap_or_else(|_| error_result("the run was dropped".into()));
        drop(permit);
        // Every step's notification goes out before the result (the run's
        // observer, and with it the sender, is gone by now).
        if let Some(task) = forwarder {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        result
    }
}

/// Sends `notifications/progress` for each finished step.
async fn forward_progress(
    peer: Peer<RoleServer>,
    token: ProgressToken,
    mut rx: mpsc::UnboundedReceiver<(usize, usize, String)>,
) {
    while let Some((done, total, message)) = rx.recv().await {
        let p = ProgressNotificationParam::new(token.clone(), done as f64)
            .with_total(total as f64)
            .with_message(message);
        if peer.notify_progress(p).await.is_err() {
            return;
        }
    }
}

impl ServerHandler for Handler {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("pytopus", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Each tool runs a reviewed API chain; pytopus holds the credentials. \
                 Pass `dry_run: true` to see the requests a tool would send.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult {
            tools: self.tools.as_ref().clone(),
            ..Default::default()
        })
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        Ok(self.call(request, context).await.into())
    }
}

/// Runs the calls, one task each, on the current thread.
struct Runner {
    tools: Vec<ChainTool>,
    /// The run session every driver runs its chains through: a cookie jar
    /// per call, the history, the secrets and their redactor.
    session: crate::session::Session,
    redactor: Redactor,
    opts: Options,
}

/// Counts finished steps for `notifications/progress`.
struct Progress {
    tx: mpsc::UnboundedSender<(usize, usize, String)>,
    done: usize,
    total: usize,
    redactor: Redactor,
}

impl Observer for Progress {
    fn on_event(&mut self, event: &Event<'_>) {
        if let Event::StepFinished { step, outcome, .. } = event {
            self.done += 1;
            let message =
                self.redactor
                    .redact(&format!("{}: {}", step.name, outcome.status.as_str()));
            let _ = self
                .tx
                .send((self.done, self.total.max(self.done), message));
        }
    }
}

impl Runner {
    /// The one function that runs a chain for a tool call.
    async fn run(self: Rc<Self>, job: Job) {
        let Job {
            tool,
            vars: given,
            dry_run,
            progress,
            context,
            reply,
        } = job;
        let names: Vec<String> = given.keys().cloned().collect();
        let built;
        let chain = match &self.tools[tool].endpoint {
            None => &self.tools[tool].chain,
            Some((connector, endpoint)) => {
                let made = crate::connector::Library::standalone()
                    .get(connector)
                    .map_err(Diagnostics)
                    .and_then(|c| endpoint_chain(&c, endpoint, Some(&names)));
                match made {
                    Ok(c) => {
                        built = c;
                        &built
                    }
                    Err(d) => {
                        let _ = reply.send(error_result(self.redactor.redact(&d.render(false))));
                        return;
                    }
                }
            }
        };
        let mut vars = chain.vars.clone();
        vars.extend(given);
        let problems = crate::plan::inputs::check_given(&chain.inputs, &mut vars, |n| {
            names.iter().any(|g| g == n)
        });
        if !problems.is_empty() {
            let _ = reply.send(error_result(self.redactor.redact(&problems.join("; "))));
            return;
        }
        let (handle, cancel) = Cancel::new();
        let ct = context.ct.clone();
        let watcher = tokio::task::spawn_local(async move {
            ct.cancelled().await;
            handle.cancel();
        });
        let observer: Box<dyn Observer> = match progress {
            Some(tx) => Box::new(Progress {
                tx,
                done: 0,
                total: chain.steps.len(),
                redactor: self.redactor.clone(),
            }),
            None => Box::new(engine::Observers::default()),
        };
        // Recorded like `pytopus run`'s runs. A connector endpoint's chain
        // has no file: its name (`<connector github.get_repo>`) stands for one.
        let path = std::fs::canonicalize(&chain.source.name)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| chain.source.name.clone());
        let mut run = crate::session::Run::new(chain);
        run.vars = Some(&vars);
        run.dry_run = dry_run;
        run.cancel = Some(cancel);
        run.observers = engine::Observers(vec![observer]);
        run.history = Some(crate::history::Entry::new(path, &chain.source.text));
        let finished = self.session.run(run).await;
        watcher.abort();
        // A failure to record is said on stderr (never stdout, which
        // carries the protocol).
        if let Some(Err(e)) = finished.recorded.as_ref().and_then(|r| r.wait()) {
            crate::report::to_stderr(
                &self
                    .redactor
                    .redact(&format!("warning: not recorded in the history: {e}\n")),
            );
        }
        let _ = reply.send(self.result(chain, &finished.report));
    }

    /// The tool result: the output (structured when the chain declares
    /// outputs), the dry run's requests, or the failure as the CLI says it.
    fn result(&self, chain: &ValidChain, report: &RunReport) -> CallToolResult {
        let limit = self.opts.max_result_bytes;
        if report.status != RunStatus::Passed {
            let text = crate::report::failure(chain, report, &self.redactor)
                .map(|d| Diagnostics::from(d).render(false))
                .unwrap_or_else(|| format!("error: the run {}", report.status.as_str()));
            return error_result(cut(&self.redactor.redact(&text), limit).0);
        }
        if report.dry_run {
            let text = crate::report::dry_run::dry_run_text(report, "");
            let (text, _) = cut(&self.redactor.redact(&text), limit);
            return CallToolResult::success(vec![ContentBlock::text(text)]);
        }
        let output = self
            .redactor
            .redact_json(report.output.as_deref().unwrap_or(&Value::Null));
        let text = serde_json::to_string(&output).unwrap_or_default();
        let (shown, was_cut) = cut(&text, limit);
        if was_cut {
            // A cut JSON document is no longer the declared structure.
            return error_result(shown);
        }
        if !chain.outputs.is_empty() && output.is_object() {
            return CallToolResult::structured(output);
        }
        CallToolResult::success(vec![ContentBlock::text(text)])
    }
}

/// `text` cut to `limit` bytes (on a character boundary) with a note saying
/// so, and whether it was cut.
pub fn cut(text: &str, limit: usize) -> (String, bool) {
    if text.len() <= limit {
        return (text.to_string(), false);
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (
        format!(
            "{}\n[pytopus: result cut at {limit} of {} bytes (--max-result-size)]",
            &text[..end],
            text.len()
        ),
        true,
    )
}

/// Everything `pytopus mcp` serves.
pub struct Server {
    pub tools: Vec<ChainTool>,
    pub opts: Options,
    pub transport: Arc<dyn Transport>,
    pub secrets: Secrets,
    pub redactor: Redactor,
}

/// The tools as `tools/list` shows them (for `--list`).
pub fn listed(tools: &[ChainTool], opts: &Options, redactor: &Redactor) -> Vec<Tool> {
    offered(tools, opts)
        .into_iter()
        .map(|i| describe(&tools[i], redactor))
        .collect()
}

/// The longest message a client may send on stdin (one JSON-RPC line).
const MAX_MESSAGE: usize = crate::files::MAX_INPUT as usize;

/// Stdin with a bound on the length of a line: the transport keeps a line
/// in memory until its end, and a client that never ends one must not
/// take all of it.
struct LineLimited<R> {
    inner: R,
    since_newline: usize,
    limit: usize,
    /// Set when a line was too long (the transport says only that the
    /// connection closed).
    too_long: Arc<std::sync::atomic::AtomicBool>,
}

impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for LineLimited<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if let std::task::Poll::Ready(Ok(())) = &polled {
            let limit = self.limit;
            for &b in &buf.filled()[before..] {
                if b == b'\n' {
                    self.since_newline = 0;
                } else {
                    self.since_newline += 1;
                    if self.since_newline > limit {
                        self.too_long
                            .store(true, std::sync::atomic::Ordering::Relaxed);
                        return std::task::Poll::Ready(Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            format!(
                                "a message from the client is longer than {} MiB",
                                limit >> 20
                            ),
                        )));
                    }
                }
            }
        }
        polled
    }
}

/// Serves MCP on stdin/stdout until the client closes it.
pub async fn serve_stdio(server: Server) -> Result<(), String> {
    let redactor = server.redactor.clone();
    tokio::task::LocalSet::new()
        .run_until(async move {
            let (handler, runner) = start(server);
            let runner = tokio::task::spawn_local(runner);
            let (stdin, stdout) = rmcp::transport::stdio();
            let too_long = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let stdin = LineLimited {
                inner: stdin,
                since_newline: 0,
                limit: MAX_MESSAGE,
                too_long: Arc::clone(&too_long),
            };
            let said = |what: String| {
                if too_long.load(std::sync::atomic::Ordering::Relaxed) {
                    format!(
                        "a message from the client is longer than {} MiB: the session is closed",
                        MAX_MESSAGE >> 20
                    )
                } else {
                    redactor.redact(&what)
                }
            };
            let service = handler
                .serve((stdin, stdout))
                .await
                .map_err(|e| said(format!("the MCP session did not start: {e}")))?;
            let ended = service.waiting().await;
            runner.abort();
            match ended {
                Ok(_) if too_long.load(std::sync::atomic::Ordering::Relaxed) => {
                    Err(said(String::new()))
                }
                Ok(_) => Ok(()),
                Err(e) => Err(said(format!("the MCP session ended: {e}"))),
            }
        })
        .await
}

/// The protocol handler, and the runner that makes its calls: a future to
/// spawn on the `LocalSet` the handler is served from (runs are not `Send`).
pub fn start(
    server: Server,
) -> (
    Handler,
    std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>,
) {
    let index = offered(&server.tools, &server.opts);
    let tools: Vec<Tool> = index
        .iter()
        .map(|&i| describe(&server.tools[i], &server.redactor))
        .collect();
    let accepted: Vec<Vec<String>> = index
        .iter()
        .map(|&i| accepted(&server.tools[i].chain))
        .collect();
    let (jobs_tx, mut jobs_rx) = mpsc::unbounded_channel::<Job>();
    let handler = Handler {
        tools: Arc::new(tools),
        index: Arc::new(index),
        accepted: Arc::new(accepted),
        jobs: jobs_tx,
        permits: Arc::new(Semaphore::new(server.opts.max_concurrent.max(1))),
        calls: Arc::new(Mutex::new(VecDeque::new())),
        opts: server.opts.clone(),
        redactor: server.redactor.clone(),
    };
    let session = crate::session::Session::new(
        server.redactor.clone(),
        server.secrets,
        server.transport,
        crate::session::Jar::PerRun,
        Cancel::never(),
    )
    .history(server.opts.history);
    let runner = Rc::new(Runner {
        tools: server.tools,
        session,
        redactor: server.redactor,
        opts: server.opts,
    });
    let run = Box::pin(async move {
        while let Some(job) = jobs_rx.recv().await {
            tokio::task::spawn_local(Rc::clone(&runner).run(job));
        }
    });
    (handler, run)
}

/// The same tools as streamable HTTP, for `serve` to mount at `/mcp`
/// behind its own token and `Host` checks (so rmcp's are off).
pub fn http_router(handler: Handler) -> axum::Router {
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    };
    let config = StreamableHttpServerConfig::default().disable_allowed_hosts();
    let service = StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    axum::Router::new().route_service("/mcp", service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_result_is_cut_on_a_character_boundary_with_a_note() {
        assert_eq!(cut("short", 10), ("short".to_string(), false));
        let (text, was_cut) = cut("ééééé", 3);
        assert!(was_cut);
        assert!(
            text.starts_with("é\n[pytopus: result cut at 3 of 10 bytes"),
            "{text}"
        );
    }
}
