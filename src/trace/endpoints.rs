//! Which scenario endpoint a recorded request is. Several endpoints share `POST /generate`
//! (text, code, image, burst), so the path alone does not say: the runner names the endpoint
//! in a header the recorder keeps, and requests recorded elsewhere are told apart by their
//! body's `routing_metadata.preferred_model`, as AURAX itself routes them.

use std::collections::HashMap;
use std::sync::Arc;

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;

use crate::scenario::{EndpointId, Scenario};

/// Sent by `aurax-tool run` with every request: the scenario endpoint it is.
pub const ENDPOINT_HEADER: &str = "x-aurax-endpoint";
/// Sent with the reachability probe before a run; the recorder does not record it.
pub const PROBE_HEADER: &str = "x-aurax-probe";

pub struct EndpointResolver {
    scenario: Arc<Scenario>,
    by_name: HashMap<String, EndpointId>,
    /// Per endpoint: the preferred model its body template asks for, and how much of the
    /// scenario's traffic it carries (the tie-break between look-alikes).
    preferred: Vec<Option<String>>,
    weight: Vec<f64>,
}

impl EndpointResolver {
    pub fn new(scenario: Arc<Scenario>) -> EndpointResolver {
        let by_name = scenario
            .endpoints
            .iter()
            .enumerate()
            .map(|(i, e)| (e.name.clone(), i))
            .collect();
        let mut rng = StdRng::seed_from_u64(0);
        let preferred = scenario
            .endpoints
            .iter()
            .map(|e| {
                e.body
                    .as_ref()
                    .and_then(|t| preferred_model(&t.render(&mut rng)))
            })
            .collect();
        let weight = (0..scenario.endpoints.len())
            .map(|id| {
                scenario
                    .user_classes
                    .iter()
                    .map(|c| f64::from(c.weight) * c.tasks.share(id))
                    .sum()
            })
            .collect();
        EndpointResolver {
            scenario,
            by_name,
            preferred,
            weight,
        }
    }

    pub fn scenario(&self) -> &Arc<Scenario> {
        &self.scenario
    }

    pub fn by_name(&self, name: &str) -> Result<EndpointId, String> {
        self.by_name.get(name).copied().ok_or_else(|| {
            let mut known: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
            known.sort_unstable();
            format!("unknown endpoint `{name}` (known: {})", known.join(", "))
        })
    }

    /// The endpoint a request is: by name when the trace gives one, otherwise by method,
    /// path (without query string or the scenario's base path) and body.
    pub fn resolve(
        &self,
        name: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<EndpointId, String> {
        if let Some(name) = name {
            return self.by_name(name);
        }
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let path = path
            .strip_prefix(self.scenario.base_path.as_str())
            .filter(|_| !self.scenario.base_path.is_empty())
            .unwrap_or(path);
        let candidates: Vec<EndpointId> = (0..self.scenario.endpoints.len())
            .filter(|&i| {
                let e = &self.scenario.endpoints[i];
                e.method.eq_ignore_ascii_case(method) && e.path == path
            })
            .collect();
        if candidates.is_empty() {
            return Err(format!(
                "{method} {path} is not an endpoint of the scenario (see `aurax-tool scenario show`)"
            ));
        }
        let wanted = body.and_then(preferred_model);
        let best = candidates
            .iter()
            .copied()
            .filter(|&i| self.preferred[i] == wanted)
            .max_by(|&a, &b| self.weight[a].total_cmp(&self.weight[b]))
            .or_else(|| {
                candidates
                    .iter()
                    .copied()
                    .max_by(|&a, &b| self.weight[a].total_cmp(&self.weight[b]))
            });
        best.ok_or_else(|| format!("{method} {path}: no matching endpoint"))
    }
}

fn preferred_model(body: &Value) -> Option<String> {
    body.pointer("/routing_metadata/preferred_model")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn generate_requests_are_told_apart_by_their_routing_metadata() {
        let scenario = Arc::new(Scenario::builtin().expect("builtin"));
        let r = EndpointResolver::new(scenario.clone());
        let name = |id: EndpointId| scenario.endpoints[id].name.clone();
        let code = json!({"prompt": "x", "routing_metadata": {"preferred_model": "code"}});
        let image = json!({"prompt": "x", "routing_metadata": {"preferred_model": "image"}});
        let text = json!({"prompt": "x", "max_tokens": 700});
        let at = |body: &Value| {
            name(
                r.resolve(None, "POST", "/generate", Some(body))
                    .expect("ok"),
            )
        };
        assert_eq!(at(&code), "generate_code");
        assert_eq!(at(&image), "generate_image");
        assert_eq!(at(&text), "generate_text");
        let health = r.resolve(None, "get", "/health?x=1", None).expect("health");
        assert_eq!(name(health), "health");
        assert_eq!(
            name(
                r.resolve(Some("burst_request"), "POST", "/generate", None)
                    .expect("named")
            ),
            "burst_request"
        );
        let err = r
            .resolve(None, "GET", "/favicon.ico", None)
            .expect_err("unknown");
        assert!(err.contains("not an endpoint"), "{err}");
        let err = r.by_name("nope").expect_err("unknown");
        assert!(err.contains("known: burst_request"), "{err}");
    }
}
