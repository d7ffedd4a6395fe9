//! `aurax-tool serve`: the simulator alone.

use std::io::Write;
use std::net::SocketAddr;

use crate::cli::{ServeArgs, SimArgs};
use crate::exit::{ExitCode, Fail, OrExit, fail};
use crate::simulator::{self, Backend, FaultConfig, MetricsFlavour, Overload, SimulatorConfig};

/// `aurax-tool serve`.
pub fn execute(args: ServeArgs) -> Result<ExitCode, Fail> {
    let config = simulator_config(&args.sim)?;
    let addr: SocketAddr = format!("{}:{}", args.bind, args.port)
        .parse()
        .map_err(|_| {
            fail(
                ExitCode::BadInput,
                format!(
                    "--bind {} --port {}: not a socket address",
                    args.bind, args.port
                ),
            )
        })?;
    let rt = super::runtime()?;
    rt.block_on(async {
        let running = simulator::start(addr, config.clone()).await.map_err(|e| {
            fail(
                ExitCode::CannotListen,
                format!("cannot listen on {addr}: {e}"),
            )
        })?;
        // The first line is the URL, so scripts and tests can read the port chosen by --port 0.
        // Write errors are ignored: a server must not die because its stdout was closed.
        let mut out = std::io::stdout();
        let _ = writeln!(
            out,
            "AURAX simulator listening on {}\n{}",
            running.url(),
            config.describe()
        );
        let _ = out.flush();
        tokio::select! {
            r = running.task => r.or_exit(ExitCode::Failure)?.or_exit(ExitCode::Failure)?,
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok(ExitCode::Success)
    })
}

/// The simulator's configuration from its flags.
pub(crate) fn simulator_config(a: &SimArgs) -> Result<SimulatorConfig, Fail> {
    // Every value arrives typed and checked (crate::flags).
    let faults = FaultConfig {
        error_rate: a.error_rate,
        http_error_rate: a.http_error_rate,
        slow_rate: a.slow_rate,
        slow_extra: a.slow,
        reset_rate: a.reset_rate,
        garbage_rate: a.garbage_rate,
        huge_body_rate: a.huge_body_rate,
        stall: a.stall,
    };
    Ok(SimulatorConfig {
        time_scale: a.time_scale,
        text_slots: a.text_slots,
        code_slots: a.code_slots,
        image_slots: a.image_slots,
        overload: a.overload,
        queue_limit: a.queue_limit.unwrap_or(match a.overload {
            Overload::Queue => simulator::DEFAULT_QUEUE,
            Overload::Refuse => 0,
        }),
        model_timeout: a.model_timeout,
        backend: a.backend,
        metrics: a.metrics.unwrap_or(match a.backend {
            Backend::Intended => MetricsFlavour::Full,
            Backend::Published => MetricsFlavour::Published,
        }),
        faults,
        seed: a.sim_seed,
        tokens: simulator::TokenTiming {
            token: a.token_time,
            prompt_token: a.prompt_token_time,
            default_tokens: a.default_tokens,
            model_load: a.model_load,
        },
        model_memory: a.model_memory,
        keep_alive: a.keep_alive,
    })
}
