//! `pytopus history [show ID]`.

use super::args::{HistoryArgs, HistoryCommand};
use super::{Exit, print_stdout};
use crate::history::History;
use crate::report::to_stderr;

pub fn run(args: HistoryArgs) -> Exit {
    let history = match History::open() {
        Ok(h) => h,
        Err(e) => {
            to_stderr(&format!("error: cannot open the history: {e}\n"));
            return Exit::StepFailed;
        }
    };
    match args.command {
        None => list(&history, args.limit),
        Some(HistoryCommand::Show { id }) => show(&history, id),
    }
}

fn list(history: &History, limit: usize) -> Exit {
    let runs = match history.list(limit) {
        Ok(r) => r,
        Err(e) => {
            to_stderr(&format!("error: cannot read the history: {e}\n"));
            return Exit::StepFailed;
        }
    };
    if runs.is_empty() {
        to_stderr("no runs recorded yet\n");
        return Exit::Success;
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

fn show(history: &History, id: i64) -> Exit {
    match history.get(id) {
        Ok(Some(run)) => {
            let text = serde_json::to_string_pretty(&run.report).unwrap_or_default() + "\n";
            print_stdout(&text)
        }
        Ok(None) => {
            to_stderr(&format!(
                "error: there is no run {id} in the history\n  = help: `pytopus history` lists the runs\n"
            ));
            Exit::Usage
        }
        Err(e) => {
            to_stderr(&format!("error: cannot read the history: {e}\n"));
            Exit::StepFailed
        }
    }
}
