//! `pytopus validate --graph`: which steps wait for which, as text or as
//! Graphviz DOT. The edges are the ones `parallel: auto` schedules by.

use std::fmt::Write;

use super::{BodySpec, ValidChain, ValidStep};

/// Whether a step may change something on a server: any method but GET,
/// HEAD, OPTIONS and TRACE (a GraphQL query sent with POST is a read, a
/// mutation a write), and any sub-chain, whose steps are not looked into.
pub fn writes(step: &ValidStep) -> bool {
    if step.sub.is_some() {
        return true;
    }
    if let Some(body) = &step.body
        && let BodySpec::GraphQl { query, .. } = body.as_ref()
    {
        return query_is_mutation(query);
    }
    !matches!(
        step.method.to_ascii_uppercase().as_str(),
        "GET" | "HEAD" | "OPTIONS" | "TRACE"
    )
}

/// A GraphQL document whose operation is a mutation (comments skipped).
fn query_is_mutation(query: &str) -> bool {
    query
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .find(|l| !l.is_empty())
        .is_some_and(|l| l.starts_with("mutation"))
}

/// Adds the order writes need to the steps' dependencies (`deps[i]`: the
/// earlier steps step `i` waits for): a write waits for every step since
/// the write before it, and every step waits for the last write before it.
/// Reads between two writes still run together.
pub fn order_writes(steps: &[ValidStep], deps: &mut [Vec<usize>]) {
    let mut last_write: Option<usize> = None;
    for (i, step) in steps.iter().enumerate() {
        let Some(list) = deps.get_mut(i) else { break };
        let since = last_write.map_or(0, |w| w + 1);
        if writes(step) {
            list.extend(since..i);
        }
        if let Some(w) = last_write {
            list.push(w);
        }
        list.sort_unstable();
        list.dedup();
        if writes(step) {
            last_write = Some(i);
        }
    }
}

/// Each step's wave: 1 for steps that wait for nothing, else one more than
/// the latest step it waits for. Under `parallel: auto` the steps of one
/// wave can run at the same time.
pub fn waves(chain: &ValidChain) -> Vec<usize> {
    let mut wave = Vec::with_capacity(chain.steps.len());
    for deps in &chain.deps {
        // Dependencies always point at earlier steps, so their waves are known.
        let w = deps.iter().map(|&d| wave[d]).max().unwrap_or(0) + 1;
        wave.push(w);
    }
    wave
}

/// The dependency graph as lines a person reads.
pub fn text(chain: &ValidChain) -> String {
    let wave = waves(chain);
    let count = wave.iter().max().copied().unwrap_or(0);
    // The waves with more than one step: what would run at the same time.
    let together: Vec<String> = (1..=count)
        .filter_map(|w| {
            let names: Vec<&str> = chain
                .steps
                .iter()
                .zip(&wave)
                .filter(|(_, x)| **x == w)
                .map(|(s, _)| s.name.as_str())
                .collect();
            (names.len() > 1).then(|| names.join(" + "))
        })
        .collect();
    let mode = match (chain.parallel, together.is_empty()) {
        (true, true) => "parallel: auto, but every step waits for one before it".to_string(),
        (true, false) => format!("parallel: auto; together: {}", together.join("; ")),
        (false, true) => "sequential; `parallel: auto` would change nothing".to_string(),
        (false, false) => format!(
            "sequential; `parallel: auto` would run together: {}",
            together.join("; ")
        ),
    };
    let mut out = format!(
        "{} — {} steps, {count} waves, {mode}\n",
        chain.name,
        chain.steps.len(),
    );
    let width = chain
        .steps
        .iter()
        .map(|s| s.name.len())
        .chain(chain.output.as_ref().map(|_| "output".len()))
        .max()
        .unwrap_or(0);
    let names = |deps: &[usize]| {
        deps.iter()
            .map(|&d| chain.steps[d].name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (i, step) in chain.steps.iter().enumerate() {
        let deps = &chain.deps[i];
        let after = if deps.is_empty() {
            String::new()
        } else {
            format!("  after {}", names(deps))
        };
        let line = format!("{:>3}  {:<width$}{after}", wave[i], step.name);
        let _ = writeln!(out, "{}", line.trim_end());
    }
    if chain.output.is_some() {
        let reads = if chain.output_deps.is_empty() {
            String::new()
        } else {
            format!("  reads {}", names(&chain.output_deps))
        };
        let line = format!("     {:<width$}{reads}", "output");
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

/// The dependency graph in Graphviz DOT (`dot -Tsvg`): an edge from each
/// step to the steps that wait for it.
pub fn dot(chain: &ValidChain) -> String {
    let mut out = format!(
        "digraph {} {{\n  rankdir=LR;\n  node [shape=box];\n",
        quote(&chain.name)
    );
    for step in &chain.steps {
        let _ = writeln!(out, "  {};", quote(&step.name));
    }
    for (i, deps) in chain.deps.iter().enumerate() {
        for &d in deps {
            let _ = writeln!(
                out,
                "  {} -> {};",
                quote(&chain.steps[d].name),
                quote(&chain.steps[i].name)
            );
        }
    }
    if chain.output.is_some() {
        out.push_str("  \"(output)\" [shape=ellipse];\n");
        for &d in &chain.output_deps {
            let _ = writeln!(out, "  {} -> \"(output)\";", quote(&chain.steps[d].name));
        }
    }
    out.push_str("}\n");
    out
}

/// A DOT ID in double quotes.
fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                q.push('\\');
                q.push(c);
            }
            '\n' => q.push_str("\\n"),
            _ => q.push(c),
        }
    }
    q.push('"');
    q
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn dot_ids_are_quoted_and_escaped() {
        assert_eq!(quote(r#"my "chain"\x"#), r#""my \"chain\"\\x""#);
        assert_eq!(quote("a\nb"), r#""a\nb""#);
    }
}
