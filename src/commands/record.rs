//! `aurax-tool record`: the recording proxy until Ctrl-C or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::cli::RecordArgs;
use crate::exit::{ExitCode, Fail, OrExit, fail};
use crate::record::{self, RecordError, RecorderConfig};
use crate::scenario::Scenario;

/// `aurax-tool record`.
pub fn execute(args: RecordArgs) -> Result<ExitCode, Fail> {
    let addr: SocketAddr = args.listen;
    let timeout = args.timeout;
    let scenario = Arc::new(match &args.scenario_file {
        Some(p) => Scenario::from_path(p).or_exit(ExitCode::BadInput)?,
        None => Scenario::builtin().or_exit(ExitCode::Failure)?,
    });
    let config = RecorderConfig {
        upstream: args.upstream.clone(),
        out: args.out.clone(),
        keep_secrets: args.keep_secrets,
        timeout,
    };
    let rt = super::runtime()?;
    rt.block_on(async {
        crate::http::install_tls_provider();
        let recorder = record::start(addr, scenario, config)
            .await
            .map_err(|e| match e {
                RecordError::Out { .. } => fail(ExitCode::Output, e.to_string()),
                RecordError::Listen { .. } => fail(ExitCode::CannotListen, e.to_string()),
                other => fail(ExitCode::BadInput, other.to_string()),
            })?;
        // The first line is the URL, so scripts and tests can read the port of --listen :0.
        let mut out = std::io::stdout();
        let _ = writeln!(
            out,
            "recording proxy listening on {}\nforwarding to {}, writing {}{}",
            recorder.url(),
            args.upstream,
            args.out.display(),
            if args.keep_secrets {
                " (secrets kept)"
            } else {
                " (Authorization and cookies redacted)"
            }
        );
        let _ = out.flush();
        wait_for_signal().await;
        let n = recorder.stop().await.or_exit(ExitCode::Output)?;
        eprintln!(
            "recorded {n} request(s) to {}; replay with: aurax-tool run --trace {}",
            args.out.display(),
            args.out.display()
        );
        Ok(ExitCode::Success)
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
