//! The command line itself: generated files stay in sync with the clap
//! definition, `--help` explains every flag, and `schema` describes chains.

use std::path::Path;

use crate::support::run;
use clap::CommandFactory;

/// Shell → file under completions/.
const SHELLS: &[(clap_complete::Shell, &str)] = &[
    (clap_complete::Shell::Bash, "pytopus.bash"),
    (clap_complete::Shell::Zsh, "_pytopus"),
    (clap_complete::Shell::Fish, "pytopus.fish"),
    (clap_complete::Shell::PowerShell, "_pytopus.ps1"),
    (clap_complete::Shell::Elvish, "pytopus.elv"),
];

/// Fails when completions/ is out of date with what `pytopus completions`
/// prints. `UPDATE_GENERATED=1 cargo test --test it cli::` rewrites the files.
#[test]
fn completions_are_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    let update = std::env::var_os("UPDATE_GENERATED").is_some();
    let mut stale = Vec::new();
    for (shell, file) in SHELLS {
        let printed = run(&["completions", &shell.to_string()]);
        assert_eq!(printed.code, 0, "{}", printed.stderr);
        assert!(printed.stdout.contains("PYTOPUS_COMPLETE"), "{file}");
        let path = dir.join(file);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != printed.stdout {
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &printed.stdout).unwrap();
            } else {
                stale.push(file.to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "completions/ is out of date for {stale:?}: run `UPDATE_GENERATED=1 cargo test --test it cli::`"
    );
}

/// What bash offers, through the registered script and the binary on PATH:
/// `words` typed, the last one being completed.
fn bash_offers(dir: &Path, words: &[&str]) -> Vec<String> {
    let bin = Path::new(env!("CARGO_BIN_EXE_pytopus")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "source <(pytopus completions bash)\nCOMP_WORDS=({words})\nCOMP_CWORD={cword}\nCOMP_TYPE=9\n_clap_complete_pytopus pytopus '{cur}' '{prev}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        words = quoted.join(" "),
        cword = words.len() - 1,
        cur = words[words.len() - 1],
        prev = words[words.len() - 2],
    );
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .env("PATH", path)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn bash_completes_step_and_connector_names() {
    if std::process::Command::new("bash")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("notice: no bash here: completion through bash not checked");
        return;
    }
    let dir = crate::support::Scratch::new();
    dir.file(
        "flow.yaml",
        "steps:\n  - {name: Login, url: 'http://x.test/'}\n  - {name: ListUsers, url: 'http://x.test/'}\n  - {name: Logout, url: 'http://x.test/'}\nfinally:\n  - {name: Cleanup, url: 'http://x.test/'}\n",
    );
    dir.file("connectors/acme-billing.yaml", "name: acme-billing\nbase_url: https://billing.acme.test\nendpoints:\n  ping: {path: /ping}\n");
    let root = dir.path(".");
    assert_eq!(
        bash_offers(&root, &["pytopus", "run", "flow.yaml", "--step", "Lo"]),
        ["Login", "Logout"]
    );
    assert_eq!(
        bash_offers(&root, &["pytopus", "run", "flow.yaml", "--until", ""]),
        ["Login", "ListUsers", "Logout", "Cleanup"]
    );
    // No chain on the line, or one that does not parse: nothing, no error.
    assert!(bash_offers(&root, &["pytopus", "run", "--step", "L"]).is_empty());
    dir.file("broken.yaml", "steps: [");
    assert!(bash_offers(&root, &["pytopus", "run", "broken.yaml", "--from", ""]).is_empty());
    let connectors = bash_offers(&root, &["pytopus", "connectors", "show", "acme"]);
    assert_eq!(connectors, ["acme-billing"]);
    assert!(bash_offers(&root, &["pytopus", "r"]).contains(&"run".to_string()));
}

