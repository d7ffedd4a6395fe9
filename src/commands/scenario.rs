//! `aurax-tool scenario show|check`.

use crate::cli::ScenarioCommand;
use crate::exit::{ExitCode, Fail, OrExit};
use crate::scenario::{BUILTIN_TOML, Scenario};

pub fn execute(cmd: ScenarioCommand) -> Result<ExitCode, Fail> {
    match cmd {
        ScenarioCommand::Show => print!("{BUILTIN_TOML}"),
        ScenarioCommand::Check { path } => {
            let s = Scenario::from_path(&path).or_exit(ExitCode::BadInput)?;
            println!("{}: scenario `{}` is valid", path.display(), s.name);
            let endpoints: Vec<&str> = s.endpoints.iter().map(|e| e.name.as_str()).collect();
            println!("  endpoints:    {}", endpoints.join(", "));
            println!("  user classes: {}", s.class_names().join(", "));
            let profiles: Vec<&str> = s.profiles.keys().map(String::as_str).collect();
            println!("  profiles:     {}", profiles.join(", "));
        }
    }
    Ok(ExitCode::Success)
}
