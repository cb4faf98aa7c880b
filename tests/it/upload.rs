//! Uploads (`multipart:`, `body_file:`), read back by a server that parses
//! multipart as servers do (multer, under axum), through both routes a
//! plain `http://` request can take: parts and bytes as received, file
//! names and content types, templated fields, retries and 307s sending the
//! whole body again, a large file streamed, bad paths refused before
//! anything is sent.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::support::{Scratch, pytopus, run_cmd};
use crate::transport::{ROUTES, Route, failure, load};
use pytopus::engine::RunStatus;

/// A part as the server received it.
#[derive(Debug, Clone, Default)]
struct SeenPart {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    /// The bytes, for parts up to [`KEEP`]; beyond, only the first and last.
    bytes: Vec<u8>,
    len: u64,
    tail: Vec<u8>,
}

const KEEP: usize = 1 << 20;

/// A request as the server received it.
#[derive(Debug, Clone, Default)]
struct Seen {
    path: String,
    content_type: String,
    content_length: Option<u64>,
    parts: Vec<SeenPart>,
    /// A body that was not multipart: its bytes.
    raw: Vec<u8>,
}

#[derive(Default)]
struct Server {
    hits: AtomicUsize,
    seen: Mutex<Vec<Seen>>,
    /// Once this much of a file part has arrived, the server overwrites the
    /// last bytes of this file with `Z`s (to tell streaming from reading
    /// the file first).
    touch: Mutex<Option<(PathBuf, u64)>>,
}

/// Starts the server; its base URL and state.
async fn server() -> (String, Arc<Server>) {
    let state = Arc::new(Server::default());
    let app = axum::Router::new()
        .fallback(receive)
        .with_state(Arc::clone(&state));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), state)
}

async fn receive(State(server): State<Arc<Server>>, req: Request) -> Response {
    let hit = server.hits.fetch_add(1, Ordering::SeqCst);
    let path = req.uri().path().to_string();
    // These answer after reading the whole body: a server that answers
    // before and closes the connection leaves the client a broken pipe
    // where it would have read the answer, depending on timing.
    if path == "/flaky" && hit == 0 {
        drain(req).await;
        return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response();
    }
    if path == "/moved" {
        drain(req).await;
        return Response::builder()
            .status(307)
            .header("location", "/upload")
            .body(Body::empty())
            .unwrap();
    }
    let (content_type, content_length) =
        (header(&req, "content-type"), header(&req, "content-length"));
    let mut seen = Seen {
        path,
        content_type: content_type.unwrap_or_default(),
        content_length: content_length.and_then(|v| v.parse().ok()),
        ..Seen::default()
    };
    let stream = req.into_body().into_data_stream();
    match multer::parse_boundary(&seen.content_type) {
        Ok(boundary) => {
            let mut form = multer::Multipart::new(stream, boundary);
            loop {
                let mut field = match form.next_field().await {
                    Ok(Some(f)) => f,
                    Ok(None) => break,
                    Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
                };
                let mut part = SeenPart {
                    name: field.name().unwrap_or_default().to_string(),
                    filename: field.file_name().map(str::to_string),
                    content_type: field.content_type().map(|m| m.to_string()),
                    ..SeenPart::default()
                };
                loop {
                    let chunk = match field.chunk().await {
                        Ok(Some(c)) => c,
                        Ok(None) => break,
                        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
                    };
                    part.len += chunk.len() as u64;
                    if part.bytes.len() < KEEP {
                        part.bytes.extend_from_slice(&chunk);
                    }
                    part.tail.extend_from_slice(&chunk);
                    let cut = part.tail.len().saturating_sub(16);
                    part.tail.drain(..cut);
                    let touch = server.touch.lock().unwrap().clone();
                    if let Some((file, after)) = touch
                        && part.filename.is_some()
                        && part.len >= after
                    {
                        overwrite_tail(&file);
                        *server.touch.lock().unwrap() = None;
                    }
                }
                seen.parts.push(part);
            }
        }
        Err(_) => {
            let mut stream = stream;
            while let Some(chunk) = stream.next().await {
                seen.raw.extend_from_slice(&chunk.unwrap());
            }
        }
    }
    let parts: Vec<Value> = seen
        .parts
        .iter()
        .map(|p| json!({"name": p.name, "filename": p.filename, "type": p.content_type, "len": p.len}))
        .collect();
    let answer = json!({"parts": parts, "raw_len": seen.raw.len(), "type": seen.content_type});
    server.seen.lock().unwrap().push(seen);
    axum::Json(answer).into_response()
}

