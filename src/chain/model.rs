//! The chain file as plain data, exactly as written: serde reads it, schemars
//! describes it for editors. Nothing here is checked beyond its shape; that is
//! `validate.rs`'s job.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use super::expect::{Expect, StatusPattern, StatusSpec, status_class};
pub use super::schema::json_schema;
pub use super::values::{
    DurationSpec, OneOrMany, Scalar, SizeSpec, is_identifier, parse_duration, parse_size,
};

/// A chain file (SPEC §1).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "pytopus chain file")]
pub struct Chain {
    /// Human name of the chain, shown in progress and reports.
    #[serde(default)]
    pub name: Option<String>,
    /// Free-form identifier (number or string), kept in reports.
    #[serde(default)]
    pub id: Option<Value>,
    /// What the chain does.
    #[serde(default)]
    pub description: Option<String>,
    /// The date (UTC, `YYYY-MM-DD`) the chain's content last changed, as
    /// stamped by `pytopus fmt`.
    #[serde(default)]
    pub last_modified: Option<String>,
    /// Written by `pytopus fmt`: a digest of the content, so the next `fmt`
    /// knows whether it changed. Not for editing by hand.
    #[serde(default)]
    pub content_digest: Option<String>,
    /// Variables available to every template; overridden by `--vars-file`, then `--var`.
    #[serde(default)]
    pub vars: IndexMap<String, Value>,
    /// What a caller gives the chain, checked before anything is sent: each
    /// name with a JSON Schema subset (`type`, `enum`, `minimum`, `pattern`,
    /// `items`…), `description`, `default` and `required`. Templates read
    /// them like `vars`.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, serde_json::Map<String, Value>>")]
    pub inputs: IndexMap<String, Value>,
    /// What the chain's `output` holds, by key, each with a JSON Schema
    /// subset and a `description`: a chain is then a function with a
    /// declared result.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, serde_json::Map<String, Value>>")]
    pub outputs: IndexMap<String, Value>,
    /// Settings applied to every step unless the step sets its own.
    #[serde(default)]
    pub defaults: Defaults,
    /// Reusable API definitions (not supported yet; see docs/reference.md).
    #[serde(default)]
    pub connectors: Option<Value>,
    /// `sequential` (default): one step after another. `auto`: steps that do
    /// not depend on each other (by reference, through extracted variables or
    /// `needs:`) run at the same time.
    #[serde(default)]
    pub parallel: Option<Parallel>,
    /// The HTTP calls, run in order. `api_chain` is accepted as an alias.
    #[serde(alias = "api_chain", deserialize_with = "all_steps")]
    pub steps: Vec<Step>,
    /// Teardown: steps that always run after `steps`, even when a step
    /// failed or the run was interrupted (Ctrl-C), e.g. to delete what the
    /// run created. They may read every step of `steps`; one that reads a
    /// step that did not pass is skipped. Their failure fails the run.
    #[serde(default)]
    pub finally: Vec<Step>,
    /// What the run prints on stdout: any JSON value whose strings are templates.
    /// Without it, the last step's result is printed.
    #[serde(default)]
    pub output: Option<Value>,
    /// How `pytopus serve` accepts webhooks for this chain (`POST
    /// /hooks/<name>`): the signature to check and the limits. Templates of a
    /// chain with `trigger:` or `schedule:` may read `trigger`.
    #[serde(default)]
    pub trigger: Option<Trigger>,
    /// Run the chain on this cron schedule while `pytopus serve` runs:
    /// `"*/15 * * * *"` (minute hour day-of-month month day-of-week; an
    /// optional sixth field first is seconds).
    #[serde(default)]
    pub schedule: Option<String>,
    /// The IANA time zone `schedule` is read in (`Europe/Paris`). Default UTC.
    #[serde(default)]
    pub timezone: Option<String>,
    /// What `serve` does when a scheduled run is due while the previous one is
    /// still running: `skip` (default), `queue` (run it after) or `allow`.
    #[serde(default)]
    pub overlap: Option<Overlap>,
    /// Where a run's failure is told when `pytopus serve` (schedules,
    /// webhooks, API runs) or `pytopus run --every` runs the chain: once
    /// when it starts failing, and (with `on: [failure, recovery]`) once
    /// when it passes again. A single `pytopus run` tells no one.
    #[serde(default)]
    pub notify: Option<NotifySpec>,
}

