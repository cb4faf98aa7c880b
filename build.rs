//! Release builds on x86-64 Linux link the functions a run executes side by
//! side (the list is `bench/symbol-order.txt`, written by `bench/order.py`).
//! A run then touches a few megabytes of code instead of pages spread over
//! all of `.text`: less memory and fewer page faults at start-up
//! (bench/README.md, "Code layout"). Names the linker does not find are
//! skipped, so a stale list only loses the benefit.
//!
//! Only Rust's own linker setup for this target (LLD, the default since
//! Rust 1.90) is known to take the option; a build that names another linker
//! is left alone, and `PYTOPUS_LINK_ORDER=0` turns the option off.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=bench/symbol-order.txt");
    println!("cargo:rerun-if-env-changed=PYTOPUS_LINK_ORDER");
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER");

    let var = |name: &str| env::var(name).unwrap_or_default();
    let wanted = var("PYTOPUS_LINK_ORDER") != "0"
        && var("PROFILE") == "release"
        && var("TARGET") == "x86_64-unknown-linux-gnu"
        && env::var_os("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_none()
        && !var("CARGO_ENCODED_RUSTFLAGS").contains("link");
    if !wanted {
        return;
    }
    let Some(dir) = env::var_os("CARGO_MANIFEST_DIR") else {
        return;
    };
    let list = PathBuf::from(dir).join("bench").join("symbol-order.txt");
    let Some(path) = list.to_str() else {
        return;
    };
    // `-Wl,` splits its argument at commas.
    if !list.is_file() || path.contains(',') {
        return;
    }
    println!("cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={path}");
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
}
