//! The plan: a chain compiled and checked, ready to run. What the engine
//! runs and the reports describe; built only by [`crate::compile`], from a
//! chain file ([`crate::chain`]) and the files it names
//! ([`crate::resolve`]). After this, nothing re-checks.

pub mod graph;
pub mod inputs;
pub mod retry;
pub mod schedule;

use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::Value;

use crate::auth::AuthSpec;
use crate::chain::model::{Overlap, SignatureScheme, StatusPattern};
use crate::chain::spans::{SpanMap, join_key};
use crate::diagnostic::{Loc, Source};
use crate::jsonpath::JsonPath;
use crate::template::{Templates, Tmpl};
use crate::transport::TlsSettings;
use retry::RetryPolicy;

/// The default per-attempt timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The variable `pytopus serve` sets to what started a run (a webhook's body,
/// headers and query; a schedule's time). A step may not take the name; a
/// variable may, so `pytopus run` can be given a sample trigger.
pub const TRIGGER_VAR: &str = "trigger";

/// A chain that passed validation: every template compiled, every reference known.
#[derive(Debug)]
pub struct ValidChain {
    pub name: String,
    pub id: Option<Value>,
    /// `description:`, as written.
    pub description: Option<String>,
    pub source: Arc<Source>,
    pub templates: Templates,
    /// Chain `vars`, then `--vars-file`, then `--var`; inputs with their
    /// defaults.
    pub vars: IndexMap<String, Value>,
    /// `inputs:`, checked wherever a caller gives values.
    pub inputs: Vec<inputs::Input>,
    /// Required inputs no value was given for (a `serve` caller or a
    /// sub-chain's `with:` may give them later; `run` refuses to start).
    pub missing_inputs: Vec<String>,
    /// `outputs:`: the keys `output` holds, each with its schema.
    pub outputs: Vec<inputs::Input>,
    /// `steps`, then the `finally` steps (from [`Self::teardown_from`]).
    pub steps: Vec<ValidStep>,
    /// Where the `finally` steps start in `steps` (`steps.len()` when the
    /// chain has none).
    pub teardown_from: usize,
    /// For each step, the earlier steps its templates read or it `needs`
    /// (sorted): `deps` without the order writes keep.
    pub reads: Vec<Vec<usize>>,
    pub output: Option<Tmpl>,
    /// Positions in the chain file, for errors found while running.
    pub spans: SpanMap,
    /// Names given literally to `secret(...)`, to look up before anything is sent.
    pub secret_names: Vec<String>,
    /// `parallel: auto`: steps start when the steps they depend on are done.
    pub parallel: bool,
    /// Some step has `on_success` or `on_failure`: steps may run again or
    /// be jumped over.
    pub flow: bool,
    /// For each step, the earlier steps it depends on (sorted): the ones its
    /// templates read, directly or through an extracted variable, and its `needs:`.
    pub deps: Vec<Vec<usize>>,
    /// The steps `output` reads.
    pub output_deps: Vec<usize>,
    /// For each step, what later steps and `output` read of it: its result
    /// (by the step's name) and its `steps.<name>` metadata. The engine binds
    /// only that into the template context: for a large body, a copy saved;
    /// for every step, work saved.
    pub read_later: Vec<Reads>,
    /// `trigger:`, checked (`pytopus serve` only).
    pub trigger: Option<ValidTrigger>,
    /// `schedule:` with its `timezone:` and `overlap:` (`pytopus serve` only).
    pub schedule: Option<ValidSchedule>,
    /// `notify:`, checked (`serve` and `run --every` only).
    pub notify: Option<ValidNotify>,
    /// The chain's variables that decide where a request goes (a URL's
    /// scheme, host or port, an OAuth2 token URL) or where a file is
    /// written (`save_to`), sorted. A `serve` caller may not set them unless
    /// `trigger.origin_vars` names them.
    pub origin_vars: Vec<String>,
}

/// `notify:`, checked, with its defaults filled in.
#[derive(Debug)]
pub struct ValidNotify {
    /// Where the summary goes; its URL is a template (rendered, with the
    /// chain's variables and secrets, when a notification is sent).
    pub target: NotifyTarget,
    /// `on:` names `failure`.
    pub on_failure: bool,
    /// `on:` names `recovery`.
    pub on_recovery: bool,
    pub timeout: Duration,
}

/// `notify.url` or `notify.slack`.
#[derive(Debug)]
pub enum NotifyTarget {
    /// The summary as JSON.
    Webhook(Tmpl),
    /// `{"text": summary line}`.
    Slack(Tmpl),
    /// `notify.chain`: run with the summary's fields as its variables.
    Chain(Arc<ValidChain>),
}

/// The names `notify.chain`'s chain is given (the summary's fields).
pub const NOTIFY_FIELDS: &[&str] = &[
    "chain",
    "file",
    "run_id",
    "status",
    "failed_step",
    "error",
    "failed_runs",
    "started",
    "elapsed_ms",
    "summary",
];

