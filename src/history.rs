//! Run history: every `pytopus run` is recorded in a local SQLite database
//! (the platform's data directory, or `PYTOPUS_HISTORY_DIR`), redacted like
//! every other output, so `pytopus history` can list runs and `--resume` can
//! rerun the last failed one from where it stopped. Secrets are never
//! stored. History is best effort: a locked or corrupt database is a warning,
//! never a failed run.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::engine::outcome::{Limited, StepResult};
use crate::engine::{Event, Observer, RunReport, StepOutcome, StepStatus};
use crate::report::json::Detail;
use crate::secret::Redactor;

pub use crate::engine::outcome::MAX_RESULT_BYTES;

/// `PRAGMA user_version` of a database whose schema is made (1: the `runs`
/// table and its two indexes; `report` and `results` hold gzip-compressed
/// JSON, or plain JSON text in rows written before compression).
const SCHEMA_VERSION: i64 = 1;

/// Runs kept at most, and for how long (`PYTOPUS_HISTORY_KEEP`,
/// `PYTOPUS_HISTORY_DAYS` change them).
const KEEP_RUNS: i64 = 1000;
/// The log's length past which a run copies it into the database (see
/// `History::open_at`): about fifteen 1000-step runs (~65 KB of log each),
/// sixty one-request runs (16 KB: the pages a commit touches).
const WAL_CHECKPOINT_BYTES: u64 = 1 << 20;
const KEEP_DAYS: i64 = 90;

/// Whether history is on: not with `PYTOPUS_HISTORY=off` (or `0`, `false`).
pub fn enabled_by_env() -> bool {
    !std::env::var("PYTOPUS_HISTORY").is_ok_and(|v| {
        matches!(
            v.to_ascii_lowercase().as_str(),
            "off" | "0" | "false" | "no"
        )
    })
}

/// Where the database lives.
pub fn path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PYTOPUS_HISTORY_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("history.sqlite"));
    }
    directories::ProjectDirs::from("", "", "pytopus").map(|d| d.data_dir().join("history.sqlite"))
}

/// One run as listed by `pytopus history`.
#[derive(Debug, Clone)]
pub struct Summary {
    pub id: i64,
    pub chain: String,
    pub path: String,
    pub started: String,
    pub duration_ms: i64,
    pub status: String,
}

/// One run as stored.
#[derive(Debug, Clone)]
pub struct Stored {
    pub summary: Summary,
    pub content_hash: String,
    pub report: Value,
    /// Each step's result, `null` where it was not kept.
    pub results: Vec<Value>,
}

pub struct History {
    conn: Connection,
}

