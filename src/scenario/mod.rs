//! Scenarios: endpoints with body templates and success checks, user classes with weighted
//! tasks and wait times, targets and named profiles. The built-in classes of the seed are a
//! scenario file like any other, embedded in the binary (`aurax-tool scenario show`).

mod check;
mod compile;
mod file;
mod load;
mod template;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use aurax_schema::{EndpointTarget, ErrorRateTier, Targets, ThroughputTiers};
use rand::Rng;

pub use check::{SuccessCheck, Verdict, lookup};
pub use load::{DEFAULT_MAX_IN_FLIGHT, LoadScenario, section};
pub use template::BodyTemplate;

use file::ScenarioFile;

/// The built-in scenario: the seed's user classes, payloads, targets and profiles.
pub const BUILTIN_TOML: &str = include_str!("aurax.toml");
pub const BUILTIN_NAME: &str = "<built-in aurax.toml>";

/// Built-in scenario files for AURAX's model servers asked directly (`scenario show NAME`).
pub const MODEL_SERVER_SCENARIOS: [(&str, &str); 2] = [
    ("ollama", include_str!("ollama.toml")),
    ("openai", include_str!("openai.toml")),
];

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    /// `[monitoring] ollama`: Ollama's base URL, whose `/api/ps` a run samples.
    pub ollama: Option<String>,
    pub base_path: String,
    pub headers: Vec<(String, String)>,
    pub endpoints: Vec<Endpoint>,
    pub user_classes: Vec<UserClass>,
    pub profiles: BTreeMap<String, Profile>,
    pub load_scenarios: BTreeMap<String, LoadScenario>,
    pub percentile: f64,
    pub throughput: ThroughputTiers,
    pub error_rate_tiers: BTreeMap<String, f64>,
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    pub name: String,
    pub method: String,
    pub path: String,
    pub target_ms: Option<f64>,
    pub body: Option<BodyTemplate>,
    pub headers: Vec<(String, String)>,
    pub check: SuccessCheck,
    /// How the answer streams its tokens, when it does.
    pub stream: Option<StreamFormat>,
}

/// How a model server streams a generation (docs/streaming.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamFormat {
    /// One JSON object a line, the last with `"done": true` (Ollama `/api/generate`,
    /// `/api/chat`).
    Ndjson,
    /// Server-sent events, `data: {json}` each, ended by `data: [DONE]` (OpenAI
    /// `/v1/completions`, `/v1/chat/completions`; vLLM; Ollama's `/v1` too).
    Sse,
}

/// Index into [`Scenario::endpoints`].
pub type EndpointId = usize;

#[derive(Debug, Clone)]
pub struct UserClass {
    pub name: String,
    pub wait: (Duration, Duration),
    pub on_start: Vec<EndpointId>,
    pub tasks: WeightedTasks,
    pub error_rate_tier: String,
    pub weight: u32,
}

/// Tasks picked at random in proportion to their weights, like Locust's `@task(n)`.
#[derive(Debug, Clone)]
pub struct WeightedTasks {
    cumulative: Vec<(u64, EndpointId)>,
    total: u64,
}

impl WeightedTasks {
    /// Each task with its share of the class's draws.
    pub fn shares(&self) -> impl Iterator<Item = (EndpointId, f64)> + '_ {
        let mut before = 0;
        self.cumulative.iter().map(move |&(upto, id)| {
            let weight = upto - before;
            before = upto;
            (id, weight as f64 / self.total.max(1) as f64)
        })
    }

    pub fn pick<R: Rng>(&self, rng: &mut R) -> EndpointId {
        let x = rng.random_range(0..self.total);
        let i = self.cumulative.partition_point(|(upto, _)| *upto <= x);
        self.cumulative[i].1
    }

    /// The task at `u` in [0, 1) of the weights laid end to end: the inverse of their
    /// cumulative distribution (a low-discrepancy `u` gives exact proportions).
    pub fn pick_at(&self, u: f64) -> EndpointId {
        let x = ((u.clamp(0.0, 1.0) * self.total as f64) as u64).min(self.total.saturating_sub(1));
        let i = self.cumulative.partition_point(|(upto, _)| *upto <= x);
        self.cumulative[i.min(self.cumulative.len() - 1)].1
    }

    /// The share of picks that go to `endpoint` (0 when it is not a task).
    pub fn share(&self, endpoint: EndpointId) -> f64 {
        let mut prev = 0;
        let mut hits = 0;
        for (upto, e) in &self.cumulative {
            if *e == endpoint {
                hits += upto - prev;
            }
            prev = *upto;
        }
        hits as f64 / self.total.max(1) as f64
    }
}