/// `notify:` — one receiver of failure notifications.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifySpec {
    /// POST the summary as JSON to this URL (a template: it may read
    /// `secret('NAME')`).
    #[serde(default)]
    pub url: Option<String>,
    /// A Slack incoming webhook URL (usually `"{{ secret('slack_hook') }}"`):
    /// the summary line is posted as `{"text": …}`.
    #[serde(default)]
    pub slack: Option<String>,
    /// Run this chain file (relative to this one) with the summary's
    /// fields as its variables (`chain`, `run_id`, `status`, `failed_step`,
    /// `error`, `summary`…).
    #[serde(default)]
    pub chain: Option<String>,
    /// When to tell: `failure` (default: when a run fails after a run that
    /// did not) and `recovery` (when a run passes after failing ones).
    #[serde(default)]
    pub on: Option<Vec<NotifyOn>>,
    /// How long a notification may take. Default 10s.
    #[serde(default)]
    pub timeout: Option<DurationSpec>,
}

/// `notify.on:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotifyOn {
    Failure,
    Recovery,
}

/// `trigger:` — webhook settings used by `pytopus serve`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// The shared secret the sender signs with (a template:
    /// `"{{ secret('gh_hook') }}"`). Requests whose signature does not verify get 401.
    #[serde(default)]
    pub secret: Option<String>,
    /// How requests are signed: `github` (X-Hub-Signature-256), `stripe`
    /// (Stripe-Signature), `slack` (X-Slack-Signature) or `hmac-sha256`
    /// (hex HMAC-SHA256 of the body in the header named by `header`).
    #[serde(default)]
    pub signature: Option<SignatureScheme>,
    /// The header holding the signature, for `signature: hmac-sha256`.
    #[serde(default)]
    pub header: Option<String>,
    /// How old a signed timestamp may be (`stripe`, `slack`). Default 5m.
    #[serde(default)]
    pub tolerance: Option<DurationSpec>,
    /// At most this many runs of the chain at once; more get 429. Default 4.
    #[serde(default)]
    pub max_concurrent: Option<u32>,
    /// How long a webhook or API request waits for the run. Default 5m.
    #[serde(default)]
    pub timeout: Option<DurationSpec>,
    /// Variables a caller of `serve` may set although they decide where a
    /// request goes (a URL's scheme, host or port) or where `save_to`
    /// writes. Without this, such variables keep the chain's values.
    #[serde(default)]
    pub origin_vars: Vec<String>,
}

/// `trigger.signature:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureScheme {
    Github,
    Stripe,
    Slack,
    HmacSha256,
}

impl SignatureScheme {
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureScheme::Github => "github",
            SignatureScheme::Stripe => "stripe",
            SignatureScheme::Slack => "slack",
            SignatureScheme::HmacSha256 => "hmac-sha256",
        }
    }
}

/// `overlap:`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// A run that is due while one is running is skipped.
    #[default]
    Skip,
    /// It runs when the one before it is done (at most one waits).
    Queue,
    /// It runs at once, beside the other.
    Allow,
}

/// `parallel:` at chain level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Parallel {
    /// One step after another, in file order.
    Sequential,
    /// Steps start as soon as the steps they depend on are done.
    Auto,
}

/// Chain-wide settings (`defaults:`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Headers sent by every step (a step's own headers win, by case-insensitive name).
    #[serde(default)]
    pub headers: IndexMap<String, Scalar>,
    /// Query parameters added to every step's URL (a step's own win).
    #[serde(default, alias = "query")]
    pub query_params: IndexMap<String, Value>,
    /// Per-attempt timeout for every step (default 30s).
    #[serde(default)]
    pub timeout: Option<DurationSpec>,
    /// The most response body a step keeps in memory (default 256MiB).
    #[serde(default)]
    pub max_response_size: Option<SizeSpec>,
    /// Retry policy for every step; see `Retry`.
    #[serde(default)]
    pub retry: Option<Retry>,
    /// Authentication for every step; see `Auth`.
    #[serde(default)]
    pub auth: Option<Auth>,
    /// TLS client certificate and trust for every step; see `Tls`.
    #[serde(default)]
    pub tls: Option<Tls>,
}

/// A chain's steps are read into one list, so the size of a step is paid
/// once per step in fresh memory (bench/README.md, session 10). Parts most
/// steps leave out are boxed.
const _: () = assert!(std::mem::size_of::<Step>() <= 512);

