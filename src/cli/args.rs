//! The command line, as clap definitions only: raw flags, no behaviour.
//!
//! Conventions:
//! - every flag has a one-line help that says what it does, then details in `long_help`;
//! - flags that take a file name use `F`, durations use `DURATION`;
//! - exit codes: 0 success, 1 a step failed, 2 bad usage or invalid chain, 130 interrupted.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::engine::ArgValueCompleter;

#[derive(Debug, Parser)]
#[command(
    name = "pytopus",
    version,
    about = "Run API chains: sequences of HTTP calls where each step is templated from the ones before it",
    long_about = None,
    after_help = "Exit status: 0 success, 1 a step failed, 2 bad usage or invalid chain file, 130 interrupted.\nDocs: `man pytopus` (or `pytopus man | man -l -`); every key and flag: docs/reference.md in the source"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a chain file and print its result on stdout
    Run(Box<RunArgs>),
    /// Check chain files without sending anything
    Validate(ValidateArgs),
    /// Rewrite chain files in canonical form and stamp `last_modified` when their content changed
    Fmt(FmtArgs),
    /// List recent runs, or show one (`history show ID`)
    History(HistoryArgs),
    /// Reusable API definitions: list, show, test, create and import connectors
    #[command(subcommand)]
    Connectors(ConnectorsCommand),
    /// Serve chains over HTTP: webhooks, an API for scripts and agents, and schedules
    Serve(ServeArgs),
    /// Offer chains to AI agents as Model Context Protocol tools, on stdio
    Mcp(McpArgs),
    /// Turn a request written for another tool into a chain (`import curl 'curl …'`)
    #[command(subcommand)]
    Import(ImportCommand),
    /// Write a chain for another tool (`export arazzo chain.yaml --out DIR`)
    #[command(subcommand)]
    Export(ExportCommand),
    /// Print the JSON Schema of chain files (for editors and the YAML language server)
    Schema,
    /// Print a chain's declared inputs and outputs (what a caller gives it and gets back)
    Inputs(InputsArgs),
    /// Manage the secrets kept in the OS keyring (chains read them with `secret("NAME")`)
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Print a shell completion script (it asks pytopus, so step and connector names complete too)
    #[command(
        long_about = "Print the script that registers pytopus's completions with a shell: bash, zsh, fish, elvish or powershell.\nThe script asks the pytopus on your PATH for candidates as you type (PYTOPUS_COMPLETE=SHELL pytopus -- …), so subcommands, flags, files, the steps of the chain file on the line (--step, --from, --until) and the connectors pytopus can find (connectors show/test) complete.\nbash: `pytopus completions bash > ~/.local/share/bash-completion/completions/pytopus`; zsh: put `_pytopus` in a directory of $fpath; fish: `pytopus completions fish > ~/.config/fish/completions/pytopus.fish`. Or evaluate it at start-up: `source <(pytopus completions bash)`."
    )]
    Completions {
        /// The shell to generate completions for
        shell: clap_complete::Shell,
    },
    /// Print a manual page (roff): `pytopus man run | man -l -`; the pages are also in the source's man/
    Man {
        /// The command whose page to print (`run`, `auth login`); none for pytopus(1)
        command: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Turn a curl command (as "Copy as cURL" in a browser writes it, bash or Windows cmd) into a chain, printed as YAML
    #[command(
        long_about = "Turn a curl command into a chain with one step, printed as YAML on stdout.\nThe command is one argument ('curl …', quoted as browsers' \"Copy as cURL\" writes it for bash or for Windows cmd), the words of the command as separate arguments, or `-` (or nothing) to read it from standard input.\nJSON bodies become YAML maps under `body:`, URL-encoded forms `form:`, -F forms `multipart:` (files by their paths, relative to the saved chain); credentials (-u, Authorization and other credential headers, session cookies, password fields) become `auth:` or `{{ secret('NAME') }}` and a note on stderr says which secrets to store with `pytopus auth set NAME`. Their values are never printed.\nOptions that change nothing about the request (-s, -i, -L, --compressed, --http2…) are dropped; an option import does not know is an error naming it (exit 2)."
    )]
    Curl(ImportCurlArgs),
    /// Turn a browser's capture (a .har file) into a chain, linking values responses gave to the requests that send them back
    #[command(
        long_about = "Turn a browser's capture (HAR, as Chrome, Firefox or Safari save it: \"Save all as HAR\") into a chain, one step per request, printed as YAML on stdout.\nLeft out, and counted on stderr: static assets (scripts, styles, images, fonts, media), CORS preflights, requests a redirect made (pytopus follows redirects), and what --host and --method exclude.\nThe data flow is found: a value an earlier response's JSON gave (a token, an id, a next-page URL) that a later request sends back is read from that step (`{{ Login.token }}`), and stderr says each link. Cookies an earlier response set are left to the run's cookie jar; the most used origin becomes the variable `base_url`.\nCredentials the capture holds become `{{ secret('NAME') }}` with a note on which to store (`pytopus auth set NAME`); their values are never printed."
    )]
    Har(ImportHarArgs),
    /// Turn a Postman collection (v2.0 or v2.1), with an environment, into a chain, printed as YAML
    #[command(
        long_about = "Turn a Postman collection (format v2.0 or v2.1) into a chain, printed as YAML on stdout; `-` reads it from standard input.\nEvery request becomes a step in the collection's order, its folders in a comment above it. Postman's {{variables}} (collection, then --environment over them) become `vars`, inputs, or secrets; variables a test script sets from the response become the step's `extract`. Auth (basic, bearer, API key, OAuth2 client credentials and password), credential headers and fields become `auth:` or `{{ secret('NAME') }}`, and a note on stderr says which secrets to store with `pytopus auth set NAME`; values are never printed.\nCommon test-script lines (pm.response.to.have.status, pm.expect(…).to.eql/include…, pm.environment.set from the response) become `expect` and `extract`; every other script line is listed on stderr (`note: REQUEST: line N: … — not translated`) and kept as a comment above its step. A file that is not a Postman collection v2.0 or v2.1 is an error (exit 2)."
    )]
    Postman(ImportPostmanArgs),
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Write a chain whose steps call connector endpoints as an Arazzo 1.0 workflow, with an OpenAPI description of each connector
    #[command(
        long_about = "Write the chain as an Arazzo 1.0 document (DIR/NAME.arazzo.yaml, one workflow) and an OpenAPI 3.0 description of each connector its steps call (DIR/CONNECTOR.openapi.json), for Arazzo tools such as Redocly Respect.\nEach step becomes an Arazzo step calling its endpoint's operation; `params` become parameters (path, query) or the request body; `vars` and `inputs` the workflow's inputs, `secret('NAME')` an input with `format: password`; templates that name a variable, an input or a value of an earlier step become runtime expressions (the step gets an output for it); `extract` becomes the step's outputs; `expect.status` and `expect.json` equalities become success criteria; bearer, basic and api_key auth become Redocly's `x-security`; a map `output` becomes the workflow's outputs.\nWhat Arazzo cannot say (filters and operators in templates, `for_each`, `poll`, `paginate`, sub-chains, other checks, steps that call a URL rather than a connector's endpoint…) is an error at its place in the chain (exit 2), and nothing is written. Files that exist are not overwritten."
    )]
    Arazzo(ExportArazzoArgs),
}

