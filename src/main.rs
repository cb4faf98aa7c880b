//! The `pytopus` binary: a current-thread runtime around [`pytopus::cli::main`].

use std::process::ExitCode;

fn main() -> ExitCode {
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
