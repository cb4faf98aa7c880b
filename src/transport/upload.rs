//! Request bodies: bytes in memory, or a description of files to stream
//! from disk when the request is sent (`body_file:`, the files of a
//! `multipart:` body). A body names its files and their sizes and never
//! holds one open: each attempt and each redirect hop that sends it opens
//! the files again ([`Body::open`]), so a retry or a 307 sends it whole,
//! and a 1 GB file passes through a buffer of [`CHUNK`] bytes.
//!
//! What people read of a body (a dry run, `-vvv`, `--report`, `--har`, a
//! tape) is [`Body::shown`]: a streamed body's parts with their names, file
//! names, types and sizes, never the files' bytes.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use tokio::io::{AsyncRead, ReadBuf};

use super::TransportError;

/// How much of a file is read at a time while it is sent.
pub const CHUNK: usize = 128 * 1024;

/// A request body.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// In memory.
    Bytes(Vec<u8>),
    /// A file sent as the whole body (`body_file:`).
    File(Arc<FileRef>),
    /// `multipart/form-data` (`multipart:`); its files are streamed.
    Multipart(Arc<Multipart>),
}

/// A file to send, as it was when the request was made.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRef {
    pub path: PathBuf,
    /// Its size: what the request announces as its length. A file whose
    /// size differs when it is opened to be sent is not sent.
    pub len: u64,
}

impl FileRef {
    /// The file at `path` and its size now: a regular file, else an error
    /// that says what it is.
    pub fn measure(path: &Path) -> Result<FileRef, String> {
        let meta = std::fs::metadata(path).map_err(|e| io_words(&e))?;
        if meta.is_dir() {
            return Err("it is a directory".into());
        }
        if !meta.is_file() {
            return Err("it is not a regular file (its size is not known before sending)".into());
        }
        Ok(FileRef {
            path: path.to_path_buf(),
            len: meta.len(),
        })
    }
}

/// An I/O error in words, without the `(os error 2)` tail.
pub fn io_words(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let text = e.to_string();
            match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            }
        }
    }
}

/// A `multipart/form-data` body (RFC 7578).
#[derive(Debug, Clone, PartialEq)]
pub struct Multipart {
    /// Random for each request: a file's bytes cannot be made to contain it.
    pub boundary: String,
    pub parts: Vec<Part>,
}

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: PartData,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PartData {
    Bytes(Vec<u8>),
    File(FileRef),
}

impl Multipart {
    /// A multipart body with a new random boundary.
    pub fn new(parts: Vec<Part>) -> Multipart {
        Multipart {
            boundary: format!("pytopus-{}", uuid::Uuid::new_v4().simple()),
            parts,
        }
    }

    /// The `Content-Type` of the body.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The bytes before a part's data.
    fn head(&self, part: &Part) -> Vec<u8> {
        let mut head = format!(
            "--{}\r\ncontent-disposition: form-data; name=\"{}\"",
            self.boundary,
            quoted(&part.name)
        );
        if let Some(f) = &part.filename {
            head.push_str(&format!("; filename=\"{}\"", quoted(f)));
        }
        head.push_str("\r\n");
        if let Some(ct) = &part.content_type {
            head.push_str(&format!("content-type: {ct}\r\n"));
        }
        head.push_str("\r\n");
        head.into_bytes()
    }

    fn tail(&self) -> Vec<u8> {
        format!("--{}--\r\n", self.boundary).into_bytes()
    }

    fn len(&self) -> u64 {
        let data: u64 = self
            .parts
            .iter()
            .map(|p| {
                let data = match &p.data {
                    PartData::Bytes(b) => b.len() as u64,
                    PartData::File(f) => f.len,
                };
                self.head(p).len() as u64 + data + 2
            })
            .fold(0u64, u64::saturating_add);
        data.saturating_add(self.tail().len() as u64)
    }
}

/// A name or file name inside the quotes of `Content-Disposition`, escaped
/// as browsers do (the HTML standard's multipart/form-data encoding): `"`,
/// CR and LF percent-encoded, everything else as it is (UTF-8).
fn quoted(text: &str) -> Cow<'_, str> {
    if !text.contains(['"', '\r', '\n']) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.replace('"', "%22")
            .replace('\r', "%0D")
            .replace('\n', "%0A"),
    )
}