#[derive(Debug, Args)]
pub struct ExportArazzoArgs {
    /// The chain file
    #[arg(value_name = "CHAIN")]
    pub chain: String,
    /// The directory to write the Arazzo document and the OpenAPI descriptions in (made if missing)
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct ImportHarArgs {
    /// The .har file, or `-` for standard input
    #[arg(value_name = "FILE")]
    pub file: String,
    /// Keep only requests to this host or its subdomains (repeatable)
    #[arg(long, value_name = "HOST")]
    pub host: Vec<String>,
    /// Keep only requests with this method (repeatable)
    #[arg(long, value_name = "METHOD")]
    pub method: Vec<String>,
    /// Keep scripts, styles, images, fonts and media too
    #[arg(long)]
    pub include_static: bool,
}

#[derive(Debug, Args)]
pub struct ImportPostmanArgs {
    /// The collection file (exported from Postman as Collection v2.1 or v2.0), or `-` for standard input
    #[arg(value_name = "COLLECTION")]
    pub collection: std::path::PathBuf,
    /// A Postman environment file whose variables override the collection's
    #[arg(long, short = 'e', value_name = "ENV")]
    pub environment: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportCurlArgs {
    /// The curl command as one argument, its words as arguments, or `-` for standard input (after the options)
    #[arg(value_name = "COMMAND", trailing_var_arg = true)]
    pub command: Vec<String>,
    /// The step's name (default: from the method and the URL's path, e.g. `PostUsers`)
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The shell the command was copied for (default: guessed; `^` line ends and `^"` say cmd)
    #[arg(long, value_enum, value_name = "SHELL")]
    pub shell: Option<CopiedFor>,
}

/// `import curl --shell`: bash (also Safari's and macOS's) or Windows cmd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CopiedFor {
    Bash,
    Cmd,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(subcommand)]
    pub command: Option<HistoryCommand>,
    /// How many runs to list
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct InputsArgs {
    /// The chain file (JSON or YAML)
    #[arg(value_name = "CHAIN")]
    pub chain: String,
    /// `text` (a table) or `json-schema` (one JSON Schema of the inputs, and one of the outputs, for tools)
    #[arg(long, value_enum, default_value = "text")]
    pub format: InputsFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum InputsFormat {
    Text,
    JsonSchema,
}

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Print one run's report (JSON, as `--report` writes it)
    Show {
        /// The run's id, as `pytopus history` lists it, or `latest` (`last`) for the newest run
        #[arg(value_parser = parse_run_id)]
        id: RunId,
    },
}

/// Which run `history show` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunId {
    Id(i64),
    Latest,
}

