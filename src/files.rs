//! Writing the files pytopus makes (reports, JUnit, metrics, HAR, tapes,
//! `save_to` bodies, `fmt`): one way, for every one of them.
//!
//! - A regular file, or a new one, is written whole or not at all: to a
//!   temporary file beside it, then renamed over it, so a reader (a CI step,
//!   a textfile collector) never sees half a file.
//! - A symbolic link is followed: the file it points to is replaced, and
//!   the link stays a link.
//! - Anything else — a terminal or `/dev/stdout`, a pipe (`>(jq .)`, which
//!   names `/dev/fd/63`), a FIFO — is written to as it is: renaming a file
//!   over `/dev/stdout` would replace it for every process of the system.
//! - New files are readable by their owner only (0600 on Unix): they may
//!   hold what a run received. A file replaced keeps its permissions.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Where the bytes for `path` go.
#[derive(Debug, PartialEq)]
pub enum Target {
    /// Written to `temp`, then renamed to `file` (the link's target, if
    /// `path` was a symbolic link).
    Replace { file: PathBuf, temp: PathBuf },
    /// Written to directly: a device, a pipe, a FIFO.
    Direct(PathBuf),
}

/// How `path` is written.
pub fn target(path: &Path) -> std::io::Result<Target> {
    // `metadata` follows links: what matters is what they point to.
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() && !meta.is_dir() => Ok(Target::Direct(path.to_path_buf())),
        Ok(meta) if meta.is_dir() => Err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "is a directory",
        )),
        _ => {
            // A link (perhaps to a file not made yet) is resolved to where
            // it points; a plain path stays as it is.
            let file = resolve_links(path)?;
            let mut temp = file.as_os_str().to_owned();
            temp.push(".pytopus-partial");
            Ok(Target::Replace {
                file,
                temp: PathBuf::from(temp),
            })
        }
    }
}

/// `path` with every symbolic link at its end followed (at most 40, as the
/// kernel does), relative targets read from the link's directory.
fn resolve_links(path: &Path) -> std::io::Result<PathBuf> {
    let mut path = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let to = std::fs::read_link(&path)?;
                path = match path.parent() {
                    Some(dir) if to.is_relative() => dir.join(to),
                    _ => to,
                };
            }
            _ => return Ok(path),
        }
    }
    Err(std::io::Error::other("too many levels of symbolic links"))
}

/// A new file, owner-only on Unix, truncated if it exists.
pub fn create(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)
}

/// Moves a finished temporary file into place, keeping the permissions of
/// the file it replaces.
pub fn finish(temp: &Path, file: &Path) -> std::io::Result<()> {
    if let Ok(meta) = std::fs::metadata(file) {
        let _ = std::fs::set_permissions(temp, meta.permissions());
    }
    std::fs::rename(temp, file).inspect_err(|_| {
        let _ = std::fs::remove_file(temp);
    })
}

/// Writes `bytes` to `path` as the module says.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    match target(path)? {
        Target::Direct(path) => {
            let mut f = std::fs::OpenOptions::new().write(true).open(&path)?;
            f.write_all(bytes)?;
            f.flush()
        }
        Target::Replace { file, temp } => {
            let written = create(&temp).and_then(|mut f| {
                f.write_all(bytes)?;
                f.flush()
            });
            match written {
                Ok(()) => finish(&temp, &file),
                Err(e) => {
                    let _ = std::fs::remove_file(&temp);
                    Err(e)
                }
            }
        }
    }
}

/// Whether `path` can be written, checked before a run so that its report
/// is not lost at the end: a device or pipe is taken as it is; a file's
/// directory must take a new file (one is made and removed).
pub fn check_writable(path: &Path) -> std::io::Result<()> {
    match target(path)? {
        Target::Direct(_) => Ok(()),
        Target::Replace { temp, .. } => {
            create(&temp)?;
            std::fs::remove_file(&temp)
        }
    }
}

/// `256 MiB`, `1.5 GiB`, `512 KiB`, `100 bytes`.
pub fn size_text(n: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if n >= size {
            let whole = n / size;
            let tenths = (n % size) * 10 / size;
            return if tenths == 0 {
                format!("{whole} {unit}")
            } else {
                format!("{whole}.{tenths} {unit}")
            };
        }
    }
    format!("{n} bytes")
}

