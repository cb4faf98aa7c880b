//! `pytopus import curl`, `import har` and `import postman`: a curl
//! command, a browser's capture or a Postman collection in, a chain out.

use super::args::{CopiedFor, ImportCurlArgs, ImportHarArgs, ImportPostmanArgs};
use super::fail::{Fail, Outcome};
use super::print_stdout;
use crate::import::curl::{self as import, ImportError, Imported};
use crate::import::shell::{self, Flavour};

/// Reads the command (an argument, the words as arguments, or standard
/// input), prints the chain on stdout and the notes on stderr.
pub fn curl(args: ImportCurlArgs) -> Outcome {
    let name = args.name.as_deref();
    let text = |text: &str| -> Result<Imported, ImportError> {
        let flavour = match args.shell {
            Some(CopiedFor::Bash) => Flavour::Bash,
            Some(CopiedFor::Cmd) => Flavour::Cmd,
            None => shell::flavour(text),
        };
        import::import_as(text, flavour, name)
    };
    let imported = match args.command.as_slice() {
        [] => text(&stdin()?),
        [one] if one == "-" => text(&stdin()?),
        [one] => text(one),
        // The shell split the words already.
        words => import::import_words(words, name),
    }
    .map_err(|e| Fail::usage(e.to_string()))?;
    for note in &imported.notes {
        crate::report::to_stderr(&format!("note: {note}\n"));
    }
    print_stdout(&imported.yaml)
}

/// Reads the capture, prints the chain on stdout and the notes (secrets
/// to store, links made, what was left out) on stderr.
pub fn har(args: ImportHarArgs) -> Outcome {
    let path = (args.file != "-").then(|| std::path::Path::new(&args.file));
    let text = crate::files::read_text(path, crate::files::MAX_DATA).map_err(|e| {
        Fail::usage(format!(
            "cannot read {}: {e}",
            path.map_or("standard input".to_string(), |p| p.display().to_string())
        ))
    })?;
    let filter = crate::import::har::Filter {
        hosts: args.host,
        methods: args.method,
        include_static: args.include_static,
    };
    let imported =
        crate::import::har::import(&text, &filter).map_err(|e| Fail::usage(e.to_string()))?;
    for note in &imported.notes {
        crate::report::to_stderr(&format!("note: {note}\n"));
    }
    print_stdout(&imported.yaml)
}

fn stdin() -> Result<String, Fail> {
    crate::files::read_text(None, crate::files::MAX_INPUT)
        .map_err(|e| Fail::usage(format!("cannot read the command from standard input: {e}")))
}

/// Reads the collection (a file, or `-` for standard input) and the
/// environment, prints the chain on stdout and the notes on stderr.
pub fn postman(args: ImportPostmanArgs) -> Outcome {
    let read = |path: &std::path::Path, what: &str| -> Result<String, Fail> {
        let from_stdin = path.as_os_str() == "-";
        crate::files::read_text((!from_stdin).then_some(path), crate::files::MAX_INPUT).map_err(
            |e| {
                let place = if from_stdin {
                    "standard input".to_string()
                } else {
                    format!("`{}`", path.display())
                };
                Fail::usage(format!("cannot read the {what} from {place}: {e}"))
            },
        )
    };
    let collection = read(&args.collection, "collection")?;
    let environment = match &args.environment {
        Some(p) => Some(read(p, "environment")?),
        None => None,
    };
    let imported = crate::import::postman::import(&collection, environment.as_deref())
        .map_err(|e| Fail::usage(e.to_string()))?;
    for note in &imported.notes {
        crate::report::to_stderr(&format!("note: {note}\n"));
    }
    print_stdout(&imported.yaml)
}

/// `export arazzo`: the chain's Arazzo document and the OpenAPI
/// descriptions it names, written into `--out` (never over a file).
pub fn export_arazzo(args: super::args::ExportArazzoArgs) -> Outcome {
    let source = super::inputs::read_source(&args.chain).map_err(|d| Fail::Usage(d.into()))?;
    let parsed = crate::chain::parse(source).map_err(|d| Fail::Usage(d.into()))?;
    let resolved = crate::resolve::resolve(&parsed);
    let exported = crate::export::arazzo(&parsed, &resolved).map_err(Fail::Usage)?;
    let stem = std::path::Path::new(&args.chain)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("chain")
        .trim_end_matches(".chain")
        .to_string();
    let arazzo_text = serde_saphyr::to_string(&exported.arazzo)
        .map_err(|e| Fail::failed(format!("cannot write the Arazzo document as YAML: {e}")))?;
    let mut files = vec![(format!("{stem}.arazzo.yaml"), arazzo_text)];
    for (name, doc) in &exported.descriptions {
        let text = serde_json::to_string_pretty(doc).unwrap_or_default() + "\n";
        files.push((name.clone(), text));
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Fail::failed(format!("cannot make {}: {e}", args.out.display())))?;
    for (name, _) in &files {
        let path = args.out.join(name);
        if path.exists() {
            return Err(Fail::usage(format!(
                "{} exists: remove it or give another --out",
                path.display()
            )));
        }
    }
    for (name, text) in &files {
        let path = args.out.join(name);
        crate::files::write(&path, text.as_bytes())
            .map_err(|e| Fail::failed(format!("cannot write {}: {e}", path.display())))?;
        crate::report::to_stderr(&format!("wrote {}\n", path.display()));
    }
    Ok(super::Exit::Success)
}
