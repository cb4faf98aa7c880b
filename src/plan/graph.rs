//! `pytopus validate --graph`: which steps wait for which, as text or as
//! Graphviz DOT. The edges are the ones `parallel: auto` schedules by.

use std::fmt::Write;

use super::ValidChain;

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
    let mode = if chain.parallel {
        "parallel: auto"
    } else {
        "sequential (set `parallel: auto` to run independent steps at once)"
    };
    let mut out = format!(
        "{} — {} steps, {} waves, {mode}\n",
        chain.name,
        chain.steps.len(),
        wave.iter().max().unwrap_or(&0)
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