/// How long a notification may take unless `notify.timeout` says.
pub const NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// `trigger:`, checked, with its defaults filled in.
#[derive(Debug)]
pub struct ValidTrigger {
    /// The shared secret (a template, rendered when `serve` starts).
    pub secret: Option<Tmpl>,
    pub signature: Option<SignatureScheme>,
    /// The signature header, lower case, for `hmac-sha256`.
    pub header: Option<String>,
    pub tolerance: Duration,
    pub max_concurrent: usize,
    pub timeout: Duration,
    /// Variables a `serve` caller may set although they decide where a
    /// request goes (see [`ValidChain::origin_vars`]).
    pub origin_vars: Vec<String>,
}

impl Default for ValidTrigger {
    fn default() -> Self {
        ValidTrigger {
            secret: None,
            signature: None,
            header: None,
            tolerance: Duration::from_secs(300),
            max_concurrent: 4,
            timeout: Duration::from_secs(300),
            origin_vars: Vec::new(),
        }
    }
}

/// `schedule:`, parsed.
#[derive(Debug, Clone)]
pub struct ValidSchedule {
    pub cron: schedule::Schedule,
    pub overlap: Overlap,
}

impl ValidChain {
    /// Where a step's field (`query_params.userId`) is written, else where the step starts.
    pub fn locate(&self, step: usize, field: &str) -> Option<Loc> {
        let s = self.steps.get(step)?;
        self.spans.value(&join_key(&s.path, field)).or(s.loc)
    }
}

/// One step, resolved and compiled.
#[derive(Debug)]
pub struct ValidStep {
    pub name: String,
    /// Where the step starts in the chain file.
    pub loc: Option<Loc>,
    /// The step's path in the file (`steps[2]`), for positions of its fields.
    pub path: String,
    pub method: String,
    pub url: Tmpl,
    pub query: Vec<(String, Tmpl)>,
    pub headers: Vec<(String, Tmpl)>,
    // The parts most steps do not have are boxed: a step took 1,136 bytes
    // for the whole run, most of it room for these (bench/README.md, session 8).
    pub body: Option<Box<BodySpec>>,
    pub timeout: Duration,
    /// The most response body kept in memory (`max_response_size`).
    pub body_limit: u64,
    pub retry: RetryPolicy,
    pub extract: Vec<(String, Extractor)>,
    pub expect: Expectations,
    pub save_to: Option<Tmpl>,
    pub follow_redirects: bool,
    pub tls: Option<Arc<TlsSettings>>,
    /// `tls.password`: rendered into the request's TLS settings.
    pub tls_password: Option<Tmpl>,
    /// `auth:` of the step, else of `defaults`; `None` when neither has one.
    pub auth: Option<Arc<AuthSpec>>,
    /// Run only when this renders to something true.
    pub when: Option<Tmpl>,
    /// `on_error: continue`.
    pub continue_on_error: bool,
    /// The body is a GraphQL request: the result is `data`, `errors` fail the step.
    pub graphql: bool,
    /// `for_each`: the list to run the step over.
    pub for_each: Option<Tmpl>,
    /// How many `for_each` items run at once (≥ 1).
    pub concurrency: usize,
    pub paginate: Option<Box<Pager>>,
    /// `poll:` — the request again until a condition holds.
    pub poll: Option<Box<Poll>>,
    /// `chain:` — another chain run as this step, with its `with:` values.
    pub sub: Option<Box<SubChain>>,
    /// `connector:` — which one, its rate limiter, and the step's `params`
    /// (rendered first; the other templates read them as `params`).
    pub connector: Option<Box<ConnectorUse>>,
    /// `on_success` / `on_failure`: where the run goes after the step.
    pub flow: Option<Box<Flow>>,
}

/// A step's `on_success` and `on_failure` actions, in order.
#[derive(Debug, Default)]
pub struct Flow {
    pub on_success: Vec<Action>,
    pub on_failure: Vec<Action>,
}

