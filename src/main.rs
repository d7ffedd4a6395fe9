use std::io::Write;

use clap::{CommandFactory, Parser};

use aurax_tool::cli::{Cli, Command};
use aurax_tool::commands;
use aurax_tool::exit::{ExitCode, Fail};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => commands::run::execute(*args),
        Command::Serve(args) => commands::serve::execute(args),
        Command::Analyze(args) => commands::analyze::execute(args),
        Command::Scenario(cmd) => commands::scenario::execute(cmd),
        Command::Record(args) => commands::record::execute(args),
        Command::Trace(cmd) => commands::trace::execute(cmd),
        Command::Completions { shell } => generated(|out| {
            // Generated into memory first: clap_complete panics on a failed write.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "aurax-tool", &mut script);
            out.write_all(&script)
        }),
        Command::Man => generated(|out| clap_mangen::Man::new(Cli::command()).render(out)),
        Command::K8s(cmd) => commands::k8s::execute(cmd),
    };
    let code = match result {
        Ok(code) => code,
        Err(fail) => {
            // A closed stderr is no reason to fail differently.
            let _ = writeln!(std::io::stderr(), "aurax-tool: {fail}");
            fail.code
        }
    };
    std::process::ExitCode::from(code as u8)
}

/// Writes generated text to stdout; a closed pipe (`| head`) is success.
fn generated(write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<ExitCode, Fail> {
    let mut out = std::io::stdout().lock();
    match write(&mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::Success),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::Success),
        Err(e) => Err(Fail {
            code: ExitCode::Failure,
            error: e.into(),
        }),
    }
}