#[test]
fn every_flag_has_help() {
    let cmd = pytopus::cli::Cli::command();
    for sub in cmd.get_subcommands() {
        for arg in sub.get_arguments() {
            assert!(
                arg.get_help().is_some() || arg.get_long_help().is_some(),
                "`pytopus {} --{}` has no help text",
                sub.get_name(),
                arg.get_id()
            );
        }
    }
    let help = run(&["run", "--help"]);
    assert_eq!(help.code, 0);
    for flag in [
        "--var",
        "--vars-file",
        "--dry-run",
        "--report",
        "--record",
        "--replay",
        "--output",
        "--verbose",
        "--quiet",
        "--no-progress",
    ] {
        assert!(help.stdout.contains(flag), "run --help lacks {flag}");
    }
}

#[test]
fn schema_describes_chain_files_including_aliases() {
    let out = run(&["schema"]);
    assert_eq!(out.code, 0);
    let schema: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(schema["title"], "pytopus chain file");
    for key in ["name", "vars", "defaults", "steps", "api_chain", "output"] {
        assert!(
            schema["properties"].get(key).is_some(),
            "schema lacks `{key}`"
        );
    }
    let step = &schema["$defs"]["Step"]["properties"];
    for key in [
        "url",
        "method",
        "query_params",
        "query",
        "headers",
        "body",
        "extract",
        "expect",
        "retry",
        "timeout",
    ] {
        assert!(step.get(key).is_some(), "schema lacks step key `{key}`");
    }
    // Uploads: a part is text, "@path", a map with `file` or `value`, or a list.
    let part = &schema["$defs"]["MultipartPart"]["anyOf"];
    let kinds: Vec<serde_json::Value> = part
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["type"].clone())
        .collect();
    assert_eq!(
        kinds,
        [
            serde_json::json!(["string", "number", "boolean", "null"]),
            serde_json::json!("object"),
            serde_json::json!("object"),
            serde_json::json!("array")
        ]
    );
    assert_eq!(part[1]["required"], serde_json::json!(["file"]));
    assert_eq!(part[2]["required"], serde_json::json!(["value"]));
    assert!(
        step["body_file"]["anyOf"].to_string().contains("\"path\"")
            || step["body_file"].to_string().contains("BodyFile"),
        "{}",
        step["body_file"]
    );
    assert_eq!(schema["additionalProperties"], false);
}

/// The manual pages in man/ are what `pytopus man [COMMAND]` prints:
/// checked in, so a package installs them without building anything.
/// `UPDATE_GENERATED=1 cargo test --test it cli::` rewrites them.
#[test]
fn the_man_pages_are_up_to_date() {
    fn commands(cmd: &clap::Command, path: Vec<String>, out: &mut Vec<Vec<String>>) {
        out.push(path.clone());
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let mut p = path.clone();
            p.push(sub.get_name().to_string());
            commands(sub, p, out);
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let update = std::env::var_os("UPDATE_GENERATED").is_some();
    let mut cmd = pytopus::cli::Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut all = Vec::new();
    commands(&cmd, Vec::new(), &mut all);
    let mut stale = Vec::new();
    let mut files = Vec::new();
    for path in &all {
        let mut args = vec!["man"];
        args.extend(path.iter().map(String::as_str));
        let printed = run(&args);
        assert_eq!(printed.code, 0, "{args:?}: {}", printed.stderr);
        assert!(printed.stdout.contains(".TH "), "{args:?}: roff");
        let name = std::iter::once("pytopus")
            .chain(path.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join("-");
        let file = dir.join(format!("{name}.1"));
        files.push(format!("{name}.1"));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&file, &printed.stdout).unwrap();
        }
        if std::fs::read_to_string(&file).unwrap_or_default() != printed.stdout {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "man/ is out of date for {stale:?}: run `UPDATE_GENERATED=1 cargo test --test it cli::`"
    );
    // No page left for a command that is gone.
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    files.sort();
    assert_eq!(on_disk, files);
    let bad = run(&["man", "nope"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr
            .contains("no command `nope`; pages exist for: run, "),
        "{}",
        bad.stderr
    );
}
