//! An opt-in packaging step: with `PYTOPUS_LINK_ORDER=path/to/symbol-order.txt`
//! (a list written by `bench/order.py`), a release build for x86-64 Linux
//! links the functions a run executes side by side, so a run touches fewer
//! pages of code (bench/README.md, "Code layout"). Without the variable,
//! nothing happens: a list that no longer matches the code silently costs
//! memory, so no list is kept in the repository.
//!
//! Only Rust's own linker setup for this target (LLD, the default since
//! Rust 1.90) is known to take the option; a build that names another
//! linker is left alone.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=PYTOPUS_LINK_ORDER");
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER");

    let var = |name: &str| env::var(name).unwrap_or_default();
    let list = PathBuf::from(var("PYTOPUS_LINK_ORDER"));
    let wanted = !list.as_os_str().is_empty()
        && var("PROFILE") == "release"
        && var("TARGET") == "x86_64-unknown-linux-gnu"
        && env::var_os("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_none()
        && !var("CARGO_ENCODED_RUSTFLAGS").contains("link");
    if !wanted {
        return;
    }
    let list = match list.canonicalize() {
        Ok(p) => p,
        Err(e) => {
            println!(
                "cargo:warning=PYTOPUS_LINK_ORDER={}: {e}; linking in the compiler's order",
                list.display()
            );
            return;
        }
    };
    println!("cargo:rerun-if-changed={}", list.display());
    let Some(path) = list.to_str() else {
        return;
    };
    // `-Wl,` splits its argument at commas.
    if path.contains(',') {
        return;
    }
    println!("cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={path}");
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
}
