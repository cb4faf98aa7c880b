//! Why a command stopped, as data: what to tell the person and the exit
//! code it means. Commands return `Result<Exit, Fail>`; [`super::main`] is
//! the one place that prints a failure and turns it into an exit code.

use crate::diagnostic::{Diagnostic, Diagnostics};

use super::Exit;

/// A command that could not do what it was asked.
#[derive(Debug)]
pub enum Fail {
    /// Bad usage or an invalid input (a chain, a vars file, a flag): exit 2.
    Usage(Diagnostics),
    /// What was asked went wrong while doing it (a file not written, a
    /// server that could not start, a store that refused): exit 1.
    Failed(Diagnostics),
    /// Ctrl-C or SIGTERM: exit 130.
    Interrupted,
}

impl Fail {
    /// A usage error with this message.
    pub fn usage(message: impl Into<String>) -> Fail {
        Fail::Usage(Diagnostic::new(message).into())
    }

    /// A failure with this message.
    pub fn failed(message: impl Into<String>) -> Fail {
        Fail::Failed(Diagnostic::new(message).into())
    }

    /// The exit code it means (SPEC §6).
    pub fn exit(&self) -> Exit {
        match self {
            Fail::Usage(_) => Exit::Usage,
            Fail::Failed(_) => Exit::StepFailed,
            Fail::Interrupted => Exit::Interrupted,
        }
    }

    /// Says what went wrong on stderr (nothing for what was said already).
    pub fn print(&self) {
        let text = self.render(super::stderr_color());
        if !text.is_empty() {
            crate::report::to_stderr_styled(&text);
        }
    }

    /// Says it and gives its exit code: for [`super::main`], and for a
    /// command that goes on to its next file after one failed.
    pub fn report(self) -> Exit {
        self.print();
        self.exit()
    }

    /// What [`Fail::print`] writes (`color`: with ANSI styles).
    pub fn render(&self, color: bool) -> String {
        match self {
            Fail::Usage(d) | Fail::Failed(d) => d.render(color),
            Fail::Interrupted => String::new(),
        }
    }
}

impl From<Diagnostics> for Fail {
    fn from(d: Diagnostics) -> Fail {
        Fail::Usage(d)
    }
}

impl From<Diagnostic> for Fail {
    fn from(d: Diagnostic) -> Fail {
        Fail::Usage(d.into())
    }
}

/// What a command ends with: an exit code it chose, or a failure.
pub type Outcome = Result<Exit, Fail>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_exit_code() {
        assert_eq!(Fail::usage("x").exit(), Exit::Usage);
        assert_eq!(Fail::failed("x").exit(), Exit::StepFailed);
        assert_eq!(Fail::Interrupted.exit(), Exit::Interrupted);
        let d: Fail = Diagnostic::new("bad chain").into();
        assert_eq!(d.exit(), Exit::Usage);
    }

    #[test]
    fn a_failure_renders_as_an_error_line() {
        assert_eq!(Fail::failed("x").render(false), "error: x\n");
        assert_eq!(Fail::Interrupted.render(false), "");
    }
}
