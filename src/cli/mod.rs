//! The command line: parse flags, load inputs, call the library, map the
//! outcome to an exit code. Each subcommand has its own file.

pub mod args;
mod auth;
pub mod complete;
mod connectors;
mod data;
mod fail;
mod fmt;
mod history;
mod import;
mod inputs;
mod mcp;
mod output;
mod part;
mod rows;
pub(crate) mod run;
mod serve;
mod session;
mod watch;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};

use clap::{CommandFactory, Parser};

use crate::diagnostic::Diagnostics;
pub use args::Cli;
use args::Command;
use fail::{Fail, Outcome};

/// The process exit codes (SPEC §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    StepFailed = 1,
    Usage = 2,
    Interrupted = 130,
}

/// Runs the command line and returns the exit code.
pub async fn main(argv: Vec<OsString>) -> Exit {
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Success
            };
        }
    };
    let outcome = match cli.command {
        Command::Run(a) => run::run(*a).await,
        Command::Validate(a) => run::validate(a),
        Command::Fmt(a) => fmt::run(a),
        Command::History(a) => history::run(a),
        Command::Serve(a) => serve::serve(a).await,
        Command::Mcp(a) => mcp::mcp(a).await,
        Command::Auth(args::AuthCommand::Login(l)) => auth::login(l).await,
        Command::Auth(a) => auth::run(a),
        Command::Connectors(c) => connectors::run(c).await,
        Command::Inputs(a) => run::inputs(a),
        Command::Import(args::ImportCommand::Curl(a)) => import::curl(a),
        Command::Import(args::ImportCommand::Har(a)) => import::har(a),
        Command::Import(args::ImportCommand::Postman(a)) => import::postman(a),
        Command::Export(args::ExportCommand::Arazzo(a)) => import::export_arazzo(a),
        Command::Schema => {
            let text = serde_json::to_string_pretty(&crate::chain::model::json_schema())
                .unwrap_or_default();
            print_stdout(&format!("{text}\n"))
        }
        Command::Man { command } => match man_page(&command) {
            Ok(page) => print_stdout(&page),
            Err(e) => Err(fail::Fail::usage(e)),
        },
        Command::Completions { shell } => match complete::registration(shell) {
            Ok(script) => print_stdout(&script),
            Err(e) => Err(fail::Fail::usage(e)),
        },
    };
    // The one place a failure is said and becomes an exit code.
    outcome.unwrap_or_else(Fail::report)
}

/// The manual page of `pytopus` or of one of its commands (`["auth",
/// "login"]` is pytopus-auth-login(1)), as clap_mangen renders it.
pub fn man_page(path: &[String]) -> Result<String, String> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    for name in path {
        let names: Vec<String> = cmd
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .collect();
        cmd = cmd
            .find_subcommand(name)
            .cloned()
            .ok_or_else(|| format!("no command `{name}`; pages exist for: {}", names.join(", ")))?;
    }
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .map_err(|e| format!("cannot render the manual page: {e}"))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn print_stdout(text: &str) -> Outcome {
    let mut out = std::io::stdout().lock();
    // A result read by a person is shown, not obeyed; one read by a program
    // (a pipe, a file) is passed on byte for byte.
    let text = if out.is_terminal() {
        crate::diagnostic::printable(text)
    } else {
        std::borrow::Cow::Borrowed(text)
    };
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(Exit::Success),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Exit::Success),
        Err(e) => Err(Fail::failed(format!("cannot write to stdout: {e}"))),
    }
}

/// Whether stderr gets colours: a terminal, and `NO_COLOR` unset or empty.
pub fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn print_diagnostics(d: &Diagnostics) {
    crate::report::to_stderr_styled(&d.render(stderr_color()));
}
