//! `pytopus history [show ID]`.

use super::args::RunId;
use super::args::{HistoryArgs, HistoryCommand};
use super::fail::{Fail, Outcome};
use super::{Exit, print_stdout};
use crate::diagnostic::Diagnostic;
use crate::history::History;
use crate::report::to_stderr;

pub fn run(args: HistoryArgs) -> Outcome {
    let history =
        History::open().map_err(|e| Fail::failed(format!("cannot open the history: {e}")))?;
    match args.command {
        None => list(&history, args.limit),
        Some(HistoryCommand::Show { id }) => show(&history, id),
    }
}

fn list(history: &History, limit: usize) -> Outcome {
    let runs = history.list(limit).map_err(unreadable)?;
    if runs.is_empty() {
        to_stderr("no runs recorded yet\n");
        return Ok(Exit::Success);
    }
    let mut out = format!(
        "{:>5}  {:<20}  {:<11}  {:>9}  {}\n",
        "ID", "STARTED", "STATUS", "TIME", "CHAIN"
    );
    for r in runs {
        out.push_str(&format!(
            "{:>5}  {:<20}  {:<11}  {:>9}  {} ({})\n",
            r.id,
            r.started,
            r.status,
            crate::engine::show_duration(std::time::Duration::from_millis(r.duration_ms as u64)),
            r.chain,
            r.path
        ));
    }
    print_stdout(&out)
}

fn show(history: &History, id: RunId) -> Outcome {
    let id = match id {
        RunId::Id(id) => id,
        RunId::Latest => match history.list(1).map_err(unreadable)?.first() {
            Some(run) => run.id,
            None => return Err(Fail::usage("there is no run in the history yet")),
        },
    };
    let text = stored_report(history, id)?;
    print_stdout(&text)
}

/// Run `id`'s report as pretty JSON.
fn stored_report(history: &History, id: i64) -> Result<String, Fail> {
    let Some(run) = history.get(id).map_err(unreadable)? else {
        return Err(
            Diagnostic::new(format!("there is no run {id} in the history"))
                .note("help: `pytopus history` lists the runs")
                .into(),
        );
    };
    Ok(serde_json::to_string_pretty(&run.report).unwrap_or_default() + "\n")
}

fn unreadable(e: String) -> Fail {
    Fail::failed(format!("cannot read the history: {e}"))
}
