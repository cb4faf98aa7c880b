//! `run --watch`: the chain again whenever a file it reads changes — the
//! chain, its sub-chains, connectors, query, key and certificate files,
//! `--vars-file` and `--data`. A run in progress when a file changes is
//! stopped and started over; a chain that does not load says why, and the
//! watch goes on until Ctrl-C.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::args::RunArgs;
use super::fail::{Fail, Outcome};
use super::run::run_once;
use super::session::interrupted;
use crate::report::to_stderr;

/// Events closer together than this are one change (an editor's save is
/// often a write, a rename and a metadata change).
const SETTLE: Duration = Duration::from_millis(150);

pub(super) async fn watch(args: &RunArgs) -> Outcome {
    if args.chain == "-" {
        return Err(Fail::usage(
            "--watch needs a chain file: standard input cannot change",
        ));
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && !matches!(event.kind, notify::EventKind::Access(_))
        {
            for path in event.paths {
                let _ = tx.send(path);
            }
        }
    })
    .map_err(|e| Fail::failed(format!("cannot watch files: {e}")))?;
    let mut watched: BTreeSet<PathBuf> = BTreeSet::new();
    loop {
        let files = files_of(args);
        // Directories are watched, not files: editors replace a file on
        // save, and the replacement must still be seen.
        let dirs: BTreeSet<PathBuf> = files.iter().filter_map(|f| watch_dir(f)).collect();
        for dir in dirs.difference(&watched.clone()) {
            if watcher.watch(dir, RecursiveMode::NonRecursive).is_ok() {
                watched.insert(dir.clone());
            }
        }
        clear_screen();
        to_stderr(&format!(
            "watching {} file{} for changes (Ctrl-C to stop)\n",
            files.len(),
            if files.len() == 1 { "" } else { "s" }
        ));
        let changed = tokio::select! {
            outcome = run_once(args, None) => {
                match &outcome {
                    // The run saw the Ctrl-C: so does the watch.
                    Ok(super::Exit::Interrupted) | Err(Fail::Interrupted) => {
                        return Err(Fail::Interrupted);
                    }
                    Err(f) => f.print(),
                    Ok(_) => {}
                }
                // Done: wait for the next change.
                tokio::select! {
                    path = next_change(&mut rx, &files) => path,
                    _ = interrupted() => return Err(Fail::Interrupted),
                }
            }
            // A change stops the run in progress (its future is dropped).
            path = next_change(&mut rx, &files) => path,
            _ = interrupted() => return Err(Fail::Interrupted),
        };
        let Some(path) = changed else {
            return Err(Fail::failed("the file watcher stopped"));
        };
        tokio::time::sleep(SETTLE).await;
        while rx.try_recv().is_ok() {}
        to_stderr(&format!("\n{} changed: running again\n", path.display()));
    }
}

/// The next path that changed among `files` (or inside a watched directory
/// such as `connectors/`); `None` when the watcher is gone.
async fn next_change(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<PathBuf>,
    files: &[PathBuf],
) -> Option<PathBuf> {
    loop {
        let path = rx.recv().await?;
        if files
            .iter()
            .any(|f| *f == path || (f.is_dir() && path.parent() == Some(f.as_path())))
        {
            return Some(path);
        }
    }
}

/// The directory to watch for `file`: its own if it is one, else its parent.
fn watch_dir(file: &Path) -> Option<PathBuf> {
    if file.is_dir() {
        return Some(file.to_path_buf());
    }
    file.parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .filter(|p| p.is_dir())
        .map(Path::to_path_buf)
}

/// Every file a run of `args` reads, absolute. When the chain does not
/// load, at least the chain file itself.
fn files_of(args: &RunArgs) -> Vec<PathBuf> {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut files = vec![absolute(Path::new(&args.chain))];
    if let Ok(source) = super::inputs::read_source(&args.chain)
        && let Ok(parsed) = crate::chain::parse(source)
    {
        files.extend(
            crate::resolve::resolve(&parsed)
                .files()
                .iter()
                .map(|p| absolute(p)),
        );
    }
    files.extend(args.vars.vars_file.iter().map(|p| absolute(p)));
    files.extend(args.data.iter().map(|p| absolute(p)));
    files.sort();
    files.dedup();
    files
}

/// On a terminal, each run starts on a clean screen.
fn clear_screen() {
    use std::io::Write;
    let mut out = std::io::stdout();
    if out.is_terminal() {
        let _ = out.write_all(b"\x1b[2J\x1b[H").and_then(|()| out.flush());
    }
}
