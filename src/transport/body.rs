//! Response bodies: read, decoded, into memory up to a limit or streamed to
//! a file. The limit counts decoded bytes as they arrive, so a small gzip
//! body that would inflate to gigabytes stops at the limit.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use tokio::io::AsyncWriteExt;

use crate::files::Target;
use tokio::time::Instant;

use super::TransportError;
use super::live::{body_error, error_chain, slow_body};
use super::plain;

/// The most a response body may take in memory unless a step says
/// otherwise (`max_response_size`); `save_to` streams past it.
pub const DEFAULT_BODY_LIMIT: u64 = 256 << 20;

/// A response body, not read yet. Not boxed: it lives in the sending
/// future, and the common case (a plain-HTTP body) would pay an allocation
/// a request for it.
#[allow(clippy::large_enum_variant)]
pub enum ReplyBody {
    /// Already in memory (tapes, test doubles).
    Bytes(Vec<u8>),
    /// Arriving through reqwest (decoded by it).
    Reqwest(reqwest::Response),
    /// Arriving through the plain-HTTP route (decoded by tower-http).
    Plain(plain::Response),
}

impl std::fmt::Debug for ReplyBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplyBody::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            ReplyBody::Reqwest(_) => f.write_str("Reqwest(..)"),
            ReplyBody::Plain(_) => f.write_str("Plain(..)"),
        }
    }
}

impl ReplyBody {
    /// The next decoded piece, `None` at the end.
    async fn next(&mut self, step_timeout: Duration) -> Result<Option<Bytes>, TransportError> {
        match self {
            ReplyBody::Bytes(b) if b.is_empty() => Ok(None),
            ReplyBody::Bytes(b) => Ok(Some(Bytes::from(std::mem::take(b)))),
            ReplyBody::Reqwest(r) => r.chunk().await.map_err(|e| body_error(&e, step_timeout)),
            ReplyBody::Plain(r) => loop {
                match r.body_mut().frame().await {
                    None => return Ok(None),
                    Some(Err(e)) => return Err(TransportError::Body(error_chain(&*e))),
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            return Ok(Some(data));
                        }
                    }
                }
            },
        }
    }
}

/// What to read a body into, and how far.
pub struct Reading<'a> {
    /// Most bytes kept in memory.
    pub limit: u64,
    /// When the step's time is up.
    pub deadline: Instant,
    /// The step's timeout, for messages.
    pub step_timeout: Duration,
    /// The body's size when the server said it and nothing re-encodes it.
    pub size_hint: Option<u64>,
    /// A file to stream to instead of memory (`save_to`).
    pub file: Option<&'a Path>,
}

/// Reads the whole body. In memory: the bytes; to a file: an empty body and
/// how many bytes were written.
pub async fn read(
    mut body: ReplyBody,
    how: Reading<'_>,
) -> Result<(Vec<u8>, Option<u64>), TransportError> {
    if let ReplyBody::Bytes(bytes) = body {
        return match how.file {
            None if bytes.len() as u64 > how.limit => Err(too_large(how.limit)),
            None => Ok((bytes, None)),
            Some(path) => Ok((Vec::new(), Some(write_file(path, &bytes).await?))),
        };
    }
    if let Some(path) = how.file {
        return stream_to_file(&mut body, path, &how)
            .await
            .map(|n| (Vec::new(), Some(n)));
    }
    let mut out: Vec<u8> = Vec::new();
    if let Some(size) = how.size_hint {
        // What the server announced, never more than the limit allows.
        out.reserve_exact(size.min(how.limit) as usize);
    }
    while let Some(chunk) = next_in_time(&mut body, &how).await? {
        if out.len() as u64 + chunk.len() as u64 > how.limit {
            return Err(too_large(how.limit));
        }
        if out.is_empty() && out.capacity() == 0 {
            // A body that arrives in one piece is taken over when it is large
            // and not shared; a small one is copied, so the connection's
            // read buffer is not kept alive with it.
            if chunk.len() >= 64 << 10 {
                match chunk.try_into_mut() {
                    Ok(owned) => out = Vec::from(owned),
                    Err(shared) => out.extend_from_slice(&shared),
                }
                continue;
            }
        }
        out.extend_from_slice(&chunk);
    }
    Ok((out, None))
}

