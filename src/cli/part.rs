//! Results reused from the history: `--resume`, and `--step`, `--from`,
//! `--until` (part of a chain).

use super::args::RunArgs;
use super::fail::Fail;
use crate::diagnostic::Diagnostic;
use crate::report::to_stderr;

/// `--step`/`--from`/`--until`: the range of steps to run and, when they
/// read steps before it, those steps' results from the last recorded run
/// of this chain. `None` without those flags.
#[allow(clippy::type_complexity)]
pub(super) fn part_of_chain(
    args: &RunArgs,
    chain: &crate::plan::ValidChain,
    path: Option<&str>,
) -> Result<
    Option<(
        Option<Vec<Option<crate::engine::StepOutcome>>>,
        std::ops::RangeInclusive<usize>,
    )>,
    Fail,
> {
    let from = args.step.as_deref().or(args.from.as_deref());
    let until = args.step.as_deref().or(args.until.as_deref());
    if from.is_none() && until.is_none() {
        return Ok(None);
    }
    let main = &chain.steps[..chain.teardown_from];
    let find = |flag: &str, name: &str| -> Result<usize, Fail> {
        if let Some(i) = main.iter().position(|s| s.name == name) {
            return Ok(i);
        }
        let mut d = Diagnostic::new(if chain.steps.iter().any(|s| s.name == name) {
            format!("{flag} {name}: `{name}` is a `finally` step; name one of `steps`")
        } else {
            format!("{flag} {name}: the chain has no step `{name}`")
        });
        if let Some(best) = crate::diagnostic::suggest(name, main.iter().map(|s| s.name.as_str())) {
            d = d.note(format!("help: did you mean `{best}`?"));
        }
        Err(d.into())
    };
    let flag = |long: &str| if args.step.is_some() { "--step" } else { long }.to_string();
    let start = from
        .map(|n| find(&flag("--from"), n))
        .transpose()?
        .unwrap_or(0);
    let end = until
        .map(|n| find(&flag("--until"), n))
        .transpose()?
        .unwrap_or(main.len().saturating_sub(1));
    if start > end {
        return Err(Fail::usage(format!(
            "--from {} comes after --until {}: nothing to run",
            main[start].name, main[end].name
        )));
    }
    // The earlier steps the part reads (and `output`, printed after it).
    let mut needed: Vec<usize> = (start..=end)
        .flat_map(|i| chain.reads[i].iter().copied())
        .chain(if end + 1 == main.len() {
            chain.output_deps.clone()
        } else {
            Vec::new()
        })
        .filter(|&j| j < start)
        .collect();
    needed.sort_unstable();
    needed.dedup();
    if needed.is_empty() {
        return Ok(Some((None, start..=end)));
    }
    let names = |list: &[usize]| {
        list.iter()
            .map(|&j| format!("`{}`", main[j].name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let first_run = format!(
        "help: run the chain up to there first: `pytopus run {} --until {}`",
        args.chain,
        main[start - 1].name
    );
    let Some(path) = path.filter(|_| !args.no_history && crate::history::enabled_by_env()) else {
        return Err(Diagnostic::new(format!(
            "{} before {} need{} results from the history, which is off (or the chain is read from stdin)",
            names(&needed),
            main[start].name,
            if needed.len() == 1 { "s" } else { "" }
        ))
        .into());
    };
    let stored = crate::history::History::open()
        .and_then(|h| h.last_run(path))
        .map_err(|e| Fail::usage(format!("cannot read the history: {e}")))?;
    let Some(stored) = stored else {
        return Err(Diagnostic::new(format!(
            "`{}` reads {}, and the history has no run of {} to take their results from",
            main[start].name,
            names(&needed),
            args.chain
        ))
        .note(first_run)
        .into());
    };
    let recorded = crate::history::reusable(&stored);
    let mut reuse: Vec<Option<crate::engine::StepOutcome>> = vec![None; main.len()];
    for o in recorded.into_iter().flatten() {
        if let Some(j) = main[..start].iter().position(|s| s.name == o.name) {
            reuse[j] = Some(o);
        }
    }
    let missing: Vec<usize> = needed
        .iter()
        .copied()
        .filter(|&j| reuse[j].is_none())
        .collect();
    if !missing.is_empty() {
        return Err(Diagnostic::new(format!(
            "run {} of {} in the history has no result for {}, which `{}` reads",
            stored.summary.id,
            args.chain,
            names(&missing),
            main[start].name
        ))
        .note(first_run)
        .into());
    }
    to_stderr(&format!(
        "running {}{}; the results of {} are taken from run {} ({})\n",
        main[start].name,
        if end > start {
            format!(" to {}", main[end].name)
        } else {
            String::new()
        },
        names(&needed),
        stored.summary.id,
        stored.summary.started
    ));
    Ok(Some((Some(reuse), start..=end)))
}

/// `--resume`: the outcomes of the last failed run of this chain to reuse.
pub(super) fn resume_from(
    args: &RunArgs,
    path: Option<&str>,
    content_hash: &str,
) -> Result<Vec<Option<crate::engine::StepOutcome>>, Fail> {
    let Some(path) = path else {
        return Err(Fail::usage(
            "--resume needs a chain file (the history knows chains by their path)",
        ));
    };
    if args.no_history || !crate::history::enabled_by_env() {
        return Err(Fail::usage(
            "--resume needs the history, which --no-history or PYTOPUS_HISTORY=off turns off",
        ));
    }
    let stored = crate::history::History::open()
        .and_then(|h| h.last_failed(path))
        .map_err(|e| Fail::usage(format!("cannot read the history: {e}")))?;
    let Some(stored) = stored else {
        return Err(Diagnostic::new(format!(
            "the last run of {} in the history did not fail (or there is none): nothing to resume",
            args.chain
        ))
        .note("help: `pytopus history` lists the runs")
        .into());
    };
    if stored.content_hash != content_hash && !args.force {
        return Err(Diagnostic::new(format!(
            "{} changed since run {} failed, so its recorded results may not fit it any more",
            args.chain, stored.summary.id
        ))
        .note("help: run it from the start, or pass --resume --force to reuse them anyway")
        .into());
    }
    let reuse = crate::history::reusable(&stored);
    let n = reuse.iter().filter(|o| o.is_some()).count();
    to_stderr(&format!(
        "resuming run {} ({}): {n} step{} reused, the rest run again; secrets are looked up again\n",
        stored.summary.id,
        stored.summary.started,
        if n == 1 { "" } else { "s" }
    ));
    Ok(reuse)
}
