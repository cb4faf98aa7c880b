//! The results of a run, as plain data: what each step sent, got and bound,
//! and why it failed.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use indexmap::IndexMap;
use serde_json::Value;

use crate::template::TemplateError;
use crate::transport::{HttpRequest, TransportError};

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepStatus {
    Passed,
    Failed,
    /// `--dry-run`: rendered, not sent.
    DryRun,
    /// An earlier step failed, or the run was interrupted, before this one ran.
    NotRun,
    /// `when:` was false.
    Skipped,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Passed => "passed",
            StepStatus::Failed => "failed",
            StepStatus::DryRun => "dry_run",
            StepStatus::NotRun => "not_run",
            StepStatus::Skipped => "skipped",
        }
    }
}

/// What came back, kept for reports and error messages.
#[derive(Debug, Clone)]
pub struct ResponseInfo {
    pub status: u16,
    pub headers: crate::transport::Headers,
    /// The first bytes of the body as text (the whole result lives in `StepOutcome::result`).
    pub body_excerpt: String,
    pub body_len: u64,
    pub url: String,
    /// Why the body, announced or looking like JSON, could not be parsed.
    pub json_error: Option<String>,
}

/// One step's result.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    pub name: String,
    pub status: StepStatus,
    /// The request as sent (last attempt).
    pub request: Option<HttpRequest>,
    pub response: Option<ResponseInfo>,
    /// The decoded body: JSON, or text when the body is not JSON.
    /// Shared with `RunReport::output` when the run's output is this result.
    pub result: StepResult,
    /// The body as received, when the result is exactly that body decoded
    /// as JSON (no `save_to`, GraphQL or pages) and it fits the history:
    /// [`StepResult::compact`] then keeps this text instead of serialising
    /// the decoded tree again. Reading it back gives the same value.
    pub text: Option<Box<str>>,
    /// Variables bound by `extract`.
    pub outputs: IndexMap<String, Value>,
    pub attempts: u32,
    pub elapsed: Duration,
    pub error: Option<StepError>,
    /// The step failed, and `on_error: continue` let the chain go on.
    pub continued: bool,
    /// For a `for_each` step that failed: the position of the item that did,
    /// and how many items there were.
    pub item: Option<(usize, usize)>,
    /// `--dry-run` of a `for_each` step or a sub-chain: the requests it
    /// would send, in order, each with what tells it apart (`[2]`,
    /// `[<item>]`, ` › GetUser`).
    pub dry_requests: Vec<(String, HttpRequest)>,
    /// `--dry-run`: what the printed requests cannot show (how many items
    /// a fan-out has, the pages after the first).
    pub dry_notes: Vec<String>,
    /// A `for_each` step: how many items it had.
    pub items: Option<usize>,
    /// A `paginate` step: how many pages it read.
    pub pages: Option<u32>,
    /// A `poll` step: how many requests it sent before it stopped.
    pub polls: Option<u32>,
    /// Taken from an earlier run's history (`--resume`), not sent again.
    pub reused: bool,
    /// A `finally` step.
    pub teardown: bool,
    /// Why a step was skipped other than its `when` (a `finally` step
    /// reading a step that did not pass).
    pub skipped_because: Option<String>,
}

impl StepOutcome {
    /// This outcome, failed with `error`.
    pub fn failed(mut self, error: StepError) -> StepOutcome {
        self.status = StepStatus::Failed;
        self.error = Some(error);
        self
    }

    pub fn not_run(name: &str) -> Self {
        StepOutcome {
            name: name.to_string(),
            status: StepStatus::NotRun,
            request: None,
            response: None,
            result: StepResult::default(),
            text: None,
            outputs: IndexMap::new(),
            attempts: 0,
            elapsed: Duration::ZERO,
            error: None,
            continued: false,
            item: None,
            dry_requests: Vec::new(),
            polls: None,
            dry_notes: Vec::new(),
            items: None,
            pages: None,
            reused: false,
            teardown: false,
            skipped_because: None,
        }
    }
}

/// A step's result as the run keeps it until the end (for the history and
/// the output).
#[derive(Debug, Clone)]
pub enum StepResult {
    /// Decoded, as templates read it.
    Value(Arc<Value>),
    /// Its compact JSON text, once no later template reads it: a decoded
    /// body takes several times its size as a tree of maps and strings
    /// (bench/README.md, session 8).
    Json(Box<str>),
}

/// Deeper than this, a value is kept decoded: serde_json reads back at most
/// 128 levels, and the text must always read back.
const JSON_DEPTH_MAX: usize = 100;