async fn drain(req: Request) {
    let mut body = req.into_body().into_data_stream();
    while let Some(Ok(_)) = body.next().await {}
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Writes `Z` over the last 8 bytes of `file`, keeping its size.
fn overwrite_tail(file: &Path) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().write(true).open(file).unwrap();
    f.seek(SeekFrom::End(-8)).unwrap();
    f.write_all(b"ZZZZZZZZ").unwrap();
}

/// Runs `chain`, written as `c.yaml` in `dir` (its relative paths start
/// there), over `route`, with `base` set.
async fn run_in(
    route: Route,
    dir: &Path,
    chain: &str,
    base: &str,
) -> (pytopus::engine::RunReport, Value) {
    use pytopus::secret::{MemoryStore, Redactor, Secret, SecretStore, Secrets};
    use pytopus::transport::{Client, LiveOptions, LiveTransport};
    let chain = load(dir, chain, base);
    let redactor = Redactor::default();
    let store = Arc::new(MemoryStore::default());
    store.set("token", &Secret::new("s3cr3t-value")).unwrap();
    let opts = pytopus::engine::RunOptions {
        redactor: redactor.clone(),
        secrets: Some(Secrets::new(
            move || Ok(store.clone() as Arc<dyn SecretStore>),
            redactor.clone(),
        )),
        ..Default::default()
    };
    let live = LiveTransport::new(&LiveOptions {
        reqwest_only: route == Route::Reqwest,
        ..LiveOptions::default()
    })
    .unwrap();
    let client = Client::new(Arc::new(live), redactor.clone());
    let report = pytopus::engine::run(
        &chain,
        &client,
        &mut pytopus::engine::Observers::default(),
        &opts,
        pytopus::engine::Cancel::never(),
    )
    .await;
    // As `--report` writes it.
    let json = redactor.redact_json(&pytopus::report::json::to_json(&report));
    (report, json)
}

/// A part's name, file name, content type and bytes.
type PartSeen<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]);

const FIELDS_AND_FILES: &str = r#"
vars: {who: ann, tags: [a, b], nothing: null}
steps:
  - name: Up
    url: "{{ base }}/upload"
    multipart:
      title: "report for {{ who }}"
      count: 3
      tags: "{{ tags }}"
      handle: "@@ann"
      token: "{{ secret('token') }}"
      report: "@data/report.csv"
      raw: {file: data/blob, filename: "blob-{{ who }}.bin", content_type: application/x-blob}
      meta: {value: {who: "{{ who }}", n: 1}}
      inline: {value: "a,b\n1,2\n", filename: inline.csv, content_type: text/csv}
      several: ["@data/report.csv", "text"]
      gone: "{{ nothing }}"
"#;

#[tokio::test]
async fn parts_arrive_as_written_on_both_routes() {
    let dir = Scratch::new();
    dir.file("data/report.csv", "id,name\n1,ann\n");
    let blob: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    std::fs::write(dir.path("data/blob"), &blob).unwrap();
    for route in ROUTES {
        let (base, server) = server().await;
        let (report, json) = run_in(route, dir.dir.path(), FIELDS_AND_FILES, &base).await;
        assert_eq!(
            report.status,
            RunStatus::Passed,
            "{route:?}: {}",
            failure(&report)
        );
        let seen = server.seen.lock().unwrap()[0].clone();
        assert!(
            seen.content_type
                .starts_with("multipart/form-data; boundary=pytopus-"),
            "{}",
            seen.content_type
        );
        let got: Vec<PartSeen> = seen
            .parts
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.filename.as_deref(),
                    p.content_type.as_deref(),
                    &p.bytes[..],
                )
            })
            .collect();
        let csv = b"id,name\n1,ann\n";
        let want: Vec<PartSeen> = vec![
            ("title", None, None, b"report for ann"),
            ("count", None, None, b"3"),
            ("tags", None, None, b"a"),
            ("tags", None, None, b"b"),
            ("handle", None, None, b"@ann"),
            ("token", None, None, b"s3cr3t-value"),
            ("report", Some("report.csv"), Some("text/csv"), csv),
            (
                "raw",
                Some("blob-ann.bin"),
                Some("application/x-blob"),
                &blob,
            ),
            (
                "meta",
                None,
                Some("application/json"),
                br#"{"who":"ann","n":1}"#,
            ),
            (
                "inline",
                Some("inline.csv"),
                Some("text/csv"),
                b"a,b\n1,2\n",
            ),
            ("several", Some("report.csv"), Some("text/csv"), csv),
            ("several", None, None, b"text"),
        ];
        assert_eq!(got, want, "{route:?}");
        // The whole body, as long as announced.
        assert!(
            seen.content_length.is_some(),
            "{route:?}: no Content-Length"
        );
        // The report shows the parts, not the file's bytes, and no secret.
        let body = json["steps"][0]["request"]["body"]
            .as_str()
            .unwrap_or_default();
        assert!(
            body.contains("--- part \"title\"\nreport for ann\n"),
            "{body}"
        );
        assert!(
            body.contains("<70000 bytes from the file ") && body.contains("blob>"),
            "{body}"
        );
        assert!(!body.contains("s3cr3t-value"), "{body}");
    }
}