impl Body {
    /// How many bytes the body is.
    pub fn len(&self) -> u64 {
        match self {
            Body::Bytes(b) => b.len() as u64,
            Body::File(f) => f.len,
            Body::Multipart(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes, when the body is in memory.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Body::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The body as people read it: the bytes of a body in memory; for a
    /// streamed one, its parts with their headers and text fields, and
    /// each file as `<N bytes from the file PATH>`.
    pub fn shown(&self) -> Cow<'_, [u8]> {
        match self {
            Body::Bytes(b) => Cow::Borrowed(b),
            Body::File(f) => Cow::Owned(file_words(f).into_bytes()),
            Body::Multipart(m) => {
                let mut out = Vec::new();
                for part in &m.parts {
                    out.extend_from_slice(
                        format!("--- part \"{}\"", quoted(&part.name)).as_bytes(),
                    );
                    if let Some(f) = &part.filename {
                        out.extend_from_slice(format!("; filename=\"{}\"", quoted(f)).as_bytes());
                    }
                    if let Some(ct) = &part.content_type {
                        out.extend_from_slice(format!("; content-type: {ct}").as_bytes());
                    }
                    out.push(b'\n');
                    match &part.data {
                        PartData::Bytes(b) => out.extend_from_slice(b),
                        PartData::File(f) => out.extend_from_slice(file_words(f).as_bytes()),
                    }
                    out.push(b'\n');
                }
                out.extend_from_slice(
                    format!("--- end of multipart body ({} bytes)", m.len()).as_bytes(),
                );
                Cow::Owned(out)
            }
        }
    }

    /// [`Body::shown`] as text (lossily, for bytes that are not UTF-8).
    pub fn shown_text(&self) -> Cow<'_, str> {
        match self.shown() {
            Cow::Borrowed(b) => String::from_utf8_lossy(b),
            Cow::Owned(b) => Cow::Owned(String::from_utf8_lossy(&b).into_owned()),
        }
    }

    /// The body, ready to be sent: its files opened (and checked to be the
    /// size the request announces). Called for each exchange.
    /// The body as it is sent: byte runs and the files between them.
    fn pieces(&self) -> Vec<Piece<'_>> {
        match self {
            Body::Bytes(b) => vec![Piece::Bytes(Cow::Borrowed(b))],
            Body::File(f) => vec![Piece::File(f)],
            Body::Multipart(m) => {
                let mut pieces = Vec::with_capacity(m.parts.len() * 2 + 1);
                for part in &m.parts {
                    let mut bytes = m.head(part);
                    match &part.data {
                        PartData::Bytes(b) => bytes.extend_from_slice(b),
                        PartData::File(f) => {
                            pieces.push(Piece::Bytes(Cow::Owned(std::mem::take(&mut bytes))));
                            pieces.push(Piece::File(f));
                        }
                    }
                    bytes.extend_from_slice(b"\r\n");
                    pieces.push(Piece::Bytes(Cow::Owned(bytes)));
                }
                pieces.push(Piece::Bytes(Cow::Owned(m.tail())));
                pieces
            }
        }
    }

    pub(super) fn open(&self) -> Result<WireBody, TransportError> {
        let mut wire = WireBody::default();
        for piece in self.pieces() {
            match piece {
                Piece::Bytes(b) => wire.push_bytes(b.into_owned()),
                Piece::File(f) => wire.push_file(f)?,
            }
        }
        Ok(wire)
    }

