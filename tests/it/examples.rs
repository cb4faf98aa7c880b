//! Every chain in `examples/` replays from the tape beside it (`<stem>.tape.json`)
//! and prints what its snapshot says, with nothing on stderr.

use std::path::{Path, PathBuf};

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// Chain files in `examples/`: every `*.json`, `*.yaml` and `*.yml` that is not a tape.
fn chains() -> Vec<PathBuf> {
    let mut chains: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .expect("examples/ is readable")
        .map(|entry| entry.expect("examples/ entry").path())
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            path.is_file()
                && !name.ends_with(".tape.json")
                && [".json", ".yaml", ".yml"]
                    .iter()
                    .any(|ext| name.ends_with(ext))
        })
        .collect();
    chains.sort();
    chains
}

/// `examples/crud.yaml` → `examples/crud.tape.json`.
fn tape_for(chain: &Path) -> PathBuf {
    let stem = chain
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("chain file name is UTF-8");
    chain.with_file_name(format!("{stem}.tape.json"))
}

/// Runs `pytopus run CHAIN --replay TAPE -q [extra...]` from the crate root,
/// asserts success with an empty stderr, and returns stdout.
fn replay(chain: &Path, extra: &[&str]) -> String {
    // Relative to the crate root, so commands and messages read as a user would type them.
    let chain = chain
        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(chain);
    let tape = tape_for(chain);
    assert!(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(&tape).is_file(),
        "{} has no tape: record one with `pytopus run {} --record {}`",
        chain.display(),
        chain.display(),
        tape.display()
    );
    let output = crate::support::pytopus()
        .arg("run")
        .arg(chain)
        .arg("--replay")
        .arg(&tape)
        .arg("-q")
        .args(extra)
        .env_remove("NO_COLOR")
        // Examples read secrets; any values do, since tapes hold them as ***.
        .env("PYTOPUS_KEYRING", "off")
        .env("PYTOPUS_SECRET_DEMO_PASSWORD", "example-password")
        .env("PYTOPUS_SECRET_DEMO_TOKEN", "example-token")
        .env("PYTOPUS_SECRET_DEMO_JWT_KEY", "example-jwt-key")
        .env(
            "PYTOPUS_SECRET_OAUTH_CLIENT_SECRET",
            "example-client-secret",
        )
        .output()
        .expect("pytopus runs");
    let stdout = String::from_utf8(output.stdout).expect("stdout is UTF-8");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{} exited with {:?}\nstderr:\n{stderr}\nstdout:\n{stdout}",
        chain.display(),
        output.status.code()
    );
    assert!(
        stderr.is_empty(),
        "{} wrote to stderr with -q:\n{stderr}",
        chain.display()
    );
    stdout
}

#[test]
fn every_example_replays_from_its_tape() {
    let chains = chains();
    assert!(
        chains.len() >= 5,
        "expected at least five example chains, found {chains:?}"
    );
    for chain in &chains {
        let stdout = replay(chain, &[]);
        let name = chain
            .file_name()
            .and_then(|n| n.to_str())
            .expect("chain file name is UTF-8")
            .replace('.', "_");
        insta::assert_snapshot!(name, stdout);
    }
}

#[test]
fn seed_example_replays_identically_twice() {
    let chain = examples_dir().join("config.json");
    let first = replay(&chain, &[]);
    let second = replay(&chain, &[]);
    assert!(!first.trim().is_empty(), "the seed example printed nothing");
    assert_eq!(first, second);
}

#[test]
fn script_example_prints_one_bare_value() {
    let chain = examples_dir().join("script.yaml");
    assert_eq!(replay(&chain, &["--output", "raw"]), "3\n");
}

/// Examples are read by people on their own machines: no path of the
/// machine they were written on.
#[test]
fn examples_name_no_path_of_a_test_machine() {
    let mut found = Vec::new();
    for chain in chains() {
        let text = std::fs::read_to_string(&chain).unwrap();
        for bad in ["/work/", "/tmp/pytopus", "/root/", "shared/peers"] {
            if text.contains(bad) {
                found.push(format!("{} mentions {bad}", chain.display()));
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}
