//! The run directory: created, refused when it already holds a run, and proved writable
//! before any load is sent.

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
    let has_run = std::fs::read_dir(dir).map_err(bad)?.flatten().any(|e| {
        let name = e.file_name().to_string_lossy().to_string();
        name == files::MANIFEST || name.starts_with(files::REQUEST_SEGMENT_PREFIX)
    });
    if has_run {
        return Err(fail(
            ExitCode::Output,
            format!(
                "--out {}: already holds a run; choose a new directory",
                dir.display()
            ),
        ));
    }
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"").map_err(bad)?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}
