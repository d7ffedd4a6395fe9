//! The run directory: created, claimed atomically (refused when it already holds a run, even
//! one that another `run` started a moment ago), and proved writable before any load is sent.

use std::path::Path;

use aurax_schema::files;

use crate::exit::{ExitCode, Fail, fail};

/// Creates the run directory and proves it writable before any load is sent.
pub fn prepare(dir: &Path) -> Result<(), Fail> {
    let bad = |e: std::io::Error| {
        fail(
            ExitCode::Output,
            format!("--out {}: {e}; choose a writable directory", dir.display()),
        )
    };
    std::fs::create_dir_all(dir).map_err(bad)?;
    let held = || {
        fail(
            ExitCode::Output,
            format!(
                "--out {}: already holds a run; choose a new directory",
                dir.display()
            ),
        )
    };
    let has_run = std::fs::read_dir(dir).map_err(bad)?.flatten().any(|e| {
        let name = e.file_name().to_string_lossy().to_string();
        name == files::MANIFEST || name.starts_with(files::REQUEST_SEGMENT_PREFIX)
    });
    if has_run {
        return Err(held());
    }
    // The claim: creating the manifest exclusively succeeds for one process only, so two runs
    // started at once into the same directory never mix their files. It also proves the
    // directory writable; the run's manifest replaces it.
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dir.join(files::MANIFEST))
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(held()),
        Err(e) => Err(bad(e)),
    }
}

/// Undoes [`prepare`] for a run that never began: the claim (an empty manifest) goes, and the
/// directory too when nothing else is in it. A run that began keeps its manifest.
pub fn release(dir: &Path) {
    let manifest = dir.join(files::MANIFEST);
    if std::fs::metadata(&manifest).is_ok_and(|m| m.len() == 0) {
        let _ = std::fs::remove_file(manifest);
        let _ = std::fs::remove_dir(dir);
    }
}

/// Removes the half-written files a run may leave (`*.partial`: a segment whose footer never
/// reached the disk); returns those that could not be removed, to be named in run.json.
pub fn remove_partial_files(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x == files::PARTIAL_EXT || x == "tmp")
        })
        .filter(|p| std::fs::remove_file(p).is_err())
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect()
}