impl StepResult {
    /// The value, read back from its text if it was compacted.
    pub fn value(&self) -> Cow<'_, Value> {
        match self {
            StepResult::Value(v) => Cow::Borrowed(v),
            StepResult::Json(text) => Cow::Owned(read_back(text)),
        }
    }

    /// The value, shared when it is still decoded.
    pub fn shared(&self) -> Arc<Value> {
        match self {
            StepResult::Value(v) => Arc::clone(v),
            StepResult::Json(text) => Arc::new(read_back(text)),
        }
    }

    pub fn into_value(self) -> Value {
        match self {
            StepResult::Value(v) => Arc::unwrap_or_clone(v),
            StepResult::Json(text) => read_back(&text),
        }
    }

    /// Keeps an array or object as JSON text from now on, when its text is
    /// at most `limit` bytes. Scalars are small already; a larger text is
    /// not worth writing out here (the history does not keep it either).
    ///
    /// `received` is the body the value was decoded from, when there is one
    /// (see [`StepOutcome::text`]): it reads back as the same value, so it
    /// is kept as it is rather than written out again.
    pub fn compact(&mut self, limit: usize, received: Option<Box<str>>) {
        let StepResult::Value(v) = self else {
            return;
        };
        if !(v.is_array() || v.is_object()) || !within_depth(v, JSON_DEPTH_MAX) {
            return;
        }
        if let Some(text) = received.filter(|t| t.len() <= limit) {
            *self = StepResult::Json(text);
            return;
        }
        let mut text = Vec::new();
        let mut out = Limited {
            inner: &mut text,
            left: limit,
        };
        if serde_json::to_writer(&mut out, &**v).is_ok() {
            // serde_json writes UTF-8 only.
            if let Ok(text) = String::from_utf8(text) {
                *self = StepResult::Json(text.into_boxed_str());
            }
        }
    }
}

impl Default for StepResult {
    fn default() -> Self {
        StepResult::Value(Arc::new(Value::Null))
    }
}

impl From<Value> for StepResult {
    fn from(v: Value) -> Self {
        StepResult::Value(Arc::new(v))
    }
}

impl From<Arc<Value>> for StepResult {
    fn from(v: Arc<Value>) -> Self {
        StepResult::Value(v)
    }
}

/// Text written by [`StepResult::compact`] always reads back: serde_json
/// wrote it from a value no deeper than serde_json reads.
fn read_back(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// Whether `v` nests arrays and objects at most `max` deep.
fn within_depth(v: &Value, max: usize) -> bool {
    match v {
        Value::Array(items) => max > 0 && items.iter().all(|i| within_depth(i, max - 1)),
        Value::Object(map) => max > 0 && map.values().all(|i| within_depth(i, max - 1)),
        _ => true,
    }
}

/// A writer that fails once `left` bytes are used up: serialising stops
/// there. Into a `Vec` to keep the text, into `io::sink()` to measure.
pub(crate) struct Limited<W> {
    pub(crate) inner: W,
    pub(crate) left: usize,
}

impl<W: std::io::Write> std::io::Write for Limited<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.left = self
            .left
            .checked_sub(buf.len())
            .ok_or_else(|| std::io::Error::other("over the limit"))?;
        self.inner.write_all(buf)?;
        Ok(buf.len())
    }
    // serde_json writes every token with `write_all`: done here in one
    // step, without the default's loop over `write` (half the cost of
    // storing a result).
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.write(buf).map(|_| ())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One expectation that did not hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// What was checked: `status`, `$.name`, `header content-type`, `body`.
    pub what: String,
    /// The key of the step that asked for it (`expect.assert.$.items`), to
    /// point at; empty for `expect` as a whole.
    pub field: String,
    pub expected: String,
    pub actual: String,
}

/// Results larger than this (as JSON) are not kept once no later step
/// reads them, nor in the history; `--resume` reruns their step instead of
/// reusing it.
pub const MAX_RESULT_BYTES: usize = 1 << 20;

/// Why a step failed.
#[derive(Debug, Clone)]
pub enum StepError {
    /// A template could not be rendered (`field` is e.g. `url` or `headers.Authorization`).
    Render { field: String, error: TemplateError },
    /// The rendered request is unusable (bad URL after rendering…).
    Request(String),
    /// No response: connection refused, timeout, TLS…
    Transport {
        error: TransportError,
        note: Option<String>,
    },
    /// A response came but did not meet `expect` (or was not 2xx).
    Expectations {
        mismatches: Vec<Mismatch>,
        note: Option<String>,
    },
    /// An `extract` could not be applied.
    Extract { name: String, message: String },
    /// Credentials could not be obtained (token endpoint, JWT signing, secrets).
    Auth(String),
    /// The GraphQL answer had `errors`.
    GraphQl(Vec<String>),
    /// A sub-chain (`chain:`) failed: which file, which step, why.
    SubChain(String),
    /// `poll.until` never held before the deadline or the count ran out.
    Poll {
        condition: String,
        polls: u32,
        elapsed: Duration,
        /// What ran out: "`max_polls: 60`", "the 5m `timeout`".
        limit: String,
    },
    /// `on_success` / `on_failure` went wrong (a `goto` circle).
    Flow(String),
    /// Ctrl-C while the step was running.
    Interrupted,
}

