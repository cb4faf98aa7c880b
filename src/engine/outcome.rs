//! The results of a run, as plain data: what each step sent, got and bound,
//! and why it failed.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use indexmap::IndexMap;
use serde_json::Value;

use super::render::TemplateError;
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
    pub result: Arc<Value>,
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
    /// `--dry-run` of a `for_each` step: every item's request, in order.
    pub item_requests: Vec<HttpRequest>,
    /// A `for_each` step: how many items it had.
    pub items: Option<usize>,
    /// A `paginate` step: how many pages it read.
    pub pages: Option<u32>,
    /// Taken from an earlier run's history (`--resume`), not sent again.
    pub reused: bool,
}

impl StepOutcome {
    pub fn not_run(name: &str) -> Self {
        StepOutcome {
            name: name.to_string(),
            status: StepStatus::NotRun,
            request: None,
            response: None,
            result: Arc::new(Value::Null),
            outputs: IndexMap::new(),
            attempts: 0,
            elapsed: Duration::ZERO,
            error: None,
            continued: false,
            item: None,
            item_requests: Vec::new(),
            items: None,
            pages: None,
            reused: false,
        }
    }
}

/// One expectation that did not hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// What was checked: `status`, `$.name`, `header content-type`, `body`.
    pub what: String,
    pub expected: String,
    pub actual: String,
}

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
    /// Ctrl-C while the step was running.
    Interrupted,
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
                TransportError::Body(_) => "body not received",
                TransportError::Other(_) => "HTTP error",
                TransportError::NotRecorded(_) => "not in the tape",
            },
            StepError::Expectations { .. } => "expectation failed",
            StepError::Extract { .. } => "extract failed",
            StepError::Auth(_) => "authentication failed",
            StepError::GraphQl(_) => "GraphQL errors",
            StepError::SubChain(_) => "sub-chain failed",
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
            StepError::SubChain(m) => m.clone(),
            StepError::GraphQl(m) => match m.as_slice() {
                [one] => format!("GraphQL error: {one}"),
                many => format!("{} GraphQL errors: {}", many.len(), many.join("; ")),
            },
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
    /// What stdout gets: the `output` template, else the last step's result.
    pub output: Option<Arc<Value>>,
    /// Set when `output` itself could not be rendered.
    pub output_error: Option<TemplateError>,
    pub started: SystemTime,
    pub elapsed: Duration,
}

impl RunReport {
    /// The step that failed the run, if any.
    pub fn failed_step(&self) -> Option<&StepOutcome> {
        self.steps
            .iter()
            .find(|s| s.status == StepStatus::Failed && !s.continued)
    }
}