    /// Gives `feed` every byte the body sends, in order and [`CHUNK`] bytes
    /// at most at a time, reading its files from disk (for what must see
    /// the whole body before it is sent: a signature's hash). The error
    /// says which file could not be read, or that it changed size.
    pub fn feed(&self, mut feed: impl FnMut(&[u8])) -> Result<(), String> {
        use std::io::Read as _;
        for piece in self.pieces() {
            match piece {
                Piece::Bytes(b) => feed(&b),
                Piece::File(f) => {
                    let cannot = |why: String| format!("cannot read {}: {why}", f.path.display());
                    let mut file =
                        std::fs::File::open(&f.path).map_err(|e| cannot(io_words(&e)))?;
                    let mut buf = vec![0; CHUNK];
                    let mut read = 0u64;
                    loop {
                        let n = match file.read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => n,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                            Err(e) => return Err(cannot(io_words(&e))),
                        };
                        read += n as u64;
                        if read > f.len {
                            break;
                        }
                        feed(&buf[..n]);
                    }
                    if read != f.len {
                        return Err(cannot(format!(
                            "its size changed from {} bytes since the request was made",
                            f.len
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

/// A run of a body's bytes, or a file to read in its place.
enum Piece<'a> {
    Bytes(Cow<'a, [u8]>),
    File(&'a FileRef),
}

fn file_words(f: &FileRef) -> String {
    format!("<{} bytes from the file {}>", f.len, f.path.display())
}

/// A body being sent: byte runs and open files, read one [`CHUNK`] at a
/// time as the connection takes them. The HTTP body type both routes send
/// (reqwest takes it wrapped); its exact length becomes `Content-Length`.
#[derive(Debug, Default)]
pub struct WireBody {
    segments: VecDeque<Segment>,
    /// Bytes not yet given out.
    left: u64,
    buf: Vec<u8>,
}

#[derive(Debug)]
enum Segment {
    Bytes(Bytes),
    File {
        file: tokio::fs::File,
        left: u64,
        path: PathBuf,
    },
}

impl WireBody {
    /// A body of these bytes.
    pub(super) fn full(bytes: Vec<u8>) -> WireBody {
        let mut wire = WireBody::default();
        wire.push_bytes(bytes);
        wire
    }

    fn push_bytes(&mut self, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        self.left = self.left.saturating_add(bytes.len() as u64);
        if let Some(Segment::Bytes(last)) = self.segments.back_mut() {
            let mut joined = Vec::with_capacity(last.len() + bytes.len());
            joined.extend_from_slice(last);
            joined.extend_from_slice(&bytes);
            *last = Bytes::from(joined);
        } else {
            self.segments.push_back(Segment::Bytes(Bytes::from(bytes)));
        }
    }

    fn push_file(&mut self, f: &FileRef) -> Result<(), TransportError> {
        let cannot = |why: String| {
            TransportError::Request(format!("cannot send {}: {why}", f.path.display()))
        };
        let file = std::fs::File::open(&f.path).map_err(|e| cannot(io_words(&e)))?;
        let meta = file.metadata().map_err(|e| cannot(io_words(&e)))?;
        if !meta.is_file() {
            return Err(cannot("it is not a regular file".into()));
        }
        if meta.len() != f.len {
            return Err(cannot(format!(
                "its size changed from {} to {} bytes since the request was made",
                f.len,
                meta.len()
            )));
        }
        if f.len == 0 {
            return Ok(());
        }
        self.left = self.left.saturating_add(f.len);
        self.segments.push_back(Segment::File {
            file: tokio::fs::File::from_std(file),
            left: f.len,
            path: f.path.clone(),
        });
        Ok(())
    }
}

impl hyper::body::Body for WireBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        loop {
            let Some(segment) = this.segments.front_mut() else {
                return Poll::Ready(None);
            };
            match segment {
                Segment::Bytes(b) => {
                    let b = std::mem::take(b);
                    this.segments.pop_front();
                    this.left = this.left.saturating_sub(b.len() as u64);
                    return Poll::Ready(Some(Ok(Frame::data(b))));
                }
                Segment::File { file, left, path } => {
                    if *left == 0 {
                        this.segments.pop_front();
                        continue;
                    }
                    let want = usize::try_from(*left).unwrap_or(CHUNK).min(CHUNK);
                    this.buf.resize(want, 0);
                    let mut read = ReadBuf::new(&mut this.buf[..want]);
                    match Pin::new(file).poll_read(cx, &mut read) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(e)) => {
                            let why = io_words(&e);
                            return Poll::Ready(Some(Err(io::Error::new(
                                e.kind(),
                                format!("reading {}: {why}", path.display()),
                            ))));
                        }
                        Poll::Ready(Ok(())) => {
                            let n = read.filled().len();
                            if n == 0 {
                                return Poll::Ready(Some(Err(io::Error::new(
                                    io::ErrorKind::UnexpectedEof,
                                    format!("{} got shorter while it was sent", path.display()),
                                ))));
                            }
                            let mut chunk = std::mem::take(&mut this.buf);
                            chunk.truncate(n);
                            *left -= n as u64;
                            this.left = this.left.saturating_sub(n as u64);
                            return Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))));
                        }
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use hyper::body::Body as _;

    fn text_part(name: &str, value: &str) -> Part {
        Part {
            name: name.into(),
            filename: None,
            content_type: None,
            data: PartData::Bytes(value.as_bytes().to_vec()),
        }
    }

    async fn collect(body: &Body) -> Vec<u8> {
        let wire = body.open().unwrap();
        let announced = wire.size_hint().exact();
        let bytes = wire.collect().await.unwrap().to_bytes().to_vec();
        assert_eq!(announced, Some(bytes.len() as u64));
        assert_eq!(body.len(), bytes.len() as u64);
        bytes
    }

    #[tokio::test]
    async fn a_multipart_body_is_framed_as_rfc_7578_says_and_as_long_as_announced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.bin");
        let data: Vec<u8> = (0..(CHUNK * 2 + 17)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let m = Multipart {
            boundary: "XyZ".into(),
            parts: vec![
                text_part("title", "Q3"),
                Part {
                    name: "file \"1\"\r\n".into(),
                    filename: Some("a\".bin".into()),
                    content_type: Some("application/octet-stream".into()),
                    data: PartData::File(FileRef::measure(&path).unwrap()),
                },
            ],
        };
        let body = Body::Multipart(Arc::new(m));
        let bytes = collect(&body).await;
        let mut want = b"--XyZ\r\ncontent-disposition: form-data; name=\"title\"\r\n\r\nQ3\r\n--XyZ\r\ncontent-disposition: form-data; name=\"file %221%22%0D%0A\"; filename=\"a%22.bin\"\r\ncontent-type: application/octet-stream\r\n\r\n".to_vec();
        want.extend_from_slice(&data);
        want.extend_from_slice(b"\r\n--XyZ--\r\n");
        assert_eq!(bytes, want);
        // Opened again, it is the same (a retry, a 307).
        assert_eq!(collect(&body).await, want);
        let shown = String::from_utf8(body.shown().into_owned()).unwrap();
        assert!(shown.contains("--- part \"title\"\nQ3\n"), "{shown}");
        assert!(
            shown.contains(&format!(
                "<{} bytes from the file {}>",
                data.len(),
                path.display()
            )),
            "{shown}"
        );
        assert!(!shown.contains('\u{0}'));
    }

    #[tokio::test]
    async fn a_file_that_changed_or_went_is_not_sent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"12345").unwrap();
        let body = Body::File(Arc::new(FileRef::measure(&path).unwrap()));
        assert_eq!(collect(&body).await, b"12345");
        std::fs::write(&path, b"123").unwrap();
        let e = body.open().unwrap_err().to_string();
        assert!(e.contains("its size changed from 5 to 3 bytes"), "{e}");
        std::fs::remove_file(&path).unwrap();
        let e = body.open().unwrap_err().to_string();
        assert!(e.contains("no such file"), "{e}");
        assert_eq!(
            FileRef::measure(dir.path()).unwrap_err(),
            "it is a directory"
        );
    }

    #[tokio::test]
    async fn an_empty_body_ends_at_once() {
        let wire = WireBody::full(Vec::new());
        assert!(wire.is_end_stream());
        assert_eq!(wire.size_hint().exact(), Some(0));
        let body = Body::Multipart(Arc::new(Multipart::new(Vec::new())));
        let bytes = collect(&body).await;
        assert!(bytes.starts_with(b"--pytopus-") && bytes.ends_with(b"--\r\n"));
    }
}
