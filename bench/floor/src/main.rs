//! The floor of bench/: each subcommand does the requests and the parsing of
//! one pytopus workload with nothing else (no templates, no checks, no
//! reports), and prints the same bytes pytopus prints on stdout.
//!
//! ```text
//! floor [--mt] seq URL_BASE FIRST_PATH N   N GETs, each URL = URL_BASE + previous body's "next"
//! floor [--mt] fanout URL_BASE LIST_PATH CONCURRENCY
//!                                         GET the list of ids, then GET URL_BASE/s/{id}.json
//!                                         for each, CONCURRENCY in flight, results in order
//! floor [--mt] get URL                    one GET, body parsed into memory (also the 100 MB body)
//! floor [--mt] save URL PATH              one GET, body streamed to PATH (via PATH.pytopus-partial)
//! floor [--mt] upload URL PATH            one POST of PATH as a multipart part `file`, streamed
//! floor --version
//! ```
//!
//! `--mt` uses tokio's multi-thread runtime instead of the current-thread one.
//! `FLOOR_CA=ca.pem` trusts that CA too (the bench's HTTPS server), as a
//! pytopus chain's `tls: {ca_cert: ca.pem}` does; HTTP/2 is negotiated by
//! ALPN when the server offers it, as pytopus does.

use std::io::Write;
use std::process::ExitCode;

use futures_util::StreamExt;
use serde_json::Value;

type Error = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--version") {
        println!("floor 0.0.0");
        return ExitCode::SUCCESS;
    }
    let multi_thread = args.first().map(String::as_str) == Some("--mt");
    if multi_thread {
        args.remove(0);
    }
    let runtime = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .expect("tokio runtime");
    match runtime.block_on(run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("floor: {e}");
            ExitCode::from(1)
        }
    }
}

async fn run(args: &[String]) -> Result<(), Error> {
    let mut builder = reqwest::Client::builder();
    if let Some(ca) = std::env::var_os("FLOOR_CA") {
        let pem = std::fs::read(ca)?;
        builder = builder.tls_certs_merge(reqwest::Certificate::from_pem_bundle(&pem)?);
    }
    let client = builder.build()?;
    let arg = |i: usize| -> Result<&str, Error> {
        args.get(i)
            .map(String::as_str)
            .ok_or_else(|| "usage: see src/main.rs".into())
    };
    match arg(0)? {
        "seq" => {
            let base = arg(1)?;
            let mut path = arg(2)?.to_string();
            let n: usize = arg(3)?.parse()?;
            let mut last = Value::Null;
            for _ in 0..n {
                let url = format!("{base}{path}");
                last = get_json(&client, &url).await?;
                if let Some(next) = last.get("next").and_then(Value::as_str) {
                    path = next.to_string();
                }
            }
            print_pretty(&last)
        }
        "fanout" => {
            let base = arg(1)?;
            let list = get_json(&client, &format!("{base}{}", arg(2)?)).await?;
            let concurrency: usize = arg(3)?.parse()?;
            let ids = list.as_array().ok_or("the list is not an array")?;
            // `buffered` keeps at most `concurrency` requests in flight and
            // yields the answers in the order of the ids.
            let results: Vec<Value> = futures_util::stream::iter(ids)
                .map(|id| {
                    let client = &client;
                    let url = format!("{base}/s/{}.json", text(id));
                    async move { get_json(client, &url).await }
                })
                .buffered(concurrency)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<Result<_, _>>()?;
            print_pretty(&Value::Array(results))
        }
        "get" => print_pretty(&get_json(&client, arg(1)?).await?),
        "save" => {
            let path = arg(2)?;
            let mut response = client.get(arg(1)?).send().await?.error_for_status()?;
            let partial = format!("{path}.pytopus-partial");
            let mut file = std::fs::File::create(&partial)?;
            let mut bytes: u64 = 0;
            while let Some(chunk) = response.chunk().await? {
                file.write_all(&chunk)?;
                bytes += chunk.len() as u64;
            }
            drop(file);
            std::fs::rename(&partial, path)?;
            let mut result = serde_json::Map::new();
            result.insert("saved_to".into(), Value::from(path));
            result.insert("bytes".into(), Value::from(bytes));
            print_pretty(&Value::Object(result))
        }
        "upload" => {
            // reqwest's own multipart: the file streamed from disk.
            let form = reqwest::multipart::Form::new()
                .file("file", arg(2)?)
                .await?;
            let response = client
                .post(arg(1)?)
                .multipart(form)
                .send()
                .await?
                .error_for_status()?;
            let body = response.bytes().await?;
            print_pretty(&serde_json::from_slice(&body)?)
        }
        other => Err(format!("unknown workload `{other}`").into()),
    }
}

/// GET `url`, fail on a non-2xx status, parse the body as JSON.
async fn get_json(client: &reqwest::Client, url: &str) -> Result<Value, Error> {
    let response = client.get(url).send().await?.error_for_status()?;
    let body = response.bytes().await?;
    Ok(serde_json::from_slice(&body)?)
}

/// A value as a template prints it: strings bare, anything else as JSON.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What `pytopus run --output json` prints: pretty JSON and a newline.
fn print_pretty(v: &Value) -> Result<(), Error> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    serde_json::to_writer_pretty(&mut out, v)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}