fn parse_run_id(text: &str) -> Result<RunId, String> {
    match text {
        "latest" | "last" => Ok(RunId::Latest),
        _ => text
            .parse()
            .map(RunId::Id)
            .map_err(|_| format!("`{text}` is not a run id: a number, or `latest`")),
    }
}

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Chain files to format (JSON stays JSON, YAML stays YAML)
    #[arg(value_name = "CHAIN", required = true)]
    pub chains: Vec<PathBuf>,
    /// Change nothing; exit 1 if a file would be rewritten (for CI)
    #[arg(long)]
    pub check: bool,
}

/// `pytopus connectors …` (SPEC §4, docs/connectors.md).
#[derive(Debug, Subcommand)]
pub enum ConnectorsCommand {
    /// List the connectors pytopus can find: ./connectors, your config directory, the built-ins
    List,
    /// Show a connector: base URL, auth, rate limit, and each endpoint with its parameters
    Show {
        /// The connector's name
        #[arg(value_name = "NAME", add = ArgValueCompleter::new(super::complete::connector_names))]
        name: String,
    },
    /// Send the connector's `test` request: does auth work, what do the rate-limit headers say
    Test {
        /// The connector's name
        #[arg(value_name = "NAME", add = ArgValueCompleter::new(super::complete::connector_names))]
        name: String,
    },
    /// Write a new connector file, asking for what is not given as a flag
    New(NewConnectorArgs),
    /// Turn an OpenAPI 3.x document (YAML or JSON) into a connector file
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct NewConnectorArgs {
    /// Connector name: lowercase letters, digits, `_` and `-`, starting with a letter
    #[arg(long)]
    pub name: Option<String>,
    /// The API's base URL, e.g. https://api.example.com/v1
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// How requests authenticate
    #[arg(long, value_enum)]
    pub auth: Option<NewAuth>,
    /// Where to write it (default: connectors/NAME.yaml)
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace the file if it exists
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NewAuth {
    /// No authentication
    None,
    /// `Authorization: Bearer <token>`, the token from the secret NAME_token
    Bearer,
    /// HTTP Basic, from the secrets NAME_username and NAME_password
    Basic,
    /// A key in a header (`X-API-Key`), from the secret NAME_key
    ApiKey,
    /// OAuth2 client credentials, from the secrets NAME_client_id and NAME_client_secret
    Oauth2,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The OpenAPI document (3.0 or 3.1, YAML or JSON)
    #[arg(value_name = "OPENAPI")]
    pub spec: PathBuf,
    /// Connector name (default: from the document's title)
    #[arg(long)]
    pub name: Option<String>,
    /// The API's address, when the document's server URL is relative (`/api/v3`
    /// is then appended to it) or to replace the document's server
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Where to write it (default: connectors/NAME.yaml; `-` for stdout)
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace the file if it exists
    #[arg(long)]
    pub force: bool,
}

/// `pytopus auth …`: secrets in the OS keyring, service `pytopus` (SPEC §5).
#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Store a secret: a hidden prompt on a terminal, else standard input
    #[command(
        long_about = "Store a secret in the OS keyring.\nOn a terminal, asks for the value once without echoing it; otherwise reads all of standard input and drops one trailing newline:\n  printf %s \"$TOKEN\" | pytopus auth set github_token"
    )]
    Set {
        /// The secret's name: ASCII letters, digits, `_`, `-` and `.`
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// List the names of the stored secrets, one a line (never their values); cached OAuth2 tokens are listed apart on stderr
    List,
    /// Forget cached OAuth2 tokens: all of them, or the one NAME (as `auth list` shows it); the next run fetches new ones
    Logout {
        /// A cached token's name (`oauth2-token-…`, from `auth list`); none: every cached token
        #[arg(value_name = "NAME")]
        name: Option<String>,
    },
    /// Delete a stored secret (exit status 1 when there was none)
    Delete {
        /// The secret's name
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Log in with OAuth2 in a browser (authorization code + PKCE) and store the refresh token as NAME
    #[command(
        long_about = "Log in with OAuth2 in a browser: the authorization-code flow with PKCE.\npytopus prints the authorization URL, receives the browser's redirect on 127.0.0.1, exchanges the code, and stores the refresh token as the secret NAME. Chains then use it with:\n  auth: {type: oauth2, grant: authorization_code, token_url: …, client_id: …, refresh_token: \"{{ secret('NAME') }}\"}\nWhen NAME is a connector with `grant: authorization_code` (e.g. google-sheets), its URLs, client and scope are used and the refresh token is stored under the secret its `refresh_token` reads; flags still override them."
    )]
    Login(LoginArgs),
}

