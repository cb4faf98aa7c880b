//! The `pytopus` binary: a current-thread runtime around [`pytopus::cli::main`].

use std::process::ExitCode;

fn main() -> ExitCode {
    // Two cores and mostly sequential I/O: the current-thread runtime is the
    // faster one here (measured in the performance issue).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(pytopus::cli::main(std::env::args_os().collect()));
    ExitCode::from(code as u8)
}
