//! pytopus runs API chains: JSON or YAML files describing a sequence of HTTP
//! calls whose inputs are templated from the results of the calls before them.
//!
//! The pipeline is the architecture, and each stage has its own module:
//!
//! ```text
//! chain file ─parse→ Chain (with spans) ─validate→ ValidChain   | diagnostics → exit 2
//! for each step:
//!   Context ─render→ HttpRequest ─auth→ Transport::send ⟲ retry → HttpResponse
//!   HttpResponse ─extract/expect→ StepOutcome → Context
//!   every stage emits Event → Observer (progress | plain log | JSON report)
//! RunReport → stdout result + exit code
//! ```
//!
//! - [`chain`]: the file format: model, parsing with source positions, validation.
//! - [`template`]: the minijinja environment, compiled templates ([`template::Tmpl`]) and their fast path.
//! - [`engine`]: runs a [`plan::ValidChain`]; never prints, only emits [`engine::Event`]s.
//! - [`transport`]: the network behind a trait: live (reqwest), recording, replaying.
//! - [`import`]: requests written for other tools as chain steps (`pytopus import curl`).
//! - [`connector`]: reusable API definitions (built-in and the user's), rate limits, OpenAPI import.
//! - [`auth`]: the `auth:` schemes, OAuth2 tokens, safe redirects for credentials.
//! - [`secret`]: the `Secret` type, the keyring and `PYTOPUS_SECRET_*`, redaction.
//! - [`jsonpath`]: RFC 9535 queries for `extract`, `expect` and `paginate`.
//! - [`report`]: observers that turn events into progress lines, logs and reports.
//! - [`files`]: the one way output files are written (whole, links followed, devices as they are, owner-only).
//! - [`diagnostic`]: the one place that renders `file:line:col` with the source line.
//! - [`session`]: one run session: what the runs of a driver share, and the one function that runs a chain for a driver.
//! - [`serve`]: `pytopus serve`: webhooks, the HTTP API and schedules, running chains through the engine.
//! - [`cli`]: the command line, a thin layer over the above.

pub mod arazzo;
pub mod auth;
pub mod chain;
pub mod cli;
pub mod compile;
pub mod connector;
pub mod diagnostic;
pub mod engine;
pub mod export;
pub mod files;
pub mod history;
pub mod import;
pub mod jsonpath;
pub mod mcp;
pub mod plan;
pub mod report;
pub mod resolve;
pub mod secret;
pub mod serve;
pub mod session;
pub mod template;
pub mod transport;
