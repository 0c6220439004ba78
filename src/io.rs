//! Atomic file writes: a crash never leaves a half-written result or checkpoint.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A sibling temporary path of `path` (same directory, so `rename` is atomic).
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Writes `bytes` to `path` atomically: write a temporary file in the same directory, flush it
/// to disk, then rename it over `path`. Parent directories are created.
///
/// # Errors
///
/// [`Error::Io`] (naming the parent directory or `path`) when a directory cannot be created or
/// the file cannot be written, flushed or renamed; the temporary file is removed then.
///
/// ```
/// let dir = std::env::temp_dir().join("advcal-doc-io");
/// let path = dir.join("out.json");
/// advcal::io::write_atomic(&path, b"{}").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"{}");
/// ```
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let path = path.as_ref();
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let tmp = temp_path(path);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

/// Serialises `value` as pretty JSON and writes it atomically.
///
/// # Errors
///
/// [`Error::Json`] when `value` cannot be serialised; otherwise those of [`write_atomic`].
pub fn write_json_atomic<T: serde::Serialize + ?Sized>(
    path: impl AsRef<Path>,
    value: &T,
) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value)?;
    write_atomic(path, &bytes)
}