/// One HTTP call (SPEC §1, §3).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Unique name, `[A-Za-z_][A-Za-z0-9_]*`; later templates use it to read this step's result.
    pub name: String,
    /// HTTP method; default GET.
    #[serde(default)]
    pub method: Option<String>,
    /// The URL (a template).
    #[serde(default)]
    pub url: Option<String>,
    /// Query parameters appended to the URL; a list value repeats the parameter.
    #[serde(default, alias = "query")]
    pub query_params: Option<Box<IndexMap<String, Value>>>,
    /// Request headers (templates; numbers and booleans are sent as written).
    #[serde(default)]
    pub headers: Option<Box<IndexMap<String, Scalar>>>,
    /// Request body: a string is sent as text, anything else as JSON.
    #[serde(default)]
    pub body: Option<Box<Value>>,
    /// URL-encoded form body (`application/x-www-form-urlencoded`).
    #[serde(default)]
    pub form: Option<Box<IndexMap<String, Value>>>,
    /// `multipart/form-data` body: part name → `"text"` (a template),
    /// `"@path"` (a file, relative to the chain file, streamed), `{file: path,
    /// filename, content_type}`, `{value, filename, content_type}`, or a list
    /// of those (the part repeated). `"@@…"` is text starting with `@`.
    #[serde(default)]
    #[schemars(with = "Option<IndexMap<String, super::parts::PartSchema>>")]
    pub multipart: Option<Box<IndexMap<String, Value>>>,
    /// A file sent as the body, streamed from disk: a path relative to the
    /// chain file, or `{path, content_type}`.
    #[serde(default)]
    #[schemars(with = "Option<super::parts::BodyFileSchema>")]
    pub body_file: Option<Box<Value>>,
    /// Authentication; overrides `defaults.auth` (`{type: none}` turns it off).
    #[serde(default)]
    pub auth: Option<Box<Auth>>,
    /// TLS client certificate and trust; fields not given come from `defaults.tls`.
    #[serde(default)]
    pub tls: Option<Box<Tls>>,
    /// Per-attempt timeout: "30s", "250ms" or a number of seconds.
    #[serde(default)]
    pub timeout: Option<DurationSpec>,
    /// The most response body kept in memory: "256MiB" (the default), "10MiB",
    /// or a number of bytes. Larger fails the step; `save_to` is not limited.
    #[serde(default)]
    pub max_response_size: Option<SizeSpec>,
    /// Retry policy; fields not given come from `defaults.retry`, then the built-in policy.
    #[serde(default)]
    pub retry: Option<Box<Retry>>,
    /// Variables bound from the response: `name: "$.json.path"`, `"header:Name"`, `"status"` or `"body"`.
    #[serde(default)]
    pub extract: Option<Box<IndexMap<String, String>>>,
    /// What the response must look like for the step to succeed.
    #[serde(default)]
    pub expect: Option<Box<Expect>>,
    /// Run another chain file as this step (relative to this file); the
    /// step's result is that chain's `output`.
    #[serde(default)]
    pub chain: Option<String>,
    /// Variables for the sub-chain (templates).
    #[serde(default)]
    pub with: Option<Box<IndexMap<String, Value>>>,
    /// Follow redirects (default true); `false` makes the 3xx itself the response.
    #[serde(default)]
    pub follow_redirects: Option<bool>,
    /// Write the response body to this file instead of memory (a template).
    #[serde(default)]
    pub save_to: Option<String>,
    /// Earlier steps this one must wait for under `parallel: auto`, beyond
    /// the ones its templates read (a login whose cookie it needs, say).
    #[serde(default)]
    pub needs: Vec<String>,
    /// Run the step only when this is true (a template: `"{{ user.active }}"`).
    /// A skipped step's result is null and `steps.<name>.skipped` is true.
    #[serde(default)]
    pub when: Option<Box<Value>>,
    /// Run the step once per element of this list (a template such as
    /// `"{{ GetUsers }}"`, or a list written out); a map gives its entries as
    /// `{key, value}`. Templates see `item` and `index`.
    #[serde(default)]
    pub for_each: Option<Box<Value>>,
    /// At most this many `for_each` requests at once. Default 1.
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// Follow the next page until done; the result is every page's items.
    #[serde(default)]
    pub paginate: Option<Box<Paginate>>,
    /// Send the request again until `until` holds over the response (a job
    /// that finishes later): interval, backoff and a deadline.
    #[serde(default)]
    pub poll: Option<Box<Poll>>,
    /// `continue`: a failure of this step does not stop the chain (its error is
    /// in `steps.<name>.error`); `fail` (default) stops it.
    #[serde(default)]
    pub on_error: Option<OnError>,
    /// After the step passed: the first action whose `when` holds
    /// (`goto: Step`, `end: true`); none holding, the next step runs.
    #[serde(default)]
    pub on_success: Option<Box<Vec<FlowAction>>>,
    /// After the step failed: the first action whose `when` holds
    /// (`retry: {limit, after}`, `goto: Step`, `end: true`); none holding,
    /// the failure stops the chain as usual.
    #[serde(default)]
    pub on_failure: Option<Box<Vec<FlowAction>>>,
    /// A GraphQL request, POSTed as JSON to `url`; the result is `data`.
    #[serde(default)]
    pub graphql: Option<Box<GraphQl>>,
    /// Connector name (not supported yet).
    #[serde(default)]
    pub connector: Option<Box<Value>>,
    /// Connector endpoint (not supported yet).
    #[serde(default)]
    pub endpoint: Option<Box<Value>>,
    /// Connector endpoint parameters (not supported yet).
    #[serde(default)]
    pub params: Option<Box<Value>>,
}