#[derive(Debug, Clone)]
pub struct Profile {
    pub users: u32,
    pub spawn_rate: f64,
    pub run_time: Duration,
    pub user_classes: Vec<String>,
}

/// A scenario that could not be loaded: where and why, in one line.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {message}", at.map_or(String::new(), |(line, column)| format!(":{line}:{column}")))]
pub struct ScenarioError {
    pub file: String,
    /// Line and column of what is wrong; None for a file that could not be read.
    pub at: Option<(usize, usize)>,
    pub message: String,
}

impl Scenario {
    pub fn builtin() -> Result<Scenario, ScenarioError> {
        Scenario::parse(BUILTIN_TOML, BUILTIN_NAME)
    }

    pub fn from_path(path: &Path) -> Result<Scenario, ScenarioError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: name.clone(),
            at: None,
            message: format!("cannot read scenario file: {e}"),
        })?;
        Scenario::parse(&text, &name)
    }

    pub fn parse(text: &str, file_name: &str) -> Result<Scenario, ScenarioError> {
        let at = |span: Option<std::ops::Range<usize>>, message: String| ScenarioError {
            file: file_name.to_string(),
            at: Some(compile::line_col(text, span.map_or(0, |s| s.start))),
            message,
        };
        let raw: ScenarioFile = toml::from_str(text).map_err(|e| {
            let mut message = e.message().trim().replace('\n', " ");
            // A TOML parser's complaint about YAML or JSON says nothing of either: say what
            // the file should be.
            let yaml_or_json = [".yaml", ".yml", ".json"]
                .iter()
                .any(|ext| file_name.to_ascii_lowercase().ends_with(ext))
                || text.trim_start().starts_with('{')
                || text.trim_start().starts_with("---");
            if yaml_or_json {
                message += " (scenario files are TOML: `aurax-tool scenario show` prints one to start from)";
            }
            let span = e.span();
            // An array left open reads the next line as its element: the parser stops there,
            // a line past the mistake. Point at the `[` instead.
            if let Some(open) = span
                .as_ref()
                .filter(|_| message.contains("array"))
                .and_then(|s| unclosed_array(text, s.start))
            {
                let message = format!("this array is not closed: end it with `]` ({message})");
                return at(Some(open..open), message);
            }
            at(span, message)
        })?;
        compile::compile(raw).map_err(|(span, msg)| at(span, msg))
    }

    #[cfg(test)]
    pub fn endpoint_id(&self, name: &str) -> Option<EndpointId> {
        self.endpoints.iter().position(|e| e.name == name)
    }

    #[cfg(test)]
    pub fn user_class(&self, name: &str) -> Option<&UserClass> {
        self.user_classes.iter().find(|c| c.name == name)
    }

    /// Each endpoint's share of an open model's arrivals drawn from `classes` (index and
    /// weight): a class by its weight, then a task of it by the task's.
    pub fn task_mix(&self, classes: &[(usize, u32)]) -> BTreeMap<String, f64> {
        let total: f64 = classes.iter().map(|(_, w)| f64::from(*w)).sum();
        let mut mix = BTreeMap::new();
        for &(class, weight) in classes {
            for (endpoint, share) in self.user_classes[class].tasks.shares() {
                *mix.entry(self.endpoints[endpoint].name.clone())
                    .or_insert(0.0) += f64::from(weight) / total.max(1.0) * share;
            }
        }
        mix
    }

    pub fn class_names(&self) -> Vec<&str> {
        self.user_classes.iter().map(|c| c.name.as_str()).collect()
    }

    /// The targets a run with these classes is judged by: the loosest error-rate tier among
    /// the classes in use applies (a burst class present means burst tolerance).
    pub fn targets_for(&self, classes: &[&UserClass]) -> Targets {
        let (tier, max_error_rate) = classes
            .iter()
            .filter_map(|c| {
                let limit = self.error_rate_tiers.get(&c.error_rate_tier)?;
                Some((c.error_rate_tier.clone(), *limit))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or_else(|| ("normal".to_string(), 0.01));
        Targets {
            percentile: self.percentile,
            endpoints: self
                .endpoints
                .iter()
                .filter_map(|e| {
                    Some(EndpointTarget {
                        endpoint: e.name.clone(),
                        target_ms: e.target_ms?,
                    })
                })
                .collect(),
            throughput: self.throughput.clone(),
            error_rate: ErrorRateTier {
                tier,
                max_error_rate,
            },
            generation: Vec::new(),
        }
    }
}

/// The `[` of an array still open where a parse error at byte `error_at` begins a line: on an
/// earlier line that opens more brackets than it closes (a table header, `[name]`, is none).
fn unclosed_array(text: &str, error_at: usize) -> Option<usize> {
    let before = text.get(..error_at)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    if !before[line_start..].trim().is_empty() {
        return None;
    }
    // Back over the lines before it, to the first that holds anything but a comment.
    let mut end = line_start.checked_sub(1)?;
    loop {
        let start = text[..end].rfind('\n').map_or(0, |i| i + 1);
        let code = text[start..end].split('#').next().unwrap_or("");
        if !code.trim().is_empty() {
            if code.trim_start().starts_with('[')
                || code.matches('[').count() <= code.matches(']').count()
            {
                return None;
            }
            return code.rfind('[').map(|i| start + i);
        }
        end = start.checked_sub(1)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// The model-server files stream, name AURAX's endpoints (so `--baseline` pairs them),
    /// ask for the seed's token ranges, and bad stream formats are refused where written.
    #[test]
    fn model_server_scenarios_stream_the_seeds_generations() {
        for (name, text) in MODEL_SERVER_SCENARIOS {
            let s = Scenario::parse(text, name).expect("parses");
            let aurax = Scenario::builtin().expect("built-in");
            for endpoint in ["generate_text", "generate_code"] {
                let e = s
                    .endpoints
                    .iter()
                    .find(|e| e.name == endpoint)
                    .expect(endpoint);
                let want = if name == "ollama" {
                    StreamFormat::Ndjson
                } else {
                    StreamFormat::Sse
                };
                assert_eq!(e.stream, Some(want), "{name} {endpoint}");
                assert_eq!(
                    e.target_ms,
                    aurax
                        .endpoints
                        .iter()
                        .find(|a| a.name == endpoint)
                        .and_then(|a| a.target_ms),
                    "{name} {endpoint}: AURAX's target"
                );
                let mut rng = StdRng::seed_from_u64(1);
                for _ in 0..50 {
                    let body = e.body.as_ref().expect("body").render(&mut rng);
                    let tokens = crate::trace::max_tokens_of(&body).expect("a token limit");
                    let (lo, hi) = if endpoint == "generate_text" {
                        (500, 1500)
                    } else {
                        (800, 2000)
                    };
                    assert!((lo..=hi).contains(&tokens), "{name} {endpoint}: {tokens}");
                    assert_eq!(body["stream"], serde_json::json!(true));
                }
            }
            assert!(
                s.profiles.contains_key("light"),
                "{name}: `run` with no profile flag"
            );
        }
        let bad =
            MODEL_SERVER_SCENARIOS[0]
                .1
                .replacen("\nstream = \"ndjson\"", "\nstream = \"ws\"", 1);
        let err = Scenario::parse(&bad, "bad.toml").expect_err("unknown stream format");
        assert!(err.to_string().contains("ndjson"), "{err}");
    }

    #[test]
    fn builtin_has_the_seed_classes_profiles_and_targets() {
        let s = Scenario::builtin().expect("built-in parses");
        assert_eq!(
            s.class_names(),
            ["AuraxBurstUser", "AuraxLoadTestUser", "AuraxPeakHourUser"]
        );
        let light = &s.profiles["light"];
        assert_eq!(
            (light.users, light.spawn_rate, light.run_time.as_secs()),
            (5, 1.0, 120)
        );
        let peak = &s.profiles["peak"];
        assert_eq!((peak.users, peak.run_time.as_secs()), (75, 900));
        let burst = s.user_class("AuraxBurstUser").expect("class");
        assert_eq!(s.targets_for(&[burst]).error_rate.max_error_rate, 0.10);
        let t = s.targets_for(&[]);
        assert_eq!(t.endpoint_target_ms("health"), Some(50.0));
        assert_eq!(t.endpoint_target_ms("generate_image"), Some(15000.0));
        assert_eq!(t.endpoint_target_ms("test_routing"), Some(100.0));
        let names: Vec<&String> = s.load_scenarios.keys().collect();
        assert_eq!(names, ["exhaustion", "mixed", "ramp", "spike", "sustained"]);
        let exhaustion = &s.load_scenarios["exhaustion"];
        assert!(exhaustion.shape.is_open());
        assert_eq!(exhaustion.shape.stages().len(), 400);
        assert_eq!(exhaustion.stop_on, ["error_rate>10%", "p95>5s"]);
        let spike = s.load_scenarios["spike"].scaled(0.5, 0.1);
        assert_eq!(spike.peak(), 50.0);
        assert!((spike.duration().as_secs_f64() - 21.0).abs() < 1e-6);
        let shown = section(BUILTIN_TOML, "spike").expect("section");
        assert!(
            shown.starts_with("[scenarios.spike]")
                && shown.ends_with("]")
                && !shown.contains("sustained"),
            "{shown}"
        );
    }

    #[test]
    fn task_mix_follows_weights() {
        let s = Scenario::builtin().expect("built-in parses");
        let class = s.user_class("AuraxLoadTestUser").expect("class");
        let mut rng = StdRng::seed_from_u64(42);
        let mut counts = vec![0u32; s.endpoints.len()];
        let n = 100_000;
        for _ in 0..n {
            counts[class.tasks.pick(&mut rng)] += 1;
        }
        let share =
            |name: &str| f64::from(counts[s.endpoint_id(name).expect("endpoint")]) / n as f64;
        assert!((share("generate_text") - 0.50).abs() < 0.01);
        assert!((share("generate_code") - 0.30).abs() < 0.01);
        assert!((share("generate_image") - 0.10).abs() < 0.01);
        assert!((share("system_status") + share("test_routing") - 0.10).abs() < 0.01);
        assert_eq!(share("burst_request"), 0.0);
    }

    #[test]
    fn a_file_names_the_ollama_a_run_samples() {
        let file = |url: &str| {
            format!(
                "[monitoring]\nollama = \"{url}\"\n[endpoints.e]\nmethod = \"GET\"\npath = \"/h\"\n[user_classes.U]\nwait_s = [1, 2]\ntasks = {{ e = 1 }}\n"
            )
        };
        let s = Scenario::parse(&file("http://127.0.0.1:11434/"), "s.toml").expect("valid");
        assert_eq!(s.ollama.as_deref(), Some("http://127.0.0.1:11434"));
        let e = Scenario::parse(&file("localhost:11434"), "s.toml").expect_err("no URL");
        assert_eq!(e.at.map(|(line, _)| line), Some(2), "{e}");
        assert!(e.message.contains("monitoring.ollama"), "{e}");
    }

    /// An open model's task mix: each class by its weight, each task by its own.
    #[test]
    fn the_task_mix_weighs_classes_then_tasks() {
        let s = Scenario::builtin().expect("builtin");
        let load = s
            .user_classes
            .iter()
            .position(|c| c.name == "AuraxLoadTestUser");
        let mix = s.task_mix(&[(load.expect("class"), 1)]);
        let share = |e: &str| mix.get(e).copied().unwrap_or(0.0);
        assert!((share("generate_text") - 0.5).abs() < 1e-12, "{mix:?}");
        assert!((share("generate_image") - 0.1).abs() < 1e-12, "{mix:?}");
        assert!((mix.values().sum::<f64>() - 1.0).abs() < 1e-12, "{mix:?}");
        assert_eq!(share("health"), 0.0, "on_start is no task: {mix:?}");
        // Two classes weighted 3:1: a quarter of the draws are the second's.
        let burst = s
            .user_classes
            .iter()
            .position(|c| c.name == "AuraxBurstUser");
        let both = s.task_mix(&[(load.expect("class"), 3), (burst.expect("class"), 1)]);
        assert!((both.values().sum::<f64>() - 1.0).abs() < 1e-12, "{both:?}");
        assert!((both["generate_image"] - 0.075).abs() < 1e-12, "{both:?}");
    }

    /// A file that cannot be read has no line to point at: none is made up.
    #[test]
    fn an_unreadable_file_is_named_without_a_line() {
        let e = Scenario::from_path(Path::new("no-such-scenario.toml")).expect_err("missing");
        let text = e.to_string();
        assert!(
            text.starts_with("no-such-scenario.toml: cannot read scenario file"),
            "{text}"
        );
    }

    #[test]
    fn errors_give_file_line_and_column() {
        let bad = "name = \"x\"\n[endpoints.a]\nmethod = \"GET\"\npath = 5\n";
        let e = Scenario::parse(bad, "s.toml").expect_err("bad type");
        assert_eq!(
            (e.file.as_str(), e.at.map(|(line, _)| line)),
            ("s.toml", Some(4)),
            "{e}"
        );
        assert!(!e.to_string().contains('\n'));

        let unknown = "[endpoints.a]\nmethod = \"GET\"\npath = \"/a\"\n\n[user_classes.U]\nwait_s = [1, 2]\ntasks = { b = 1 }\n";
        let e = Scenario::parse(unknown, "s.toml").expect_err("unknown task");
        assert_eq!(e.at.map(|(line, _)| line), Some(5), "{e}");
        assert!(
            e.message.contains("`b` is not an endpoint (known: a)"),
            "{e}"
        );
    }

    /// An array left open reads the next line as its element, and the parser stops there:
    /// the error points at the `[` that was not closed (it named line 4, column 1).
    #[test]
    fn an_unclosed_array_is_found_where_it_opens() {
        let open =
            "name = \"x\"\n[user_classes.A]\nwait_s = [0.0, 1.0 # seconds\n\ntasks = { a = 1 }\n";
        let e = Scenario::parse(open, "s.toml").expect_err("unclosed");
        assert_eq!(e.at, Some((3, 10)), "{e}");
        assert!(
            e.message
                .starts_with("this array is not closed: end it with `]` ("),
            "{e}"
        );
        // A missing comma inside an array over several lines stays where the parser put it.
        let comma = "name = \"x\"\nhosts = [\n  \"a\"\n  \"b\",\n]\n";
        let e = Scenario::parse(comma, "s.toml").expect_err("missing comma");
        assert_eq!(e.at.map(|(line, _)| line), Some(4), "{e}");
        assert!(!e.message.contains("not closed"), "{e}");
    }
}

#[cfg(test)]
mod hostile_files {
    use proptest::prelude::*;

    use super::Scenario;

    /// A TOML number or string as a file might hold it.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            1 => Just("0".to_string()),
            1 => Just("-1".to_string()),
            1 => Just("1e308".to_string()),
            1 => Just("-1e308".to_string()),
            1 => Just("inf".to_string()),
            1 => Just("nan".to_string()),
            1 => Just("4294967296".to_string()),
            1 => Just("1e-300".to_string()),
            1 => any::<i32>().prop_map(|n| n.to_string()),
            1 => any::<f64>()
                .prop_filter("TOML floats", |f| f.is_finite())
                .prop_map(|f| format!("{f:?}")),
            // A number a field takes, so that many files load and resolve.
            100 => (1..50u32).prop_map(|n| n.to_string()),
        ]
    }

    fn duration() -> impl Strategy<Value = String> {
        prop_oneof![
            1 => Just("\"0s\"".to_string()),
            1 => Just("\"99999999999999999h\"".to_string()),
            1 => Just("\"1e308\"".to_string()),
            1 => Just("\"\"".to_string()),
            1 => any::<u32>().prop_map(|n| format!("\"{n}s\"")),
            // A duration a field takes, so that many files load and resolve.
            50 => (1..120u32).prop_map(|n| format!("\"{n}s\"")),
        ]
    }

    /// Whatever numbers a scenario file holds, loading it is a scenario or a file:line error,
    /// never a panic; a scenario that loads resolves into a run plan or an error, and its
    /// bodies render. 1500 files drawn from a fixed seed, each answer counted: a test that
    /// passed because every file was refused would fail on the counts.
    #[test]
    fn no_number_in_a_scenario_file_panics() {
        use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
        use std::cell::Cell;
        let mut runner = TestRunner::new_with_rng(
            Config::with_cases(1500),
            TestRng::deterministic_rng(RngAlgorithm::ChaCha),
        );
        let (refused, loaded, planned) = (Cell::new(0), Cell::new(0), Cell::new(0));
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("s.toml");
        let strategy = (
            prop::collection::vec(value(), 12),
            prop::collection::vec(duration(), 3),
        );
        let result = runner.run(&strategy, |(n, d)| {
            let text = hostile_file(&n, &d);
            let Ok(scenario) = Scenario::parse(&text, "hostile.toml") else {
                refused.set(refused.get() + 1);
                return Ok(());
            };
            loaded.set(loaded.get() + 1);
            std::fs::write(&path, &text).expect("write the scenario file");
            for extra in [["--profile", "p"], ["--scenario", "s"], ["--scenario", "c"]] {
                let file = path.to_str().expect("UTF-8 temporary path");
                let argv = [
                    "aurax-tool",
                    "run",
                    "--scenario-file",
                    file,
                    extra[0],
                    extra[1],
                ];
                if let Ok(crate::cli::Cli {
                    command: crate::cli::Command::Run(args),
                }) = <crate::cli::Cli as clap::Parser>::try_parse_from(argv)
                    && crate::commands::run::resolve(
                        *args,
                        &crate::commands::run::Environment::current(),
                    )
                    .is_ok()
                {
                    planned.set(planned.get() + 1);
                }
            }
            // A body renders whatever ranges it holds.
            use rand::SeedableRng;
            let mut rng = rand::rngs::StdRng::seed_from_u64(1);
            for e in &scenario.endpoints {
                if let Some(b) = &e.body {
                    let _ = b.render(&mut rng);
                }
            }
            Ok(())
        });
        result.expect("no panic");
        assert_eq!(refused.get() + loaded.get(), 1500, "every file tried once");
        assert_eq!(
            (refused.get(), loaded.get(), planned.get()),
            (1438, 62, 179),
            "refused, loaded, plans made"
        );
    }

    /// A scenario file with these numbers (`n`, 12) and durations (`d`, 3) in every field
    /// that takes one.
    fn hostile_file(n: &[String], d: &[String]) -> String {
        let [
            wait_lo,
            wait_hi,
            users,
            spawn,
            target,
            lo,
            hi,
            start,
            step,
            max,
            stage_users,
            weight,
        ] = [
            &n[0], &n[1], &n[2], &n[3], &n[4], &n[5], &n[6], &n[7], &n[8], &n[9], &n[10], &n[11],
        ];
        let [run_time, every, stage_len] = [&d[0], &d[1], &d[2]];
        format!(
            r#"
[targets]
percentile = 95
[endpoints.e]
method = "POST"
path = "/generate"
target_ms = {target}
[endpoints.e.body]
max_tokens = {{ "$int" = [{lo}, {hi}] }}
t = {{ "$float" = [{lo}, {hi}] }}
[user_classes.U]
wait_s = [{wait_lo}, {wait_hi}]
tasks = {{ e = {weight} }}
[profiles.p]
users = {users}
spawn_rate = {spawn}
run_time = {run_time}
user_classes = ["U"]
[scenarios.s]
user_classes = ["U"]
model = "open"
steps = {{ start = {start}, step = {step}, every = {every}, max = {max} }}
[scenarios.c]
user_classes = ["U"]
stages = [{{ users = {stage_users}, duration = {stage_len} }}]
"#
        )
    }
}
