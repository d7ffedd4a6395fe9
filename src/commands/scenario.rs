//! `aurax-tool scenario show|check`.

use crate::cli::ScenarioCommand;
use crate::exit::{ExitCode, Fail, OrExit, fail};
use crate::scenario::{BUILTIN_TOML, MODEL_SERVER_SCENARIOS, Scenario, section};

/// `aurax-tool scenario show|check`.
pub fn execute(cmd: ScenarioCommand) -> Result<ExitCode, Fail> {
    match cmd {
        ScenarioCommand::Show { name: None } => print!("{BUILTIN_TOML}"),
        ScenarioCommand::Show { name: Some(name) } => {
            if let Some((_, text)) = MODEL_SERVER_SCENARIOS.iter().find(|(n, _)| *n == name) {
                print!("{text}");
                return Ok(ExitCode::Success);
            }
            match section(BUILTIN_TOML, &name) {
                Some(text) => say!("{text}"),
                None => {
                    let s = Scenario::builtin().or_exit(ExitCode::Failure)?;
                    let known: Vec<&str> = MODEL_SERVER_SCENARIOS
                        .iter()
                        .map(|(n, _)| *n)
                        .chain(s.load_scenarios.keys().map(String::as_str))
                        .collect();
                    return Err(fail(
                        ExitCode::BadInput,
                        format!("unknown scenario `{name}` (known: {})", known.join(", ")),
                    ));
                }
            }
        }
        ScenarioCommand::Check { path } => {
            let s = Scenario::from_path(&path).or_exit(ExitCode::BadInput)?;
            say!("{}: scenario `{}` is valid", path.display(), s.name);
            let endpoints: Vec<&str> = s.endpoints.iter().map(|e| e.name.as_str()).collect();
            say!("  endpoints:    {}", endpoints.join(", "));
            say!("  user classes: {}", s.class_names().join(", "));
            let profiles: Vec<&str> = s.profiles.keys().map(String::as_str).collect();
            say!("  profiles:     {}", profiles.join(", "));
            say!("  scenarios:");
            for l in s.load_scenarios.values() {
                say!("    {:<12} {}", l.name, l.description);
            }
        }
    }
    Ok(ExitCode::Success)
}