/// `tls:` — client certificates (mTLS) and trust for private CAs. Paths are
/// relative to the chain file.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// PEM file with the client certificate (and its chain); may also hold the key.
    #[serde(default, alias = "cert_path")]
    pub client_cert: Option<String>,
    /// PEM file with the client's private key, when not in `client_cert`.
    #[serde(default, alias = "key_path")]
    pub client_key: Option<String>,
    /// PEM file with CA certificates to trust in addition to the system's.
    #[serde(default, alias = "ca_bundle_path")]
    pub ca_cert: Option<String>,
    /// `false` accepts any server certificate (a warning is printed every run). Default true.
    #[serde(default)]
    pub verify: Option<bool>,
    /// The password of a PKCS#12 (`.p12`/`.pfx`) `client_cert`: a template,
    /// usually `"{{ secret('name') }}"`.
    #[serde(default)]
    pub password: Option<String>,
}

/// `auth:` — how a step proves who it is. Every text field is a template, so
/// `token: "{{ secret('github') }}"` reads the keyring.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Auth {
    /// No authentication (turns `defaults.auth` off for a step).
    None,
    /// HTTP Basic (`Authorization: Basic base64(username:password)`).
    Basic { username: String, password: String },
    /// `Authorization: Bearer <token>`.
    Bearer { token: String },
    /// A key in a header, query parameter or cookie.
    ApiKey {
        /// `header` (default), `query` or `cookie`.
        #[serde(default, rename = "in", alias = "location")]
        location: Option<ApiKeyIn>,
        /// Header, parameter or cookie name.
        #[serde(alias = "param_name")]
        name: String,
        key: String,
    },
    /// Any headers, e.g. two-part credentials.
    Headers { headers: IndexMap<String, String> },
    /// A JWT: given (`token`), or signed here from `claims`.
    Jwt {
        #[serde(default)]
        token: Option<String>,
        /// HS256, RS256 or ES256.
        #[serde(default)]
        algorithm: Option<String>,
        /// The HMAC secret (HS256).
        #[serde(default)]
        secret: Option<String>,
        /// PEM private key (RS256, ES256): the key itself, or a path to it.
        #[serde(default)]
        private_key: Option<String>,
        #[serde(default)]
        claims: IndexMap<String, Value>,
        /// Lifetime: `exp` = now + this. Default 5m.
        #[serde(default)]
        expires_in: Option<DurationSpec>,
        /// Header to send it in (default `Authorization`, as `Bearer <jwt>`).
        #[serde(default)]
        header: Option<String>,
    },
    /// OAuth2: tokens fetched, cached until expiry, refreshed.
    Oauth2 {
        #[serde(alias = "grant_type")]
        grant: OAuthGrant,
        token_url: String,
        client_id: String,
        #[serde(default)]
        client_secret: Option<String>,
        #[serde(default)]
        scope: Option<String>,
        #[serde(default)]
        audience: Option<String>,
        /// How the client authenticates to the token endpoint: `basic` (default) or `body`.
        #[serde(default)]
        client_auth: Option<ClientAuth>,
        /// `refresh_token` grant: the refresh token.
        #[serde(default)]
        refresh_token: Option<String>,
        /// `password` grant.
        #[serde(default)]
        username: Option<String>,
        #[serde(default)]
        password: Option<String>,
        /// `authorization_code` grant (`pytopus auth login`): where to send the user.
        #[serde(default)]
        authorize_url: Option<String>,
        /// `device_code` grant: the device authorization endpoint.
        #[serde(default)]
        device_url: Option<String>,
    },
    /// AWS Signature Version 4: every request signed (headers, query and
    /// body) with the secret key, again at each retry and redirect.
    AwsSigv4 {
        /// Default: `AWS_ACCESS_KEY_ID` (with `AWS_SECRET_ACCESS_KEY` and
        /// `AWS_SESSION_TOKEN`) when both keys are left out.
        #[serde(default)]
        access_key_id: Option<String>,
        #[serde(default)]
        secret_access_key: Option<String>,
        /// Temporary credentials' token, sent as `x-amz-security-token`.
        #[serde(default)]
        session_token: Option<String>,
        /// Default: `AWS_REGION`, else `AWS_DEFAULT_REGION`.
        #[serde(default)]
        region: Option<String>,
        /// The service's signing name: `s3`, `execute-api`, `sts`, `es`, `lambda`…
        service: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyIn {
    Header,
    Query,
    Cookie,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OAuthGrant {
    ClientCredentials,
    RefreshToken,
    AuthorizationCode,
    DeviceCode,
    Password,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    Basic,
    Body,
}

/// `poll:` — the request again until a condition holds over the response.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Poll {
    /// A template over the latest response, true when done: it sees the
    /// step's own name (the decoded body) and `poll` (`count`, `status`,
    /// `headers`, `elapsed_ms`). E.g. `"{{ Job.state == 'done' }}"`.
    pub until: Value,
    /// Wait between polls. Default 1s.
    #[serde(default)]
    pub interval: Option<DurationSpec>,
    /// Each wait is the one before times this (1 = fixed). Default 1.
    #[serde(default)]
    pub backoff: Option<f64>,
    /// The longest wait, `Retry-After` included. Default 60s.
    #[serde(default)]
    pub max_interval: Option<DurationSpec>,
    /// Give up when this much time has passed since the first request.
    #[serde(default)]
    pub timeout: Option<DurationSpec>,
    /// Give up after this many requests. Default 60 without `timeout`.
    #[serde(default)]
    pub max_polls: Option<u32>,
}

/// `paginate:` — how to find the next page (one of `link`, `next_url`,
/// `cursor`, `page_param`), what to keep of each page, and when to stop.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Paginate {
    /// Follow the `Link: <…>; rel="next"` header (RFC 8288).
    #[serde(default)]
    pub link: Option<bool>,
    /// JSONPath to the next page's URL in the body (absolute or relative).
    #[serde(default)]
    pub next_url: Option<String>,
    /// JSONPath to the next cursor in the body, sent as `cursor_param`.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Query parameter that carries the cursor. Default `cursor`.
    #[serde(default)]
    pub cursor_param: Option<String>,
    /// Query parameter of a page counter (or offset), e.g. `page` or `_page`.
    #[serde(default)]
    pub page_param: Option<String>,
    /// The counter's first value. Default 1.
    #[serde(default)]
    pub start: Option<i64>,
    /// How much the counter grows per page (e.g. the page size, for offsets). Default 1.
    #[serde(default)]
    pub step: Option<i64>,
    /// Stop when this renders true; it sees `page` (the last page's body) and `pages` (pages so far).
    #[serde(default)]
    pub until: Option<Value>,
    /// Stop when the items collected reach this header's number (e.g. `X-Total-Count`).
    #[serde(default)]
    pub total_header: Option<String>,
    /// JSONPath of the items on each page (default: the page itself when it is a list).
    #[serde(default)]
    pub collect: Option<String>,
    /// Stop with an error after this many pages. Default 100.
    #[serde(default)]
    pub max_pages: Option<u32>,
}

