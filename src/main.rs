use clap::Parser;

use aurax_tool::cli::{Cli, Command};
use aurax_tool::commands;

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => commands::run::execute(*args),
        Command::Serve(args) => commands::serve::execute(args),
        Command::Analyze(args) => commands::analyze::execute(args),
        Command::Scenario(cmd) => commands::scenario::execute(cmd),
        Command::Record(args) => commands::record::execute(args),
        Command::Trace(cmd) => commands::trace::execute(cmd),
    };
    match result {
        Ok(code) => std::process::exit(code as i32),
        Err(fail) => {
            eprintln!("aurax-tool: {fail}");
            std::process::exit(fail.code as i32);
        }
    }
}