/// `pytopus auth login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Name of the secret that will hold the refresh token, or of a connector with OAuth2 login
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The authorization endpoint the browser opens (default: the connector's)
    #[arg(long, value_name = "URL")]
    pub authorize_url: Option<String>,
    /// The token endpoint the code is exchanged at (default: the connector's)
    #[arg(long, value_name = "URL")]
    pub token_url: Option<String>,
    /// The OAuth2 client id (default: the connector's)
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// Name of the secret holding the client secret (confidential clients)
    #[arg(long, value_name = "SECRET")]
    pub client_secret_from: Option<String>,
    /// Scopes to ask for (space-separated, as the server expects)
    #[arg(long)]
    pub scope: Option<String>,
    /// Port of the redirect listener on 127.0.0.1 (0 picks a free one; register the redirect URI with your provider)
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// How long to wait for the browser
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = crate::chain::model::parse_duration)]
    pub wait: std::time::Duration,
}

/// Variables given on the command line.
#[derive(Debug, Args, Clone, Default)]
pub struct VarArgs {
    /// Set a variable (repeatable); overrides `vars:` and --vars-file
    #[arg(
        long = "var",
        value_name = "NAME=VALUE",
        long_help = "Set a template variable, overriding the chain's `vars:` and --vars-file. Repeatable.\nVALUE is a number, true, false or null when it reads as one, else a string."
    )]
    pub vars: Vec<String>,
    /// Read variables from a JSON or YAML file (a map of name → value)
    #[arg(long, value_name = "F")]
    pub vars_file: Option<PathBuf>,
    /// Arazzo files: run only this workflow (and the ones it depends on)
    #[arg(
        long,
        value_name = "ID",
        long_help = "For an Arazzo file: run only the workflow with this workflowId, after the workflows its `dependsOn` names. Without it every workflow runs, each after the ones it depends on."
    )]
    pub workflow: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The chain file (JSON or YAML); `-` reads standard input
    #[arg(value_name = "CHAIN")]
    pub chain: String,
    #[command(flatten)]
    pub vars: VarArgs,
    /// Render and print every request, send none
    #[arg(long)]
    pub dry_run: bool,
    /// Write a JSON report of the run (requests, statuses, timings, outputs, errors) to F
    #[arg(long, value_name = "F")]
    pub report: Option<PathBuf>,
    /// Write Prometheus metrics of the run to F (text format, for node_exporter's textfile collector)
    #[arg(
        long,
        value_name = "F",
        long_help = "Write Prometheus metrics of the run to F, in the text exposition format, replacing F whole (a temporary file beside it, then a rename), so node_exporter's textfile collector can read it at any time: runs by status, run and step durations, HTTP requests by status code, retries, rate-limit waits and step failures by kind.\nWith --data, the rows add up in one file."
    )]
    pub metrics: Option<PathBuf>,
    /// Push the same metrics to the Prometheus Pushgateway at URL when the run ends
    #[arg(
        long,
        value_name = "URL",
        value_parser = parse_http_url,
        long_help = "Push the same metrics to the Prometheus Pushgateway at URL when the run ends: PUT URL/metrics/job/pytopus/chain/<chain name> (chain@base64/… when the name has a `/`), which replaces that group's metrics.\nA failed push is a warning on stderr; it does not fail the run."
    )]
    pub pushgateway: Option<url::Url>,
    /// Write a JUnit XML report (a test suite per run, a test case per step) to F
    #[arg(
        long,
        value_name = "F",
        long_help = "Write a JUnit XML report to F for CI test reports: a <testsuite> per run (per --data row, named `<chain> [row N]`), a <testcase> per step with its time; a failed step has a <failure> (also with `on_error: continue`), a skipped or not-run step <skipped/>."
    )]
    pub junit: Option<PathBuf>,
    /// Write every request and response (each retry, item and page) to F as a HAR 1.2 archive
    #[arg(
        long,
        value_name = "F",
        long_help = "Write every request and response of the run to F as a HAR 1.2 archive (HTTP Archive, readable by browsers' developer tools): one entry per attempt, so each retry, `for_each` item and page; headers, query, bodies (cut above 1 MiB), timings. Secrets are written as ***."
    )]
    pub har: Option<PathBuf>,
    /// Save every request and response to the tape F
    #[arg(long, value_name = "F", conflicts_with = "replay")]
    pub record: Option<PathBuf>,
    /// Answer every request from the tape F instead of the network
    #[arg(long, value_name = "F")]
    pub replay: Option<PathBuf>,
    /// How to print the result on stdout
    #[arg(long, value_enum, default_value_t = OutputFormat::Json, value_name = "FORMAT")]
    pub output: OutputFormat,
    /// Show each request and response: -v the request and status lines, -vv also headers, -vvv also bodies (cut at 2 KiB, with the size); secrets redacted
    #[arg(
        short,
        long,
        action = clap::ArgAction::Count,
        conflicts_with = "quiet",
        long_help = "Show each request and response on stderr, after redaction:
  -v    the request line and the status line
  -vv   also the headers
  -vvv  also the bodies (the first 2 KiB, with the full size)