fn env_number(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

impl History {
    pub fn open() -> Result<History, String> {
        let path = path().ok_or("no data directory for the history")?;
        History::open_at(&path)
    }

    fn open_at(path: &std::path::Path) -> Result<History, String> {
        if let Some(dir) = path.parent() {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder
                .create(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        // Made owner-only before SQLite opens it (an empty file is an empty
        // database); SQLite gives its log files the same permissions.
        if !path.exists() {
            crate::files::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        let conn = Connection::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        // Several runs may finish at once (CI matrix on one runner, `serve`):
        // each waits its turn.
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        // NORMAL: in WAL mode (below) a commit is not synced; a checkpoint
        // is. With a rollback journal it syncs the journal and the database.
        let _ = conn.pragma_update(None, "synchronous", "NORMAL");
        // One insert and two indexed deletes per run need few cached pages;
        // SQLite's default 2 MiB cache was a sixth of a 1000-step run's heap.
        let _ = conn.pragma_update(None, "cache_size", -256);
        // The schema is made once; `user_version` says it is there, so a
        // run reads one number instead of checking three statements.
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if version < SCHEMA_VERSION {
            // Pruned runs give their pages back to the file system. Only a
            // new database can take it.
            let pages: i64 = conn
                .query_row("PRAGMA page_count", [], |r| r.get(0))
                .unwrap_or(0);
            if pages == 0 {
                let _ = conn.pragma_update(None, "auto_vacuum", "INCREMENTAL");
            }
            conn.execute_batch(&format!(
                "CREATE TABLE IF NOT EXISTS runs (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    chain TEXT NOT NULL,
                    path TEXT NOT NULL,
                    content_hash TEXT NOT NULL,
                    started TEXT NOT NULL,
                    duration_ms INTEGER NOT NULL,
                    status TEXT NOT NULL,
                    report TEXT NOT NULL,
                    results TEXT NOT NULL,
                    recorded_at INTEGER NOT NULL
                );
                CREATE INDEX IF NOT EXISTS runs_by_path ON runs (path, id);
                CREATE INDEX IF NOT EXISTS runs_by_time ON runs (recorded_at);
                PRAGMA user_version = {SCHEMA_VERSION};"
            ))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        // One short write per process, and waiting for the disk was most of
        // its cost: a rollback journal synced the journal and the database
        // and truncated the journal on every run (bench/README.md, session
        // 12). In WAL mode a commit only appends to the log; `record`
        // copies the log into the database (a checkpoint, with its syncs)
        // once it passes `WAL_CHECKPOINT_BYTES`, so one run in many pays.
        // SQLite would checkpoint whenever the last connection closes, i.e.
        // after every run here, unless told not to. The log is kept short
        // because the first connection of a process reads all of it. A
        // power cut may lose the runs since the last checkpoint, not damage
        // the file. After the schema: `auto_vacuum` needs an empty file.
        // Where WAL cannot work (no shared memory, as on some network file
        // systems) SQLite keeps the rollback journal.
        let _ = conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true);
        let _ = conn.pragma_update(None, "journal_mode", "WAL");
        let _ = conn.pragma_update(None, "wal_autocheckpoint", 0);
        Ok(History { conn })
    }

    /// Records a finished run (everything redacted) and prunes old runs.
    pub fn record(
        &self,
        report: &RunReport,
        path: &str,
        content_hash: &str,
        redactor: &Redactor,
    ) -> Result<i64, String> {
        let (json, results) = record_texts(report, redactor);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        // One transaction: the insert and the pruning cost one commit, so
        // one round of disk syncs (each statement on its own was a commit).
        let tx = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )
        .map_err(|e| e.to_string())?;
        tx.execute(
            "INSERT INTO runs (chain, path, content_hash, started, duration_ms, status, report, results, recorded_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                report.chain,
                path,
                content_hash,
                humantime::format_rfc3339_seconds(report.started).to_string(),
                report.elapsed.as_millis() as i64,
                report.status.as_str(),
                json,
                results,
                now,
            ],
        )
        .map_err(|e| e.to_string())?;
        let id = tx.last_insert_rowid();
        let keep = env_number("PYTOPUS_HISTORY_KEEP", KEEP_RUNS);
        let days = env_number("PYTOPUS_HISTORY_DAYS", KEEP_DAYS);
        // Two statements, each on an index: with `OR`, SQLite scanned the
        // table, reading every stored report to reach `recorded_at`, a cost
        // that grew with the database.
        let pruned = tx
            .execute(
                "DELETE FROM runs WHERE id <= (SELECT MAX(id) FROM runs) - ?1",
                params![keep],
            )
            .unwrap_or(0)
            + tx.execute(
                "DELETE FROM runs WHERE recorded_at < ?1",
                params![now - days * 86_400],
            )
            .unwrap_or(0);
        if pruned > 0 {
            let _ = tx.execute_batch("PRAGMA incremental_vacuum;");
        }
        tx.commit().map_err(|e| e.to_string())?;
        self.checkpoint_if_long();
        Ok(id)
    }

    /// Copies the log into the database and empties it, once it is long
    /// enough to slow the next process's start. A reader in another process
    /// may keep part of it; the next run tries again.
    fn checkpoint_if_long(&self) {
        let Some(db) = self.conn.path().filter(|p| !p.is_empty()) else {
            return;
        };
        let log = std::fs::metadata(format!("{db}-wal")).map_or(0, |m| m.len());
        if log > WAL_CHECKPOINT_BYTES {
            let _ = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
        }
    }

    pub fn list(&self, limit: usize) -> Result<Vec<Summary>, String> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, chain, path, started, duration_ms, status FROM runs ORDER BY id DESC LIMIT ?1",
            )
            .map_err(|e| e.to_string())?;
        let rows = stmt
            .query_map(params![limit as i64], |r| {
                Ok(Summary {
                    id: r.get(0)?,
                    chain: r.get(1)?,
                    path: r.get(2)?,
                    started: r.get(3)?,
                    duration_ms: r.get(4)?,
                    status: r.get(5)?,
                })
            })
            .map_err(|e| e.to_string())?;
        rows.collect::<Result<_, _>>().map_err(|e| e.to_string())
    }

    fn one(&self, sql: &str, arg: &dyn rusqlite::ToSql) -> Result<Option<Stored>, String> {
        self.conn
            .query_row(sql, [arg], |r| {
                let report = stored_text(r.get_ref(7)?)?;
                let results = stored_text(r.get_ref(8)?)?;
                let mut report = serde_json::from_str(&report).unwrap_or(Value::Null);
                restore_excerpts(&mut report, &results);
                Ok(Stored {
                    summary: Summary {
                        id: r.get(0)?,
                        chain: r.get(1)?,
                        path: r.get(2)?,
                        started: r.get(4)?,
                        duration_ms: r.get(5)?,
                        status: r.get(6)?,
                    },
                    content_hash: r.get(3)?,
                    report,
                    results: serde_json::from_str(&results).unwrap_or_default(),
                })
            })
            .optional()
            .map_err(|e| e.to_string())
    }

    pub fn get(&self, id: i64) -> Result<Option<Stored>, String> {
        self.one(
            "SELECT id, chain, path, content_hash, started, duration_ms, status, report, results FROM runs WHERE id = ?1",
            &id,
        )
    }

    /// The newest run of the chain at `path`.
    pub fn last_run(&self, path: &str) -> Result<Option<Stored>, String> {
        self.one(
            "SELECT id, chain, path, content_hash, started, duration_ms, status, report, results FROM runs WHERE path = ?1 ORDER BY id DESC LIMIT 1",
            &path,
        )
    }

    /// The newest run of the chain at `path`, if it failed.
    pub fn last_failed(&self, path: &str) -> Result<Option<Stored>, String> {
        let last = self.one(
            "SELECT id, chain, path, content_hash, started, duration_ms, status, report, results FROM runs WHERE path = ?1 ORDER BY id DESC LIMIT 1",
            &path,
        )?;
        Ok(last.filter(|s| s.summary.status == "failed"))
    }
}

/// Which chain a run is filed under: its file's full path and the hash of
/// the text it was loaded from (`--resume` compares it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub content_hash: String,
}

impl Entry {
    /// The entry of a chain loaded from `path` with the text `text`.
    pub fn new(path: impl Into<String>, text: &str) -> Entry {
        Entry {
            path: path.into(),
            content_hash: content_hash(text),
        }
    }
}

/// A result larger than this (as JSON) is stored on a thread of its own
/// while the driver prints it, when the driver asks
/// ([`Recorder::beside_large_results`]): the two took about as long for a
/// 10,000-item result (bench/README.md, session 5). A small result prints
/// at once; a thread would only add its start and a heap of its own.
const LARGE_RESULT: usize = 64 << 10;

/// At most this many steps for a run to be recorded on a thread: the
/// thread gets a copy of the report, cheap when the large result (shared,
/// not copied) is most of it; a long run is recorded where it finished.
const BESIDE_MAX_STEPS: usize = 64;

/// How storing a run goes: the row's id, or why it was not stored. Shared
/// by the [`Recorder`] and the driver, which [`Recording::wait`]s for it.
#[derive(Clone, Default)]
pub struct Recording(Arc<Mutex<Slot>>);

#[derive(Default)]
enum Slot {
    /// The run has not finished.
    #[default]
    Pending,
    Done(Result<i64, String>),
    /// Being written on a thread of its own.
    Writing(std::thread::JoinHandle<Result<i64, String>>),
}

impl Recording {
    /// How storing the run went, once it is done (waiting for a thread
    /// that writes it); `None` if the run never finished.
    pub fn wait(&self) -> Option<Result<i64, String>> {
        let mut slot = self.0.lock().ok()?;
        match std::mem::take(&mut *slot) {
            Slot::Pending => None,
            Slot::Done(r) => Some(r),
            Slot::Writing(thread) => Some(
                thread
                    .join()
                    .unwrap_or_else(|_| Err("the history writer stopped unexpectedly".into())),
            ),
        }
    }

    fn set(&self, state: Slot) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = state;
        }
    }
}

/// The history as an observer of a run: stores the run's report (redacted,
/// like every output) when it finishes. Best effort: what went wrong is
/// kept in its [`Recording`] for the driver to warn about, never a failed
/// run.
pub struct Recorder {
    entry: Entry,
    redactor: Redactor,
    /// The database; `None`: the user's ([`path`]).
    at: Option<PathBuf>,
    beside: bool,
    recording: Recording,
}