/// `on_error:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    Fail,
    Continue,
}

/// One entry of `on_success:` or `on_failure:`: exactly one of `goto`,
/// `end` and `retry`, and when it applies.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowAction {
    /// Go on at this step (earlier or later) instead of the next one.
    #[serde(default)]
    pub goto: Option<String>,
    /// `true`: no more steps run (`finally` steps still do).
    #[serde(default)]
    pub end: Option<bool>,
    /// `on_failure` only: run the step again, at most `limit` times
    /// (default 1), `after` this long (default: the response's
    /// `Retry-After`, else at once).
    #[serde(default)]
    pub retry: Option<FlowRetry>,
    /// A template over the step's response (`response.status`,
    /// `response.headers`, `response.body`) and everything before it; the
    /// action applies when it is true. Default: always.
    #[serde(default)]
    pub when: Option<Value>,
}

/// `retry:` of an `on_failure` action.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowRetry {
    /// How many more times the step may run. Default 1.
    #[serde(default)]
    pub limit: Option<u32>,
    /// How long to wait first. Default: the `Retry-After` header, else none.
    #[serde(default)]
    pub after: Option<DurationSpec>,
}

/// `graphql:` — the query inline or from a file, with variables.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GraphQl {
    /// The query or mutation text.
    #[serde(default)]
    pub query: Option<String>,
    /// A file holding the query, relative to the chain file.
    #[serde(default)]
    pub query_file: Option<String>,
    /// Variables (templates; `"{{ x }}"` keeps its type).
    #[serde(default)]
    pub variables: Option<Value>,
    #[serde(default, alias = "operationName")]
    pub operation_name: Option<String>,
}