/// Reads and drops a body (a redirect's), at most `limit` bytes of it, so
/// the connection can be used again; errors are ignored.
pub async fn discard(mut body: ReplyBody, deadline: Instant) {
    let mut left: usize = 64 << 10;
    while let Ok(Ok(Some(chunk))) =
        tokio::time::timeout_at(deadline, body.next(Duration::ZERO)).await
    {
        left = left.saturating_sub(chunk.len());
        if left == 0 {
            return;
        }
    }
}

async fn next_in_time(
    body: &mut ReplyBody,
    how: &Reading<'_>,
) -> Result<Option<Bytes>, TransportError> {
    match tokio::time::timeout_at(how.deadline, body.next(how.step_timeout)).await {
        Ok(r) => r,
        Err(_) => Err(slow_body(how.step_timeout)),
    }
}

fn too_large(limit: u64) -> TransportError {
    TransportError::TooLarge(format!(
        "the response body is larger than {}, the most kept in memory; raise `max_response_size` or stream it with `save_to`",
        crate::files::size_text(limit)
    ))
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> TransportError + '_ {
    move |e| TransportError::Write(format!("writing {}: {e}", path.display()))
}

/// Streams the body to `path` the way [`crate::files`] writes every file:
/// a regular file through a temporary one renamed into place, so a failed
/// download never leaves half a file where the old one was; a device or a
/// pipe as it is.
async fn stream_to_file(
    body: &mut ReplyBody,
    path: &Path,
    how: &Reading<'_>,
) -> Result<u64, TransportError> {
    let io = io_error(path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir).await.map_err(&io)?;
    }
    let target = crate::files::target(path).map_err(&io)?;
    let (writing, done) = match &target {
        Target::Direct(p) => (std::fs::OpenOptions::new().write(true).open(p), None),
        Target::Replace { file, temp } => (crate::files::create(temp), Some((temp, file))),
    };
    // Written in large pieces: a decoded body comes in frames of a few KB,
    // and each write to a tokio file is a trip to its blocking pool.
    let mut out = tokio::io::BufWriter::with_capacity(
        256 << 10,
        tokio::fs::File::from_std(writing.map_err(&io)?),
    );
    let mut written = 0u64;
    let result: Result<(), TransportError> = async {
        while let Some(chunk) = next_in_time(body, how).await? {
            out.write_all(&chunk).await.map_err(&io)?;
            written += chunk.len() as u64;
        }
        out.flush().await.map_err(&io)?;
        Ok(())
    }
    .await;
    drop(out);
    match (result, done) {
        (Ok(()), Some((temp, file))) => crate::files::finish(temp, file)
            .map(|()| written)
            .map_err(&io),
        (Ok(()), None) => Ok(written),
        (Err(e), Some((temp, _))) => {
            let _ = std::fs::remove_file(temp);
            Err(e)
        }
        (Err(e), None) => Err(e),
    }
}

/// Writes a body already in memory to `path` the same careful way.
async fn write_file(path: &Path, bytes: &[u8]) -> Result<u64, TransportError> {
    let io = io_error(path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir).await.map_err(&io)?;
    }
    crate::files::write(path, bytes).map_err(&io)?;
    Ok(bytes.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(limit: u64) -> Reading<'static> {
        Reading {
            limit,
            deadline: Instant::now() + Duration::from_secs(5),
            step_timeout: Duration::from_secs(5),
            size_hint: None,
            file: None,
        }
    }

    #[tokio::test]
    async fn memory_bodies_stop_at_the_limit() {
        let at = read(ReplyBody::Bytes(vec![7; 100]), reading(100)).await;
        assert_eq!(at.unwrap().0.len(), 100);
        let over = read(ReplyBody::Bytes(vec![7; 101]), reading(100)).await;
        let err = over.unwrap_err();
        assert_eq!(err.kind(), "body");
        assert!(err.to_string().contains("larger than 100 bytes"), "{err}");
    }
}