impl Recorder {
    pub fn new(entry: Entry, redactor: Redactor) -> Recorder {
        Recorder {
            entry,
            redactor,
            at: None,
            beside: false,
            recording: Recording::default(),
        }
    }

    /// Stores into the database at `path` instead of the user's.
    pub fn at(mut self, path: PathBuf) -> Recorder {
        self.at = Some(path);
        self
    }

    /// A large result of a short run is stored on a thread of its own, so
    /// the driver can print it meanwhile (the command line); the driver
    /// then [`Recording::wait`]s after printing.
    pub fn beside_large_results(mut self, yes: bool) -> Recorder {
        self.beside = yes;
        self
    }

    /// Where how storing the run went will be, once it finished.
    pub fn recording(&self) -> Recording {
        self.recording.clone()
    }

    fn beside(&self, report: &RunReport) -> bool {
        self.beside
            && report.steps.len() + report.teardown.len() <= BESIDE_MAX_STEPS
            && report
                .output
                .as_deref()
                .is_some_and(|o| !fits(o, LARGE_RESULT))
    }
}

/// Opens the history (at `at`, or the user's) and stores `report`.
fn store(
    report: &RunReport,
    entry: &Entry,
    at: Option<&std::path::Path>,
    redactor: &Redactor,
) -> Result<i64, String> {
    let history = match at {
        Some(path) => History::open_at(path),
        None => History::open(),
    }?;
    history.record(report, &entry.path, &entry.content_hash, redactor)
}

impl Observer for Recorder {
    fn on_event(&mut self, event: &Event<'_>) {
        let Event::RunFinished { report } = event else {
            return;
        };
        if self.beside(report) {
            // A copy of a few steps; the large result is shared, not copied.
            let report = (*report).clone();
            let (entry, at, redactor) =
                (self.entry.clone(), self.at.clone(), self.redactor.clone());
            let thread = std::thread::Builder::new()
                .name("history".into())
                .spawn(move || store(&report, &entry, at.as_deref(), &redactor));
            if let Ok(thread) = thread {
                self.recording.set(Slot::Writing(thread));
                return;
            }
        }
        let stored = store(report, &self.entry, self.at.as_deref(), &self.redactor);
        self.recording.set(Slot::Done(stored));
    }
}

/// A stored report or results column: gzip-compressed JSON, or plain JSON
/// text in rows written before the history was compressed.
fn stored_text(v: rusqlite::types::ValueRef<'_>) -> rusqlite::Result<String> {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Text(t) => Ok(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(b), &mut text)
                .map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        0,
                        rusqlite::types::Type::Blob,
                        e.into(),
                    )
                })?;
            Ok(text)
        }
        _ => Ok(String::new()),
    }
}

/// Texts up to this size are stored as one uncompressed gzip block: setting
/// up the compressor (some 300 KB of tables to clear) would cost more than
/// it saves.
const STORED_MAX: usize = 8 << 10;

/// A column's gzip member, written while its text is serialised, so a long
/// text is never held whole in memory (a 1000-step report is 1 MB of text,
/// 70 KB compressed). Short texts are kept and stored as they are; past
/// [`STORED_MAX`] they go through fast compression, [`CHUNK`] bytes at a
/// time. serde_json writes a token at a time: the buffer and the limit are
/// checked here in one place (they were a chain of three writers, measured
/// at a quarter of the history's time).
struct Gz {
    /// Text not compressed yet.
    text: Vec<u8>,
    z: Option<flate2::write::GzEncoder<Vec<u8>>>,
    /// Bytes the text may still take; a write past it fails, which stops
    /// serde_json there.
    left: usize,
    /// Bytes of text written so far.
    len: usize,
}

/// How much text [`Gz`] gathers before compressing it.
const CHUNK: usize = 64 << 10;

impl Gz {
    fn new() -> Gz {
        Gz::limited(usize::MAX)
    }

    /// A member whose text may take at most `limit` bytes.
    fn limited(limit: usize) -> Gz {
        Gz {
            text: Vec::new(),
            z: None,
            left: limit,
            len: 0,
        }
    }

    fn compress(&mut self) {
        use std::io::Write;
        let z = self.z.get_or_insert_with(|| {
            flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast())
        });
        // Writing to a `Vec` cannot fail.
        let _ = z.write_all(&self.text);
        self.text.clear();
    }

    #[cold]
    #[inline(never)]
    fn write_past_chunk(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.left = self
            .left
            .checked_sub(buf.len())
            .ok_or_else(|| std::io::Error::other("over the limit"))?;
        self.len += buf.len();
        self.text.extend_from_slice(buf);
        if self.text.len() >= CHUNK {
            self.compress();
        }
        Ok(())
    }

    /// The finished member.
    fn finish(mut self) -> Vec<u8> {
        if self.z.is_none() && self.text.len() <= STORED_MAX {
            return stored_member(&self.text);
        }
        self.compress();
        self.z.and_then(|z| z.finish().ok()).unwrap_or_default()
    }
}

impl std::io::Write for Gz {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf).map(|_| buf.len())
    }
    // Inlined into serde_json's writing of each token: a call per token
    // cost 31 instructions (9 M of a 1000-step run).
    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if buf.len() <= self.left && self.text.len() + buf.len() < CHUNK {
            self.left -= buf.len();
            self.len += buf.len();
            self.text.extend_from_slice(buf);
            return Ok(());
        }
        self.write_past_chunk(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `text` as one gzip member (see [`Gz`]).
#[cfg(test)]
fn gzip(text: &[u8]) -> Vec<u8> {
    let mut z = Gz::new();
    let _ = std::io::Write::write_all(&mut z, text);
    z.finish()
}

/// `text` as one gzip member holding one stored block: the RFC 1952 header
/// (deflate, no flags, no time, unknown OS), an RFC 1951 stored block, the
/// last (its length and the length's complement, the bytes), then the CRC-32
/// and the length. `text` is at most [`STORED_MAX`] bytes.
fn stored_member(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 23);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1]);
    let len = text.len() as u16;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(text);
    let mut crc = flate2::Crc::new();
    crc.update(text);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out
}

/// Runs of at least this many steps are stored in two halves, each
/// serialised and compressed on a thread of its own (the run is over: the
/// process has nothing else to do, and a 1000-step run's record is most of
/// the time after its last response).
const SPLIT_STEPS: usize = 64;

/// What storing a part of a run's steps gives: its piece of the results
/// column, which of its steps' body excerpts their results give back, and
/// its piece of the report's steps when asked for.
struct Part {
    results: Vec<u8>,
    in_results: Vec<bool>,
    last_kept: bool,
    steps: Option<Steps>,
}