/// One action of [`Flow`]: what to do, and when (`None`: always).
#[derive(Debug)]
pub struct Action {
    pub kind: ActionKind,
    pub when: Option<Tmpl>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ActionKind {
    /// Go on at this step index.
    Goto(usize),
    /// No more steps (but `finally`).
    End,
    /// Run the step again, at most `limit` more times, after `after` (else
    /// the response's `Retry-After`, else at once).
    Retry { limit: u32, after: Option<Duration> },
}

/// A step that calls a connector.
#[derive(Debug)]
pub struct ConnectorUse {
    pub name: String,
    pub params: Vec<(String, Tmpl)>,
    pub limiter: Option<Arc<crate::connector::RateLimiter>>,
    /// The body is the endpoint's (not the step's own): its top-level fields
    /// that render to null are left out.
    pub endpoint_body: bool,
}

/// A chain run as a step.
#[derive(Debug)]
pub struct SubChain {
    pub chain: Arc<ValidChain>,
    pub with: Vec<(String, Tmpl)>,
}

/// `poll:`, checked and compiled.
#[derive(Debug)]
pub struct Poll {
    /// True when done; reads the step's own name and `poll`.
    pub until: Tmpl,
    /// The template as written, for messages.
    pub until_text: String,
    pub interval: Duration,
    pub backoff: f64,
    pub max_interval: Duration,
    pub timeout: Option<Duration>,
    pub max_polls: u32,
}

/// `paginate:`, checked and compiled.
#[derive(Debug)]
pub struct Pager {
    pub next: NextPage,
    pub until: Option<Tmpl>,
    pub total_header: Option<String>,
    pub collect: Option<JsonPath>,
    pub max_pages: u32,
}

/// How the next page is found.
#[derive(Debug)]
pub enum NextPage {
    Link,
    Url(JsonPath),
    Cursor {
        path: JsonPath,
        param: String,
    },
    Counter {
        param: String,
        start: i64,
        step: i64,
    },
}

/// What the request body is made of.
#[derive(Debug)]
pub enum BodySpec {
    /// `body:` — a string is sent as text, anything else as JSON.
    Value(Tmpl),
    /// `form:` — urlencoded fields.
    Form(Vec<(String, Tmpl)>),
    /// `graphql:` — `{"query", "variables", "operationName"}` as JSON.
    GraphQl {
        query: String,
        variables: Option<Tmpl>,
        operation_name: Option<String>,
    },
    /// `multipart:` — `multipart/form-data`, its parts in order.
    Multipart(Vec<PartSpec>),
    /// `body_file:` — a file streamed as the body.
    File {
        /// Joined to the chain file's directory.
        path: std::path::PathBuf,
        content_type: Option<Tmpl>,
    },
}

/// One part of `multipart:` (a list written for a name makes one per element).
#[derive(Debug)]
pub struct PartSpec {
    pub name: String,
    pub source: PartSource,
    /// Default: a file's last path component; a field has none.
    pub filename: Option<Tmpl>,
    /// Default: guessed from a file's name; `application/json` for a
    /// `value:` that is not text; none for a field.
    pub content_type: Option<Tmpl>,
}

/// Where a part's bytes come from.
#[derive(Debug)]
pub enum PartSource {
    /// Written as text, a number or a boolean: rendered like a `form` field
    /// (null leaves the part out, a list repeats it, anything else is text).
    Field(Tmpl),
    /// `{value: …}`: null leaves the part out, text is sent as it is,
    /// anything else as JSON.
    Value(Tmpl),
    /// A file, joined to the chain file's directory; streamed when sent.
    File(std::path::PathBuf),
}

/// What a step's later readers read of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reads {
    /// The result, by the step's name (`GetUser.id`).
    pub result: bool,
    /// `steps.<name>` (`steps.GetUser.status`), or `steps` as a whole.
    pub meta: bool,
    /// The last step whose templates read either (the number of steps for
    /// `output`, which reads the last step's result when it has no
    /// template); 0 when none does. After it, only the history needs the
    /// result.
    pub last: usize,
}

/// Where an `extract` value comes from.
#[derive(Debug, Clone)]
pub enum Extractor {
    Path(JsonPath),
    Header(String),
    Status,
    Body,
}

/// The checks `expect:` asks for.
#[derive(Debug, Default)]
pub struct Expectations {
    /// Empty means the default: any 2xx.
    pub status: Vec<StatusPattern>,
    pub json: Vec<(JsonPath, Tmpl)>,
    pub headers: Vec<(String, HeaderCheck)>,
    /// `expect.assert`: a JSONPath, and its checks (a map of templates,
    /// read as [`crate::chain::expect::Checks`] once rendered).
    pub asserts: Vec<(JsonPath, Tmpl)>,
    pub duration: crate::chain::expect::DurationBounds,
    pub body_size: crate::chain::expect::Bounds<crate::chain::expect::ByteCount>,
    pub schema: Option<BodySchema>,
    pub body_contains: Vec<Tmpl>,
    /// `expect.that`: each condition as written, compiled.
    pub that: Vec<(String, Tmpl)>,
}

/// `expect.headers.NAME`: text the value contains, or checks on it.
#[derive(Debug)]
pub enum HeaderCheck {
    Contains(Tmpl),
    Checks(Tmpl),
}

/// `expect.schema`, compiled.
#[derive(Clone)]
pub struct BodySchema {
    /// Where it came from: the file, or `expect.schema` itself.
    pub source: String,
    pub validator: Arc<jsonschema::Validator>,
}

impl std::fmt::Debug for BodySchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodySchema")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl BodySchema {
    /// Compiles `schema` (any draft, 2020-12 when it names none; `$ref`s
    /// only inside it: nothing is fetched). The error says what is wrong.
    pub fn new(source: String, schema: &Value) -> Result<BodySchema, String> {
        let validator = jsonschema::options()
            .with_pattern_options(jsonschema::PatternOptions::regex().size_limit(1 << 20))
            .should_validate_formats(true)
            .build(schema)
            .map_err(|e| format!("not a usable JSON Schema: {e}"))?;
        Ok(BodySchema {
            source,
            validator: Arc::new(validator),
        })
    }
}
