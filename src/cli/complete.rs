//! Shell completion: the shell asks the binary itself
//! (`PYTOPUS_COMPLETE=bash pytopus -- …`), so the names of a chain's steps
//! and of the connectors pytopus can find complete too. `pytopus
//! completions SHELL` prints the script that registers it.

use std::ffi::OsStr;
use std::path::Path;
use std::sync::Arc;

use clap_complete::engine::CompletionCandidate;

use crate::chain;
use crate::connector::Library;
use crate::diagnostic::Source;
use crate::files::{MAX_INPUT, read_text};

/// The variable the registration script sets when it asks for completions.
pub const VAR: &str = "PYTOPUS_COMPLETE";

/// Answers a completion request and exits, when this run is one.
pub fn answer_if_asked() {
    clap_complete::CompleteEnv::with_factory(|| {
        use clap::CommandFactory as _;
        super::args::Cli::command()
    })
    .var(VAR)
    .complete();
}

/// The registration script for `shell`, naming the command `pytopus`.
pub fn registration(shell: clap_complete::Shell) -> Result<String, String> {
    use clap_complete::env::EnvCompleter;
    let completer: &dyn EnvCompleter = match shell {
        clap_complete::Shell::Bash => &clap_complete::env::Bash,
        clap_complete::Shell::Zsh => &clap_complete::env::Zsh,
        clap_complete::Shell::Fish => &clap_complete::env::Fish,
        clap_complete::Shell::Elvish => &clap_complete::env::Elvish,
        clap_complete::Shell::PowerShell => &clap_complete::env::Powershell,
        other => return Err(format!("no completion for {other}")),
    };
    let mut out = Vec::new();
    completer
        .write_registration(VAR, "pytopus", "pytopus", "pytopus", &mut out)
        .map_err(|e| e.to_string())?;
    String::from_utf8(out).map_err(|e| e.to_string())
}

/// The names of the steps (and `finally` steps) of the chain file on the
/// command line being completed: the first word naming a `.yaml`, `.yml`
/// or `.json` file that parses. Nothing when there is none.
pub fn step_names(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(prefix) = current.to_str() else {
        return Vec::new();
    };
    let words: Vec<String> = std::env::args_os()
        .skip_while(|a| a != "--")
        .skip(1)
        .filter_map(|a| a.into_string().ok())
        .collect();
    for word in &words {
        let path = Path::new(word);
        let chain_like = path
            .extension()
            .and_then(OsStr::to_str)
            .is_some_and(|x| matches!(x.to_ascii_lowercase().as_str(), "yaml" | "yml" | "json"));
        if !chain_like || !path.is_file() {
            continue;
        }
        let Ok(text) = read_text(Some(path), MAX_INPUT) else {
            continue;
        };
        let Ok(parsed) = chain::parse(Arc::new(Source {
            name: word.clone(),
            text,
        })) else {
            continue;
        };
        return parsed
            .chain
            .steps
            .iter()
            .chain(parsed.chain.finally.iter())
            .map(|s| s.name.as_str())
            .filter(|n| n.starts_with(prefix))
            .map(CompletionCandidate::new)
            .collect();
    }
    Vec::new()
}

/// The names of the connectors pytopus can find from here.
pub fn connector_names(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(prefix) = current.to_str() else {
        return Vec::new();
    };
    Library::standalone()
        .names()
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .map(CompletionCandidate::new)
        .collect()
}