/// A piece of the report's steps: a gzip member and the length of its text.
struct Steps {
    member: Vec<u8>,
    len: usize,
}

/// The parts a run's steps are stored in.
fn parts_of(report: &RunReport, redactor: &Redactor) -> Vec<std::ops::Range<usize>> {
    let n = report.steps.len();
    // With secrets known the report goes through a `Value`, whole.
    if n >= SPLIT_STEPS && redactor.is_empty() {
        vec![0..n / 2, n / 2..n]
    } else {
        // One part: all the steps.
        std::iter::once(0..n).collect()
    }
}

/// `work` on every part, the first on this thread and the others on their
/// own (or here, when no thread can be started), in order.
fn each_part<T: Send>(
    parts: &[std::ops::Range<usize>],
    work: impl Fn(std::ops::Range<usize>) -> T + Sync,
) -> Vec<T> {
    std::thread::scope(|scope| {
        let others: Vec<_> = parts[1..]
            .iter()
            .map(|r| {
                let (r, work) = (r.clone(), &work);
                std::thread::Builder::new()
                    .name("history".into())
                    .spawn_scoped(scope, move || work(r))
                    .map_err(|_| ())
            })
            .collect();
        let mut out = vec![work(parts[0].clone())];
        for (other, r) in others.into_iter().zip(&parts[1..]) {
            out.push(match other {
                Ok(thread) => match thread.join() {
                    Ok(done) => done,
                    Err(panic) => std::panic::resume_unwind(panic),
                },
                Err(()) => work(r.clone()),
            });
        }
        out
    })
}

/// The report and results columns of a run, compressed. Each column is
/// one gzip member per part, read back as one text.
fn record_texts(report: &RunReport, redactor: &Redactor) -> (Vec<u8>, Vec<u8>) {
    let parts = parts_of(report, redactor);
    let first = levels(report, 0)
        .next()
        .unwrap_or((2, Detail::NoHeaders, usize::MAX));
    // Results first: the report leaves out the excerpts they give back.
    let done = each_part(&parts, |range| {
        let mut part = results_part(report, range.clone(), redactor);
        if redactor.is_empty() {
            part.steps = report_steps(report, range, first.1, first.2, &part.in_results);
        }
        part
    });
    let in_results: Vec<bool> = done.iter().flat_map(|p| p.in_results.clone()).collect();
    let last_kept = done.last().is_some_and(|p| p.last_kept);
    // Without an `output:` template the output is the last step's result,
    // the same value: measured once.
    let last = report.steps.last().and_then(|s| match &s.result {
        StepResult::Value(v) => Some(&**v),
        StepResult::Json(_) => None,
    });
    let output = report.output.as_deref().filter(|o| match last {
        Some(l) if std::ptr::eq(*o, l) => last_kept,
        _ => fits(o, MAX_RESULT_BYTES),
    });
    let mut results = Vec::new();
    let mut written: Vec<Option<Steps>> = Vec::new();
    for part in done {
        results.extend_from_slice(&part.results);
        written.push(part.steps);
    }
    let tried = redactor.is_empty().then_some(written);
    // The first level is not sampled again.
    let levels = std::iter::once(first).chain(levels(report, first.0 + 1));
    (
        report_column(report, output, redactor, &in_results, levels, tried),
        results,
    )
}

/// The results of steps `range`, compressed: the column's `[` in the
/// first part and its `]` in the last.
fn results_part(report: &RunReport, range: std::ops::Range<usize>, redactor: &Redactor) -> Part {
    use std::io::Write;
    // Each result is serialised once, then compressed, and given up at the
    // limit: a 100 MB body is neither copied nor serialised whole here.
    let mut results = Gz::new();
    let mut one = Vec::with_capacity(4096);
    if range.start == 0 {
        let _ = results.write_all(b"[");
    }
    let mut last_kept = false;
    // The steps whose body excerpt the stored result gives back.
    let mut in_results = vec![false; range.len()];
    for (i, step) in report.steps[range.clone()].iter().enumerate() {
        one.clear();
        if range.start + i > 0 {
            one.push(b',');
        }
        let start = one.len();
        last_kept = match &step.result {
            // Compacted during the run: already the text to store.
            StepResult::Json(text) if redactor.is_empty() && text.len() <= MAX_RESULT_BYTES => {
                one.extend_from_slice(text.as_bytes());
                true
            }
            result => write_result(&mut one, &result.value(), redactor),
        };
        // Not with secrets known: a secret cut by the excerpt's end is
        // redacted differently in the excerpt and in the result.
        in_results[i] = redactor.is_empty()
            && step.status == StepStatus::Passed
            && step.response.as_ref().is_some_and(|r| {
                std::str::from_utf8(&one[start..])
                    .is_ok_and(|stored| excerpt_is(&r.body_excerpt, stored))
            });
        let _ = results.write_all(&one);
    }
    if range.end == report.steps.len() {
        let _ = results.write_all(b"]");
    }
    // Finished before the report's steps are written: one compressor's
    // tables (300 KB) in memory at a time in each part.
    Part {
        results: results.finish(),
        in_results,
        last_kept,
        steps: None,
    }
}

/// Steps `range` of the report at `detail`, compressed; `None` once their
/// text passes `limit`.
fn report_steps(
    report: &RunReport,
    range: std::ops::Range<usize>,
    detail: Detail,
    limit: usize,
    in_results: &[bool],
) -> Option<Steps> {
    // `in_results` is this part's: indexed from the run's first step here.
    let mut no_excerpt = vec![false; range.start];
    no_excerpt.extend_from_slice(in_results);
    let mut column = Gz::limited(limit);
    crate::report::json::write_steps(&mut column, report, range, detail, &no_excerpt).ok()?;
    let len = column.len;
    Some(Steps {
        member: column.finish(),
        len,
    })
}

/// A body excerpt from a stored result's text, the way the run made it
/// from the body (see [`record_texts`]: the report leaves out the excerpts
/// this gives back exactly): the text, or its first bytes and whether `…`
/// follows them. `None` when the cut falls inside a character.
fn excerpt_parts(stored: &str) -> Option<(&str, bool)> {
    let cut = crate::engine::EXCERPT_BYTES;
    if stored.len() <= cut {
        return Some((stored, false));
    }
    stored.get(..cut).map(|head| (head, true))
}

/// Whether `excerpt` is what [`excerpt_of`] makes of `stored` (without
/// making it: this runs for every step of every recorded run).
fn excerpt_is(excerpt: &str, stored: &str) -> bool {
    match excerpt_parts(stored) {
        Some((head, false)) => excerpt == head,
        Some((head, true)) => excerpt.strip_suffix('…') == Some(head),
        None => false,
    }
}