PYTOPUS_LOG takes a tracing filter instead (e.g. PYTOPUS_LOG=pytopus::http=debug)."
    )]
    pub verbose: u8,
    /// Show nothing on stderr but errors
    #[arg(short, long)]
    pub quiet: bool,
    /// Print one plain line per step even on a terminal
    #[arg(long)]
    pub no_progress: bool,
    /// Send this header with every request ('Name: value', as curl's -H), replacing a header of the same name the chain sets; repeatable
    #[arg(short = 'H', long = "header", value_name = "'NAME: VALUE'", value_parser = parse_header)]
    pub header: Vec<(String, String)>,
    /// Do not check TLS certificates (like curl -k); says so on stderr. Prefer `tls: {ca_cert}` for a private CA
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// Print each request on stderr as a curl command that sends it; secrets as $PYTOPUS_SECRET_* references
    #[arg(
        long,
        long_help = "Print each request on stderr as a runnable curl command (POSIX shell quoting): one per request sent — every retry, poll, page and `for_each` item — or, with --dry-run, one per request rendered.\nSecrets are written as references to their variables (-H 'Authorization: Bearer '\"$PYTOPUS_SECRET_TOKEN\"), never as values; a `# note:` line says which to set. What pytopus computed from a secret (an OAuth2 token it obtained, a JWT it signed, an encoded secret) has no variable: it is written *** and a note says what to supply.\nImplies --no-progress."
    )]
    pub curl: bool,
    /// Do not record this run in the history (also PYTOPUS_HISTORY=off)
    #[arg(long)]
    pub no_history: bool,
    /// Rerun the last failed run of this chain from its failed step, reusing the results recorded before it
    #[arg(long, conflicts_with_all = ["data", "dry_run"])]
    pub resume: bool,
    /// With --resume: resume even though the chain file changed since that run
    #[arg(long, requires = "resume")]
    pub force: bool,
    /// Run only this step, reusing the results of the steps before it from the last recorded run of this chain
    #[arg(long, value_name = "NAME", conflicts_with_all = ["from", "until", "resume", "data", "every"], add = ArgValueCompleter::new(super::complete::step_names))]
    pub step: Option<String>,
    /// Start at this step, reusing the results of the steps before it from the last recorded run of this chain
    #[arg(long, value_name = "NAME", conflicts_with_all = ["resume", "data", "every"], add = ArgValueCompleter::new(super::complete::step_names))]
    pub from: Option<String>,
    /// Stop after this step; the result printed is its result, and `finally` steps do not run
    #[arg(long, value_name = "NAME", conflicts_with_all = ["resume", "data", "every"], add = ArgValueCompleter::new(super::complete::step_names))]
    pub until: Option<String>,
    /// Run the chain once per row of F (CSV with a header row, JSON array of objects, or JSON Lines)
    #[arg(
        long,
        value_name = "F",
        long_help = "Run the chain once per row of F, with the row's fields as variables (over `vars:` and --vars-file; --var still wins).\nF is CSV with a header row (.csv), a JSON array of objects (.json) or one JSON object per line (.jsonl, .ndjson); `-` reads standard input. CSV values are typed like --var values.\nstdout is the list of the rows' results in row order, `null` for a row that failed; the exit status is 1 if any row failed."
    )]
    pub data: Option<PathBuf>,
    /// With --data: run at most N rows at once
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        requires = "data",
        value_parser = parse_parallel
    )]
    pub parallel: usize,
    /// Run only shard K of N: the --data rows (or else the `for_each` items) whose 0-based index i has i mod N = K-1
    #[arg(
        long,
        value_name = "K/N",
        value_parser = parse_shard,
        long_help = "Run only shard K of N (1 ≤ K ≤ N): the --data rows whose 0-based index i has i mod N = K-1, so N machines running K = 1…N cover every row exactly once (a CI matrix, a Kubernetes Indexed Job with K = JOB_COMPLETION_INDEX + 1).\nstdout then lists only this shard's rows. Without --data, the chain runs once and each `for_each` step runs only this shard's items (`index` keeps each item's position in the whole list)."
    )]
    pub shard: Option<Shard>,
    /// Run the chain again every DURATION until interrupted
    #[arg(
        long,
        value_name = "DURATION",
        value_parser = parse_every,
        conflicts_with_all = ["data", "dry_run", "record", "replay"],
        long_help = "Run the chain again every DURATION (\"5m\", \"30s\") in the foreground until Ctrl-C or SIGTERM. Each run prints its result on stdout; a failed run is reported and the next one still starts. The next run starts DURATION after the previous one started (at once if it took longer). The exit status after an interrupt is 130."
    )]
    pub every: Option<std::time::Duration>,
    /// Run again whenever the chain or a file it reads changes (sub-chains, connectors, vars and data files), until Ctrl-C
    #[arg(long, conflicts_with_all = ["every", "resume", "record", "replay"])]
    pub watch: bool,
}

