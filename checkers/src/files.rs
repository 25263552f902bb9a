//! Reading the files of a run folder that may come from elsewhere (a CI artifact, a shared
//! upload): never outside the folder (no symbolic link is followed below it), never a FIFO
//! or a device (which would hang or never end), never more than a stated size.

use rustix::fs::{openat, statat, AtFlags, FileType, Mode, OFlags, CWD};
use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Component, Path};

/// Size limit of a JSON-lines file of a run (history, commits, faults, trace, metrics).
pub const MAX_RECORDS_BYTES: u64 = 2 << 30;
/// Size limit of a JSON document (manifest, verdict, a campaign's records and files).
pub const MAX_DOCUMENT_BYTES: u64 = 64 << 20;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("is a symbolic link; traitor reads only the folder's own files, never what a link points to (copy the file in instead)")]
    Link,
    #[error("is a {0}, not a regular file")]
    NotRegular(&'static str),
    #[error("is {size} bytes, over the {limit}-byte limit for this file")]
    TooLarge { size: u64, limit: u64 },
    #[error("is not a plain name inside the folder")]
    Outside,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl From<rustix::io::Errno> for FileError {
    fn from(errno: rustix::io::Errno) -> Self {
        FileError::Io(errno.into())
    }
}

/// Opens `rel` (such as `logs/0.log`) inside `dir` without following a symbolic link in
/// any of its parts, and checks it is a regular file of at most `limit` bytes. `dir`
/// itself is taken as the caller named it. `None` when the file does not exist.
pub fn open_in(dir: &Path, rel: &str, limit: u64) -> Result<Option<(File, u64)>, FileError> {
    let Some(fd) = walk(dir, rel, OFlags::NONBLOCK)? else {
        return Ok(None);
    };
    checked(fd, limit).map(Some)
}

/// Reads `rel` inside `dir` whole, as [`open_in`] opens it.
pub fn read_in(dir: &Path, rel: &str, limit: u64) -> Result<Option<Vec<u8>>, FileError> {
    open_in(dir, rel, limit)?
        .map(|(file, size)| read_bounded(file, size, limit))
        .transpose()
}

/// The names in the folder `rel` inside `dir`, which must not be a link. `None` when it
/// does not exist.
pub fn list_in(dir: &Path, rel: &str) -> Result<Option<Vec<String>>, FileError> {
    let Some(fd) = walk(dir, rel, OFlags::DIRECTORY)? else {
        return Ok(None);
    };
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(&fd)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name != "." && name != ".." {
            names.push(name);
        }
    }
    Ok(Some(names))
}

/// Reads a file the user named (links followed: the user chose it), refusing FIFOs,
/// devices and files over `limit` bytes.
pub fn read_named(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let fd = rustix::fs::open(path, read_flags(OFlags::NONBLOCK), Mode::empty())?;
    let (file, size) = checked(fd, limit)?;
    read_bounded(file, size, limit)
}

fn read_flags(extra: OFlags) -> OFlags {
    OFlags::RDONLY | OFlags::CLOEXEC | extra
}

/// Opens each part of `rel` below `dir` with `O_NOFOLLOW`, the last with `last` added.
fn walk(dir: &Path, rel: &str, last: OFlags) -> Result<Option<OwnedFd>, FileError> {
    let parts: Vec<_> = Path::new(rel).components().collect();
    if parts.is_empty() || parts.iter().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(FileError::Outside);
    }
    let not_found = |e: &rustix::io::Errno| *e == rustix::io::Errno::NOENT;
    let mut at = match openat(CWD, dir, read_flags(OFlags::DIRECTORY), Mode::empty()) {
        Ok(fd) => fd,
        Err(e) if not_found(&e) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    for (i, part) in parts.iter().enumerate() {
        let extra = if i + 1 == parts.len() {
            last
        } else {
            OFlags::DIRECTORY
        };
        let flags = read_flags(OFlags::NOFOLLOW | extra);
        at = match openat(&at, part.as_os_str(), flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(e) if not_found(&e) => return Ok(None),
            // A link opened as a folder fails with ENOTDIR, not ELOOP: say which it is.
            Err(e) => match statat(&at, part.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Symlink => {
                    return Err(FileError::Link)
                }
                _ => return Err(e.into()),
            },
        };
    }
    Ok(Some(at))
}

/// The open file, if it is a regular file within `limit`, with its size.
fn checked(fd: OwnedFd, limit: u64) -> Result<(File, u64), FileError> {
    let stat = rustix::fs::fstat(&fd)?;
    let kind = match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => None,
        FileType::Directory => Some("folder"),
        FileType::Fifo => Some("FIFO (named pipe)"),
        FileType::CharacterDevice => Some("character device"),
        FileType::BlockDevice => Some("block device"),
        FileType::Socket => Some("socket"),
        _ => Some("special file"),
    };
    if let Some(kind) = kind {
        return Err(FileError::NotRegular(kind));
    }
    let size = u64::try_from(stat.st_size).unwrap_or(0);
    if size > limit {
        return Err(FileError::TooLarge { size, limit });
    }
    Ok((File::from(fd), size))
}

/// Reads at most `limit` bytes; a file that grew past it while read is refused too.
fn read_bounded(file: File, size: u64, limit: u64) -> Result<Vec<u8>, FileError> {
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    let read = bytes.len() as u64;
    if read > limit {
        return Err(FileError::TooLarge { size: read, limit });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn reads_stay_inside_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s3cret").unwrap();
        std::fs::write(dir.path().join("ok.json"), "{}").unwrap();
        symlink(outside.path().join("secret"), dir.path().join("link.json")).unwrap();
        symlink(outside.path(), dir.path().join("logs")).unwrap();

        assert_eq!(read_in(dir.path(), "ok.json", 10).unwrap().unwrap(), b"{}");
        assert!(read_in(dir.path(), "missing", 10).unwrap().is_none());
        assert!(matches!(
            read_in(dir.path(), "link.json", 100),
            Err(FileError::Link)
        ));
        assert!(matches!(
            read_in(dir.path(), "logs/secret", 100),
            Err(FileError::Link)
        ));
        assert!(matches!(list_in(dir.path(), "logs"), Err(FileError::Link)));
        assert!(matches!(
            read_in(dir.path(), "../x", 100),
            Err(FileError::Outside)
        ));
    }

    #[test]
    fn special_and_large_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let err = read_in(dir.path(), "fifo", 100).unwrap_err();
        assert!(err.to_string().contains("FIFO"), "{err}");
        let err = read_named(Path::new("/dev/zero"), 100).unwrap_err();
        assert!(err.to_string().contains("character device"), "{err}");
        let big = File::create(dir.path().join("big")).unwrap();
        big.set_len(1 << 40).unwrap();
        let err = read_in(dir.path(), "big", MAX_RECORDS_BYTES).unwrap_err();
        assert!(err.to_string().contains("over the"), "{err}");
        std::fs::create_dir(dir.path().join("logs")).unwrap();
        std::fs::write(dir.path().join("logs/1.log"), "x").unwrap();
        assert_eq!(list_in(dir.path(), "logs").unwrap().unwrap(), ["1.log"]);
    }
}