fn excerpt_of(stored: &str) -> Option<String> {
    excerpt_parts(stored).map(|(head, cut)| {
        if cut {
            format!("{head}…")
        } else {
            head.to_string()
        }
    })
}

/// Puts back the body excerpts [`record_texts`] left out of a full report
/// because the results give them back: a passed step's response without
/// one, whose result was stored.
fn restore_excerpts(report: &mut Value, results: &str) {
    if report.get("history_trimmed").is_some() {
        return;
    }
    let Some(steps) = report.get_mut("steps").and_then(Value::as_array_mut) else {
        return;
    };
    let missing = |s: &Value| {
        s.get("response")
            .and_then(Value::as_object)
            .is_some_and(|r| !r.contains_key("body_excerpt"))
    };
    if !steps.iter().any(missing) {
        return;
    }
    let Ok(stored) = serde_json::from_str::<Vec<&serde_json::value::RawValue>>(results) else {
        return;
    };
    for (step, text) in steps.iter_mut().zip(stored) {
        if missing(step)
            && let Some(excerpt) = excerpt_of(text.get())
            && let Some(r) = step.get_mut("response").and_then(Value::as_object_mut)
        {
            r.insert("body_excerpt".into(), Value::String(excerpt));
        }
    }
}

/// Appends a step's result as stored: its JSON, redacted, or `null` when
/// that is over [`MAX_RESULT_BYTES`]. Whether it was kept.
fn write_result(out: &mut Vec<u8>, v: &Value, redactor: &Redactor) -> bool {
    let start = out.len();
    let mut limited = Limited {
        inner: &mut *out,
        left: MAX_RESULT_BYTES,
    };
    let kept = if redactor.is_empty() {
        serde_json::to_writer(&mut limited, v).is_ok()
    } else {
        // Redacted text is never longer: `***` replaces at least 4 bytes.
        fits(v, MAX_RESULT_BYTES)
            && serde_json::to_writer(&mut limited, &*redactor.redact_json_cow(v)).is_ok()
    };
    if !kept {
        out.truncate(start);
        out.extend_from_slice(b"null");
    }
    kept
}

