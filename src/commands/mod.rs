//! The subcommands, each a thin layer between the CLI and the library: they resolve flags,
//! print, and map errors to exit codes.

/// `println!` that a closed stdout (`aurax-tool … | head`) cannot panic: what is printed
/// is best effort, the work is done and its exit code stands either way.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

pub mod analyze;
pub mod k8s;
pub mod record;
pub mod run;
pub mod scenario;
pub mod serve;
pub mod trace;

/// The multi-threaded runtime every async command runs on.
fn runtime() -> Result<tokio::runtime::Runtime, crate::exit::Fail> {
    use crate::exit::{ExitCode, OrExit};
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .or_exit(ExitCode::Failure)
}