#[tokio::test]
async fn a_retry_and_a_307_send_the_whole_body_again() {
    let dir = Scratch::new();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(dir.path("big.bin"), &data).unwrap();
    let chain = r#"
steps:
  - name: Flaky
    url: "{{ base }}/flaky"
    retry: {attempts: 2, backoff: 0s, on: [503]}
    multipart: {file: "@big.bin", note: again}
  - name: Moved
    url: "{{ base }}/moved"
    multipart: {file: "@big.bin", note: again}
  - name: Raw
    url: "{{ base }}/moved"
    body_file: {path: big.bin, content_type: application/x-big}
"#;
    for route in ROUTES {
        let (base, server) = server().await;
        let (report, _) = run_in(route, dir.dir.path(), chain, &base).await;
        assert_eq!(
            report.status,
            RunStatus::Passed,
            "{route:?}: {}",
            failure(&report)
        );
        // Flaky: 503, then the body; Moved: 307, then the body; Raw likewise.
        assert_eq!(server.hits.load(Ordering::SeqCst), 6, "{route:?}");
        let seen = server.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 3, "{route:?}");
        for s in &seen[..2] {
            assert_eq!(s.parts.len(), 2, "{route:?}");
            assert_eq!(s.parts[0].bytes, data, "{route:?} {}", s.path);
            assert_eq!(s.parts[0].filename.as_deref(), Some("big.bin"));
            assert_eq!(
                s.parts[0].content_type.as_deref(),
                Some("application/octet-stream")
            );
            assert_eq!(s.parts[1].bytes, b"again");
        }
        assert_eq!(seen[1].path, "/upload");
        assert_eq!(seen[2].raw, data, "{route:?}");
        assert_eq!(seen[2].content_type, "application/x-big");
        assert_eq!(seen[2].content_length, Some(data.len() as u64));
    }
}

#[tokio::test]
async fn a_large_file_is_read_as_it_is_sent() {
    // 64 MiB: far more than socket buffers hold. The server changes the
    // file's last bytes once its first MiB has arrived; a client that read
    // the file before sending would send the old ones.
    let dir = Scratch::new();
    let path = dir.path("large.bin");
    let size: u64 = 64 << 20;
    std::fs::File::create(&path).unwrap().set_len(size).unwrap();
    let chain = "steps:\n  - name: Up\n    url: \"{{ base }}/upload\"\n    multipart: {f: \"@large.bin\"}\n";
    for route in ROUTES {
        overwrite_zeros(&path);
        let (base, server) = server().await;
        *server.touch.lock().unwrap() = Some((path.clone(), 1 << 20));
        let (report, _) = run_in(route, dir.dir.path(), chain, &base).await;
        assert_eq!(
            report.status,
            RunStatus::Passed,
            "{route:?}: {}",
            failure(&report)
        );
        let seen = server.seen.lock().unwrap()[0].clone();
        assert_eq!(seen.parts[0].len, size, "{route:?}");
        assert_eq!(&seen.parts[0].tail[8..], b"ZZZZZZZZ", "{route:?}");
        assert!(seen.parts[0].bytes.iter().all(|b| *b == 0));
    }
}

