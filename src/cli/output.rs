//! What a run prints on stdout: its result in the chosen format, or a dry
//! run's requests.

use serde_json::Value;

use super::args::OutputFormat;
use super::fail::{Fail, Outcome};
use super::{Exit, print_stdout};

/// The result as `--output` asks.
/// Prints the run's result on stdout. JSON is written straight into a
/// buffered stdout rather than built as a string first: a 100 MB result
/// would otherwise be in memory twice.
pub(super) fn print_output(value: &Value, format: OutputFormat) -> Outcome {
    use std::io::{IsTerminal as _, Write as _};
    // On a terminal, the text goes through `print_stdout`, which shows
    // control characters instead of sending them.
    if format != OutputFormat::Json || std::io::stdout().is_terminal() {
        let text = format_output(value, format)
            .map_err(|e| Fail::failed(format!("cannot print the result: {e}")))?;
        return print_stdout(&text);
    }
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let written = serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => Ok(Exit::Success),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Exit::Success),
        Err(e) => Err(Fail::failed(format!("cannot write to stdout: {e}"))),
    }
}

pub fn format_output(value: &Value, format: OutputFormat) -> Result<String, String> {
    Ok(match format {
        OutputFormat::Json => {
            serde_json::to_string_pretty(value).map_err(|e| e.to_string())? + "\n"
        }
        OutputFormat::Yaml => serde_saphyr::to_string(value).map_err(|e| e.to_string())?,
        OutputFormat::Raw => match value {
            Value::String(s) => format!("{s}\n"),
            Value::Null => String::new(),
            other => serde_json::to_string(other).map_err(|e| e.to_string())? + "\n",
        },
    })
}