/// `--every`: a duration of at least one second.
pub fn parse_every(s: &str) -> Result<std::time::Duration, String> {
    let d = crate::chain::model::parse_duration(s)?;
    if d < std::time::Duration::from_secs(1) {
        return Err("the interval must be at least 1s".into());
    }
    Ok(d)
}

/// `pytopus serve`.
#[derive(Debug, Args)]
#[command(
    long_about = "Serve chains over HTTP.\nEach chain gets POST /hooks/<name> (a webhook: the request becomes the `trigger` variable), and the API has GET /chains, POST /chains/<name>/run, GET /runs/<id>, GET /healthz, GET /metrics and GET /openapi.json. Chains with `schedule:` run on time. <name> is the chain file's name without its extension.\nSee docs/serve.md."
)]
pub struct ServeArgs {
    /// Chain files, or directories whose *.yaml, *.yml and *.json files (tapes excepted) are chains
    #[arg(value_name = "CHAIN|DIR", required = true)]
    pub paths: Vec<PathBuf>,
    /// Address and port to listen on
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Allow listening on an address other than loopback (an API token is then required)
    #[arg(long)]
    pub allow_remote: bool,
    /// Read the API token from the secret NAME (else from PYTOPUS_SERVE_TOKEN)
    #[arg(
        long,
        value_name = "NAME",
        long_help = "Read the API token from the secret NAME (keyring or PYTOPUS_SECRET_NAME). Without it, PYTOPUS_SERVE_TOKEN is used when set. With a token, every endpoint but the webhooks needs `Authorization: Bearer TOKEN`; it is required with --allow-remote."
    )]
    pub token_from_secret: Option<String>,
    /// Log format on stderr: one line per request and per run
    #[arg(long, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    pub log_format: LogFormat,
    /// Largest request body accepted (bytes, or with KiB/MiB); larger gets 413
    #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = parse_size)]
    pub max_body: usize,
    /// On SIGTERM or Ctrl-C, how long running chains may take to finish before they are interrupted
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::chain::model::parse_duration)]
    pub shutdown_timeout: std::time::Duration,
    /// Do not record the served runs in the history (also PYTOPUS_HISTORY=off)
    #[arg(long)]
    pub no_history: bool,
    /// Also answer to this host name on a loopback address (a tunnel's or proxy's), repeatable
    #[arg(
        long,
        value_name = "NAME",
        value_parser = parse_host_name,
        long_help = "Also answer to this `Host` on a loopback address, e.g. the name a tunnel or reverse proxy forwards (`hooks.example.net`, or `hooks.example.net:8443` for one port). Repeatable. Without it, a loopback server answers only to its own address and `localhost`, so a web page cannot reach it through a DNS name rebound to 127.0.0.1. Signed webhooks are accepted under any name."
    )]
    pub allow_host: Vec<String>,
    /// Do not serve the dashboard at `/` (the API, webhooks and schedules stay)
    #[arg(long)]
    pub no_ui: bool,
    /// Do not offer the chains as MCP tools at /mcp (streamable HTTP, behind the same token)
    #[arg(long)]
    pub no_mcp: bool,
}