impl From<crate::auth::AuthError> for StepError {
    fn from(e: crate::auth::AuthError) -> StepError {
        StepError::Auth(e.0)
    }
}

impl StepError {
    /// A short machine-readable kind, for reports.
    pub fn kind(&self) -> &'static str {
        match self {
            StepError::Render { .. } => "template",
            StepError::Request(_) => "request",
            StepError::Transport { error, .. } => error.kind(),
            StepError::Expectations { .. } => "expectation",
            StepError::Extract { .. } => "extract",
            StepError::Auth(_) => "auth",
            StepError::GraphQl(_) => "graphql",
            StepError::SubChain(_) => "sub_chain",
            StepError::Poll { .. } => "poll",
            StepError::Flow(_) => "flow",
            StepError::Interrupted => "interrupted",
        }
    }

    /// A few words for a progress line: `timed out`, `connection failed`.
    pub fn short(&self) -> &'static str {
        match self {
            StepError::Render { .. } => "template error",
            StepError::Request(_) => "invalid request",
            StepError::Transport { error, .. } => match error {
                TransportError::Connect(_) => "connection failed",
                TransportError::Timeout(_) => "timed out",
                TransportError::Tls(_) => "TLS error",
                TransportError::Request(_) => "invalid request",
                TransportError::Broken(_) => "connection broke",
                TransportError::Body(_) => "body not received",
                TransportError::TooLarge(_) => "body too large",
                TransportError::Write(_) => "body not saved",
                TransportError::Other(_) => "HTTP error",
                TransportError::NotRecorded(_) => "not in the tape",
            },
            StepError::Expectations { .. } => "expectation failed",
            StepError::Extract { .. } => "extract failed",
            StepError::Auth(_) => "authentication failed",
            StepError::GraphQl(_) => "GraphQL errors",
            StepError::SubChain(_) => "sub-chain failed",
            StepError::Poll { .. } => "poll ran out",
            StepError::Flow(_) => "flow stopped",
            StepError::Interrupted => "interrupted",
        }
    }

    /// One line saying what went wrong.
    pub fn summary(&self) -> String {
        match self {
            StepError::Render { field, error } => format!("cannot render `{field}`: {error}"),
            StepError::Request(m) => m.clone(),
            StepError::Transport { error, .. } => error.to_string(),
            StepError::Expectations { mismatches, .. } => match mismatches.as_slice() {
                [one] if one.what == "status" => {
                    format!("expected status {}, got {}", one.expected, one.actual)
                }
                [one] => format!(
                    "{}: expected {}, got {}",
                    one.what, one.expected, one.actual
                ),
                many => format!("{} expectations failed", many.len()),
            },
            StepError::Extract { name, message } => format!("cannot extract `{name}`: {message}"),
            StepError::Auth(m) => format!("authentication failed: {m}"),
            StepError::SubChain(m) | StepError::Flow(m) => m.clone(),
            StepError::GraphQl(m) => match m.as_slice() {
                [one] => format!("GraphQL error: {one}"),
                many => format!("{} GraphQL errors: {}", many.len(), many.join("; ")),
            },
            StepError::Poll {
                condition,
                polls,
                elapsed,
                limit,
            } => format!(
                "`{condition}` was still false after {polls} request{} in {} ({limit})",
                if *polls == 1 { "" } else { "s" },
                super::show_duration(*elapsed)
            ),
            StepError::Interrupted => "interrupted".to_string(),
        }
    }
}

/// How the whole run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Passed,
    Failed,
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Passed => "passed",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

/// Everything about a run.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub chain: String,
    pub file: String,
    pub status: RunStatus,
    pub dry_run: bool,
    pub steps: Vec<StepOutcome>,
    /// The `finally` steps', in order (empty when the chain has none).
    pub teardown: Vec<StepOutcome>,
    /// What stdout gets: the `output` template, else the last step's result.
    pub output: Option<Arc<Value>>,
    /// Set when `output` itself could not be rendered.
    pub output_error: Option<TemplateError>,
    pub started: SystemTime,
    pub elapsed: Duration,
}

impl RunReport {
    /// The step that failed the run, if any (a `finally` step when only
    /// one of those failed).
    pub fn failed_step(&self) -> Option<&StepOutcome> {
        self.steps
            .iter()
            .chain(&self.teardown)
            .find(|s| s.status == StepStatus::Failed && !s.continued)
    }
}
