use std::io::Write;

use clap::{CommandFactory, Parser};

use aurax_tool::cli::{Cli, Command};
use aurax_tool::commands;
use aurax_tool::exit::{ExitCode, Fail};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => {
            if let Some(flag) = args.search_setting_without_search() {
                // clap drops a `requires` whose target conflicts with a flag given (`--budget
                // 1m -t 2s` ran two seconds of a profile): its usage error, said here.
                let top = Cli::command();
                let run = top.find_subcommand("run").cloned().unwrap_or(top);
                run.bin_name("aurax-tool run")
                    .error(
                        clap::error::ErrorKind::MissingRequiredArgument,
                        format!("{flag} is a setting of --find-capacity: add --find-capacity, or drop {flag}"),
                    )
                    .exit();
            }
            commands::run::execute(*args)
        }
        Command::Serve(args) => commands::serve::execute(args),
        Command::Analyze(args) => commands::analyze::execute(args),
        Command::Scenario(cmd) => commands::scenario::execute(cmd),
        Command::Record(args) => commands::record::execute(args),
        Command::Trace(cmd) => commands::trace::execute(cmd),
        Command::Completions { shell } => generated(|out| {
            // Generated into memory first: clap_complete panics on a failed write.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "aurax-tool", &mut script);
            if shell == clap_complete::Shell::Bash {
                // clap_complete names bash's per-command cases `aurax__subcmd__tool__subcmd__run`
                // for a binary with a hyphen, while it tracks the command as
                // `aurax__tool__subcmd__run`: no subcommand's flags ever completed.
                let text =
                    String::from_utf8_lossy(&script).replace("aurax__subcmd__tool", "aurax__tool");
                return out.write_all(text.as_bytes());
            }
            out.write_all(&script)
        }),
        Command::Man { subcommand } => man_page(subcommand.as_deref()),
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

/// The top man page, or a subcommand's as `aurax-tool-NAME(1)`, the name the top page cites.
fn man_page(subcommand: Option<&str>) -> Result<ExitCode, Fail> {
    let top = Cli::command();
    let page = match subcommand {
        None => top,
        Some(name) => {
            let Some(sub) = top.find_subcommand(name).cloned() else {
                let known: Vec<&str> = top
                    .get_subcommands()
                    .map(|c| c.get_name())
                    .filter(|n| *n != "help")
                    .collect();
                return Err(aurax_tool::exit::fail(
                    ExitCode::Usage,
                    format!("man {name}: no such command (known: {})", known.join(", ")),
                ));
            };
            // clap names commands with &'static str; the process prints one page and ends.
            let title: &'static str = Box::leak(format!("aurax-tool-{name}").into_boxed_str());
            sub.name(title)
        }
    };
    generated(|out| clap_mangen::Man::new(page).render(out))
}