/// Puts zeros back over the last 8 bytes.
fn overwrite_zeros(file: &Path) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().write(true).open(file).unwrap();
    f.seek(SeekFrom::End(-8)).unwrap();
    f.write_all(&[0; 8]).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_that_cannot_be_sent_stops_the_run_before_anything_is_sent() {
    let (base, server) = server().await;
    let dir = Scratch::new();
    std::fs::create_dir(dir.path("folder")).unwrap();
    let chain = dir.file(
        "c.yaml",
        r#"steps:
  - name: First
    url: "{{ base }}/upload"
  - name: Up
    url: "{{ base }}/upload"
    multipart:
      a: "@missing.pdf"
      b: {file: folder}
      c: "@{{ name }}.txt"
  - name: Raw
    url: "{{ base }}/upload"
    body_file: missing.bin
"#,
    );
    let out = run_cmd(pytopus().args([
        "run",
        chain.to_str().unwrap(),
        "--var",
        &format!("base={base}"),
        "--var",
        "name=x",
    ]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    let err = out
        .stderr
        .replace(&dir.dir.path().display().to_string(), "TMP");
    for want in [
        "error: cannot upload TMP/missing.pdf: no such file\n --> TMP/c.yaml:7:10",
        "error: cannot upload TMP/folder: it is a directory\n --> TMP/c.yaml:8:17",
        "error: a file path is not a template: `{{ name }}.txt`\n --> TMP/c.yaml:9:10",
        "error: cannot upload TMP/missing.bin: no such file\n  --> TMP/c.yaml:12:16",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    assert_eq!(server.hits.load(Ordering::SeqCst), 0);
}

#[test]
fn a_part_written_wrong_is_named() {
    let dir = Scratch::new();
    dir.file("a.txt", "a");
    let chain = dir.file(
        "c.yaml",
        r#"steps:
  - name: Up
    url: http://127.0.0.1:1/
    body: x
    multipart: {a: "@a.txt"}
  - name: Map
    url: http://127.0.0.1:1/
    multipart:
      meta: {who: ann}
      both: {file: a.txt, value: x}
      typo: {file: a.txt, filname: b}
"#,
    );
    let out = run_cmd(pytopus().args(["validate", chain.to_str().unwrap()]));
    assert_eq!(out.code, 2);
    for want in [
        "a step sends one body: it cannot have both `body` and `multipart`",
        "part `meta` is a map without `file` or `value`",
        "a part has `file` or `value`, not both",
        "unknown key `filname` in a multipart part",
        "did you mean `filename`?",
    ] {
        assert!(
            out.stderr.contains(want),
            "missing {want:?} in:\n{}",
            out.stderr
        );
    }
}

#[test]
fn a_dry_run_and_a_tape_show_the_parts_not_the_file() {
    let dir = Scratch::new();
    std::fs::write(dir.path("photo.png"), [0x89, b'P', b'N', b'G', 0, 0, 0xff]).unwrap();
    let chain = dir.file(
        "c.yaml",
        "steps:\n  - name: Up\n    url: http://127.0.0.1:1/u\n    multipart: {caption: hi, photo: \"@photo.png\"}\n",
    );
    let out = run_cmd(pytopus().args(["run", chain.to_str().unwrap(), "--dry-run", "-q"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = out
        .stdout
        .replace(&dir.dir.path().display().to_string(), "TMP");
    let boundary_at = text.find("boundary=pytopus-").expect("a boundary") + 17;
    let text = format!("{}B{}", &text[..boundary_at], &text[boundary_at + 32..]);
    assert_eq!(
        text,
        "# Up\nPOST http://127.0.0.1:1/u\ncontent-type: multipart/form-data; boundary=pytopus-B\n\n\
         --- part \"caption\"\nhi\n\
         --- part \"photo\"; filename=\"photo.png\"; content-type: image/png\n\
         <7 bytes from the file TMP/photo.png>\n\
         --- end of multipart body (292 bytes)\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tape_keeps_the_parts_and_the_file_sizes_and_replays_them() {
    let (base, server) = server().await;
    let dir = Scratch::new();
    dir.file("notes.txt", "hello");
    let chain = dir.file(
        "c.yaml",
        "steps:\n  - name: Up\n    url: \"{{ base }}/upload\"\n    multipart: {who: ann, notes: \"@notes.txt\"}\n  - name: Raw\n    url: \"{{ base }}/upload\"\n    body_file: notes.txt\n",
    );
    let tape = dir.path("tape.json");
    let base_var = format!("base={base}");
    let args = |flag: &str| {
        vec![
            "run".to_string(),
            chain.display().to_string(),
            "--var".into(),
            base_var.clone(),
            flag.into(),
            tape.display().to_string(),
        ]
    };
    let out = run_cmd(pytopus().args(args("--record")));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);
    let recorded: Value = serde_json::from_str(&std::fs::read_to_string(&tape).unwrap()).unwrap();
    let notes = dir.path("notes.txt").display().to_string();
    assert_eq!(
        recorded["exchanges"][0]["request"]["body"],
        json!({"multipart": [
            {"name": "who", "value": {"text": "ann"}},
            {"name": "notes", "filename": "notes.txt", "content_type": "text/plain",
             "file": {"path": notes, "bytes": 5}}
        ]})
    );
    assert_eq!(
        recorded["exchanges"][1]["request"]["body"],
        json!({"file": {"path": notes, "bytes": 5}})
    );
    let out = run_cmd(pytopus().args(args("--replay")));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        server.hits.load(Ordering::SeqCst),
        2,
        "a replay sends nothing"
    );
}