/// SHA-256 of a chain file's text, as the history compares it.
pub fn content_hash(text: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The steps of a stored run that `--resume` reuses: those that passed or
/// were skipped, with their results kept (by index; `None` = run it again).
pub fn reusable(stored: &Stored) -> Vec<Option<StepOutcome>> {
    let steps = stored.report["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let status = match s["status"].as_str() {
                Some("passed") => StepStatus::Passed,
                Some("skipped") => StepStatus::Skipped,
                _ => return None,
            };
            let result = stored.results.get(i).cloned().unwrap_or(Value::Null);
            let too_big = status == StepStatus::Passed
                && result.is_null()
                && s["response"]["body_bytes"].as_u64().unwrap_or(0) > 0;
            if too_big {
                return None;
            }
            let mut o = StepOutcome::not_run(s["name"].as_str().unwrap_or_default());
            o.status = status;
            o.result = StepResult::from(result);
            o.attempts = 0;
            o.outputs = s["outputs"]
                .as_object()
                .map(|m| m.clone().into_iter().collect())
                .unwrap_or_default();
            o.response = s["response"]
                .as_object()
                .map(|r| crate::engine::ResponseInfo {
                    status: r.get("status").and_then(Value::as_u64).unwrap_or(0) as u16,
                    headers: r
                        .get("headers")
                        .and_then(Value::as_array)
                        .map(|h| {
                            h.iter()
                                .filter_map(|p| {
                                    Some((p[0].as_str()?.to_string(), p[1].as_str()?.to_string()))
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    body_excerpt: String::new(),
                    body_len: r.get("body_bytes").and_then(Value::as_u64).unwrap_or(0),
                    url: r
                        .get("url")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    json_error: None,
                });
            o.reused = true;
            Some(o)
        })
        .collect()
}

/// Whether `v` serialises to at most `limit` bytes of JSON. Serialising
/// stops as soon as the limit is passed.
pub fn fits(v: &Value, limit: usize) -> bool {
    let mut counter = Limited {
        inner: std::io::sink(),
        left: limit,
    };
    serde_json::to_writer(&mut counter, v).is_ok()
}

/// The largest report stored as it is, as JSON.
const MAX_REPORT_BYTES: usize = 4 << 20;

/// The levels of detail a run's report is tried at, in order, each with
/// the most text it may take: the full report; without the details of the
/// steps that passed, which a 10,000-step run would otherwise repeat
/// 10,000 times in every record — first their requests and body excerpts,
/// then their response headers too (failed steps keep everything;
/// `history_trimmed` says it happened). The last level is stored whatever
/// its size. In a long run, a level its sampled size puts over
/// [`MAX_REPORT_BYTES`] is not tried at all (a short run is written whole:
/// sampling it would cost as much). With a margin over the limit, a
/// 10,000-step run sampled at 4.4 MB was written whole, to be dropped for
/// the next level: two passes, a fifth of the history's time.
///
/// From the `from`-th level on, each sampled only when reached.
fn levels(report: &RunReport, from: usize) -> impl Iterator<Item = Level> + '_ {
    let all = [Detail::Full, Detail::NoRequests, Detail::NoHeaders];
    all.into_iter()
        .enumerate()
        .skip(from)
        .filter_map(move |(i, detail)| {
            let last = i + 1 == all.len();
            if last {
                return Some((i, detail, usize::MAX));
            }
            let over = report.steps.len() > 64
                && crate::report::json::estimate_steps_bytes(report, detail) > MAX_REPORT_BYTES;
            (!over).then_some((i, detail, MAX_REPORT_BYTES))
        })
}

/// A level of detail: its place in [`levels`], the detail, the most text
/// it may take.
type Level = (usize, Detail, usize);

/// `text` as one gzip member, compressed when long.
fn member(text: &[u8]) -> Vec<u8> {
    let mut z = Gz::new();
    let _ = std::io::Write::write_all(&mut z, text);
    z.finish()
}

/// The report to store, compressed, at the first of [`levels`] it fits.
///
/// With no secret known (most runs) the report is serialised straight into
/// the compressor, its steps a part at a time ([`parts_of`]: `tried` has
/// them when the caller wrote them already); else through a `Value`,
/// redacted string by string. Each level is written from the run's own
/// records, never by editing a bigger report, and given up as soon as it
/// passes the limit.
fn report_column(
    report: &RunReport,
    output: Option<&Value>,
    redactor: &Redactor,
    in_results: &[bool],
    levels: impl IntoIterator<Item = Level>,
    mut tried: Option<Vec<Option<Steps>>>,
) -> Vec<u8> {
    use crate::report::json::{report_frame, to_json_detail};
    let parts = parts_of(report, redactor);
    for (_, detail, limit) in levels {
        if !redactor.is_empty() {
            let mut column = Gz::limited(limit);
            let value = to_json_detail(report, output, detail);
            match serde_json::to_writer(&mut column, &*redactor.redact_json_cow(&value)) {
                Ok(()) => return column.finish(),
                // Only the limit fails a write into memory: the next level.
                Err(_) => continue,
            }
        }
        // `tried`: the first level's steps, written with the results.
        let steps = match tried.take() {
            Some(written) => written,
            None => each_part(&parts, |range| {
                let mine = in_results.get(range.clone()).unwrap_or_default();
                report_steps(report, range, detail, limit, mine)
            }),
        };
        let Some(steps) = steps.into_iter().collect::<Option<Vec<Steps>>>() else {
            continue;
        };
        let Ok((head, tail)) = report_frame(report, output, detail) else {
            continue;
        };
        let len = head.len() + tail.len() + steps.iter().map(|s| s.len).sum::<usize>();
        if len > limit {
            continue;
        }
        let mut column = member(&head);
        for s in steps {
            column.extend_from_slice(&s.member);
        }
        column.extend_from_slice(&member(&tail));
        return column;
    }
    Gz::new().finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unzip(z: &[u8]) -> String {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(z), &mut text)
            .unwrap();
        text
    }

    fn report_text(report: &RunReport, output: Option<&Value>, redactor: &Redactor) -> String {
        unzip(&report_column(
            report,
            output,
            redactor,
            &[],
            levels(report, 0),
            None,
        ))
    }

    fn report_of(steps: usize) -> RunReport {
        use crate::engine::{ResponseInfo, StepOutcome, StepStatus};
        let step = |name: String, status: StepStatus| {
            let mut o = StepOutcome::not_run(&name);
            o.status = status;
            o.request = Some(crate::transport::HttpRequest {
                method: "GET".into(),
                url: "http://x/".into(),
                parsed_url: None,
                headers: vec![("a".into(), "b".repeat(200))],
                body: None,
                timeout: Duration::from_secs(1),
                follow_redirects: true,
                body_limit: crate::transport::DEFAULT_BODY_LIMIT,
                tls: None,
            });
            o.response = Some(ResponseInfo {
                status: 200,
                headers: vec![("h".into(), "v".repeat(100))].into(),
                body_excerpt: "e".repeat(300),
                body_len: 10,
                url: "http://x/".into(),
                json_error: None,
            });
            o
        };
        let mut outcomes: Vec<StepOutcome> = (0..steps)
            .map(|i| step(format!("s{i}"), StepStatus::Passed))
            .collect();
        outcomes.push(step("Broken".into(), StepStatus::Failed));
        RunReport {
            chain: "c".into(),
            file: "c.yaml".into(),
            status: crate::engine::RunStatus::Failed,
            dry_run: false,
            steps: outcomes,
            teardown: Vec::new(),
            output: None,
            output_error: None,
            started: std::time::SystemTime::UNIX_EPOCH,
            elapsed: Duration::from_secs(1),
        }
    }

    /// The history observer stores the run when it finishes, redacted and
    /// under the chain's entry, and says how that went; other events store
    /// nothing.
    #[test]
    fn the_recorder_stores_the_finished_run_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("history.sqlite");
        let redactor = Redactor::default();
        redactor.add(&"b".repeat(200));
        let entry = Entry::new("/chains/c.yaml", "steps: []\n");
        let mut recorder = Recorder::new(entry.clone(), redactor).at(db.clone());
        let recorded = recorder.recording();
        let report = report_of(2);
        let chain_text = "steps:\n  - {name: A, url: http://x/}\n";
        let chain = crate::compile::validate(
            crate::chain::parse(std::sync::Arc::new(crate::diagnostic::Source {
                name: "c.yaml".into(),
                text: chain_text.into(),
            }))
            .unwrap(),
            Default::default(),
        )
        .unwrap();
        recorder.on_event(&Event::RunStarted {
            chain: &chain,
            dry_run: false,
        });
        assert!(recorded.wait().is_none(), "stored before the end");
        recorder.on_event(&Event::RunFinished { report: &report });
        let id = recorded.wait().unwrap().unwrap();
        let history = History::open_at(&db).unwrap();
        let stored = history.get(id).unwrap().unwrap();
        assert_eq!(stored.summary.path, entry.path);
        assert_eq!(stored.content_hash, entry.content_hash);
        assert_eq!(stored.summary.status, "failed");
        let text = stored.report.to_string();
        assert!(!text.contains(&"b".repeat(200)), "a secret was stored");
        assert!(text.contains("***"));
    }

    /// A large result of a short run is stored on a thread of its own when
    /// the driver asks (it prints meanwhile); a small one, or a long run,
    /// where the run finished. Either way the run is stored the same.
    #[test]
    fn a_large_result_is_stored_beside_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("history.sqlite");
        let large = Value::from(vec![Value::from("x".repeat(100)); 1000]);
        let mut short_large = report_of(1);
        short_large.output = Some(std::sync::Arc::new(large.clone()));
        let mut long_large = report_of(BESIDE_MAX_STEPS);
        long_large.output = Some(std::sync::Arc::new(large));
        let small = report_of(1);
        for (report, beside, thread) in [
            (&short_large, true, true),
            (&short_large, false, false),
            (&long_large, true, false),
            (&small, true, false),
        ] {
            let mut recorder = Recorder::new(Entry::new("/c.yaml", ""), Redactor::default())
                .at(db.clone())
                .beside_large_results(beside);
            let recording = recorder.recording();
            recorder.on_event(&Event::RunFinished { report });
            let writing = matches!(*recording.0.lock().unwrap(), Slot::Writing(_));
            assert_eq!(
                writing,
                thread,
                "{} steps, beside {beside}",
                report.steps.len()
            );
            let id = recording.wait().unwrap().unwrap();
            let stored = History::open_at(&db).unwrap().get(id).unwrap().unwrap();
            assert_eq!(stored.summary.status, "failed");
            assert_eq!(
                stored.report["steps"].as_array().unwrap().len(),
                report.steps.len()
            );
            // Waited for once: the outcome is the driver's.
            assert!(recording.wait().is_none());
        }
    }

    /// A history that cannot be opened is said, not a failed run.
    #[test]
    fn the_recorder_says_why_a_run_was_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the database file should be.
        let mut recorder = Recorder::new(Entry::new("/c.yaml", ""), Redactor::default())
            .at(dir.path().to_path_buf());
        let recorded = recorder.recording();
        recorder.on_event(&Event::RunFinished {
            report: &report_of(1),
        });
        assert!(matches!(recorded.wait(), Some(Err(_))));
    }

    #[test]
    fn large_reports_lose_the_details_of_passed_steps_first() {
        let none = Redactor::default();
        let small = report_of(1);
        assert_eq!(
            report_text(&small, None, &none),
            crate::report::json::to_json_with(&small, None).to_string()
        );

        let big = report_of(12_000);
        let with_secret = Redactor::default();
        with_secret.add("s3cr3t-value");
        for redactor in [none, with_secret] {
            let text = report_text(&big, None, &redactor);
            assert!(text.len() <= MAX_REPORT_BYTES);
            let stored: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(stored["history_trimmed"], true);
            let steps = stored["steps"].as_array().unwrap();
            assert_eq!(steps.len(), 12_001);
            assert!(steps[0].get("request").is_none());
            assert!(steps[0]["response"].get("body_excerpt").is_none());
            assert_eq!(steps[0]["response"]["status"], 200);
            // The failed step keeps everything.
            assert!(steps[12_000]["request"].is_object());
            assert!(steps[12_000]["response"]["body_excerpt"].is_string());
        }
    }

    /// A long run is stored in parts, written on two threads: read back,
    /// the columns are the texts one pass writes, byte for byte, whatever
    /// the chain's name says and with `finally` steps and an output.
    #[test]
    fn runs_stored_in_parts_read_back_as_one_text() {
        use crate::report::json::write_json;
        let none = Redactor::default();
        for n in [0, 1, 63, 64, 65, 301] {
            let mut report = report_of(n);
            report.chain = "a \"steps\":[] chain".into();
            report.teardown = report_of(1).steps;
            for (i, step) in report.steps.iter_mut().enumerate() {
                let result = serde_json::json!({"i": i});
                // Every third excerpt is given back by the stored result.
                if let (0, Some(r)) = (i % 3, &mut step.response) {
                    r.body_excerpt = result.to_string();
                }
                step.result = StepResult::Value(Arc::new(result));
            }
            let output = serde_json::json!(["out"]);
            report.output = Some(Arc::new(output.clone()));
            // `report_of` adds a failed step to the `n` that passed.
            let expected_parts = if n + 1 >= SPLIT_STEPS { 2 } else { 1 };
            assert_eq!(parts_of(&report, &none).len(), expected_parts);

            let (column, results) = record_texts(&report, &none);
            let whole = results_part(&report, 0..report.steps.len(), &none);
            let given_back = whole.in_results.iter().filter(|b| **b).count();
            assert_eq!(given_back, n.div_ceil(3), "{n} steps");
            assert_eq!(unzip(&results), unzip(&whole.results), "{n} steps");
            let mut one_pass = Vec::new();
            write_json(
                &mut one_pass,
                &report,
                Some(&output),
                Detail::Full,
                &whole.in_results,
            )
            .unwrap();
            assert_eq!(
                unzip(&column),
                String::from_utf8(one_pass).unwrap(),
                "{n} steps"
            );
            let results: Value = serde_json::from_str(&unzip(&results)).unwrap();
            assert_eq!(results.as_array().map(Vec::len), Some(n + 1), "{n} steps");
        }
    }

    /// A passed step's body excerpt is not stored twice: when its stored
    /// result gives it back exactly, the report leaves it out and reading
    /// the run puts it back. Excerpts that would not come back the same
    /// stay in the report.
    #[test]
    fn excerpts_the_results_give_back_are_stored_once() {
        use crate::engine::StepStatus;
        let dir = tempfile::tempdir().unwrap();
        let history = History::open_at(&dir.path().join("history.sqlite")).unwrap();
        let mut report = report_of(5);
        let long = format!("[\"{}\"]", "x".repeat(3000));
        let cut_in_char = format!("[\"{}é\"]", "x".repeat(2045));
        let cases: [(&str, String, String); 6] = [
            // (case, the body's excerpt, the stored result's text)
            ("whole", r#"{"id":1}"#.into(), r#"{"id":1}"#.into()),
            ("long", format!("{}…", &long[..2048]), long.clone()),
            ("pretty", "{\n  \"id\": 1\n}".into(), r#"{"id":1}"#.into()),
            (
                "trailing blank",
                "{\"id\":1}\n".into(),
                r#"{"id":1}"#.into(),
            ),
            (
                "cut in a character",
                format!("{}\u{fffd}…", &cut_in_char[..2047]),
                cut_in_char,
            ),
            ("failed", r#"{"id":2}"#.into(), r#"{"id":2}"#.into()),
        ];
        for (step, (_, excerpt, text)) in report.steps.iter_mut().zip(&cases) {
            step.response.as_mut().unwrap().body_excerpt = excerpt.clone();
            step.result = StepResult::Json(text.clone().into_boxed_str());
        }
        report.steps[5].status = StepStatus::Failed;
        let id = history
            .record(&report, "/c.yaml", "h", &Redactor::default())
            .unwrap();
        let stored_column: Vec<u8> = history
            .conn
            .query_row("SELECT report FROM runs WHERE id = ?1", [id], |r| r.get(0))
            .unwrap();
        let as_stored: Value = serde_json::from_str(&unzip(&stored_column)).unwrap();
        let read = history.get(id).unwrap().unwrap();
        for (i, (case, excerpt, _)) in cases.iter().enumerate() {
            let left_out = as_stored["steps"][i]["response"]
                .get("body_excerpt")
                .is_none();
            assert_eq!(left_out, i < 2, "{case}");
            assert_eq!(
                read.report["steps"][i]["response"]["body_excerpt"], *excerpt,
                "{case}"
            );
        }
        // Everything else is the report as written.
        assert_eq!(
            read.report,
            crate::report::json::to_json_with(&report, None)
        );

        // With a secret known, every excerpt stays in the report.
        let redactor = Redactor::default();
        redactor.add("not in this run");
        let id = history.record(&report, "/c.yaml", "h", &redactor).unwrap();
        let stored_column: Vec<u8> = history
            .conn
            .query_row("SELECT report FROM runs WHERE id = ?1", [id], |r| r.get(0))
            .unwrap();
        let as_stored: Value = serde_json::from_str(&unzip(&stored_column)).unwrap();
        assert_eq!(
            as_stored["steps"][0]["response"]["body_excerpt"],
            r#"{"id":1}"#
        );
    }

    #[test]
    fn runs_are_stored_compressed_and_rows_from_before_still_read() {
        use serde_json::json;
        let dir = tempfile::tempdir().unwrap();
        let history = History::open_at(&dir.path().join("history.sqlite")).unwrap();
        let none = Redactor::default();
        // 20 steps and a failed one: about 20 KB of report, compressed.
        let mut report = report_of(20);
        let last = report.steps.len() - 1;
        report.steps[1].result = json!({"id": 1, "note": "é \" \\"}).into();
        // Compacted during the run: stored as its text.
        report.steps[1].result.compact(MAX_RESULT_BYTES, None);
        assert!(matches!(report.steps[1].result, StepResult::Json(_)));
        // The output is the last step's result, too large to keep: `null`
        // in both places.
        report.steps[last].result = json!({"big": "x".repeat(MAX_RESULT_BYTES)}).into();
        report.output = Some(report.steps[last].result.shared());
        let id = history.record(&report, "/c.yaml", "h", &none).unwrap();
        let stored = history.get(id).unwrap().unwrap();
        assert_eq!(
            stored.report,
            crate::report::json::to_json_with(&report, None)
        );
        let mut results = vec![Value::Null; last + 1];
        results[1] = json!({"id": 1, "note": "é \" \\"});
        assert_eq!(stored.results, results);
        let (kind, bytes): (String, i64) = history
            .conn
            .query_row(
                "SELECT typeof(report), length(report) FROM runs WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(kind, "blob");
        let text = report_text(&report, None, &none);
        assert!(
            (bytes as usize) < text.len() / 4,
            "{bytes} of {}",
            text.len()
        );

        // A small output that is the last result is kept, with a secret
        // redacted in both.
        let secret = Redactor::default();
        secret.add("s3cr3t-value");
        report.steps[last].result = json!({"token": "s3cr3t-value", "n": 2}).into();
        report.output = Some(report.steps[last].result.shared());
        let id = history.record(&report, "/c.yaml", "h", &secret).unwrap();
        let stored = history.get(id).unwrap().unwrap();
        assert_eq!(stored.report["output"], json!({"token": "***", "n": 2}));
        assert_eq!(stored.results[last], json!({"token": "***", "n": 2}));
        // A compacted result is redacted too.
        assert_eq!(stored.results[1], json!({"id": 1, "note": "é \" \\"}));
        report.steps[2].result = json!({"key": "s3cr3t-value"}).into();
        report.steps[2].result.compact(MAX_RESULT_BYTES, None);
        let id = history.record(&report, "/c.yaml", "h", &secret).unwrap();
        let stored = history.get(id).unwrap().unwrap();
        assert_eq!(stored.results[2], json!({"key": "***"}));

        // Rows written before compression were JSON text.
        history
            .conn
            .execute(
                "INSERT INTO runs (chain, path, content_hash, started, duration_ms, status, report, results, recorded_at)
                 VALUES ('old', '/c.yaml', 'h', '2026-01-01T00:00:00Z', 5, 'failed', '{\"chain\":\"old\"}', '[1,null]', ?1)",
                [std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs() as i64],
            )
            .unwrap();
        let old = history.last_failed("/c.yaml").unwrap().unwrap();
        assert_eq!(old.report, json!({"chain": "old"}));
        assert_eq!(old.results, [json!(1), Value::Null]);
    }

    #[test]
    fn the_log_is_copied_into_the_database_once_it_is_long() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("history.sqlite");
        let log = dir.path().join("history.sqlite-wal");
        let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let none = Redactor::default();
        // Results that do not compress: each run adds ~64 KB to the log.
        let mut report = report_of(1);
        let mut noise = String::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..8000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            noise.push_str(&format!("{x:016x}"));
        }
        report.steps[0].result = serde_json::json!({ "noise": noise }).into();
        let mut longest = 0;
        let mut emptied = false;
        for run in 1..=40 {
            // A process per run: a connection that closes leaves the log.
            let history = History::open_at(&db).unwrap();
            let before = size(&log);
            history.record(&report, "/c.yaml", "h", &none).unwrap();
            drop(history);
            let after = size(&log);
            assert!(after > 0 || before > 0, "run {run}: no log written");
            emptied |= after == 0;
            longest = longest.max(after);
            // Each run's rows are there for the next process.
            let history = History::open_at(&db).unwrap();
            assert_eq!(history.list(100).unwrap().len(), run);
        }
        assert!(emptied, "the log was never copied into the database");
        assert!(
            longest <= WAL_CHECKPOINT_BYTES + (256 << 10),
            "the log grew to {longest} bytes"
        );
        // The database file holds what was copied into it.
        assert!(size(&db) > 1 << 20, "{} bytes", size(&db));
    }

    #[test]
    fn short_and_long_texts_come_back_from_their_gzip_member() {
        let read = |z: Vec<u8>| unzip(&z);
        for text in ["".to_string(), "{\"a\":\"é\"}".into(), "x".repeat(8 << 10)] {
            let z = gzip(text.as_bytes());
            assert_eq!(z.len(), text.len() + 23, "stored as it is");
            assert_eq!(read(z), text);
        }
        let long: String = (0..20_000).map(|i| format!("{{\"id\":{i}}},")).collect();
        let z = gzip(long.as_bytes());
        assert!(
            z.len() < long.len() / 4,
            "compressed: {} of {}",
            z.len(),
            long.len()
        );
        assert_eq!(read(z), long);
        // Written a token at a time, across several chunks.
        let mut z = Gz::new();
        for i in 0..20_000 {
            std::io::Write::write_all(&mut z, format!("{{\"id\":{i}}},").as_bytes()).unwrap();
        }
        assert_eq!(read(z.finish()), long);
    }

    #[test]
    fn a_limited_member_refuses_the_write_past_its_limit() {
        use std::io::Write;
        let mut z = Gz::limited(CHUNK + 10);
        z.write_all(&vec![b'a'; CHUNK]).unwrap();
        z.write_all(b"0123456789").unwrap();
        assert!(z.write_all(b"!").is_err());
        let mut expected = "a".repeat(CHUNK);
        expected.push_str("0123456789");
        assert_eq!(unzip(&z.finish()), expected);
    }

    #[test]
    fn fits_counts_serialised_bytes_up_to_the_limit() {
        let v = serde_json::json!({"a": [1, 2, 3]}); // {"a":[1,2,3]} = 13 bytes
        assert!(fits(&v, 13));
        assert!(!fits(&v, 12));
        let big = Value::String("x".repeat(10_000));
        assert!(!fits(&big, 100));
        assert!(fits(&big, 10_002));
    }
}