/// `retry:` — every field optional.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Total attempts including the first (1 = no retry). Default 3.
    #[serde(default)]
    pub attempts: Option<u32>,
    /// Delay before the first retry. Default 200ms.
    #[serde(default)]
    pub backoff: Option<DurationSpec>,
    /// Upper bound for any one delay, `Retry-After` included. Default 30s.
    #[serde(default)]
    pub max_backoff: Option<DurationSpec>,
    /// Multiplier between consecutive delays. Default 2.
    #[serde(default)]
    pub factor: Option<f64>,
    /// Randomise each delay between 50% and 100% of its value. Default true.
    #[serde(default)]
    pub jitter: Option<bool>,
    /// What is retried: status codes (`503`), classes (`"5xx"`), `"connect"`, `"timeout"`.
    /// Default: connect, timeout, 429, 502, 503, 504.
    #[serde(default)]
    pub on: Option<Vec<RetryOn>>,
    /// Methods that may be retried. Default GET, HEAD, OPTIONS, PUT, DELETE, TRACE;
    /// a `retry:` written on a POST or PATCH step opts that step in.
    #[serde(default)]
    pub methods: Option<Vec<String>>,
}

/// One retry condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RetryOn {
    Status(u16),
    /// A status class: 5 for "5xx".
    Class(u16),
    Connect,
    Timeout,
}

impl JsonSchema for RetryOn {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RetryOn".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A status code, a class such as \"5xx\", \"connect\" or \"timeout\".",
            "anyOf": [
                {"type": "integer", "minimum": 100, "maximum": 599},
                {"type": "string", "pattern": "^([1-5]xx|connect|timeout)$"}
            ]
        })
    }
}

impl<'de> Deserialize<'de> for RetryOn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RetryOn;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a status code (503), a class (\"5xx\"), \"connect\" or \"timeout\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RetryOn, E> {
                match u16::try_from(v) {
                    Ok(code @ 100..=599) => Ok(RetryOn::Status(code)),
                    _ => Err(E::custom(format!("{v} is not an HTTP status code"))),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RetryOn, E> {
                self.visit_u64(u64::try_from(v).map_err(|_| E::custom("negative status"))?)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RetryOn, E> {
                match v {
                    "connect" | "network" => Ok(RetryOn::Connect),
                    "timeout" => Ok(RetryOn::Timeout),
                    _ => {
                        if let Some(class) = status_class(v) {
                            Ok(RetryOn::Class(class))
                        } else if let Ok(n) = v.parse::<u64>() {
                            self.visit_u64(n)
                        } else {
                            Err(E::invalid_value(de::Unexpected::Str(v), &self))
                        }
                    }
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// The steps, in a list sized once: serde's own list reader trusts a length
/// only up to 1 MiB of elements and then grows by doubling, copying every
/// step read so far each time. The documents chains are read from are in
/// memory, so their lengths are exact.
fn all_steps<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Step>, D::Error> {
    struct Steps;
    impl<'de> serde::de::Visitor<'de> for Steps {
        type Value = Vec<Step>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a sequence")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Vec<Step>, A::Error> {
            let mut steps = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(100_000));
            while let Some(step) = seq.next_element()? {
                steps.push(step);
            }
            Ok(steps)
        }
    }
    d.deserialize_seq(Steps)
}
