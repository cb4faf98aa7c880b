//! Pictures as SVG made on the server (no script, nothing fetched): a
//! chain's steps and what each waits for, runs and failures over time, one
//! step's place on a run's timeline. Every text in them is escaped.

use std::fmt::Write as _;

/// Text for SVG/HTML: `<`, `>`, `&` and quotes escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The steps in columns by wave (a step after the ones it waits for), an
/// arrow from each step to each that waits for it.
pub fn graph(names: &[String], deps: &[Vec<usize>], waves: &[usize], title: &str) -> String {
    const W: usize = 150;
    const H: usize = 34;
    const GAP_X: usize = 50;
    const GAP_Y: usize = 14;
    let columns = waves.iter().copied().max().map_or(0, |m| m + 1);
    let mut row_in_wave = vec![0usize; columns.max(1)];
    let mut place = Vec::with_capacity(names.len());
    for &w in waves {
        place.push((w, row_in_wave[w]));
        row_in_wave[w] += 1;
    }
    let rows = row_in_wave.iter().copied().max().unwrap_or(1).max(1);
    let width = columns.max(1) * (W + GAP_X);
    let height = rows * (H + GAP_Y) + GAP_Y;
    let at = |i: usize| {
        let (c, r) = place[i];
        (c * (W + GAP_X) + 10, r * (H + GAP_Y) + GAP_Y)
    };
    let mut svg = format!(
        r#"<svg role="img" aria-label="{}" viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">"#,
        escape(title)
    );
    for (i, ds) in deps.iter().enumerate().take(names.len()) {
        for &d in ds.iter().filter(|&&d| d < names.len()) {
            let (x1, y1) = at(d);
            let (x2, y2) = at(i);
            let _ = write!(
                svg,
                r#"<path class="edge" d="M{} {} C{} {} {} {} {} {}"/>"#,
                x1 + W,
                y1 + H / 2,
                x1 + W + GAP_X / 2,
                y1 + H / 2,
                x2 - GAP_X / 2,
                y2 + H / 2,
                x2,
                y2 + H / 2
            );
        }
    }
    for (i, name) in names.iter().enumerate() {
        let (x, y) = at(i);
        let shown: String = if name.chars().count() > 20 {
            name.chars().take(19).chain(['…']).collect()
        } else {
            name.clone()
        };
        let _ = write!(
            svg,
            r#"<g class="node"><rect x="{x}" y="{y}" width="{W}" height="{H}" rx="6"/><text x="{}" y="{}"><title>{}</title>{}</text></g>"#,
            x + 8,
            y + H / 2 + 4,
            escape(name),
            escape(&shown)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Bars of runs (and, over them, failures) per hour.
pub fn timeline(buckets: &[(String, usize, usize)]) -> String {
    const H: usize = 120;
    let n = buckets.len().max(1);
    let bar = (720 / n).clamp(4, 40);
    let width = n * bar + 40;
    let most = buckets.iter().map(|b| b.1).max().unwrap_or(1).max(1);
    let mut svg = format!(
        r#"<svg role="img" aria-label="Runs and failures per hour" viewBox="0 0 {width} {}" width="100%" xmlns="http://www.w3.org/2000/svg"><line class="axis" x1="30" y1="{H}" x2="{width}" y2="{H}"/><text x="0" y="12">{most}</text><text x="0" y="{H}">0</text>"#,
        H + 20
    );
    for (i, (label, runs, fails)) in buckets.iter().enumerate() {
        let x = 34 + i * bar;
        let h = runs * (H - 10) / most;
        let f = fails * (H - 10) / most;
        let _ = write!(
            svg,
            r#"<g><title>{}: {runs} runs, {fails} failed</title><rect class="runs" x="{x}" y="{}" width="{}" height="{h}"/><rect class="fails" x="{x}" y="{}" width="{}" height="{f}"/></g>"#,
            escape(label),
            H - h,
            bar.saturating_sub(2).max(2),
            H - f,
            bar.saturating_sub(2).max(2),
        );
    }
    if let (Some(first), Some(last)) = (buckets.first(), buckets.last()) {
        let _ = write!(
            svg,
            r#"<text x="34" y="{}">{}</text><text x="{}" y="{}" text-anchor="end">{}</text>"#,
            H + 16,
            escape(&first.0),
            width,
            H + 16,
            escape(&last.0)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One step's bar on its run's timeline: from `offset` for `length`, of
/// `total` (all in ms).
pub fn bar(offset: u64, length: u64, total: u64) -> String {
    let total = total.max(1) as f64;
    let x = (offset as f64 / total * 100.0).clamp(0.0, 100.0);
    let w = (length as f64 / total * 100.0).clamp(0.5, 100.0 - x.min(99.5));
    format!(
        r#"<svg viewBox="0 0 100 10" preserveAspectRatio="none" width="100%" height="12" aria-hidden="true" xmlns="http://www.w3.org/2000/svg"><rect class="runs" x="{x:.2}" y="0" width="{w:.2}" height="10" rx="1"/></svg>"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_pictures_are_text_not_markup() {
        let svg = graph(
            &["<script>alert(1)</script>".into(), "B".into()],
            &[vec![], vec![0]],
            &[0, 1],
            "a \"chain\"",
        );
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains("a &quot;chain&quot;"));
        assert!(svg.contains("<path class=\"edge\""));
        let t = timeline(&[("<b>".into(), 3, 1)]);
        assert!(!t.contains("<b>") && t.contains("&lt;b&gt;"));
    }

    #[test]
    fn a_bar_stays_inside_its_track() {
        let b = bar(900, 500, 1000);
        assert!(b.contains(r#"x="90.00""#), "{b}");
        assert!(b.contains(r#"width="10.00""#), "{b}");
    }
}