/// `pytopus mcp`.
#[derive(Debug, Args)]
#[command(
    long_about = "Offer chains to AI agents as Model Context Protocol (MCP) tools, over stdin and stdout (how agents start local tools).\nEach chain is a tool named after its file (without the extension): its `description` is the tool's, its declared `inputs` the tool's input schema (as `pytopus inputs --format json-schema` prints it), its declared `outputs` the output schema. Every tool also takes `dry_run`. pytopus holds the credentials: results, errors and schemas are redacted, and arguments other than the declared inputs are refused.\nSee docs/mcp.md."
)]
pub struct McpArgs {
    /// Chain files, or directories whose *.yaml, *.yml and *.json files (tapes excepted) are chains
    #[arg(value_name = "CHAIN|DIR", required_unless_present = "connectors")]
    pub paths: Vec<PathBuf>,
    /// Also offer every endpoint of these connectors as a tool (built-in, ./connectors, or the user's)
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub connectors: Vec<String>,
    /// Print the tools with their schemas (as an agent will see them) and exit
    #[arg(long)]
    pub list: bool,
    /// Offer only the tools whose every request is GET or HEAD
    #[arg(long)]
    pub read_only: bool,
    /// Tool calls running at once; more wait for a turn
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_concurrent: u16,
    /// Tool calls started in any minute; more get an error result
    #[arg(long, value_name = "N", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_calls_per_minute: u32,
    /// Largest result text handed to the agent (bytes, or with KiB/MiB); a longer one is cut, with a note
    #[arg(long, value_name = "SIZE", default_value = "256KiB", value_parser = parse_size)]
    pub max_result_size: usize,
    /// Do not record the tools' runs in the history (also PYTOPUS_HISTORY=off)
    #[arg(long)]
    pub no_history: bool,
}

