//! The `pytopus` binary: a current-thread runtime around [`pytopus::cli::main`].

use std::process::ExitCode;

fn main() -> ExitCode {
    // A shell asking for completions gets them and nothing else.
    pytopus::cli::complete::answer_if_asked();
    // Mostly sequential I/O: the current-thread runtime (bench/README.md
    // compares it with the multi-thread one as `floor --mt`).
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