/// The most a chain file (or a sub-chain, a connector, a vars file, a
/// GraphQL query, a key) may hold: a 10,000-step chain is about 1 MiB.
pub const MAX_INPUT: u64 = 16 << 20;

/// The most a `--data` file may hold: it is read whole.
pub const MAX_DATA: u64 = 512 << 20;

/// Reads a file whole, at most `limit` bytes of it (more is an error).
pub fn read_bytes(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    let read = std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    if read as u64 > limit {
        return Err(too_large(limit));
    }
    Ok(bytes)
}

fn too_large(limit: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::FileTooLarge,
        format!(
            "it is larger than {}, the most pytopus reads",
            size_text(limit)
        ),
    )
}

/// Reads a text input whole, at most `limit` bytes of it: `/dev/zero`, a
/// stream that never ends, or a file far larger than any chain is an error,
/// not a process that fills memory. `None` reads standard input.
pub fn read_text(path: Option<&Path>, limit: u64) -> std::io::Result<String> {
    use std::io::Read as _;
    let bytes = match path {
        Some(p) => read_bytes(p, limit)?,
        None => {
            let mut bytes = Vec::new();
            let read = std::io::stdin()
                .lock()
                .take(limit + 1)
                .read_to_end(&mut bytes)?;
            if read as u64 > limit {
                return Err(too_large(limit));
            }
            bytes
        }
    };
    String::from_utf8(bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_files_are_owner_only_and_replaced_ones_keep_their_mode() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("report.json");
        write(&new, b"{}").unwrap();
        assert_eq!(std::fs::read(&new).unwrap(), b"{}");
        assert_eq!(mode(&new), 0o600);
        std::fs::set_permissions(&new, std::fs::Permissions::from_mode(0o644)).unwrap();
        write(&new, b"[]").unwrap();
        assert_eq!(std::fs::read(&new).unwrap(), b"[]");
        assert_eq!(mode(&new), 0o644);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn a_link_stays_a_link_and_its_target_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.xml");
        std::fs::write(&real, "old").unwrap();
        let link = dir.path().join("link.xml");
        std::os::unix::fs::symlink("real.xml", &link).unwrap();
        write(&link, b"new").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
        // A link to a file not made yet makes it where the link points.
        let dangling = dir.path().join("later.json");
        std::os::unix::fs::symlink("made.json", &dangling).unwrap();
        write(&dangling, b"1").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("made.json")).unwrap(),
            "1"
        );
        assert!(
            std::fs::symlink_metadata(&dangling)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn sizes_read_plainly() {
        assert_eq!(size_text(256 << 20), "256 MiB");
        assert_eq!(size_text(1536 << 20), "1.5 GiB");
        assert_eq!(size_text(512 << 10), "512 KiB");
        assert_eq!(size_text(100), "100 bytes");
    }

    #[test]
    fn inputs_are_read_up_to_their_limit() {
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().join("at.yaml");
        std::fs::write(&at, "x".repeat(100)).unwrap();
        assert_eq!(read_text(Some(&at), 100).unwrap().len(), 100);
        let err = read_text(Some(&at), 99).unwrap_err();
        assert!(err.to_string().contains("larger than 99 bytes"), "{err}");
        let err = read_text(Some(Path::new("/dev/zero")), 1 << 20).unwrap_err();
        assert!(err.to_string().contains("larger than 1 MiB"), "{err}");
        std::fs::write(&at, [0xff, 0xfe]).unwrap();
        assert!(
            read_text(Some(&at), 100)
                .unwrap_err()
                .to_string()
                .contains("not UTF-8")
        );
    }

    #[test]
    fn devices_are_written_to_not_replaced() {
        assert_eq!(
            target(Path::new("/dev/null")).unwrap(),
            Target::Direct("/dev/null".into())
        );
        write(Path::new("/dev/null"), b"gone").unwrap();
        assert!(!Path::new("/dev/null.pytopus-partial").exists());
        assert!(check_writable(Path::new("/dev/null")).is_ok());
        let dir = tempfile::tempdir().unwrap();
        assert!(check_writable(dir.path()).is_err(), "a directory");
        assert!(check_writable(&dir.path().join("no/such/dir/f")).is_err());
    }
}