/// `--allow-host`: a host name or IP address, with an optional port.
fn parse_host_name(s: &str) -> Result<String, String> {
    let t = s.trim();
    let ok = !t.is_empty()
        && t.len() <= 253
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    if ok {
        Ok(t.to_ascii_lowercase())
    } else {
        Err(format!(
            "`{s}` is not a host name (letters, digits, `.`, `-`, and `:PORT`)"
        ))
    }
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `key=value` lines
    Text,
    /// One JSON object a line
    Json,
}

/// `--max-body`: a size as chain files write it (`1MiB`), that fits in memory.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let n = crate::chain::model::parse_size(s)?;
    usize::try_from(n).map_err(|_| format!("`{s}` is too large"))
}

/// `-H 'Name: value'`: a header name (a token) and its value.
fn parse_header(text: &str) -> Result<(String, String), String> {
    let Some((name, value)) = text.split_once(':') else {
        return Err("expected 'Name: value'".into());
    };
    let name = name.trim();
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(format!("`{name}` is not a header name"));
    }
    let value = value.trim();
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err("a header value cannot hold control characters or line breaks".into());
    }
    Ok((name.to_string(), value.to_string()))
}

/// `--shard K/N`: this machine's share of a run split over N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based, ≤ `count`.
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Whether the item at 0-based position `i` belongs to this shard.
    pub fn keeps(&self, i: usize) -> bool {
        i % self.count == self.index - 1
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// `--pushgateway URL`: an http or https URL.
fn parse_http_url(s: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(s)
        .map_err(|e| format!("not a URL ({e}); write it like http://127.0.0.1:9091"))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(format!("the URL must be http or https, not {other}")),
    }
}

/// `--parallel N`, N ≥ 1.
fn parse_parallel(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("N must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err("N must be a whole number of rows to run at once, like 4".into()),
    }
}

/// Parses `K/N` with 1 ≤ K ≤ N.
pub fn parse_shard(s: &str) -> Result<Shard, String> {
    let Some((k, n)) = s.split_once('/') else {
        return Err("write K/N: shard K of N, like 2/5".into());
    };
    let number = |what: &str, text: &str| {
        text.trim()
            .parse::<usize>()
            .map_err(|_| format!("{what} `{text}` is not a whole number; write K/N, like 2/5"))
    };
    let (index, count) = (number("K", k)?, number("N", n)?);
    if count == 0 {
        return Err("N, the number of shards, must be at least 1".into());
    }
    if index == 0 || index > count {
        return Err(format!(
            "K must be from 1 to {count}: the shards are 1/{count} to {count}/{count}"
        ));
    }
    Ok(Shard { index, count })
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Chain files to check; `-` reads standard input
    #[arg(value_name = "CHAIN", required = true)]
    pub chains: Vec<String>,
    /// Print which steps wait for which (the order `parallel: auto` runs them in) on stdout
    #[arg(long)]
    pub graph: bool,
    /// How `--graph` is printed: `text`, or `dot` for Graphviz (`| dot -Tsvg > graph.svg`)
    #[arg(long, value_enum, default_value = "text", requires = "graph")]
    pub format: GraphFormat,
    #[command(flatten)]
    pub vars: VarArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// One line per step with its wave and the steps it waits for
    Text,
    /// Graphviz DOT
    Dot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Pretty-printed JSON
    Json,
    /// YAML
    Yaml,
    /// Strings without quotes; anything else as compact JSON (for shell scripts)
    Raw,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn shards_are_k_of_n_from_one() {
        assert_eq!(parse_shard("2/5"), Ok(Shard { index: 2, count: 5 }));
        assert_eq!(parse_shard("1/1"), Ok(Shard { index: 1, count: 1 }));
        for bad in ["0/3", "4/3", "1/0", "3", "a/3", "1/b", "-1/3", ""] {
            assert!(parse_shard(bad).is_err(), "{bad} should be refused");
        }
        let s = parse_shard("2/3").unwrap();
        let kept: Vec<usize> = (0..8).filter(|&i| s.keeps(i)).collect();
        assert_eq!(kept, [1, 4, 7]);
    }
}
